"""A fleet repo published to a bare remote, and `rollout simulate --scm <forge>` serving
it in a subprocess: what the forge tests drive their client libraries against."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from conftest import ROLLOUT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GIT_ENV = {"GIT_AUTHOR_NAME": "Rollout Bot", "GIT_AUTHOR_EMAIL": "bot@example.com",
           "GIT_COMMITTER_NAME": "Rollout Bot", "GIT_COMMITTER_EMAIL": "bot@example.com"}


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check,
                          env={**os.environ, **GIT_ENV})


class Fleet:
    """examples/fleet-config as a bare remote (`fleet.git`) and a clone that pushes branches."""

    def __init__(self, tmp: Path):
        source = tmp / "source"
        shutil.copytree(EXAMPLES / "fleet-config", source)
        git(source, "init", "-q", "-b", "main")
        git(source, "add", "-A")
        git(source, "commit", "-qm", "fleet-config")
        self.bare = tmp / "fleet.git"
        git(tmp, "clone", "-q", "--bare", str(source), str(self.bare))
        self.work = tmp / "work"
        git(tmp, "clone", "-q", str(self.bare), str(self.work))

    def branch(self, name: str, files: dict[str, str], message: str, start: str = "origin/main") -> str:
        """Push branch `name`: one commit writing `files`, on `start`. Returns its SHA."""
        git(self.work, "fetch", "-q", "origin")
        git(self.work, "checkout", "-q", "-B", name, start)
        for path, text in files.items():
            (self.work / path).parent.mkdir(parents=True, exist_ok=True)
            (self.work / path).write_text(text)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-qm", message)
        git(self.work, "push", "-q", "-f", "origin", name)
        return git(self.work, "rev-parse", "HEAD").stdout.strip()

    def main(self) -> str:
        return git(self.bare, "rev-parse", "main").stdout.strip()


class Simulator:
    """`rollout simulate --scm SCM` on the fleet's bare remote; `env` holds the CI
    variables its `ready` line printed."""

    def __init__(self, fleet: Fleet, scm: str, *flags: str):
        self.proc = subprocess.Popen(
            [*ROLLOUT, "simulate", "--repo", str(fleet.bare), "--scm", scm, "--poll", "1s", "--sync-delay", "0s",
             "--health-delay", "0s", "--kubeconfig-out", str(fleet.bare.parent / "kubeconfig"), *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **GIT_ENV})
        ready = self.proc.stdout.readline()
        if not ready.startswith("ready http://127.0.0.1:"):
            self.proc.kill()
            raise AssertionError(ready + self.proc.stderr.read())
        words = ready.split()
        self.url = words[1]
        self.env = dict(word.split("=", 1) for word in words[2:] if word.isupper() or word.split("=")[0].isupper())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.communicate(timeout=10)
