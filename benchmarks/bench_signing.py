"""What signing costs an advance: one wave of N clusters (N files edited, one commit),
unsigned and signed with an SSH ed25519 key (`commit.gpgsign`, `gpg.format ssh`),
interleaved pairs on fresh copies; and the commit alone (`Git.commit_on` in-process,
where signing is its one `git commit-tree -S` more).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_signing.py [N] [PAIRS]     # default 10000 5
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_advance import ENV, base_repo, fresh  # noqa: E402
from common import DATA, wait_quiet  # noqa: E402

ROLLOUT = [sys.executable, "-m", "rollout"]  # this checkout's (PYTHONPATH), not the venv's entry point


def key() -> Path:
    path = DATA / "signing-key"
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def env(signed: bool) -> dict:
    if not signed:
        return ENV
    config = [("gc.auto", "0"), ("commit.gpgsign", "true"), ("gpg.format", "ssh"), ("user.signingkey", str(key()))]
    out = {**ENV, "GIT_CONFIG_COUNT": str(len(config))}
    for i, (name, value) in enumerate(config):
        out[f"GIT_CONFIG_KEY_{i}"], out[f"GIT_CONFIG_VALUE_{i}"] = name, value
    return out


def advance(base: Path, signed: bool) -> float:
    work = fresh(base, "signed" if signed else "unsigned")
    start = time.perf_counter()
    subprocess.run([*ROLLOUT, "advance", "big", "--no-push"], cwd=work, env=env(signed), check=True,
                   stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    sig = subprocess.run(["git", "cat-file", "commit", "HEAD"], cwd=work, capture_output=True, text=True).stdout
    assert ("\ngpgsig " in sig) == signed
    return elapsed


def commit_only(base: Path, runs: int) -> dict[bool, list[float]]:
    """`Git.commit_on` of the wave's N edited files on the base, in this process, unsigned
    and signed interleaved."""
    from rollout.git.repo import Git

    work = fresh(base, "commit-only")  # the base stays free of these commits' objects
    files = sorted(p.relative_to(work).as_posix() for p in (work / "apps").iterdir())
    changes = {f: (work / f).read_bytes().replace(b"v1.9.0", b"v2.0.0") for f in files}
    saved = dict(os.environ)
    out: dict[bool, list[float]] = {False: [], True: []}
    try:
        for _ in range(runs):
            for signed in (False, True):
                os.environ.clear()
                os.environ.update(env(signed))
                git = Git(work)
                head = git.head()
                start = time.perf_counter()
                git.commit_on(head, changes, "wave\n")
                out[signed].append(time.perf_counter() - start)
        return out
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    base = base_repo(n)
    key()
    print(f"before: {wait_quiet()}")
    samples: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(pairs):
        for signed in (False, True):
            samples[signed].append(advance(base, signed))
    extra = [s - u for u, s in zip(samples[False], samples[True])]
    print(f"{n:,}-file wave, `rollout advance big --no-push`, {pairs} interleaved pairs:")
    for signed, label in ((False, "unsigned"), (True, "signed  ")):
        print(f"  {label} median {statistics.median(samples[signed]):.2f} s "
              f"({'/'.join(f'{v:.2f}' for v in samples[signed])})")
    print(f"  signed - unsigned per pair: median {statistics.median(extra) * 1000:+.0f} ms")
    runs = 3 * pairs
    commits = commit_only(base, runs)
    extra = [s - u for u, s in zip(commits[False], commits[True])]
    print(f"the commit alone (Git.commit_on, {n:,} files, {runs} interleaved pairs): unsigned median "
          f"{statistics.median(commits[False]) * 1000:.0f} ms, signed median {statistics.median(commits[True]) * 1000:.0f} ms, "
          f"signed - unsigned per pair: median {statistics.median(extra) * 1000:+.0f} ms")
    print(f"after: {wait_quiet(max_wait=0)}")


if __name__ == "__main__":
    main()
