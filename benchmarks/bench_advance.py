"""Advancing one wave of N clusters (N files edited, one commit) against:
  * the floor: git alone committing the same N already-edited files (`git add -A && git commit`);
  * the naive loop: per file, a yq-style load-edit-dump (ruamel.yaml round trip) and a `git add`.

    .venv/bin/python benchmarks/bench_advance.py            # 10,000 (ours, floor) and 1,000 (all three)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import DATA, ROLLOUT
from make_fleet import make

ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL)


def base_repo(n: int) -> Path:
    root = DATA / f"wave-{n}"
    if not (root / ".git").exists():
        shutil.rmtree(root, ignore_errors=True)
        make(n, root, one_wave=True)
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "fleet")
    return root


def fresh(base: Path, name: str) -> Path:
    work = DATA / "work" / name
    if work.exists():
        shutil.rmtree(work)
    work.parent.mkdir(exist_ok=True)
    shutil.copytree(base, work, symlinks=True)
    # A copy has new inodes: let git refresh its index now, untimed, as a working clone has.
    subprocess.run(["git", "status", "--porcelain"], cwd=work, env=ENV, check=True, stdout=subprocess.DEVNULL)
    return work


def floor(base: Path) -> float:
    work = fresh(base, "floor")
    for path in (work / "apps").iterdir():  # the edit itself is not timed: git alone is
        path.write_text(path.read_text().replace("targetRevision: v1.9.0", "targetRevision: v2.0.0"))
    start = time.perf_counter()
    subprocess.run("git add -A && git commit -qm wave", shell=True, cwd=work, env=ENV, check=True)
    return time.perf_counter() - start


def ours(base: Path) -> float:
    work = fresh(base, "ours")
    start = time.perf_counter()
    subprocess.run([*ROLLOUT, "advance", "big", "--no-push"], cwd=work, env=ENV, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    assert subprocess.run(["git", "status", "--porcelain"], cwd=work, capture_output=True, text=True).stdout == ""
    return elapsed


def naive(base: Path) -> float:
    from ruamel.yaml import YAML

    work = fresh(base, "naive")
    yaml = YAML()
    start = time.perf_counter()
    for path in sorted((work / "apps").iterdir()):
        doc = yaml.load(path)
        doc["spec"]["source"]["targetRevision"] = "v2.0.0"
        yaml.dump(doc, path)
        subprocess.run(["git", "add", str(path)], cwd=work, env=ENV, check=True)
    subprocess.run(["git", "commit", "-qm", "wave"], cwd=work, env=ENV, check=True)
    return time.perf_counter() - start


def median(fn, base: Path, runs: int) -> float:
    return statistics.median(fn(base) for _ in range(runs))


def main() -> None:
    big = base_repo(10000)
    f, o = median(floor, big, 5), median(ours, big, 5)
    print(f"10,000 files: floor (git add+commit) {f:.2f} s, rollout advance {o:.2f} s, ratio {o / f:.2f} (target <= 3)")
    small = base_repo(1000)
    f, o = median(floor, small, 5), median(ours, small, 5)
    try:
        n = median(naive, small, 3)
        print(f"1,000 files: floor {f:.2f} s, rollout advance {o:.2f} s, naive loop {n:.2f} s; "
              f"ours/floor {o / f:.2f}, naive/ours {n / o:.1f}")
    except ImportError:
        print(f"1,000 files: floor {f:.2f} s, rollout advance {o:.2f} s (pip install ruamel.yaml for the naive loop)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
