"""`rollout plan` and `rollout --help` wall time, including interpreter start.

    .venv/bin/python benchmarks/bench_plan.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import DATA, ROLLOUT, fmt, timed
from make_fleet import make


def in_process(root: Path) -> dict[str, float]:
    code = f"""
import time, json
from pathlib import Path
t0 = time.perf_counter()
from rollout.policy_file import load_policy
from rollout.inventory import load_inventory
from waves.planner import make_plan
from rollout.render.plan_json import render
import yaml_rs, networkx
from rollout.manifests.document import bulk
t1 = time.perf_counter()
bulk().__enter__()  # as the CLI does: no cyclic GC while the inventory is alive
root = Path({str(root)!r})
text = (root / "fleet/clusters.yaml").read_text()
s = time.perf_counter(); yaml_rs.loads(text); parse = time.perf_counter() - s
s = time.perf_counter(); policy = load_policy(root / "rollouts/big.yaml").policy; pol = time.perf_counter() - s
s = time.perf_counter(); clusters, _ = load_inventory(root, [("fleet", "fleet/clusters.yaml")]); inv = time.perf_counter() - s
s = time.perf_counter(); plan = make_plan(policy, clusters); pl = time.perf_counter() - s
s = time.perf_counter(); render(plan, pretty=False); js = time.perf_counter() - s
print(json.dumps(dict(imports=t1 - t0, yaml_parse=parse, policy=pol, inventory=inv, plan=pl, json=js, waves=len(plan.waves))))
"""
    import json

    runs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(5)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    print(f"python -c pass:   {fmt(timed([sys.executable, '-c', 'pass']))}")
    print(f"rollout --help:   {fmt(timed([*ROLLOUT, '--help'], runs=11))}  (target < 0.25 s)")
    loaded = subprocess.run([sys.executable, "-c", "import sys, rollout.cli; print(' '.join(sorted(sys.modules)))"],
                            capture_output=True, text=True, check=True).stdout.split()
    heavy = sorted({m.split(".")[0] for m in loaded} & {"networkx", "rich", "pydantic", "kubernetes", "yaml", "yaml_rs"})
    print(f"heavy modules imported by `import rollout.cli`: {heavy or 'none'}")
    medians = {}
    for n in (1000, 10000, 50000):
        root = DATA / f"fleet-{n}"
        if not (root / "rollouts/big.yaml").exists():
            make(n, root)
        size = (root / "fleet/clusters.yaml").stat().st_size
        samples = timed([*ROLLOUT, "plan", "big", "--repo", str(root), "--format", "json"], runs=7)
        medians[n] = statistics.median(samples)
        parts = in_process(root)
        print(f"plan {n:>6} clusters ({size / 1e6:.1f} MB, {parts['waves']:.0f} waves): {fmt(samples)}")
        print("    in-process medians: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in parts.items() if k != "waves"))
    print(f"ratio 10k/1k: {medians[10000] / medians[1000]:.2f}, 50k/10k: {medians[50000] / medians[10000]:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
