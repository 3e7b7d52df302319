"""The journaled move of branch and work tree (rollout/git/checkout.py) against `git merge
--ff-only` over the same commit: N Argo CD Applications, every one changed.

    .venv/bin/python benchmarks/bench_move.py [N=2000] [pairs=5]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rollout.git.checkout import move  # noqa: E402
from rollout.git.repo import Git  # noqa: E402

ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def repo(n: int) -> tuple[Path, str, str]:
    from common import DATA
    from make_fleet import make

    root = DATA / f"move-{n}"
    if not (root / ".git").exists():
        make(n, root, one_wave=True)
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "fleet"]):
            subprocess.run(["git", *args], cwd=root, env=ENV, check=True)
        for path in (root / "apps").iterdir():
            path.write_text(path.read_text().replace("targetRevision: v1.9.0", "targetRevision: v2.0.0"))
        subprocess.run("git commit -qam wave", shell=True, cwd=root, env=ENV, check=True)
    rev = lambda ref: subprocess.run(["git", "rev-parse", ref], cwd=root, capture_output=True, text=True).stdout.strip()  # noqa: E731
    return root, rev("main~1"), rev("main")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    root, old, new = repo(n)
    git, ratios = Git(root), []
    for _ in range(pairs):
        subprocess.run(["git", "reset", "-q", "--hard", old], cwd=root, check=True)
        os.sync()
        start = time.perf_counter()
        subprocess.run(["git", "merge", "--ff-only", "-q", new], cwd=root, check=True, stderr=subprocess.DEVNULL)
        merge = time.perf_counter() - start
        subprocess.run(["git", "reset", "-q", "--hard", old], cwd=root, check=True)
        os.sync()
        start = time.perf_counter()
        move(git, "main", old, new)
        ours = time.perf_counter() - start
        ratios.append(ours / merge)
        print(f"git merge --ff-only {merge:.2f} s, journaled move {ours:.2f} s: {ours / merge:.2f}x")
    print(f"{n:,} files: median {statistics.median(ratios):.2f}x, max {max(ratios):.2f}x")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
