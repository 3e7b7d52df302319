"""kill -9 at random points of `advance`, `revert` and `run`, then the checks: the
remote holds only whole rollout commits, and the next run in the killed checkout
finishes cleanly (no stuck checkout: exit 0, clean tree, branch at the remote, no lock
or journal left). Kills hit the rollout process alone (its git children live on) or its
whole process group (what a CI cancel does), early (before the push) or late."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from torture.fleet import ROLLOUT, Fleet, env, git, rollout

COMMANDS = {
    "advance": ["advance", "security-patch"],
    "revert": ["revert", "security-patch", "--all", "--reason", "torture"],
    "run": ["run", "security-patch"],
}


@dataclass
class KillTally:
    trials: int = 0
    landed: Counter = field(default_factory=Counter)  # (command, pid|group, early|late) of kills that hit a live run
    stuck: list = field(default_factory=list)
    half_commits: list = field(default_factory=list)
    status_errors: list = field(default_factory=list)
    doubled: list = field(default_factory=list)

    def figures(self) -> dict:
        late = sum(n for (_, _, when), n in self.landed.items() if when == "late")
        group = sum(n for (_, how, _), n in self.landed.items() if how == "group")
        return {"trials": self.trials, "kills that hit a live run": sum(self.landed.values()),
                "process-group kills": group, "late kills (after the push)": late,
                "stuck checkouts": len(self.stuck), "half commits": len(self.half_commits),
                "status errors": len(self.status_errors), "waves advanced twice": len(self.doubled)}


class Admin:
    """The maintainer's clone: starts a new revision, or advances waves for a revert."""

    def __init__(self, fleet: Fleet):
        self.path = fleet.clone("admin")
        self.revision = 0

    def new_revision(self) -> str:
        git(self.path, "pull", "-q", "--ff-only")
        self.revision += 1
        policy = self.path / "rollouts/security-patch.yaml"
        text = re.sub(r"revision: \S+", f"revision: v2.0.{self.revision}", policy.read_text(), count=1)
        policy.write_text(text)
        git(self.path, "commit", "-qam", f"security-patch: v2.0.{self.revision}")
        git(self.path, "push", "-q", "origin", "HEAD")
        return f"v2.0.{self.revision}"

    def advance(self, times: int) -> None:
        for _ in range(times):
            result = rollout(self.path, "advance", "security-patch")
            assert result.returncode == 0, result.stderr


def whole_commits(fleet: Fleet, since: str) -> list[str]:
    """Rollout commits on the remote after `since` that are not whole: a message without
    its trailers, or files that are not exactly those of the clusters it names."""
    from rollout.git.history import parse_event

    bad = []
    out = git(fleet.remote, "log", "--format=%H%x1f%ct%x1f%B%x1e", f"{since}..main")
    for record in filter(None, (r.strip("\n") for r in out.split("\x1e"))):
        sha, ctime, message = record.split("\x1f", 2)
        if not message.startswith("rollout("):
            continue
        event = parse_event(sha, int(ctime), message)
        if event is None:
            bad.append(f"{sha[:12]}: no trailers")
            continue
        files = set(git(fleet.remote, "diff-tree", "--no-commit-id", "--name-only", "-r", sha).split())
        expected = {f"argocd/apps/{c}-platform.yaml" for c in event.clusters}
        if event.action in ("advance", "revert") and not files <= expected:
            bad.append(f"{sha[:12]}: files {sorted(files)} for clusters {event.clusters}")
    return bad


def doubled_waves(fleet: Fleet) -> list[str]:
    from rollout.git.history import parse_event

    seen, doubled = Counter(), []
    out = git(fleet.remote, "log", "--format=%H%x1f%ct%x1f%B%x1e", "main")
    for record in filter(None, (r.strip("\n") for r in out.split("\x1e"))):
        sha, ctime, message = record.split("\x1f", 2)
        event = parse_event(sha, int(ctime), message)
        if event and event.action in ("advance", "revert") and not message.split("\n", 1)[0].endswith("(late join)"):
            key = (event.revision, event.wave, event.action)
            seen[key] += 1
            if seen[key] == 2:
                doubled.append(str(key))
    return doubled


def settled(checkout: Path, fleet: Fleet) -> str | None:
    """Why the checkout is not as a finished run leaves it, or None."""
    if git(checkout, "status", "--porcelain"):
        return "dirty: " + git(checkout, "status", "--porcelain").strip().replace("\n", "; ")
    if git(checkout, "rev-parse", "HEAD").strip() != fleet.remote_head():
        return "branch not at the remote"
    for leftover in ("index.lock", "rollout-move"):
        if (checkout / ".git" / leftover).exists():
            return f".git/{leftover} left"
    return None


