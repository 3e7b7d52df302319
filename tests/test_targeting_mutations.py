"""Mis-targeting mutations of the three examples: each must make `rollout validate` exit 2
with a located line naming the cluster it would hurt, and a forced advance of that
cluster's wave must write nothing (no commit, no file touched).

The first mutations are issue 14's (they passed validation before targeting safety
followed the source); the rest were already refused and must stay so.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
POLICIES = {"fleet-config": "security-patch", "argocd-hub": "platform-upgrade", "flux-mesh": "podinfo"}
LOCATED = re.compile(r"^\S[^:]*:\d+: ")


def cli(*args: str):
    from rollout.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


@functools.cache
def wave_of(example: str) -> dict[str, int]:
    result = cli("plan", POLICIES[example], "--repo", str(EXAMPLES / example), "--format", "json")
    assert result.exit_code == 0, result.output
    return {c: w["number"] for w in json.loads(result.stdout)["waves"] for c in w["clusters"]}


def sub(root: Path, file: str, old: str, new: str) -> None:
    path = root / file
    text = path.read_text()
    assert old in text, f"{file} no longer holds {old!r}: update the mutation"
    path.write_text(text.replace(old, new, 1))


def add(root: Path, file: str, text: str) -> None:
    path = root / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@dataclass(frozen=True)
class Mutation:
    kind: str
    example: str
    cluster: str  # the cluster whose wave a forced advance tries
    expect: tuple[str, ...]  # all in one located error line
    edit: Callable[[Path], None]
    new: bool = True  # refused since issue 14

    def __str__(self) -> str:
        return self.kind


F, H, X = "fleet-config", "argocd-hub", "flux-mesh"
EU_APP = "argocd/apps/prod-eu-west-platform.yaml"
EU_OVERLAY = "clusters/prod-eu-west/kustomization.yaml"


def _app_label_pins(root: Path) -> None:
    """Each cluster's Application chosen by an `app` label; prod-eu-west's is copied from
    prod-us-east: two clusters, one pinned file."""
    sub(root, "rollouts/security-patch.yaml", "files: argocd/apps/{cluster}-platform.yaml",
        "files: argocd/apps/{labels.app}-platform.yaml")
    text = (root / "fleet/clusters.yaml").read_text()
    text = re.sub(r"(  - name: (\S+)\n(?:    (?!labels).*\n)*    labels:\n)",
                  lambda m: m.group(1) + f"      app: {m.group(2)}\n", text)
    (root / "fleet/clusters.yaml").write_text(text.replace("app: prod-eu-west", "app: prod-us-east"))


MUTATIONS = [
    # --- issue 14: the three that passed, and their variants --------------------------
    Mutation("application-path-is-another-clusters-folder", F, "prod-eu-west",
             (EU_APP, "spec.source.path", "names cluster prod-us-east"),
             lambda r: sub(r, EU_APP, "path: clusters/prod-eu-west", "path: clusters/prod-us-east")),
    Mutation("overlay-resource-from-another-cluster", F, "prod-eu-west",
             (EU_OVERLAY, "resources[1]", "names cluster prod-us-east"),
             lambda r: sub(r, EU_OVERLAY, "  - ../../environments/production\n",
                           "  - ../../environments/production\n  - ../prod-us-east\n")),
    Mutation("overlay-patch-file-from-another-cluster", F, "prod-eu-west",
             (EU_OVERLAY, "patches[0].path", "cluster prod-us-east's folder"),
             lambda r: (add(r, "clusters/prod-us-east/replicas.yaml",
                            "- op: add\n  path: /metadata/labels/tier\n  value: us\n"),
                        sub(r, EU_OVERLAY, "configMapGenerator:",
                            "patches:\n  - path: ../prod-us-east/replicas.yaml\n    target: {kind: Namespace}\n"
                            "configMapGenerator:"))),
    Mutation("overlay-component-from-another-cluster", F, "prod-eu-west",
             (EU_OVERLAY, "components[0]", "cluster prod-us-east's folder"),
             lambda r: (add(r, "clusters/prod-us-east/region/kustomization.yaml",
                            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonLabels:\n"
                            "  region: us-east\n"),
                        sub(r, EU_OVERLAY, "configMapGenerator:",
                            "components:\n  - ../prod-us-east/region\nconfigMapGenerator:"))),
    Mutation("application-kustomize-component-of-another-cluster", F, "prod-eu-west",
             (EU_APP, "spec.source.kustomize.components[0]", "cluster prod-us-east's folder"),
             lambda r: (add(r, "clusters/prod-us-east/region/kustomization.yaml",
                            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"),
                        sub(r, EU_APP, "    path: clusters/prod-eu-west\n",
                            "    path: clusters/prod-eu-west\n    kustomize:\n      components:\n"
                            "        - ../prod-us-east/region\n"))),
    Mutation("overlay-remote-base-back-into-this-repository", F, "prod-eu-west",
             (EU_OVERLAY, "resources[1]", "names cluster prod-us-east"),
             lambda r: sub(r, EU_OVERLAY, "  - ../../environments/production\n",
                           "  - ../../environments/production\n"
                           "  - git@github.com:example-org/fleet-config.git//clusters/prod-us-east?ref=main\n")),
    Mutation("two-inventory-entries-one-server", F, "prod-eu-west",
             ("fleet/clusters.yaml", "cluster prod-eu-west", "cluster prod-us-east's"),
             lambda r: (sub(r, "fleet/clusters.yaml", "https://prod-eu-west.k8s.example.com:6443",
                            "https://PROD-US-EAST.k8s.example.com:6443/"),
                        sub(r, EU_APP, "https://prod-eu-west.k8s.example.com:6443",
                            "https://PROD-US-EAST.k8s.example.com:6443/"))),
    Mutation("two-secrets-one-server", H, "stg-us-east-1",
             ("clusters/us-east.yaml", "cluster stg-us-east-1", "cluster stg-eu-west-1's"),
             lambda r: sub(r, "clusters/us-east.yaml", "https://stg-us-east-1.us-east.k8s.example.com:6443",
                           "https://STG-EU-WEST-1.eu-west.k8s.example.com:6443/")),
    Mutation("two-secrets-one-argocd-cluster-name", H, "stg-eu-west-1",
             ("clusters/us-east.yaml", "Argo CD cluster name stg-eu-west-1", "clusters/eu-west.yaml"),
             lambda r: sub(r, "clusters/us-east.yaml", "name: stg-us-east-1\n", "name: stg-eu-west-1\n")),
    Mutation("application-path-is-not-source-path", F, "prod-eu-west",
             (EU_APP, "spec.source.path", "identity.sourcePath says clusters/prod-eu-west"),
             lambda r: (sub(r, "rollouts/security-patch.yaml", "  identity:",
                            "  identity:\n    sourcePath: clusters/{cluster}\n"),
                        sub(r, EU_APP, "path: clusters/prod-eu-west", "path: environments/production"))),
    Mutation("flux-overlay-pulls-in-another-cluster", X, "prod-eu-1",
             ("clusters/prod-eu-1/kustomization.yaml", "resources[2]", "cluster prod-us-1's folder"),
             lambda r: sub(r, "clusters/prod-eu-1/kustomization.yaml", "  - podinfo-release.yaml\n",
                           "  - podinfo-release.yaml\n  - ../prod-us-1/podinfo-release.yaml\n")),
    Mutation("flux-overlay-names-a-missing-file", X, "staging-1",
             ("clusters/staging-1/kustomization.yaml", "resources[2]", "cluster staging-1", "no such file"),
             lambda r: sub(r, "clusters/staging-1/kustomization.yaml", "  - podinfo-release.yaml\n",
                           "  - podinfo-release.yaml\n  - podinfo-values.yaml\n")),
    Mutation("kustomization-cycle", F, "prod-eu-west",
             ("environments/production/kustomization.yaml", "cluster prod-eu-west", "a cycle"),
             lambda r: sub(r, "environments/production/kustomization.yaml", "  - ../../base\n",
                           "  - ../../base\n  - ../../clusters/prod-eu-west\n")),
    Mutation("overlay-reaches-outside-the-repository", F, "prod-eu-west",
             (EU_OVERLAY, "resources[1]", "cluster prod-eu-west", "outside the repository"),
             lambda r: sub(r, EU_OVERLAY, "  - ../../environments/production\n",
                           "  - ../../environments/production\n  - ../../../fleet-secrets\n")),
    # --- already refused before issue 14 ----------------------------------------------
    Mutation("destination-server-of-another-cluster", F, "prod-eu-west",
             (EU_APP, "spec.destination.server", "cluster prod-eu-west"),
             lambda r: sub(r, EU_APP, "server: https://prod-eu-west.k8s.example.com:6443",
                           "server: https://prod-us-east.k8s.example.com:6443"), new=False),
    Mutation("destination-name-of-another-cluster", F, "prod-eu-west",
             (EU_APP, "spec.destination.name", "cluster prod-eu-west", "'prod-us-east'"),
             lambda r: sub(r, EU_APP, "server: https://prod-eu-west.k8s.example.com:6443", "name: prod-us-east"),
             new=False),
    Mutation("hub-destination-server-of-another-cluster", H, "prd-eu-west-3",
             ("applications/prd-eu-west-3.yaml", "spec.destination.server", "cluster prd-eu-west-3"),
             lambda r: sub(r, "applications/prd-eu-west-3.yaml", "prd-eu-west-3.eu-west.k8s", "prd-us-east-3.us-east.k8s"),
             new=False),
    Mutation("identity-literal-of-another-region", F, "prod-eu-west",
             (EU_OVERLAY, "cluster prod-eu-west", "REGION=us-east-1"),
             lambda r: sub(r, EU_OVERLAY, "REGION=eu-west-1", "REGION=us-east-1"), new=False),
    Mutation("inventory-sources-disagree-on-a-label", F, "prod-eu-west",
             (EU_OVERLAY, "cluster prod-eu-west", "region"),
             lambda r: (sub(r, "rollouts/security-patch.yaml", "    - fleet: fleet/clusters.yaml",
                            "    - kustomizeClusters: clusters/*/kustomization.yaml\n    - fleet: fleet/clusters.yaml"),
                        sub(r, EU_OVERLAY, "  region: eu-west", "  region: us-east")), new=False),
    # One Application for two clusters: one field moving both, which production's
    # maxClusters: 1 cannot keep in one batch (in one batch, the destination check refuses it).
    Mutation("two-clusters-one-pinned-file", F, "prod-eu-west",
             ("rollouts/security-patch.yaml", "clusters prod-eu-west, prod-us-east pin one field"),
             _app_label_pins, new=False),
]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts}


def test_there_are_at_least_ten_kinds_and_the_three_of_the_issue():
    assert len({m.kind for m in MUTATIONS}) >= 10
    assert {"application-path-is-another-clusters-folder", "overlay-resource-from-another-cluster",
            "two-inventory-entries-one-server"} <= {m.kind for m in MUTATIONS if m.new}


@pytest.mark.parametrize("example", sorted(POLICIES))
def test_each_example_is_valid_before_mutation(example):
    result = cli("validate", POLICIES[example], "--repo", str(EXAMPLES / example))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("mutation", MUTATIONS, ids=str)
def test_mutation_is_refused_by_validate_and_a_forced_advance_writes_nothing(mutation, tmp_path, monkeypatch):
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(key, "Rollout Test")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "rollout@example.com")
    wave = wave_of(mutation.example)[mutation.cluster]
    root = tmp_path / mutation.example
    shutil.copytree(EXAMPLES / mutation.example, root)
    mutation.edit(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"mutation: {mutation.kind}")
    policy = POLICIES[mutation.example]

    checked = cli("validate", policy, "--repo", str(root))
    assert checked.exit_code == 2, checked.output
    lines = checked.stderr.splitlines()
    assert lines and all(LOCATED.match(line) for line in lines), lines
    assert any(all(part in line for part in mutation.expect) for line in lines), lines

    head, before = git(root, "rev-parse", "HEAD"), snapshot(root)
    forced = cli("advance", policy, "--repo", str(root), "--wave", str(wave), "--force", "--no-push")
    assert forced.exit_code == 2, forced.output
    assert forced.stderr.splitlines() == lines  # the same refusal, before any write
    assert git(root, "rev-parse", "HEAD") == head
    assert git(root, "status", "--porcelain") == ""
    assert snapshot(root) == before
