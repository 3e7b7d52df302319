"""A seed fleet published to a bare remote, and clones of it: what the torture harnesses
and tests run `rollout` against (real git, real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ (conftest), for python -m tests.torture

from conftest import SEED_POLICY, make_seed_repo  # noqa: E402

ROLLOUT = [sys.executable, "-m", "rollout"]
GIT_ENV = {"GIT_AUTHOR_NAME": "Rollout Bot", "GIT_AUTHOR_EMAIL": "bot@example.com",
           "GIT_COMMITTER_NAME": "Rollout Bot", "GIT_COMMITTER_EMAIL": "bot@example.com"}
# A policy without gates: `rollout run` advances on bake alone, with no cluster to ask.
NO_BAKE_POLICY = SEED_POLICY.replace("      bake: 30m\n", "").replace("      bake: 1h\n", "")


def env(**extra: str) -> dict[str, str]:
    out = {**os.environ, **GIT_ENV, "COLUMNS": "200", **extra}
    out.pop("ROLLOUT_DEBUG", None)
    out.pop("GITHUB_STEP_SUMMARY", None)
    return out


def git(cwd: Path, *args: str, check: bool = True) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check,
                          env=env()).stdout


class Fleet:
    def __init__(self, tmp: Path, policy: str = NO_BAKE_POLICY, clusters=None):
        self.tmp = Path(tmp)
        source = make_seed_repo(self.tmp / "source", policy=policy, clusters=clusters).root
        git(source, "init", "-q", "-b", "main")
        git(source, "add", "-A")
        git(source, "commit", "-qm", "fleet-config")
        self.remote = self.tmp / "remote.git"
        git(self.tmp, "clone", "-q", "--bare", str(source), str(self.remote))

    def clone(self, name: str) -> Path:
        path = self.tmp / name
        git(self.tmp, "clone", "-q", str(self.remote), str(path))
        # The remote's side of a push runs in its own session, as on a real server: a
        # kill of the runner's process group must not kill it mid-update of the remote.
        git(path, "config", "remote.origin.receivepack", "setsid git-receive-pack")
        return path

    def remote_head(self) -> str:
        return git(self.remote, "rev-parse", "main").strip()

    def remote_subjects(self) -> list[str]:
        return git(self.remote, "log", "--format=%s", "main").splitlines()


def rollout(cwd: Path, *args: str, extra_env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, env=env(**(extra_env or {})),
                          timeout=timeout)
