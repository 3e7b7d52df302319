"""What `spec.trust` costs `rollout status`: the seed-shaped fleet with a history of N
signed rollout records (earlier revisions' advances and gate passes, as a year of nightly
rollouts leaves them), timed without trust, with trust and a cold signature cache
(`<git-dir>/rollout-signatures.json` removed before each run: every record verified, one
`ssh-keygen` per signature), and with trust and a warm cache (what every step after the
first pays). Medians, and ratios to the run without trust, in one run.

    .venv/bin/python benchmarks/bench_trust.py [--records 300] [--changes 0] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROLLOUT, wait_quiet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import SEED_POLICY, make_seed_repo  # noqa: E402 - the tests' seed fleet

from rollout.git.history import policy_digest, verify_message  # noqa: E402

TRUST = "  trust:\n    allowedSigners: .rollout/allowed_signers\n    approvers: [alice@example.com]\n"
ENV = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@x"}


def git(cwd: Path, *args: str, input: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, text=True, check=True,
                          env=ENV).stdout


def fleet(root: Path, records: int, trust: bool, changes: int = 0) -> Path:
    policy = SEED_POLICY.replace("  onFailure: revert\n", "  onFailure: revert\n" + (TRUST if trust else ""))
    repo = make_seed_repo(root, policy).root
    key = root.parent / "key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (repo / ".rollout").mkdir()
    (repo / ".rollout/allowed_signers").write_text(f'alice@example.com namespaces="git" {(root.parent / "key.pub").read_text()}')
    git(repo, "init", "-q", "-b", "main")
    for name, value in (("gpg.format", "ssh"), ("user.signingkey", str(key)), ("commit.gpgsign", "true")):
        git(repo, "config", name, value)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "fleet-config")
    digest = policy_digest(policy)
    for i in range(records):  # earlier revisions' records, each signed
        message = verify_message("security-patch", f"v0.{i}", 1, "canary", ["bench"], digest, epoch=i + 1)
        git(repo, "commit", "-q", "--allow-empty", "-F", "-", input=message)
    path = repo / "rollouts/security-patch.yaml"
    for i in range(changes):  # signed policy changes (revision bumps, tweaks): the chain the screen walks
        path.write_text(policy.replace("maxWaveSize: 50", f"maxWaveSize: {51 + i % 2}"))
        git(repo, "commit", "-qam", f"policy change {i}")
    return repo


def timed(repo: Path, runs: int, cold: bool) -> list[float]:
    samples = []
    for _ in range(runs):
        if cold:
            (repo / ".git/rollout-signatures.json").unlink(missing_ok=True)
        start = time.perf_counter()
        subprocess.run([*ROLLOUT, "status", "security-patch", "--format", "json"], cwd=repo, env=ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--changes", type=int, default=0, help="signed policy changes after the records")
    args = parser.parse_args()
    print(wait_quiet())
    with tempfile.TemporaryDirectory(prefix="bench-trust-") as where:
        plain = fleet(Path(where) / "plain", args.records, trust=False, changes=args.changes)
        trusted = fleet(Path(where) / "trusted", args.records, trust=True, changes=args.changes)
        base = statistics.median(timed(plain, args.runs, cold=False))
        cold = statistics.median(timed(trusted, args.runs, cold=True))
        timed(trusted, 1, cold=False)
        warm = statistics.median(timed(trusted, args.runs, cold=False))
    print(f"status, {args.records} signed records, {args.changes} signed policy changes, median of {args.runs}:")
    print(f"  without trust            {base:.2f} s")
    print(f"  trust, cold cache        {cold:.2f} s  ({cold / base:.1f}x)")
    print(f"  trust, warm cache        {warm:.2f} s  ({warm / base:.2f}x)")
    print(wait_quiet(max_wait=0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
