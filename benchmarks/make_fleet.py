"""Generate a GitOps repo with N clusters for benchmarks: a Fleet file, one Argo CD
Application per cluster, and a policy whose waves expand to ~30 (canary, staging per
region, production per region in batches).

    python benchmarks/make_fleet.py 10000 benchmarks/.data/fleet-10000
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

REGIONS = ["us-east", "us-west", "ca-central", "sa-east", "eu-west", "eu-central", "ap-south", "ap-east"]

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
  constraints: {isolateBy: [compliance]}
"""

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


def make(n: int, root: Path, one_wave: bool = False) -> Path:
    rnd = random.Random(n)
    (root / "fleet").mkdir(parents=True, exist_ok=True)
    (root / "apps").mkdir(exist_ok=True)
    (root / "rollouts").mkdir(exist_ok=True)
    lines = ["apiVersion: rollout/v1alpha1", "kind: Fleet", "metadata: {name: big}", "clusters:"]
    for i in range(n):
        region = REGIONS[i % len(REGIONS)]
        env = "dev" if i % 50 == 0 else "staging" if i % 10 == 1 else "production"
        name = f"c{i:05d}-{env[:4]}-{region}"
        server = f"https://{name}.k8s.example.com:6443"
        lines += [f"  - name: {name}", f"    server: {server}", "    labels:", f"      environment: {env}",
                  f"      region: {region}", f'      tier: "{rnd.choice("123")}"']
        if region.startswith("eu"):
            lines.append("      compliance: gdpr")
        (root / "apps" / f"{name}.yaml").write_text(APPLICATION.format(name=name, server=server))
    (root / "fleet/clusters.yaml").write_text("\n".join(lines) + "\n")
    policy = POLICY if not one_wave else POLICY.split("  waves:")[0] + "  waves:\n    - name: everyone\n"
    (root / "rollouts/big.yaml").write_text(policy)
    return root


if __name__ == "__main__":
    make(int(sys.argv[1]), Path(sys.argv[2]), one_wave="--one-wave" in sys.argv)
