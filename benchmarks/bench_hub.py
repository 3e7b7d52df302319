"""`rollout plan` of N clusters listed live from a hub (ClusterProfiles, the simulator's
`--hub`, over HTTP through the real kubernetes client, paginated) against the same fleet
from a Fleet file: subprocess wall time, interpreter start included, runs interleaved.
Target (issue 19, docs/performance.md): live <= 1.5x file at 10,000 clusters.

    .venv/bin/python benchmarks/bench_hub.py                  # 10,000 clusters, 11 runs each
    .venv/bin/python benchmarks/bench_hub.py --sizes 1000,10000 --runs 7
    .venv/bin/python benchmarks/bench_hub.py --runs 7 --without-client-import   # the client's import made free too
    PYTHONPATH=. .venv/bin/python benchmarks/bench_hub.py --baseline /work/main   # this checkout vs another, interleaved

The simulator serves the hub on this machine, so its work (rendering and encoding the
pages) shares the cores with the client's: a hub elsewhere would only be faster. The
in-process split of one live load (the LIST, then the rest) is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, ROLLOUT, wait_quiet
from make_fleet import POLICY, is_current, make

# An installed rollout has its bytecode: a shell that sets PYTHONDONTWRITEBYTECODE (these
# sessions do) would make every timed run compile every module of the checkout it imports,
# ~50 ms more for the file's plan and ~65 for the hub's here, which flatters the ratio.
# The warm-up runs below write it.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

LIVE = POLICY.replace("inventory: [{fleet: fleet/clusters.yaml}]",
                      "inventory: [{clusterProfiles: {context: hub, namespace: fleet-system}}]")


def repos(n: int) -> tuple[Path, Path]:
    """(the fleet from a file, the same fleet's policy reading the hub), generated when missing."""
    file_repo, hub_repo = DATA / f"fleet-{n}", DATA / f"hub-{n}"
    if not is_current(file_repo, n):
        shutil.rmtree(file_repo, ignore_errors=True)
        make(n, file_repo)
    if not (hub_repo / ".made-by").is_file() or (hub_repo / ".made-by").read_text() != (file_repo / ".made-by").read_text():
        shutil.rmtree(hub_repo, ignore_errors=True)
        shutil.copytree(file_repo, hub_repo)
        (hub_repo / "rollouts/big.yaml").write_text(LIVE)
        env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "hub fleet"]):
            subprocess.run(["git", *args], cwd=hub_repo, check=True, env=env)
    return file_repo, hub_repo


