"""The report page at scale: `rollout status --format html` on 1,000 clusters in 35 waves
(17 passed, one out and not yet judged, one reverted, the rest pending), its size (target < 2 MB) and how
long Debian's headless `chromium` takes to load and paint it (target < 2 s), at 1280 px
and at a phone's 390 px. Figures go to docs/performance.md.

    .venv/bin/python benchmarks/bench_html.py

Needs `chromium` on PATH (apt-get install chromium) for the render times; the size is
measured without it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_advance import ENV, git
from common import DATA, ROLLOUT, fmt, timed, wait_quiet
from make_fleet import make

# make_fleet's `big` (33 waves) with two more canaries, bakes and a gate: 35 waves.
POLICY = """\
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {name: big}
spec:
  revision: v2.0.0
  inventory: [{fleet: fleet/clusters.yaml}]
  pin: [{preset: argocd-application, files: "apps/{cluster}.yaml"}]
  waves:
    - name: canary
      selector: {matchLabels: {environment: dev, region: us-east}}
      bake: 30m
    - name: canary-west
      selector: {matchLabels: {environment: dev, region: us-west}}
      bake: 30m
    - name: canary-eu
      selector: {matchLabels: {environment: dev, region: eu-west}}
      bake: 30m
    - name: staging
      selector: {matchLabels: {environment: staging}}
      groupBy: region
      bake: 1h
    - name: production
      groupBy: region
      maxClusters: "34%"
      bake: 1h
  constraints: {isolateBy: [compliance], maxWaveSize: 5000}
  gates:
    - argocd: {context: hub, namespace: argocd}
"""
PASSED, REVERTED = 17, 19  # waves 1..17 passed; 18 out, unjudged; 19 reverted


def build(root: Path) -> None:
    """The fleet, then the rollout's commits written with git fast-import (building the
    history is not what is measured): advances that pin the files, verify records with
    their evidence, a revert that restores the pins."""
    from rollout.git.history import advance_message, policy_digest, revert_message, verify_message
    from rollout.workspace import load_workspace

    make(1000, root)
    (root / "rollouts/big.yaml").write_text(POLICY)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "fleet")
    plan = load_workspace(root, "big").plan
    assert len(plan.waves) == 35, len(plan.waves)
    digest = policy_digest(POLICY)
    stream = bytearray()
    at = int(time.time()) - 2 * 86400

    def commit(message: str, changes: str = "") -> None:
        nonlocal at
        at += 600
        body = message.encode()
        stream.extend(f"commit refs/heads/main\ncommitter bench <b@example.com> {at} +0000\ndata {len(body)}\n".encode()
                      + body + b"\n" + (b"from refs/heads/main^0\n" if not stream else b"") + changes.encode() + b"\n")

    def pins(wave, old: str, new: str) -> str:
        out = ""
        for c in wave.clusters:
            text = (root / f"apps/{c}.yaml").read_text().replace(old, new)
            out += f"M 100644 inline apps/{c}.yaml\ndata {len(text.encode())}\n{text}\n"
        return out

    for wave in plan.waves[:REVERTED]:
        files = [(c, f"apps/{c}.yaml") for c in wave.clusters]
        commit(advance_message(plan.policy, plan.revision, wave.number, wave.name, files, digest),
               pins(wave, "v1.9.0", plan.revision))
        if wave.number <= PASSED:
            at += wave.bake_seconds
            evidence = [f"argocd: {len(wave.clusters)} of {len(wave.clusters)} clusters passed"] + [
                f"  {c}: passed: {c}: Synced to {plan.revision} and Healthy" for c in wave.clusters[:20]]
            commit(verify_message(plan.policy, plan.revision, wave.number, wave.name, evidence, digest))
    wave = plan.wave(REVERTED)
    reason = (f"gate failed: 1 of {len(wave.clusters)} clusters failed (maxFailures 0); {wave.clusters[0]}: argocd: "
              f"{wave.clusters[0]}: health Degraded at {plan.revision}")
    commit(revert_message(plan.policy, plan.revision, wave.number, wave.name,
                          [(c, f"apps/{c}.yaml") for c in wave.clusters], reason, digest),
           pins(wave, "v1.9.0", "v1.9.0"))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=bytes(stream), check=True, env=ENV)
    git(root, "reset", "-q", "--hard", "main")
    (root / ".bench-html").write_text(POLICY)


# In the page: every wave opened and laid out (the worst a reader can ask for), then the
# filter run for a query every cluster matches; milliseconds each.
EXPAND = """new Promise(done => { const t0 = performance.now();
  document.querySelectorAll('details.wave').forEach(d => { d.open = true; });
  void document.body.offsetHeight; const t1 = performance.now();
  const q = document.getElementById('q'); q.value = 'c0'; q.dispatchEvent(new Event('input'));
  void document.body.offsetHeight;
  requestAnimationFrame(() => done([t1 - t0, performance.now() - t1])); })"""


def browser_times(page: Path, width: int, runs: int) -> tuple[list[float], list[list[float]]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from browser import Browser, binary

    path = binary()
    if path is None:
        return [], []
    browser = Browser(path)
    try:
        browser.open(page, width=width, mobile=width < 500)  # warm: the first load pays for the renderer
        loads, expands = [], []
        for _ in range(runs):
            loads.append(browser.open(page, width=width, mobile=width < 500))
            assert browser.requests == [page.resolve().as_uri()], browser.requests
            expands.append(browser.evaluate(EXPAND, wait=True))
        return loads, expands
    finally:
        browser.close()


def main() -> None:
    root = DATA / "html-1000x35"
    if not (root / ".bench-html").is_file() or (root / ".bench-html").read_text() != POLICY:
        subprocess.run(["rm", "-rf", str(root)], check=True)
        build(root)
    note = wait_quiet()
    page = root.parent / "html-1000x35.html"
    with page.open("w") as out:
        subprocess.run([*ROLLOUT, "status", "big", "--format", "html"], cwd=root, env=ENV, stdout=out, check=True)
    size = page.stat().st_size
    print(f"page: {size / 1e6:.2f} MB ({size:,} bytes; target < 2 MB), 1,000 clusters in 35 waves")
    samples = timed([*ROLLOUT, "status", "big", "--format", "html"], runs=7, cwd=root, env=ENV)
    print(f"rollout status --format html: {fmt(samples)}")
    for width in (1280, 390):
        loads, expands = browser_times(page, width, runs=9)
        if not loads:
            print("chromium is not installed: no render times (apt-get install chromium)")
            break
        print(f"chromium headless at {width} px, load to first frame: median {statistics.median(loads):.3f} s "
              f"(min {min(loads):.3f}, max {max(loads):.3f}, n={len(loads)}; target < 2 s)")
        opened, filtered = (statistics.median(x[i] for x in expands) / 1000 for i in (0, 1))
        print(f"  every wave opened and laid out: median {opened:.3f} s; the filter over 1,000 rows: "
              f"median {filtered:.3f} s")
    print(note)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
