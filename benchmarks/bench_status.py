"""`rollout status` on a repo with 1,000 clusters and 5,000 commits (target < 1 s).

    .venv/bin/python benchmarks/bench_status.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench_advance import ENV, git
from common import DATA, ROLLOUT, fmt, timed
from make_fleet import make


def build(root: Path, commits: int = 5000) -> None:
    """Unrelated commits with, among them, the advance commits of the first waves,
    written with git fast-import (building the history is not what is measured)."""
    from rollout.git.history import advance_message
    from rollout.workspace import load_workspace

    make(1000, root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "fleet")
    plan = load_workspace(root, "big").plan
    stream = bytearray()
    now = int(time.time()) - 86400
    advanced = iter(plan.waves[:10])
    for i in range(commits):
        message = f"docs: note {i}\n"
        changes = f"M 100644 inline notes.txt\ndata {len(str(i))}\n{i}\n"
        if i % 500 == 250:
            wave = next(advanced)
            message = advance_message(plan.policy, plan.revision, wave.number, wave.name,
                                      [(c, f"apps/{c}.yaml") for c in wave.clusters], "sha256:bench")
            changes = ""
            for c in wave.clusters:
                text = (root / f"apps/{c}.yaml").read_text().replace("v1.9.0", plan.revision)
                changes += f"M 100644 inline apps/{c}.yaml\ndata {len(text.encode())}\n{text}\n"
        body = message.encode()
        stream += f"commit refs/heads/main\ncommitter bench <b@example.com> {now + i} +0000\ndata {len(body)}\n".encode()
        stream += body + b"\n" + (b"from refs/heads/main^0\n" if i == 0 else b"") + changes.encode() + b"\n"
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=bytes(stream), check=True, env=ENV)
    git(root, "reset", "-q", "--hard", "main")


def main() -> None:
    root = DATA / "status-1000x5000"
    if not (root / ".git").exists():
        build(root)
    count = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    samples = timed([*ROLLOUT, "status", "big", "--format", "json"], runs=9, cwd=root, env=ENV)
    print(f"status, 1,000 clusters, {count} commits: {fmt(samples)} (target < 1 s)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
