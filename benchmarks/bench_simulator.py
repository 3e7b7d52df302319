"""The fleet simulator at 1,000 and 10,000 clusters: start-up (to the `ready` line;
target < 2 s at 1,000), listing every Application through the `kubernetes` client in
one call, and the simulator's memory.

    .venv/bin/python benchmarks/bench_simulator.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_advance import ENV, git
from common import DATA
from make_fleet import make


def published(n: int) -> Path:
    remote = DATA / f"sim-{n}.git"
    if not remote.exists():
        source = DATA / f"sim-{n}-src"
        make(n, source)
        git(source, "init", "-q", "-b", "main")
        git(source, "add", "-A")
        git(source, "commit", "-qm", "fleet")
        git(DATA, "clone", "-q", "--bare", str(source), str(remote))
    return remote


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(n: int, runs: int = 5) -> None:
    from kubernetes import client, config

    remote = published(n)
    kubeconfig = DATA / f"sim-{n}.kubeconfig"
    starts = []
    for attempt in range(3):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "rollout", "simulate", "--repo", str(remote), "--poll", "10m",
                                 "--kubeconfig-out", str(kubeconfig)], stdout=subprocess.PIPE, text=True, env=ENV)
        ready = proc.stdout.readline()
        starts.append(time.perf_counter() - start)
        if attempt < 2:
            proc.terminate()
            proc.wait()
    api = client.CustomObjectsApi(config.new_client_from_config(str(kubeconfig), context="hub"))
    latencies = []
    for _ in range(runs):
        start = time.perf_counter()
        items = api.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications")["items"]
        latencies.append(time.perf_counter() - start)
    assert len(items) == n, (len(items), ready)
    memory = rss_mb(proc.pid)
    proc.terminate()
    proc.wait()
    print(f"{n:,} clusters: start to `ready` median {statistics.median(starts):.2f} s ({', '.join(f'{s:.2f}' for s in starts)}); "
          f"list {n:,} Applications in one call: median {statistics.median(latencies) * 1000:.0f} ms "
          f"(n={runs}); simulator RSS {memory:.0f} MB")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    for n in (1000, 10000):
        measure(n)
