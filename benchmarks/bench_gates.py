"""Gate evaluation for a 1,000-cluster wave against the simulator (target < 1 s):
one LIST of the hub's Applications, 1,000 verdicts.

    .venv/bin/python benchmarks/bench_gates.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_advance import ENV, git
from common import DATA, ROLLOUT
from make_fleet import make


def main(n: int = 1000) -> None:
    root = DATA / f"gates-{n}"
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    source = make(n, root / "source", one_wave=True)
    policy = source / "rollouts/big.yaml"
    policy.write_text(policy.read_text() + "  gates:\n    - argocd: {context: hub, namespace: argocd}\n")
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "fleet")
    remote = root / "remote.git"
    git(root, "clone", "-q", "--bare", str(source), str(remote))
    work = root / "work"
    git(root, "clone", "-q", str(remote), str(work))
    kubeconfig = root / "kubeconfig"
    sim = subprocess.Popen([*ROLLOUT, "simulate", "--repo", str(remote), "--kubeconfig-out", str(kubeconfig),
                            "--poll", "1s", "--sync-delay", "0s", "--health-delay", "0s"], stdout=subprocess.PIPE,
                           text=True, env=ENV)
    try:
        sim.stdout.readline()
        subprocess.run([*ROLLOUT, "advance", "big"], cwd=work, env=ENV, check=True, stdout=subprocess.DEVNULL)
        time.sleep(3)  # the simulator fetches and the Applications settle
        code = f"""
import time, statistics
from pathlib import Path
from rollout.engine import status
from rollout.gate_check import evaluate
from rollout.observers.kube import Kube
from rollout.workspace import load_workspace
ws0, state = status(Path({str(work)!r}), "big")
ws = load_workspace(Path({str(work)!r}), "big", check_files=True)
samples = []
kube = Kube({str(kubeconfig)!r})
for _ in range(7):
    kube.forget()
    s = time.perf_counter(); v = evaluate(ws, state, 1, int(time.time()), kube); samples.append(time.perf_counter() - s)
import cProfile, pstats, io, sys
kube.forget()
pr = cProfile.Profile(); pr.enable(); evaluate(ws, state, 1, int(time.time()), kube); pr.disable()
buf = io.StringIO(); pstats.Stats(pr, stream=buf).sort_stats("cumulative").print_stats(12); print(buf.getvalue(), file=sys.stderr)
print(statistics.median(samples), min(samples), v.state, len(v.checks))
"""
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        if "--profile" in sys.argv:
            print(done.stderr)
        out = done.stdout.split()
        print(f"evaluate() of a {n:,}-cluster wave: median {float(out[0]) * 1000:.0f} ms (min {float(out[1]) * 1000:.0f}, "
              f"n=7): {out[2]}, {out[3]} checks (target < 1 s)")
        walls = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([*ROLLOUT, "gate", "big", "--wave", "1", "--kubeconfig", str(kubeconfig), "--format", "json"],
                           cwd=work, stdout=subprocess.DEVNULL, env=ENV)
            walls.append(time.perf_counter() - start)
        print(f"`rollout gate big --wave 1` (whole command, {n:,} clusters): median {statistics.median(walls):.2f} s")
    finally:
        sim.terminate()
        sim.wait()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
