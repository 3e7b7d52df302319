"""N runners racing on one rollout, each in its own clone of the remote, one bot
identity for all: exactly one advance commit per wave, and exactly one runner says it
advanced each wave (the one whose push moved the remote); every runner exits 0 and ends
clean, at the remote."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from torture.fleet import ROLLOUT, Fleet, env, git
from torture.kill import Admin, doubled_waves, settled, whole_commits


@dataclass
class RaceTally:
    rounds: int = 0
    runs: int = 0
    failures: list = field(default_factory=list)
    doubled: list = field(default_factory=list)
    half_commits: list = field(default_factory=list)
    claims: list = field(default_factory=list)  # waves not claimed by exactly one runner
    non_ff: int = 0

    def figures(self) -> dict:
        return {"rounds": self.rounds, "runs": self.runs, "failed runs": len(self.failures),
                "waves advanced twice": len(self.doubled), "half commits": len(self.half_commits),
                "waves not claimed by exactly one runner": len(self.claims),
                "forced updates on the remote": self.non_ff}


def race(workdir: Path, rounds: int, runners: int, log=None) -> RaceTally:
    fleet = Fleet(workdir / "race")
    admin = Admin(fleet)
    clones = [fleet.clone(f"r{i}") for i in range(runners)]
    tally = RaceTally()
    for number in range(rounds):
        revision = admin.new_revision()
        since = fleet.remote_head()
        command = ["advance", "security-patch", "--format", "json"] if number % 2 == 0 else \
            ["run", "security-patch", "--format", "json"]
        procs = [subprocess.Popen([*ROLLOUT, *command], cwd=c, env=env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for c in clones]
        claims: Counter = Counter()
        for clone, proc in zip(clones, procs):
            out, err = proc.communicate(timeout=300)
            tally.runs += 1
            if proc.returncode != 0:
                tally.failures.append((number, proc.returncode, err.strip()[-300:]))
                continue
            try:
                docs = [json.loads(out)]
            except ValueError:
                docs = [json.loads(line) for line in out.splitlines() if line.strip()]
            for doc in docs:
                # `run` lists every wave's status under "waves"; what it advanced is "advanced"
                claimed = doc["advanced"] if "advanced" in doc else doc.get("waves", [])
                claims.update(w.get("name") or w.get("wave") for w in claimed)
        for clone in clones:
            git(clone, "pull", "-q", "--ff-only")  # a runner that found nothing to do may be behind
            problem = settled(clone, fleet)
            if problem:
                tally.failures.append((number, "checkout", problem))
        committed = Counter()
        out = git(fleet.remote, "log", "--format=%s", f"{since}..main")
        for subject in out.splitlines():
            if subject.startswith("rollout(") and f"-> {revision}" in subject:
                committed[subject.split(" wave ", 1)[1].split(" ", 2)[1]] += 1
        for wave in set(committed) | set(claims):
            if claims[wave] != 1 or committed[wave] != 1:
                tally.claims.append((number, wave, claims[wave], committed[wave]))
        tally.half_commits += whole_commits(fleet, since)
        tally.rounds += 1
        if log:
            log(f"race round {number + 1}/{rounds}: {command[0]} x{runners}: waves {dict(committed)}")
    tally.doubled = doubled_waves(fleet)
    reflog = git(fleet.remote, "reflog", "show", "main", check=False)
    tally.non_ff = reflog.count("forced-update")
    return tally
