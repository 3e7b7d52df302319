"""The tests' fork server (tests/forkserver.py): a command run through it is the command
run in a fresh interpreter, as seen from outside (its output, its exit, its signals), and
it never outlives the process a test started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import FORKSERVER_SOCKET, ROLLOUT, ROLLOUT_PROCESS
from test_simulator import GIT_ENV, published

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples/fleet-config"

pytestmark = pytest.mark.skipif(os.environ.get("ROLLOUT_TEST_FRESH") == "1", reason="ROLLOUT_TEST_FRESH=1: no fork server")


def both(*args: str, cwd: Path = EXAMPLE, **kwargs) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    env = {**os.environ, "COLUMNS": "120", **kwargs.pop("env", {})}
    return tuple(subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=60,
                                **kwargs) for command in (ROLLOUT, ROLLOUT_PROCESS))


def test_the_server_answers():
    """Without it every command here would be a fresh interpreter, and this file would prove nothing."""
    assert FORKSERVER_SOCKET.is_socket()


@pytest.mark.parametrize("args", [
    ("--help",),
    ("status", "--help"),
    ("plan", "security-patch"),
    ("plan", "security-patch", "--format", "json"),
    ("status", "security-patch", "--format", "json"),  # not a git repository here: exit 2
    ("plan", "no-such-policy"),  # exit 2, one line
    ("plan", "security-patch", "--bogus"),  # click's usage error
    ("no-such-command",),
    ("--version",),
])
def test_a_command_says_and_ends_as_in_a_fresh_interpreter(args):
    forked, fresh = both(*args)
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)


def test_the_working_folder_environment_and_stdin_are_the_commands():
    """The folder (where the policy is found) is the test's, not the server's; `health -f -`
    reads the objects from the test's stdin (the environment: the simulator's state folder, below)."""
    forked, fresh = both("plan", "security-patch", "--format", "json", cwd=EXAMPLE / "rollouts")
    assert forked.returncode == 0 and forked.stdout == fresh.stdout
    objects = (ROOT / "tests/fixtures/kstatus/deployment-current-ok.yaml").read_text()
    forked, fresh = both("health", "-f", "-", "-o", "json", input=objects)
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert '"Deployment"' in forked.stdout


def serving(tmp_path: Path, command: list[str], **kwargs) -> tuple[subprocess.Popen, str]:
    remote, work = published(tmp_path, "fleet-config")
    (tmp_path / "tmp").mkdir()  # a simulator killed (SIGKILL) leaves its checkout there, not in the run's
    proc = subprocess.Popen([*command, "simulate", "--repo", str(remote), "--poll", "0s"], cwd=work,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
                            env={**os.environ, **GIT_ENV, "XDG_STATE_HOME": str(tmp_path / "state"),
                                 "TMPDIR": str(tmp_path / "tmp")})
    ready = proc.stdout.readline()
    assert ready.startswith("ready "), ready + proc.stderr.read()
    kubeconfig = Path(ready.split("kubeconfig=")[1].split()[0])
    assert kubeconfig.is_relative_to(tmp_path / "state")  # the command's environment, not the server's
    return proc, ready.split()[1]


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/version", timeout=2).read()
        return True
    except OSError as err:
        return "HTTP Error" in str(err)  # it answered, with an error


def test_a_signal_reaches_the_command_and_its_end_is_its_own(tmp_path):
    """SIGTERM sent to the process the test started stops the simulator as it stops a
    fresh one: the same exit, its kubeconfig removed. SIGHUP, ignored where the test
    started it (as `nohup` does), is ignored by the command too."""
    ends = []
    for i, command in enumerate((ROLLOUT, ROLLOUT_PROCESS)):
        proc, url = serving(tmp_path / str(i), command,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
        assert answers(url)
        proc.send_signal(signal.SIGHUP)
        with pytest.raises(subprocess.TimeoutExpired):  # not a sleep: the command would have ended by then
            proc.wait(timeout=0.3)
        assert answers(url)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        ends.append(proc.returncode)
        assert not answers(url)
    assert ends[0] == ends[1]


def test_a_killed_client_takes_the_command_with_it(tmp_path):
    """A test's timeout kills the process it started (SIGKILL): the command it ran through
    the server must not go on serving, writing or holding a lock."""
    proc, url = serving(tmp_path, ROLLOUT)
    assert answers(url)
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while answers(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not answers(url)


def test_the_command_is_gone_when_its_exit_is_seen(tmp_path):
    """The client ends once the server has reaped the command, as `subprocess.run` returns
    once a fresh one is reaped: its checkout lock (flock, released as the process ends)
    is free for the next command the test runs, which may take it with `wait=0` (status).
    Its output to /dev/null and no timeout: captured output (the pipes' end of file) and
    run(timeout=)'s polling wait would each give the process time to end anyway."""
    import fcntl

    _, work = published(tmp_path, "fleet-config")
    run = lambda *args: subprocess.run([*ROLLOUT, *args], cwd=work, capture_output=True, text=True,  # noqa: E731
                                       env={**os.environ, **GIT_ENV}, timeout=60)
    first = run("advance", "security-patch", "--wave", "1", "--no-push")
    assert first.returncode == 0, first.stderr
    lock = work / ".git/rollout.lock"
    for _ in range(5):  # each takes the lock, then waits (wave 1 bakes): the same command again and again
        assert subprocess.run([*ROLLOUT, "advance", "security-patch", "--no-push"], cwd=work, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, **GIT_ENV}).returncode == 0
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError while the command's process lives
        finally:
            os.close(fd)


def test_a_stream_that_cannot_be_written_ends_as_in_a_fresh_interpreter(tmp_path):
    """stdout on a full disk: the command's exit (1, or 120 when the last flush fails) and
    its stderr, as the interpreter buffers and flushes stdout (PYTHONUNBUFFERED or not)."""
    ends = []
    for command in (ROLLOUT, ROLLOUT_PROCESS):
        with open("/dev/full", "w") as full:
            done = subprocess.run([*command, "plan", "security-patch"], cwd=EXAMPLE, stdout=full,
                                  stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "120"}, timeout=60)
        ends.append((done.returncode, done.stderr))
    assert ends[0] == ends[1]
    assert ends[0][0] in (1, 120)


def test_what_the_preload_reads_of_the_environment_is_named():
    """A module the server preloads that reads a variable as it is imported would give
    every command the server's value: each such variable is in AT_START (a command whose
    environment differs there gets a fresh interpreter)."""
    code = """
import os, sys
seen = set()
class Spy(type(os.environ)):
    def __getitem__(self, key):
        seen.add(key)
        return super().__getitem__(key)
    def __contains__(self, key):
        seen.add(key)
        return super().__contains__(key)
    def __iter__(self):
        seen.add("*every variable*")
        return super().__iter__()
environ = os.environ
os.environ = Spy(environ._data, environ.encodekey, environ.decodekey, environ.encodevalue, environ.decodevalue)
sys.path.insert(0, sys.argv[1])
import forkserver, importlib
from rollout import pydantic_plugins
pydantic_plugins.skip()
for name in forkserver.PRELOAD:
    importlib.import_module(name)
print("\\n".join(sorted(k for k in seen if not (k.startswith("PYTHON") or k in forkserver.AT_START))))
"""
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True,
                         check=True).stdout.split()
    # sysconfig's user base (HOME, _PYTHON_*): the interpreter's own, for site-packages it has found already
    assert set(out) <= {"HOME", "_PYTHON_PROJECT_BASE", "_PYTHON_SYSCONFIGDATA_NAME"}, out
