"""`rollout validate` reports every pin that would be refused, all at once, before any
advance: nothing is written, exit code 2, one line per problem naming file and line."""

from __future__ import annotations

import pytest

from conftest import Repo, fleet_yaml

CLUSTERS = {"dev-a": {"environment": "dev"}, "dev-b": {"environment": "dev"}, "prod-a": {"environment": "prod"}}

POLICY = """\
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {name: images}
spec:
  revision: v1.4.2
  inventory:
    - fleet: fleet/clusters.yaml
  pin:
    - preset: argocd-applicationset-list
      files: argocd/platform-appset.yaml
    - preset: kustomize-image-digest
      files: clusters/{cluster}/kustomization.yaml
      image: ghcr.io/example/app
    - preset: flux-ocirepository
      files: flux/{cluster}-oci.yaml
      ref: digest
  waves:
    - name: dev
      selector: {matchLabels: {environment: dev}}
    - name: prod
"""

APPSET = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: platform}
spec:
  goTemplate: true
  generators:
    - list:
        elements:
          - cluster: dev-a
            targetRevision: v1.4.1
          - cluster: dev-b
            targetRevision: v1.4.1
          - cluster: prod-a
            targetRevision: v1.4.1
  template:
    metadata:
      name: 'platform-{{ .cluster }}'
    spec:
      source:
        repoURL: https://github.com/example-org/platform.git
        targetRevision: main
"""


def make_repo(root) -> Repo:
    repo = Repo(root)
    repo.write("fleet/clusters.yaml", fleet_yaml(CLUSTERS))
    repo.write("argocd/platform-appset.yaml", APPSET)
    for name in CLUSTERS:
        repo.write(f"flux/{name}-oci.yaml", "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\n"
                   "metadata: {name: app}\nspec:\n  ref:\n    digest: sha256:" + "0" * 64 + "\n")
        repo.write(f"clusters/{name}/kustomization.yaml",
                   "images:\n  - name: ghcr.io/example/app\n    newTag: v1.4.1\n")
    # prod-a's image entry is an alias of another: pinning it would change both.
    repo.write("clusters/prod-a/kustomization.yaml",
               "images:\n  - &app\n    name: ghcr.io/example/app\n    newTag: v1.4.1\nreplacements:\n  - *app\n")
    repo.write("rollouts/images.yaml", POLICY)
    return repo


def test_validate_reports_every_refused_pin_at_once_and_writes_nothing(tmp_path):
    repo = make_repo(tmp_path / "r")
    before = repo.snapshot()
    result = repo.run("validate", "images")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    appset = [l for l in lines if l.startswith("argocd/platform-appset.yaml:21: ")]
    assert sorted(l.split(": cluster ")[1].split(":")[0] for l in appset) == ["dev-a", "dev-b", "prod-a"]
    assert all("the template never reads the element's targetRevision" in l
               and "spec.template.spec.source.targetRevision is 'main'" in l for l in appset)
    assert any("pin 1 (kustomize-image-digest) cannot write this revision: 'v1.4.2' is not an image digest" in l
               for l in lines)
    assert any("pin 2 (flux-ocirepository) cannot write this revision" in l for l in lines)
    aliased = [l for l in lines if l.startswith("clusters/prod-a/kustomization.yaml:2: ")]
    assert len(aliased) == 1 and "cluster prod-a: images[0].digest is inside &app (line 2), which *app also uses at " \
        "line 6" in aliased[0]
    assert repo.snapshot() == before


def test_once_fixed_validate_passes(tmp_path):
    repo = make_repo(tmp_path / "r")
    repo.write("argocd/platform-appset.yaml", APPSET.replace("targetRevision: main", "targetRevision: '{{ .targetRevision }}'"))
    repo.write("rollouts/images.yaml", POLICY.replace("v1.4.2", "sha256:" + "ab" * 32))
    repo.write("clusters/prod-a/kustomization.yaml", "images:\n  - name: ghcr.io/example/app\n    newTag: v1.4.1\n")
    result = repo.run("validate", "images")
    assert result.returncode == 0, result.stderr


HELMRELEASE = """\
# the platform chart, from an OCIRepository (Flux 2.3+)
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: platform
  namespace: flux-system
spec:
  interval: 10m
  chartRef:
    kind: OCIRepository
    name: platform
  values:
    replicas: 2
"""


def test_a_refused_pin_is_located_at_the_line_that_refuses_it(tmp_path):
    """Issue 24: a HelmRelease with spec.chartRef (no version to pin) is refused at the
    `chartRef:` line, not at the document's first; a field path that meets a scalar where
    it needs a mapping, at that scalar's key."""
    repo = Repo(tmp_path / "r")
    repo.write("fleet/clusters.yaml", fleet_yaml({"dev-a": {"environment": "dev"}}))
    repo.write("flux/dev-a/platform.yaml", HELMRELEASE)
    repo.write("flux/dev-a/values.yaml", "image: ghcr.io/example/app:v1\nreplicas: 2\n")
    repo.write("rollouts/helm.yaml", POLICY.replace("metadata: {name: images}", "metadata: {name: helm}").replace(
        POLICY[POLICY.index("  pin:"):POLICY.index("  waves:")],
        "  pin:\n    - preset: flux-helmrelease\n      files: flux/{cluster}/platform.yaml\n"
        "    - preset: yaml-field\n      files: flux/{cluster}/values.yaml\n      field: image.tag\n"))
    result = repo.run("validate", "helm")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("flux/dev-a/platform.yaml:9: ") and "uses spec.chartRef" in line for line in lines), lines
    assert any(line.startswith("flux/dev-a/values.yaml:1: ") and "image is not a mapping" in line for line in lines), lines


@pytest.mark.parametrize("files", ["./values.yaml", "clusters//{cluster}/values.yaml", "clusters/./{cluster}.yaml",
                                   "clusters/{cluster}/"])
def test_a_pin_path_git_would_store_as_written_is_refused(files):
    """git keeps `./values.yaml` as a tree entry named `.`: the commit would say it moved
    the cluster while values.yaml stayed as it was."""
    from pydantic import TypeAdapter, ValidationError
    from waves.pins import PinSpec

    with pytest.raises(ValidationError, match="must be a plain path inside the repository"):
        TypeAdapter(PinSpec).validate_python({"preset": "yaml-field", "field": "a", "files": files})
