"""Gate evaluation of one big wave against the simulator, through the real kubernetes
client (issue 8's targets):

- Argo CD: a 10,000-cluster wave, one hub: one LIST of 10,000 Applications, 10,000
  verdicts (target < 1.5 s);
- Flux: a 1,000-cluster wave, one kubeconfig context per cluster: 1,000 LISTs on the
  bounded pool (16 at a time), 1,000 verdicts (target < 2 s);
- Rancher Fleet (`fleet N`): one GitRepo reading every cluster's pinned file, on the Fleet
  manager: a LIST of GitRepos, of Bundles, one cluster-wide LIST of its N
  BundleDeployments, N verdicts.

    .venv/bin/python benchmarks/bench_gates.py            # both
    .venv/bin/python benchmarks/bench_gates.py argocd 1000
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_advance import ENV, git
from common import DATA, ROLLOUT, wait_quiet
from make_fleet import make


GATES = {
    "argocd": "  gates:\n    - argocd: {context: hub, namespace: argocd}\n",
    # any pin but an Application: the simulator serves each cluster a Flux Kustomization `apps`
    "flux": "  gates:\n    - flux: {context: '{cluster}', kind: Kustomization, namespace: flux-system, name: apps}\n",
    # the pins in files one GitRepo reads: the simulator serves it following the branch
    "fleet": "  gates:\n    - fleet: {context: fleet-manager, gitRepo: platform}\n",
}


def main(kind: str = "argocd", n: int = 10000) -> None:
    root = DATA / f"gates-{kind}-{n}"
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    source = make(n, root / "source", one_wave=True)
    policy = source / "rollouts/big.yaml"
    text = policy.read_text()
    if kind in ("flux", "fleet"):
        text = text.replace("pin: [{preset: argocd-application, files: \"apps/{cluster}.yaml\"}]",
                            "pin: [{preset: yaml-field, files: \"apps/{cluster}.yaml\", field: spec.source.targetRevision}]")
    policy.write_text(text + GATES[kind])
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
        time.sleep(3 + n / 1000)  # the simulator fetches, learns the new pins, the objects settle
        print(f"{kind} {n:,}: {wait_quiet()}")
        if kind == "argocd":  # the API server's share: the simulator's LIST alone, to its first byte and to its end
            server = server_side(kubeconfig)
            print(f"{kind}: the simulator's LIST of every Application alone: first byte median {server[0] * 1000:.0f} ms, "
                  f"whole answer {server[1] * 1000:.0f} ms, {server[2] / 1e6:.1f} MB (n=7)")
        code = f"""
import time, statistics
from pathlib import Path
from rollout.status import status
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
        print(f"{kind}: evaluate() of a {n:,}-cluster wave: median {float(out[0]) * 1000:.0f} ms "
              f"(min {float(out[1]) * 1000:.0f}, n=7): {out[2]}, {out[3]} checks")
        gate = [*ROLLOUT, "gate", "big", "--wave", "1", "--kubeconfig", str(kubeconfig), "--format", "json"]
        cold = []
        for _ in range(3):  # no cache in the git dir: every pinned file read and checked
            for cache in work.glob(".git/rollout-*.pickle"):
                cache.unlink()
            start = time.perf_counter()
            subprocess.run(gate, cwd=work, stdout=subprocess.DEVNULL, env=ENV)
            cold.append(time.perf_counter() - start)
        walls = []
        for _ in range(7):  # as every look after the first: the files' facts and checks kept (rollout/reuse.py)
            start = time.perf_counter()
            subprocess.run(gate, cwd=work, stdout=subprocess.DEVNULL, env=ENV)
            walls.append(time.perf_counter() - start)
        whole, evaluated = statistics.median(walls), float(out[0])
        print(f"{kind}: `rollout gate big --wave 1` (whole command, {n:,} clusters): median {whole:.2f} s "
              f"(min {min(walls):.2f}, max {max(walls):.2f}, n=7) = {whole / evaluated:.2f}x its evaluate(); "
              f"cold (no cache): median {statistics.median(cold):.2f} s (n=3); {wait_quiet(max_wait=0)}")
        pairs(kind, n, work, kubeconfig, gate, PAIRS)
    finally:
        sim.terminate()
        sim.wait()


PAIRS = 9


def pairs(kind: str, n: int, work: Path, kubeconfig: Path, gate: list[str], runs: int) -> None:
    """evaluate() (in one warm process, as above) and the whole command, one after the
    other `runs` times: the load other jobs put on this machine changes within a minute, so
    the ratio that means something is the one of each pair, taken under the same load."""
    code = f"""
import sys, time
from pathlib import Path
from rollout.status import status
from rollout.gate_check import evaluate
from rollout.observers.kube import Kube
ws, state = status(Path({str(work)!r}), "big", check_files=True)
kube = Kube({str(kubeconfig)!r})
for line in sys.stdin:
    kube.forget()
    s = time.perf_counter(); evaluate(ws, state, 1, int(time.time()), kube); print(time.perf_counter() - s, flush=True)
"""
    evaluator = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        evaluations, walls = [], []
        for i in range(runs + 1):
            evaluator.stdin.write("\n")
            evaluator.stdin.flush()
            evaluated = float(evaluator.stdout.readline())
            start = time.perf_counter()
            subprocess.run(gate, cwd=work, stdout=subprocess.DEVNULL, env=ENV)
            if i:  # the first pair warms both
                evaluations.append(evaluated)
                walls.append(time.perf_counter() - start)
    finally:
        evaluator.stdin.close()
        evaluator.wait()
    ratios = [w / e for w, e in zip(walls, evaluations)]
    print(f"{kind}: {runs} pairs, evaluate() then the whole gate: evaluate() median {statistics.median(evaluations) * 1000:.0f} ms "
          f"({min(evaluations) * 1000:.0f}-{max(evaluations) * 1000:.0f}), gate median {statistics.median(walls):.2f} s "
          f"({min(walls):.2f}-{max(walls):.2f}); per-pair ratio median {statistics.median(ratios):.2f}x "
          f"({min(ratios):.2f}-{max(ratios):.2f}); {wait_quiet(max_wait=0)}")


def server_side(kubeconfig: Path) -> tuple[float, float, int]:
    """(time to the first byte, to the last, bytes) of the hub's LIST of Applications over a
    bare HTTP connection: what the API server (the simulator) takes, without our client."""
    import http.client
    import json
    from urllib.parse import urlsplit

    config = json.loads(kubeconfig.read_text())
    server = next(c["cluster"]["server"] for c in config["clusters"] if c["name"] == "hub")
    token = next(u["user"]["token"] for u in config["users"])
    url = urlsplit(server)
    firsts, wholes, size = [], [], 0
    for _ in range(7):
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        start = time.perf_counter()
        connection.request("GET", f"{url.path}/apis/argoproj.io/v1alpha1/namespaces/argocd/applications",
                           headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        firsts.append(time.perf_counter() - start)
        size = len(response.read())
        wholes.append(time.perf_counter() - start)
        connection.close()
    return statistics.median(firsts), statistics.median(wholes), size


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if args:
        main(args[0], int(args[1]) if len(args) > 1 else 1000)
    else:
        main("argocd", 10000)
        main("flux", 1000)