def kill_trials(workdir: Path, trials: int, seed: int = 1, commands=tuple(COMMANDS), log=None,
                kinds: tuple[str, ...] = ("group", "pid"), hits: int = 0, most: int = 0) -> KillTally:
    """`kinds`: which kills, in turn by pairs of trials (process group, pid alone).
    `hits`: after `trials`, go on (up to `most` trials in all) until that many kills hit
    a live run. A kill is timed by an uninterrupted calibration run; on a loaded machine
    the killed run may be faster than that one was and end first (a miss)."""
    rng = random.Random(seed)
    fleet = Fleet(workdir / "kill")
    admin = Admin(fleet)
    tally = KillTally()
    checkout = fleet.clone("runner")
    timings: dict[str, tuple[float, float]] = {}
    number = -1
    while (number := number + 1) < trials or (sum(tally.landed.values()) < hits and number < most):
        command = commands[number % len(commands)]
        how = kinds[(number // 2) % len(kinds)]
        admin.new_revision()
        if command == "revert":
            admin.advance(2)
        since = fleet.remote_head()
        if command not in timings or number % 30 < len(commands):  # calibrate on an uninterrupted run
            timings[command] = _timing(fleet, fleet.clone(f"probe-{command}-{number}"), COMMANDS[command])
            admin.new_revision()
            if command == "revert":
                admin.advance(2)
            since = fleet.remote_head()
        pushed_at, ended_at = timings[command]
        late = rng.random() < 0.5
        proc = subprocess.Popen([*ROLLOUT, *COMMANDS[command]], cwd=checkout, env=env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if late:  # the moment the remote moves, then a random part of what remains (the local move)
            _wait_remote_moved(fleet, since, proc)
            time.sleep(rng.uniform(0.0, max(ended_at - pushed_at, 0.01)))
        else:
            time.sleep(rng.uniform(0.0, pushed_at))
        alive = proc.poll() is None
        if how == "group":
            with _suppress():
                os.killpg(proc.pid, signal.SIGKILL)
        else:
            with _suppress():
                proc.send_signal(signal.SIGKILL)
        proc.wait()
        _wait_group_gone(proc.pid)  # a pid kill leaves git children running: let them end
        tally.trials += 1
        if alive:
            pushed = fleet.remote_head() != since
            tally.landed[(command, how, "late" if pushed else "early")] += 1
        status = rollout(checkout, "status", "security-patch", "--format", "json")
        if status.returncode != 0:
            tally.status_errors.append((number, command, status.stderr.strip()[-200:]))
        again = rollout(checkout, *COMMANDS[command])
        problem = None if again.returncode == 0 else f"rerun exit {again.returncode}: {again.stderr.strip()[-200:]}"
        problem = problem or settled(checkout, fleet)
        if problem:
            tally.stuck.append((number, command, how, problem))
            checkout = fleet.clone(f"runner-{number}")  # keep measuring with a fresh checkout
        tally.half_commits += whole_commits(fleet, since)
        if log:
            log(f"kill trial {number + 1}/{trials}: {command} {how} {'hit' if alive else 'missed'}"
                f"{' STUCK ' + problem if problem else ''}")
    tally.doubled = doubled_waves(fleet)
    return tally


def _timing(fleet: Fleet, checkout: Path, args: list[str]) -> tuple[float, float]:
    """(seconds until the remote moved, seconds until the run ended) of one run."""
    before = fleet.remote_head()
    started = time.monotonic()
    proc = subprocess.Popen([*ROLLOUT, *args], cwd=checkout, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    pushed = None
    ref = fleet.remote / "refs/heads/main"
    while proc.poll() is None:
        if pushed is None and ref.exists() and ref.read_text().strip() != before:
            pushed = time.monotonic() - started
        time.sleep(0.003)
    ended = time.monotonic() - started
    return (pushed if pushed is not None else ended * 0.8), ended


def _wait_remote_moved(fleet: Fleet, before: str, proc) -> None:
    ref = fleet.remote / "refs/heads/main"
    while proc.poll() is None:
        if ref.exists() and ref.read_text().strip() != before:
            return
        time.sleep(0.002)


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is ProcessLookupError


def _wait_group_gone(pgid: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
