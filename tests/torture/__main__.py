"""`python -m tests.torture [--trials 500] [--fuzz 2000] [--rounds 20 --runners 8]`: the
torture suite at full size, figures printed as JSON (docs/reliability.md)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: `torture`, conftest

from torture.canary import full_matrix  # noqa: E402
from torture.fuzz import fuzz  # noqa: E402
from torture.kill import kill_trials  # noqa: E402
from torture.race import race  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.torture", description=__doc__)
    parser.add_argument("--trials", type=int, default=500, help="kill -9 trials (0: skip)")
    parser.add_argument("--fuzz", type=int, default=2000, help="fuzzed inputs (0: skip)")
    parser.add_argument("--rounds", type=int, default=20, help="race rounds (0: skip)")
    parser.add_argument("--runners", type=int, default=8, help="racing runners per round")
    parser.add_argument("--canary", action="store_true", help="also the full canary-token matrix (~10 min)")
    parser.add_argument("--kill", choices=["both", "group", "pid"], default="both",
                        help="process-group kills, pid kills, or half each")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args()
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    figures: dict = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="rollout-torture-") as tmp:
        work = Path(tmp)
        if args.trials:
            started = time.monotonic()
            kinds = ("group", "pid") if args.kill == "both" else (args.kill,)
            tally = kill_trials(work, args.trials, seed=args.seed, log=log, kinds=kinds)
            figures["kill"] = {**tally.figures(), "seconds": round(time.monotonic() - started)}
            figures["kill"]["stuck details"] = tally.stuck[:10]
            failed |= bool(tally.stuck or tally.half_commits or tally.status_errors or tally.doubled)
        if args.rounds:
            started = time.monotonic()
            tally = race(work, args.rounds, args.runners, log=log)
            figures["race"] = {**tally.figures(), "runners": args.runners, "seconds": round(time.monotonic() - started)}
            failed |= bool(tally.failures or tally.doubled or tally.half_commits or tally.claims or tally.non_ff)
        if args.fuzz:
            started = time.monotonic()
            tally = fuzz(work, args.fuzz, seed_value=args.seed, strict=False)
            figures["fuzz"] = {**tally.figures(), "seconds": round(time.monotonic() - started)}
            figures["fuzz"]["examples"] = (tally.internal + tally.unlocated)[:10]
            failed |= bool(tally.internal or tally.unlocated)
        if args.canary:
            started = time.monotonic()
            figures["canary"] = {**full_matrix(work, log=log), "seconds": round(time.monotonic() - started)}
            failed |= bool(figures["canary"]["leaks"])
    print(json.dumps(figures, indent=2, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
