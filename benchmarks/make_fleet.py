"""Generate a GitOps repo with N clusters for benchmarks, deterministically (seeded):
a Fleet file (~140 bytes a cluster: 1.4 MB at 10,000), one Argo CD Application per
cluster (the pin files `rollout plan` checks exist and `rollout advance` edits), and a
policy `big` whose waves expand to 33 at any size (canary; staging per region; production
per region in 3 batches).

    python benchmarks/make_fleet.py 10000 benchmarks/.data/fleet-10000

Labels: every EU cluster has compliance=gdpr, no other cluster has a compliance label;
the canary selects dev clusters in us-east only, so `isolateBy: [compliance]` holds.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

# Bump when the output changes: bench_plan.py regenerates data made by another version.
VERSION = "2"

REGIONS = ["us-east", "us-west", "ca-central", "sa-east", "eu-west", "eu-central", "ap-south", "ap-east"]
# environment -> weight (percent of the fleet)
ENVIRONMENTS = {"dev": 3, "staging": 12, "production": 85}

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
    - name: staging
      selector: {matchLabels: {environment: staging}}
      groupBy: region
    - name: production
      groupBy: region
      maxClusters: "34%"
  constraints: {isolateBy: [compliance], maxWaveSize: 5000}
"""

ONE_WAVE = POLICY.split("  waves:")[0] + "  waves:\n    - name: everyone\n"

APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://github.com/example-org/platform.git
    targetRevision: v1.9.0  # pinned by rollout
    path: clusters/{name}
  destination:
    server: {server}
    namespace: platform
"""


def make(n: int, root: Path, one_wave: bool = False, quoted_no: bool = False) -> Path:
    """`quoted_no`: the first EU cluster also gets `country: "no"` (Norway, correctly
    quoted), which makes `rollout` re-read the file with positions to check the quoting."""
    rnd = random.Random(f"fleet-{n}")
    norway = quoted_no  # still to add
    envs, weights = list(ENVIRONMENTS), list(ENVIRONMENTS.values())
    (root / "fleet").mkdir(parents=True, exist_ok=True)
    (root / "apps").mkdir(exist_ok=True)
    (root / "rollouts").mkdir(exist_ok=True)
    lines = ["apiVersion: rollout/v1alpha1", "kind: Fleet", "metadata: {name: big}", "clusters:"]
    for i in range(n):
        region = rnd.choice(REGIONS)
        env = rnd.choices(envs, weights)[0]
        name = f"c{i:05d}-{env[:4]}-{region}"
        server = f"https://c{i:05d}.{region}.k8s.example.com:6443"
        gdpr = ", compliance: gdpr" if region.startswith("eu-") else ""
        if gdpr and norway:
            gdpr, norway = gdpr + ', country: "no"', False
        lines += [
            f"  - name: {name}",
            f"    server: {server}",
            f"    labels: {{environment: {env}, region: {region}{gdpr}}}",
        ]
        (root / "apps" / f"{name}.yaml").write_text(APPLICATION.format(name=name, server=server))
    (root / "fleet/clusters.yaml").write_text("\n".join(lines) + "\n")
    (root / "rollouts/big.yaml").write_text(ONE_WAVE if one_wave else POLICY)
    (root / ".made-by").write_text(_stamp(n, one_wave, quoted_no))
    return root


def _stamp(n: int, one_wave: bool, quoted_no: bool) -> str:
    return f"make_fleet {VERSION} {n} {'one-wave' if one_wave else 'big'}{' quoted-no' if quoted_no else ''}\n"


def is_current(root: Path, n: int, one_wave: bool = False, quoted_no: bool = False) -> bool:
    """True when `root` holds what `make(n, root, one_wave, quoted_no)` makes now."""
    stamp = root / ".made-by"
    return stamp.is_file() and stamp.read_text() == _stamp(n, one_wave, quoted_no)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        sys.exit("usage: make_fleet.py N DIR [--one-wave] [--quoted-no]")
    make(int(args[0]), Path(args[1]), one_wave="--one-wave" in sys.argv, quoted_no="--quoted-no" in sys.argv)