def serve(hub_repo: Path, out: Path) -> tuple[subprocess.Popen, Path]:
    kubeconfig = out / "kubeconfig"
    proc = subprocess.Popen([*ROLLOUT, "simulate", "--repo", str(hub_repo), "--hub", str(hub_repo / "fleet/clusters.yaml"),
                             "--kubeconfig-out", str(kubeconfig), "--poll", "3600s"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready = proc.stdout.readline()
    if not ready.startswith("ready"):
        proc.kill()
        sys.exit(f"the simulator did not start: {ready!r}")
    return proc, kubeconfig


def once(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env or ENV)
    return time.perf_counter() - start


def split(hub_repo: Path, kubeconfig: Path) -> dict:
    """One live load in a fresh interpreter: the LIST (pages fetched and parsed) and the rest."""
    code = f"""
import json, time
from pathlib import Path
t0 = time.perf_counter()
from rollout.inventory.hub import KubeLister, fetch
from rollout.observers.kube import Kube
from rollout.policy_file import load_policy
from rollout.yamlfile import bulk
imports = time.perf_counter() - t0
policy = load_policy(Path({str(hub_repo / 'rollouts/big.yaml')!r})).policy
with bulk():
    s = time.perf_counter()
    got = fetch(KubeLister(Kube({str(kubeconfig)!r})), "clusterProfiles", policy.spec.inventory[0].hub)
    listed = time.perf_counter() - s
print(json.dumps({{"imports": imports, "list": listed, "pages": got.pages, "objects": len(got.items)}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr)
    return json.loads(done.stdout)


_AFTER_CLIENT = r"""
import os, sys, time
if sys.argv[1] == "pre":
    import kubernetes.client, kubernetes.config  # the client's import, paid before the clock starts
start = time.perf_counter()
sys.argv = ["rollout", *sys.argv[2:]]
from rollout.cli import main
sys.stdout = open(os.devnull, "w")
try:
    main()
except SystemExit:
    pass
print(time.perf_counter() - start, file=sys.stderr)
"""


def without_client_import(file_cmd: list[str], live_cmd: list[str], runs: int) -> None:
    """Each plan in a fresh interpreter that imports the `kubernetes` client before its clock
    starts (both: the file's plan then finds pydantic and the rest imported too), the rest
    timed in-process: what the hub adds once the client's import is free."""
    took: dict[str, list[float]] = {"file": [], "hub": []}
    for _ in range(runs):
        for name, command in (("file", file_cmd), ("hub", live_cmd)):
            done = subprocess.run([sys.executable, "-c", _AFTER_CLIENT, "pre", *command[len(ROLLOUT):]],
                                  capture_output=True, text=True, env=ENV, check=True)
            took[name].append(float(done.stderr.strip().splitlines()[-1]))
    f, live = statistics.median(took["file"]), statistics.median(took["hub"])
    print(f"  with the client imported before the clock: the file {f:.3f} s, the hub {live:.3f} s in-process: "
          f"{live / f:.2f}x (n={runs})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--without-client-import", action="store_true", help="also time both plans with the "
                        "kubernetes client imported before the clock (what the hub adds besides that import)")
    parser.add_argument("--baseline", help="another checkout of rollout (its root): its live plan is timed in each "
                        "round too (PYTHONPATH), and this one's against it per round")
    args = parser.parse_args()
    base_env = {**ENV, "PYTHONPATH": args.baseline} if args.baseline else None
    for n in [int(s) for s in args.sizes.split(",")]:
        file_repo, hub_repo = repos(n)
        work = DATA / f"hub-{n}-sim"
        work.mkdir(exist_ok=True)
        proc, kubeconfig = serve(hub_repo, work)
        try:
            print(f"{n} clusters: {wait_quiet()}")
            file_cmd = [*ROLLOUT, "plan", "big", "--repo", str(file_repo), "--format", "json"]
            live_cmd = [*ROLLOUT, "plan", "big", "--repo", str(hub_repo), "--format", "json", "--kubeconfig", str(kubeconfig)]
            once(live_cmd)  # warm the simulator's page cache and the OS's file cache, as a second run would
            once(file_cmd)  # and write the bytecode of what each imports
            files, lives, ratios, bases = [], [], [], []
            if base_env:
                once(live_cmd, base_env)
            for _ in range(args.runs):  # interleaved: the machine's noise hits both alike
                files.append(once(file_cmd))
                if base_env:
                    bases.append(once(live_cmd, base_env))
                lives.append(once(live_cmd))
                ratios.append(lives[-1] / files[-1])
            inner = split(hub_repo, kubeconfig)
            if args.without_client_import:
                without_client_import(file_cmd, live_cmd, args.runs)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        f, live = statistics.median(files), statistics.median(lives)
        print(f"  plan from the Fleet file: median {f:.3f} s (min {min(files):.3f}, n={len(files)})")
        print(f"  plan from the hub:        median {live:.3f} s (min {min(lives):.3f}, n={len(lives)})")
        print(f"  ratio of medians {live / f:.2f}x; median of per-pair ratios {statistics.median(ratios):.2f}x "
              f"(max {max(ratios):.2f}x); target <= 1.5x")
        if bases:
            b = statistics.median(bases)
            print(f"  baseline {args.baseline} from the hub: median {b:.3f} s ({b / f:.2f}x the file); this one against "
                  f"it per round: median {statistics.median([x / y for x, y in zip(lives, bases)]):.3f}x")
        print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"  one live LIST in-process: {inner['list']:.3f} s for {inner['objects']} objects in {inner['pages']} "
              f"pages (imports {inner['imports']:.3f} s)")


if __name__ == "__main__":
    main()
