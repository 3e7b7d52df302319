"""The CLI for tests, without an interpreter's start and rollout's imports per command.

The suite runs `rollout` ~1,000 times, each a fresh interpreter that spends ~0.2-0.3 s
importing typer, pydantic, rich and rollout before it does anything: most of the suite's
CPU on a 2-core runner (docs/performance.md, "Test suite"). This server imports them once
(`PRELOAD`) and forks a child per command: a process of its own, with the command's argv,
working folder, environment and standard streams (passed over a unix socket by
tests/forkserver_client.py, which is what `conftest.ROLLOUT` runs), running
`python -m rollout` as a fresh interpreter would from there, and its exit reported as its
status (a signal as that signal).

What a fork cannot give is left to a fresh interpreter: the client starts one when no
server answers, and the server's child asks it to when the command's environment differs
from the server's in what is read at start or at import (`AT_START`: the interpreter's own
variables, the locale, $KUBECONFIG that the kubernetes client reads at import). Tests that
kill a command or send it signals of their own use `conftest.ROLLOUT_PROCESS`.
ROLLOUT_TEST_FRESH=1 runs every command in a fresh interpreter (a missing import that
a preloaded module hides shows there).

    python tests/forkserver.py SOCKET    # prints "ready" once it listens
"""

from __future__ import annotations

import atexit
import gc
import importlib
import io
import json
import os
import selectors
import signal
import socket
import sys
import threading
import traceback

# What every command imports anyway (the CLI, the models, the tables, the git layer), and
# nothing that starts a thread or reads the environment when imported but what AT_START names.
PRELOAD = ("typer", "pydantic", "rich.console", "rich.table", "rich.text", "yaml", "yaml_rs",
           "rollout.cli", "waves.policy", "waves.planner", "waves.state", "rollout.workspace", "rollout.status",
           "rollout.session", "rollout.step", "rollout.run", "rollout.advance", "rollout.revert",
           "rollout.observers", "rollout.safety", "rollout.manifests.edit", "rollout.simulator",
           "kubernetes.client", "kubernetes.config")

# Read by the interpreter as it starts or by a preloaded module as it is imported: a
# command whose environment differs in one of them gets a fresh interpreter.
AT_START = ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "KUBECONFIG", "TYPER_USE_RICH",
            "TZ")  # the C library's time zone, read once (time.tzname, localtime_r): not again after a fork


