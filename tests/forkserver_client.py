"""`rollout ARGS` through the test worker's fork server (tests/forkserver.py): this
process's argv, working folder, environment and standard streams go to a child of the
server, which runs the command; this process waits, passes on the signals it gets, and
ends as the command did (its exit code, or the signal that killed it). With no server to
answer, or when the server says the command needs a fresh interpreter, it becomes one.

    python -S tests/forkserver_client.py SOCKET ARGS...
"""

import json
import os
import signal
import socket
import sys

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def fresh(argv: list[str]) -> None:
    os.execv(sys.executable, [sys.executable, "-m", "rollout", *argv])


def _open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def main(path: str, argv: list[str]) -> None:
    if os.environ.get("ROLLOUT_TEST_FRESH") or not all(_open(fd) for fd in (0, 1, 2)):
        fresh(argv)  # a closed standard stream: the socket below would take its number
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        fresh(argv)
    umask = os.umask(0o022)
    os.umask(umask)
    ignored = [number for number in FORWARDED if signal.getsignal(number) == signal.SIG_IGN]
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": umask,
                          "ignored": [int(number) for number in ignored]}).encode()
    socket.send_fds(conn, [len(request).to_bytes(8, "big") + request], [0, 1, 2])
    child, got = None, None
    buffer = b""
    while True:
        try:
            data = conn.recv(256)
        except InterruptedError:
            continue
        if not data:
            break
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            word, _, value = line.decode().partition(" ")
            if word == "fresh":
                conn.close()
                fresh(argv)
            elif word == "pid":
                child = int(value)
                for number in set(FORWARDED) - set(ignored):  # an ignored one stays ignored, as in the command
                    signal.signal(number, lambda number, _, child=child: os.kill(child, number))
            elif word == "exit":  # the command's own word: stands if the server is gone (end of file next)
                got = ("exit", int(value))
            elif word == "ended":  # the server's, once the process is gone
                os._exit(int(value))
            elif word == "killed":  # the server's; it closes the connection next
                got = ("killed", int(value))
    if got is None:
        sys.stderr.write("rollout (tests/forkserver_client.py): the fork server ended the command without its status\n")
        os._exit(1)
    if got[0] == "exit":
        os._exit(got[1])
    signal.signal(got[1], signal.SIG_DFL)
    os.kill(os.getpid(), got[1])  # ended as the command was: by that signal
    os._exit(128 + got[1])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
