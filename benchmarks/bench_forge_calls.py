"""API calls per `rollout run` step under pull-request delivery (docs/delivery.md, "API
calls"): the example rollout, one step at a time, against `rollout simulate --scm github
--protect`, counting the requests the simulated GitHub served (its test knob).

    .venv/bin/python benchmarks/bench_forge_calls.py [merge|squash|rebase]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from forge.simulated import Simulator  # noqa: E402
from forge.test_delivery import fleet_with, run  # noqa: E402


def served(sim: Simulator) -> int:
    request = urllib.request.Request(f"{sim.env['GITHUB_API_URL']}/_sim/rate-limit",
                                     headers={"Authorization": f"token {sim.env['GITHUB_TOKEN']}"})
    return json.loads(urllib.request.urlopen(request).read())["served"]


def main(method: str) -> None:
    fleet = fleet_with(Path(tempfile.mkdtemp(prefix="bench-forge-")), f"mode: pull-request\nmergeMethod: {method}")
    sim = Simulator(fleet, "github", "--protect")
    total = 0
    try:
        for step in range(60):
            before = served(sim)
            result = run(fleet, sim)
            calls = served(sim) - before
            total += calls
            did = [line for line in result.stdout.strip().splitlines()[:-1] if not line.startswith("wave ") or "passed" in line]
            status = result.stdout.strip().splitlines()[-1].rsplit(": ", 1)[-1]
            print(f"step {step}: {calls} calls, {status}: {'; '.join(d[:60] for d in did)}")
            if status in ("complete", "halted", "reverted"):
                break
            time.sleep(0.7)
    finally:
        sim.stop()
    print(f"{method}: {total} API calls for the whole rollout")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "squash")