def at_start(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PYTHON") or k in AT_START}


def serve(path: str) -> None:
    from rollout import pydantic_plugins

    pydantic_plugins.skip()  # as rollout.cli.main does, before any model is built
    for name in PRELOAD:
        importlib.import_module(name)
    own = at_start(dict(os.environ))
    gc.freeze()  # what the preload made is shared with the children, not copied by their collections
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the selector through the pipe
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    running: dict[int, socket.socket] = {}  # child pid -> its client's connection
    print("ready", flush=True)
    while os.getppid() == parent:  # the test worker that started it is gone: so is the server
        for key, _ in selector.select(timeout=1.0):
            if key.fileobj is listener:
                conn, _ = listener.accept()
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    listener.close()
                    os.close(wake_r)
                    os.close(wake_w)
                    for other in running.values():
                        other.close()
                    _child(conn, own)  # never returns
                running[pid] = conn
            else:
                os.read(wake_r, 512)
        _reap(running)
    os.unlink(path)


def _reap(running: dict[int, socket.socket]) -> None:
    """Each child that ended: its exit code or the signal that killed it is told to its
    client, and the connection closed (the client's end of file)."""
    while running:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = running.pop(pid, None)
        if conn is None:
            continue
        # the status as waitpid gives it, once the process is gone (its locks and descriptors
        # with it): the client ends on this ("ended": an exit code), not on the child's word
        said = f"killed {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"ended {os.waitstatus_to_exitcode(status)}"
        try:
            conn.sendall(f"{said}\n".encode())
        except OSError:
            pass
        conn.close()


def _child(conn: socket.socket, own: dict[str, str]) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    code = 1
    try:
        request, fds = _receive(conn)
        if at_start(request["env"]) != own:
            conn.sendall(b"fresh\n")  # the client starts a fresh interpreter instead
            os._exit(0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.umask(request["umask"])  # the client's, as a process it started would have
        for number in request["ignored"]:  # ignored where the client started (nohup, `cmd &`): ignored here too
            signal.signal(number, signal.SIG_IGN)
        os.environ.clear()
        os.environ.update(request["env"])
        import tempfile

        tempfile.tempdir = None  # gettempdir() reads $TMPDIR again
        _streams()
        sys.path[0] = os.getcwd()  # as `python -m` puts the working folder first
        conn.sendall(f"pid {os.getpid()}\n".encode())
        threading.Thread(target=_watch, args=(conn,), daemon=True).start()
        code = _run(request["argv"])
        # for a server gone meanwhile (the client then ends on its end of file); with the
        # server there, the client waits for its word once this process is gone (_reap)
        conn.sendall(f"exit {code}\n".encode())
    except BaseException:  # noqa: BLE001 - the server's own failure: said, and the client exits 1
        traceback.print_exc()
    finally:
        os._exit(code)


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    size = int.from_bytes(data[:8], "big")
    data = data[8:]
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            raise EOFError("the client left")
        data += more
    return json.loads(data), fds


def _streams() -> None:
    """stdin, stdout and stderr on the passed descriptors, set up as the interpreter would
    (Python/pylifecycle.c, create_stdio): the same encoding (the locale is the server's:
    AT_START); buffered, stdout line-buffered on a terminal only and stderr always, unless
    PYTHONUNBUFFERED (-u): then written through; with backslashes on stderr for what does
    not encode; named <stdin>, <stdout>, <stderr>."""
    encoding, errors = sys.stdout.encoding, sys.stdout.errors
    buffered = not sys.stdout.write_through  # the server's own stdout: PYTHONUNBUFFERED (AT_START) as it started

    def stream(fd: int, name: str, mode: str, errors: str, line_buffering: bool = False):
        binary = io.open(fd, mode + "b", buffering=-1 if buffered or mode == "r" else 0, closefd=False)
        (binary if mode == "w" and not buffered else binary.raw).name = name
        text = io.TextIOWrapper(binary, encoding=encoding, errors=errors, line_buffering=buffered and line_buffering,
                                write_through=not buffered)
        text.mode = mode
        return text

    sys.stdin = sys.__stdin__ = stream(0, "<stdin>", "r", errors)
    sys.stdout = sys.__stdout__ = stream(1, "<stdout>", "w", errors, line_buffering=os.isatty(1))
    sys.stderr = sys.__stderr__ = stream(2, "<stderr>", "w", "backslashreplace", line_buffering=True)


def _watch(conn: socket.socket) -> None:
    """The client gone (killed: a test's timeout) takes the command with it."""
    try:
        while conn.recv(64):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGKILL)


def _run(argv: list[str]) -> int:
    """`python -m rollout ARGV` in this process: its exit code, as the interpreter gives it."""
    import runpy

    sys.argv = ["-m", *argv]
    try:
        runpy.run_module("rollout", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as done:
        code = _exit_code(done.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        _flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)  # as the interpreter ends on an uncaught Ctrl-C
        code = 1
    except BaseException:  # noqa: BLE001 - as the interpreter: the traceback, exit 1
        sys.excepthook(*sys.exc_info())
        code = 1
    getattr(threading, "_shutdown", lambda: None)()  # the threads the command left, joined as at an interpreter's end
    atexit._run_exitfuncs()
    return code if _flush() else 120


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _flush() -> bool:
    ok = True
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception as err:  # noqa: BLE001 - as the interpreter: a stream that cannot be flushed is exit 120, said
            ok = False
            try:
                sys.stderr.write(f"Exception ignored in: {stream!r}\n{''.join(traceback.format_exception_only(err))}")
                sys.stderr.flush()
            except Exception:  # noqa: BLE001 - stderr itself gone
                pass
    return ok


if __name__ == "__main__":
    serve(sys.argv[1])
