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
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
       # 10,000 loose objects would start a background `git gc --auto` that competes with
       # the next measurement for the two cores: off for both sides.
       "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "gc.auto", "GIT_CONFIG_VALUE_0": "0"}
# An installed rollout has its bytecode: a shell that sets PYTHONDONTWRITEBYTECODE would make
# every timed start compile every module of the checkout (~60 ms) for nothing.
ENV.pop("PYTHONDONTWRITEBYTECODE", None)


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
    os.sync()  # flush the copy's dirty pages now, not during the timed step
    return work


def floor(base: Path) -> float:
    work = fresh(base, "floor")
    for path in (work / "apps").iterdir():  # the edit itself is not timed: git alone is
        path.write_text(path.read_text().replace("targetRevision: v1.9.0", "targetRevision: v2.0.0"))
    os.sync()
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


def paired(base: Path, runs: int, with_naive: bool = False) -> dict[str, list[float]]:
    """Interleaved runs (floor, ours[, naive]) so that all sides see the same machine
    state: on these noisy VMs I/O speed drifts between runs by 3x."""
    samples: dict[str, list[float]] = {"floor": [], "ours": [], "naive": []}
    for i in range(runs):
        samples["floor"].append(floor(base))
        samples["ours"].append(ours(base))
        if with_naive and i < 3:
            samples["naive"].append(naive(base))
    return samples


def report(n: int, samples: dict[str, list[float]]) -> None:
    ratios = [o / f for f, o in zip(samples["floor"], samples["ours"])]
    line = ", ".join(f"{k} " + "/".join(f"{v:.2f}" for v in vs) for k, vs in samples.items() if vs)
    print(f"{n:,} files: {line}")
    print(f"  medians: floor {statistics.median(samples['floor']):.2f} s, rollout advance "
          f"{statistics.median(samples['ours']):.2f} s; ours/floor per pair: median {statistics.median(ratios):.2f}, "
          f"max {max(ratios):.2f} (target <= 3)")
    if samples["naive"]:
        print(f"  naive loop median {statistics.median(samples['naive']):.2f} s: "
              f"{statistics.median(samples['naive']) / statistics.median(samples['ours']):.1f}x ours")


def main() -> None:
    report(10000, paired(base_repo(10000), 5))
    try:
        import ruamel.yaml  # noqa: F401

        report(1000, paired(base_repo(1000), 5, with_naive=True))
    except ImportError:
        report(1000, paired(base_repo(1000), 5))
        print("  (pip install ruamel.yaml for the naive loop)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
