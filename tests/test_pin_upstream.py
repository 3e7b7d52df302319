"""Every preset, edit and revert byte-exact, on the real upstream files in
../shared/corpus/upstream (34 files from 11 public repositories, read there, never copied)
and on CRLF / byte-order-mark variants of them made here. Presets with fewer than three
real files there also run on tests/fixtures/pins/<preset>/ (each header names the public
file it follows)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from rollout.manifests.edit import PinError, pin_text
from upstream import corpus
from waves.pins import PRESETS, PinSpec

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pins"
PIN = TypeAdapter(PinSpec)
DIGEST = "sha256:" + "4f" * 32


@dataclass
class Case:
    file: str  # under upstream/, or fixtures:<preset>/<name>
    spec: dict
    value: str
    field: str
    cluster: str = "c1"
    real: bool = field(init=False)

    def __post_init__(self):
        self.real = not self.file.startswith("fixtures:")

    def text(self) -> str:
        path = FIXTURES / self.file.removeprefix("fixtures:") if not self.real else corpus() / "upstream" / self.file
        return path.read_bytes().decode()

    def pin(self):
        return PIN.validate_python({"files": "x.yaml", **self.spec})

    def __str__(self) -> str:
        return f"{self.spec['preset']}:{self.file.split('/')[-1]}:{self.field}"


IU = "argoproj-labs/argocd-image-updater/test/e2e/suite"
APPSETS = "argoproj/argo-cd/applicationset/examples"
OPERATOR_MANUAL = "argoproj/argo-cd/docs/operator-manual/application.yaml"
TRANSFORMER = "kubernetes-sigs/kustomize/examples/transformerconfigs/images/kustomization.yaml"
ARGOCD_BASE = "argoproj/argo-cd/manifests/base/kustomization.yaml"
HELLO = ("argoproj/argo-cd/util/kustomize/testdata/kustomization_yaml_components_monorepo/envs/"
         "inseng-pdx-egert-sandbox/namespaces/inst-system/apps/hello-world/kustomization.yaml")
MULTIDOC = "renovatebot/renovate/lib/modules/manager/flux/__fixtures__/multidoc.yaml"
KARGO_APPSET = "akuity/kargo/hack/test/e2e/suites/argocd_update/testdata/argocd/argocd.yaml"
DIFF_CACHE = "argoproj/argo-cd/controller/testdata/diff-cache.yaml"

CASES = [
    # argocd-application
    Case("argoproj/argo-cd/test/e2e/testdata/self-managed-app/resources.yaml", {"preset": "argocd-application"},
         "v2.13.0", "spec.source.targetRevision"),
    Case(f"{IU}/006-apps-in-any-namespace/01-install.yaml", {"preset": "argocd-application"}, "v0.3.0",
         "spec.source.targetRevision"),
    Case(f"{IU}/008-git-repository-helm/01-install.yaml",
         {"preset": "argocd-application", "repoURL": "https://10.42.0.1:30003/testdata.git"}, "0.2.0",
         "spec.source.targetRevision"),
    Case(f"{IU}/101-kustomize-match-application-label/01-install.yaml",
         {"preset": "argocd-application", "name": "image-updater-101-{cluster}"}, "release-1.1",
         "spec.source.targetRevision", cluster="1"),
    # Both spec.source and spec.sources: Argo CD reads spec.sources, so that is what is pinned.
    Case(OPERATOR_MANUAL, {"preset": "argocd-application"}, "v1.2.3", "spec.sources[0].targetRevision"),
    Case(OPERATOR_MANUAL, {"preset": "argocd-application", "ref": "my-repo"}, "v1.2.3",
         "spec.sources[0].targetRevision"),
    Case(DIFF_CACHE, {"preset": "argocd-application"}, "test-lla-2", "spec.source.targetRevision"),
    # argocd-application-image
    Case("fixtures:argocd-application-image/kustomize-image-tag.yaml",
         {"preset": "argocd-application-image", "image": "public.ecr.aws/nginx/nginx"}, "1.25.4",
         "spec.source.kustomize.images[0]"),
    Case("fixtures:argocd-application-image/kustomize-image-tag.yaml",
         {"preset": "argocd-application-image", "image": "public.ecr.aws/nginx/nginx", "field": "digest"}, DIGEST,
         "spec.source.kustomize.images[0]"),
    Case("fixtures:argocd-application-image/helm-parameter-image-tag.yaml",
         {"preset": "argocd-application-image", "helmParameter": "image.tag"}, "1.25.4",
         "spec.source.helm.parameters[1].value"),
    Case("fixtures:argocd-application-image/helm-parameter-image-reference.yaml",
         {"preset": "argocd-application-image", "helmParameter": "image.name", "field": "tag"}, "1.25.4",
         "spec.source.helm.parameters[0].value"),
    Case("fixtures:argocd-application-image/helm-parameter-image-reference.yaml",
         {"preset": "argocd-application-image", "helmParameter": "image.name", "field": "digest"}, DIGEST,
         "spec.source.helm.parameters[0].value"),
    Case("fixtures:argocd-application-image/multi-source-values-object.yaml",
         {"preset": "argocd-application-image", "chart": "podinfo", "valuesPath": "image.tag"}, "6.7.2",
         "spec.sources[0].helm.valuesObject.image.tag"),
    # argocd-applicationset-list
    Case(f"{APPSETS}/list-generator/list-example.yaml", {"preset": "argocd-applicationset-list", "field": "url"},
         "https://10.0.0.2", "spec.generators[0].list.elements[1].url", cluster="engineering-prod"),
    Case(f"{APPSETS}/design-doc/template-override.yaml", {"preset": "argocd-applicationset-list", "field": "url"},
         "https://10.0.0.3", "spec.generators[1].list.elements[0].url", cluster="engineering-prod"),
    Case(f"{APPSETS}/matrix/list-and-git.yaml", {"preset": "argocd-applicationset-list", "field": "values.project"},
         "dev-2", "spec.generators[0].matrix.generators[1].list.elements[0].values.project",
         cluster="engineering-dev"),
    # flux-gitrepository
    Case("fluxcd/flux2-multi-tenancy/tenants/base/dev-team/sync.yaml",
         {"preset": "flux-gitrepository", "ref": "branch"}, "dev-team-v2", "spec.ref.branch"),
    Case("argoproj/argo-cd/resource_customizations/source.toolkit.fluxcd.io/GitRepository/testdata/healthy.yaml",
         {"preset": "flux-gitrepository", "ref": "branch"}, "release-6.7", "spec.ref.branch"),
    Case(MULTIDOC, {"preset": "flux-gitrepository"}, "v11.36.0", "spec.ref.tag"),
    # flux-ocirepository
    Case("fluxcd/flux2-monitoring-example/monitoring/controllers/kube-prometheus-stack/repository.yaml",
         {"preset": "flux-ocirepository", "ref": "semver"}, "70.x", "spec.ref.semver"),
    Case("fluxcd/flux2-multi-tenancy/infrastructure/kyverno/source.yaml", {"preset": "flux-ocirepository"},
         "v1.14.5", "spec.ref.tag"),
    Case("onedr0p/home-ops/kubernetes/apps/cert-manager/cert-manager/app/ocirepository.yaml",
         {"preset": "flux-ocirepository"}, "v1.21.2", "spec.ref.tag"),
    Case("onedr0p/home-ops/kubernetes/apps/default/atuin/app/ocirepository.yaml", {"preset": "flux-ocirepository"},
         "5.2.0", "spec.ref.tag"),
    Case(MULTIDOC, {"preset": "flux-ocirepository", "ref": "digest"}, DIGEST, "spec.ref.digest"),
    # flux-helmrelease
    Case("fluxcd/flux2-hub-spoke-example/clusters/production/apps/podinfo-values.yaml", {"preset": "flux-helmrelease"},
         ">=6.0.0", "spec.chart.spec.version"),
    Case("fluxcd/flux2-hub-spoke-example/deploy/apps/podinfo.yaml", {"preset": "flux-helmrelease"}, "6.7.1",
         "spec.chart.spec.version"),  # absent: one line is added, and removed on revert
    Case("fluxcd/flux2-hub-spoke-example/deploy/infra-controllers/cert-manager.yaml", {"preset": "flux-helmrelease"},
         "1.16.x", "spec.chart.spec.version"),
    Case("fluxcd/flux2-monitoring-example/monitoring/controllers/loki-stack/release.yaml",
         {"preset": "flux-helmrelease"}, "6.29.0", "spec.chart.spec.version"),
    Case(MULTIDOC, {"preset": "flux-helmrelease"}, "1.7.1", "spec.chart.spec.version"),
    Case("argoproj/argo-cd/resource_customizations/helm.toolkit.fluxcd.io/HelmRelease/testdata/healthy.yaml",
         {"preset": "flux-helmrelease"}, "6.6.*", "spec.chart.spec.version"),
    # flux-kustomization-var
    Case("onedr0p/home-ops/kubernetes/apps/default/home-assistant/ks.yaml",
         {"preset": "flux-kustomization-var", "var": "APP", "name": "home-assistant-mcp"}, "home-assistant-mcp-v2",
         "spec.postBuild.substitute.APP"),
    Case("fluxcd/flux2-hub-spoke-example/hub/production.yaml",
         {"preset": "flux-kustomization-var", "var": "CLUSTER_NAME", "name": "tenants"}, "production-eu",
         "spec.postBuild.substitute.CLUSTER_NAME"),
    Case("fixtures:flux-kustomization-var/substitute-app-version.yaml",
         {"preset": "flux-kustomization-var", "var": "APP_VERSION"}, "1.4.2", "spec.postBuild.substitute.APP_VERSION"),
    Case("fixtures:flux-kustomization-var/substitute-multidoc.yaml",
         {"preset": "flux-kustomization-var", "var": "PODINFO_TAG", "name": "podinfo-canary"}, "6.7.2",
         "spec.postBuild.substitute.PODINFO_TAG"),
    # kustomize-image
    Case(ARGOCD_BASE, {"preset": "kustomize-image", "image": "quay.io/argoproj/argocd"}, "v2.13.0",
         "images[0].newTag"),
    Case("argoproj/argo-cd/reposerver/repository/testdata/app-parameters/multi/kustomization.yaml",
         {"preset": "kustomize-image", "image": "quay.io/argoprojlabs/argocd-e2e-container"}, "0.2",
         "images[0].newTag"),
    Case(TRANSFORMER, {"preset": "kustomize-image", "image": "my-app"}, "MYNEWTAG-2", "images[1].newTag"),
    Case(HELLO, {"preset": "kustomize-image", "image": "hello-world"}, "1.18.0", "images[0].newTag"),
    # kubernetes-image (tests/test_pin_kubernetes_image.py has every fixture's outcome, and the real
    # gitops-environment-promotion Deployments through the CLI)
    Case("fixtures:kubernetes-image/deployment-tag-pinned.yaml", {"preset": "kubernetes-image", "container": "nginx"},
         "1.16.1", "spec.template.spec.containers[0].image"),
    Case("fixtures:kubernetes-image/cronjob-untagged-image-tag-added-pinned.yaml",
         {"preset": "kubernetes-image", "container": "hello"}, "1.36",
         "spec.jobTemplate.spec.template.spec.containers[0].image"),
    Case("fixtures:kubernetes-image/rollout-canary-by-image-pinned.yaml",
         {"preset": "kubernetes-image", "image": "argoproj/rollouts-demo"}, "yellow",
         "spec.template.spec.containers[0].image"),
    Case("fixtures:kubernetes-image/job-sidecar-init-container-pinned.yaml",
         {"preset": "kubernetes-image", "container": "logshipper"}, "3.20", "spec.template.spec.initContainers[0].image"),
    Case("fixtures:kubernetes-image/pod-flow-style-init-container-pinned.yaml",
         {"preset": "kubernetes-image", "container": "install"}, "1.36", "spec.initContainers[0].image"),
    Case("fixtures:kubernetes-image/ingress-nginx-controller-digest-pinned.yaml",
         {"preset": "kubernetes-image", "container": "controller", "part": "digest"}, DIGEST,
         "spec.template.spec.containers[0].image"),
    # kustomize-image-digest
    Case(TRANSFORMER, {"preset": "kustomize-image-digest", "image": "docker"}, DIGEST, "images[3].digest"),
    Case(ARGOCD_BASE, {"preset": "kustomize-image-digest", "image": "quay.io/argoproj/argocd"}, DIGEST,
         "images[0].digest"),
    Case(HELLO, {"preset": "kustomize-image-digest", "image": "hello-world"}, DIGEST, "images[0].digest"),
    # fleet-gitrepo
    Case("rancher/fleet/e2e/assets/multi-cluster-examples/helm.yaml", {"preset": "fleet-gitrepo"}, "v0.12.0",
         "spec.revision"),
    Case("rancher/fleet/e2e/assets/single-cluster/release-names.yaml", {"preset": "fleet-gitrepo", "field": "branch"},
         "test-bundle-names-2", "spec.branch"),
    Case("rancher/fleet/benchmarks/assets/create-50-gitrepo-50-bundle/gitrepos.yaml",
         {"preset": "fleet-gitrepo", "field": "branch", "name": "bm-50-gitrepo-50-bundle-part-{cluster}"},
         "release-1", "spec.branch", cluster="37"),
    # yaml-field: a Helm values file pin (docs/policy.md), and the template of an ApplicationSet.
    Case("stefanprodan/podinfo/charts/podinfo/values.yaml", {"preset": "yaml-field", "field": "image.tag"}, "6.14.2",
         "image.tag"),
    Case(KARGO_APPSET, {"preset": "yaml-field", "kind": "ApplicationSet",
                        "field": "spec.template.spec.source.kustomize.images[0]"},
         "public.ecr.aws/nginx/nginx=public.ecr.aws/nginx/nginx:1.25.4", "spec.template.spec.source.kustomize.images[0]"),
    Case(DIFF_CACHE, {"preset": "yaml-field", "kind": "Application",
                      "field": "spec.source.plugin.env[name=CHART_NAME].value"}, "velero-2",
         "spec.source.plugin.env[2].value"),
]

REFUSALS = [
    (KARGO_APPSET, {"preset": "argocd-applicationset-list", "clusterKey": "stage"}, "uat",
     "the template never reads the element's targetRevision"),
    (f"{APPSETS}/design-doc/git-directory-discovery.yaml", {"preset": "argocd-applicationset-list"}, "c1",
     "spec.generators[0].git takes them from a git repository"),
    (f"{APPSETS}/list-generator/list-example.yaml", {"preset": "argocd-applicationset-list"}, "engineering-dev",
     "spec.template.spec.source.targetRevision is 'HEAD': write '{{ .targetRevision }}' there"),
    ("onedr0p/home-ops/kubernetes/apps/cert-manager/cert-manager/app/helmrelease.yaml", {"preset": "flux-helmrelease"},
     "c1", "uses spec.chartRef"),
    (TRANSFORMER, {"preset": "kustomize-image", "image": "docker"}, "c1",
     "images[name=docker] also has digest: sha256:25a0d4, which wins over newTag"),
    (OPERATOR_MANUAL, {"preset": "argocd-application", "index": 1}, "c1", "spec.sources has 1 entries, no [1]"),
    (OPERATOR_MANUAL, {"preset": "argocd-application-image", "image": "my-app"}, "c1",
     "spec.sources[0].kustomize has no images list"),
    ("fluxcd/flux2-multi-tenancy/tenants/base/dev-team/sync.yaml", {"preset": "flux-kustomization-var", "var": "V"},
     "c1", "spec.postBuild is missing"),
    ("fluxcd/flux2-hub-spoke-example/hub/production.yaml",
     {"preset": "flux-kustomization-var", "var": "CLUSTER_NAME", "name": "apps"}, "c1", "spec.postBuild is missing"),
    (f"{IU}/101-kustomize-match-application-label/01-install.yaml", {"preset": "argocd-application"}, "c1",
     "3 argoproj.io/Application documents in this file: set `name:`"),
]


def variants(text: str) -> dict[str, str]:
    crlf = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return {"as-is": text, "crlf": crlf, "bom": "\ufeff" + text, "bom+crlf": "\ufeff" + crlf}


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.unified_diff(before.splitlines(True), after.splitlines(True), n=0))
    return ([l for l in diff if l.startswith("-") and not l.startswith("---")],
            [l for l in diff if l.startswith("+") and not l.startswith("+++")])


def test_every_upstream_file_has_a_case_and_every_preset_three_files():
    root = corpus() / "upstream"
    upstream = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert len(upstream) == 34
    used = {c.file for c in CASES} | {r[0] for r in REFUSALS}
    assert sorted(f for f in upstream if f not in used) == []
    for preset in PRESETS:
        files = {c.file for c in CASES if c.spec["preset"] == preset}
        assert len(files) >= 3, f"{preset}: {len(files)} files"


@pytest.mark.parametrize("variant", ["as-is", "crlf", "bom", "bom+crlf"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_edit_and_revert_are_byte_exact(case, variant):
    text = variants(case.text())[variant]
    pin = case.pin()
    result = pin_text(text, pin, case.cluster, {}, case.value, case.file)
    assert result.field == case.field
    assert result.text != text and result.old != case.value
    removed, added = changed_lines(text, result.text)
    assert len(added) == 1 and len(removed) <= 1, (removed, added)
    assert result.text.startswith("\ufeff") == text.startswith("\ufeff")
    if "crlf" in variant:
        assert "\n" not in result.text.replace("\r\n", "")
    again = pin_text(result.text, pin, case.cluster, {}, case.value, case.file)
    assert again.old == case.value and again.text == result.text  # reads back; pinning again changes nothing
    reverted = pin_text(result.text, pin, case.cluster, {}, result.old, case.file, raw=result.old_raw)
    assert reverted.text == text


@pytest.mark.parametrize("rel, spec, cluster, message", REFUSALS, ids=lambda v: v if isinstance(v, str) else "")
def test_refusals_say_why(rel, spec, cluster, message):
    text = (corpus() / "upstream" / rel).read_text()
    for variant in variants(text).values():
        with pytest.raises(PinError) as err:
            pin_text(variant, PIN.validate_python({"files": "x.yaml", **spec}), cluster, {}, "v2", rel)
        assert message in err.value.message and err.value.line is not None


def test_operator_manual_with_only_spec_source_pins_its_kustomize_images_and_helm_values():
    # argoproj/argo-cd docs/operator-manual/application.yaml without its spec.sources block:
    # the image pins of argocd-application-image reach every place the manual shows.
    text = re.sub(r"  # Sources field.*?\n\n", "", (corpus() / "upstream" / OPERATOR_MANUAL).read_text(), flags=re.S)
    assert "sources:" not in text
    image = {"preset": "argocd-application-image"}
    for options, value, line in [
        ({"image": "my-app"}, "0.2", "      - my-app=gcr.io/my-repo/my-app:0.2\n"),
        ({"image": "quay.io/argoprojlabs/argocd-e2e-container"}, "0.3",
         "      - quay.io/argoprojlabs/argocd-e2e-container:0.3\n"),
        ({"image": "my-app", "field": "digest"}, DIGEST, f"      - my-app=gcr.io/my-repo/my-app:0.1@{DIGEST}\n"),
        ({"helmParameter": "ingress.annotations.kubernetes\\.io/tls-acme"}, "false", '        value: "false"\n'),
        ({"valuesPath": "ingress.path"}, "/v2", "          path: /v2\n"),
    ]:
        pin = PIN.validate_python({"files": "x.yaml", **image, **options})
        for variant in variants(text).values():
            result = pin_text(variant, pin, "c1", {}, value)
            _, added = changed_lines(variant, result.text)
            assert [a[1:].replace("\r\n", "\n") for a in added] == [line]
            assert pin_text(result.text, pin, "c1", {}, result.old, raw=result.old_raw).text == variant
