"""Byte-exact pin editing over real manifests from public GitOps repos (read from
../shared/corpus, never copied) and over edge cases of YAML style."""

from __future__ import annotations

import difflib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from conftest import examples
from rollout.manifests.edit import PinError, pin_text
from rollout.yamlfile import Located
from upstream import corpus
from waves.pins import PinSpec

PIN = TypeAdapter(PinSpec)


def pin(spec: dict):
    return PIN.validate_python({"files": "x.yaml", **spec})


# Every manifest in the corpus, with what a rollout would pin there.
CORPUS_PINS = {
    "argocd-example-apps/helm-guestbook/values-production.yaml": ({"preset": "yaml-field", "field": "service.type"}, "NodePort"),
    "argocd-example-apps/kustomize-guestbook/kustomization.yaml": ({"preset": "yaml-field", "field": "namePrefix"}, "canary-"),
    # Fleet ignores a per-target helm.version for local and tarball charts (fleet#1923): a
    # per-target value takes effect, added by create: true where the target has none.
    "fleet-examples/multi-cluster/helm/fleet.yaml": ({"preset": "yaml-field", "field": "targetCustomizations[name=prod].helm.values.image", "create": True}, "192.168.64.129:5000/my-custom-app:v2"),
    "fleet-examples/multi-cluster/helm-external/fleet.yaml": ({"preset": "yaml-field", "field": "targetCustomizations[name=prod].helm.values.serviceType"}, "ClusterIP"),
    "fleet-examples/multi-cluster/kustomize/fleet.yaml": ({"preset": "yaml-field", "field": "targetCustomizations[name=test].kustomize.dir"}, "overlays/test-v2"),
    "flux2-kustomize-helm-example/apps/base/podinfo/release.yaml": ({"preset": "flux-helmrelease"}, "6.7.1"),
    "flux2-kustomize-helm-example/apps/base/podinfo/repository.yaml": ({"preset": "yaml-field", "kind": "HelmRepository", "field": "spec.url"}, "https://charts.example.com/podinfo"),
    "flux2-kustomize-helm-example/apps/production/podinfo-values.yaml": ({"preset": "flux-helmrelease"}, ">=6.7.0"),
    "flux2-kustomize-helm-example/clusters/production/apps.yaml": ({"preset": "yaml-field", "kind": "Kustomization", "field": "spec.path"}, "./production-v2"),
    "flux2-kustomize-helm-example/clusters/production/infrastructure.yaml": ({"preset": "yaml-field", "kind": "Kustomization", "name": "infra-configs", "field": "spec.retryInterval"}, "5m"),
    "flux2-kustomize-helm-example/clusters/staging/apps.yaml": ({"preset": "yaml-field", "kind": "Kustomization", "field": "spec.timeout"}, "10m"),
    "flux2-kustomize-helm-example/infrastructure/controllers/cert-manager.yaml": ({"preset": "flux-ocirepository", "ref": "semver"}, "1.16.x"),
    "gitops-environment-promotion/envs/prod-asia/kustomization.yml": ({"preset": "yaml-field", "field": "namePrefix"}, "prod-asia-v2-"),
    "gitops-environment-promotion/envs/prod-asia/version.yml": ({"preset": "kubernetes-image", "container": "webserver-simple"}, "4.0"),
    "gitops-environment-promotion/envs/prod-eu/kustomization.yml": ({"preset": "yaml-field", "field": "namespace"}, "prod-eu"),
    "gitops-environment-promotion/envs/prod-eu/version.yml": ({"preset": "yaml-field", "kind": "Deployment", "field": "spec.template.spec.containers[0].image"}, "docker.io/kostiscodefresh/simple-env-app:4.0"),
    "gitops-environment-promotion/envs/prod-us/kustomization.yml": ({"preset": "yaml-field", "field": "patchesStrategicMerge[1]"}, "version-v2.yml"),
    "gitops-environment-promotion/envs/prod-us/version.yml": ({"preset": "kubernetes-image", "image": "docker.io/kostiscodefresh/simple-env-app"}, "4.0"),
    "gitops-environment-promotion/envs/qa/kustomization.yml": ({"preset": "yaml-field", "field": "namePrefix"}, "qa-2-"),
    "gitops-environment-promotion/envs/qa/version.yml": ({"preset": "kubernetes-image", "container": "webserver-simple"}, "4.0"),
    "kargo-simple/env/dev/kustomization.yaml": ({"preset": "kustomize-image", "image": "ghcr.io/akuity/guestbook"}, "v0.0.2"),
    "kargo-simple/env/prod/kustomization.yaml": ({"preset": "kustomize-image", "image": "ghcr.io/akuity/guestbook"}, "v0.0.2"),
    "kargo-simple/env/staging/kustomization.yaml": ({"preset": "kustomize-image", "image": "ghcr.io/akuity/guestbook"}, "v0.0.2"),
    "kargo-simple/kargo/stages.yaml": ({"preset": "yaml-field", "kind": "Stage", "name": "prod", "field": "spec.promotionTemplate.spec.steps[0].vars[name=openpr].value"}, "false"),
    "kargo-simple/kargo/warehouse.yaml": ({"preset": "yaml-field", "kind": "Warehouse", "field": "spec.subscriptions[0].image.imageSelectionStrategy"}, "Lexical"),
}


def corpus_files() -> list[str]:
    """The corpus's own examples; upstream/ has its cases in test_pin_upstream.py."""
    root = corpus()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.suffix in (".yaml", ".yml") and p.relative_to(root).parts[0] != "upstream")


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.unified_diff(before.splitlines(True), after.splitlines(True), n=0))
    removed = [l for l in diff if l.startswith("-") and not l.startswith("---")]
    added = [l for l in diff if l.startswith("+") and not l.startswith("+++")]
    return removed, added


def test_every_corpus_manifest_has_a_pin_case():
    assert corpus_files() == sorted(CORPUS_PINS), "a corpus file without a pin case (or a stale case)"


@pytest.mark.parametrize("rel", sorted(CORPUS_PINS))
def test_corpus_edit_is_one_line_idempotent_and_reversible(rel):
    spec, value = CORPUS_PINS[rel]
    original = (corpus() / rel).read_text()
    p = pin(spec)
    result = pin_text(original, p, "c1", {}, value, rel)
    removed, added = changed_lines(original, result.text)
    assert len(added) == 1 and len(removed) <= 1, (removed, added)
    key = result.field.split(".")[-1].split("[")[0]
    assert added[0].lstrip("+").strip().startswith((f"{key}:", "- ")), added
    if removed:  # the same line, only the value (and at most its quotes) differs
        def bare(line, v):
            return line[1:].replace(v, "").replace('"', "").replace("'", "")
        assert bare(removed[0], result.old) == bare(added[0], value)
    # What a YAML reader sees: the value, and nothing else changed.
    before = Located.parse(rel, original).documents
    after = Located.parse(rel, result.text).documents
    assert p.read(_get(after, result.field, p)) == value  # a preset may pin part of the field (an image's tag)
    # Pinning the value already there changes nothing.
    assert pin_text(result.text, p, "c1", {}, value, rel).text == result.text
    # Pinning back the old value (or removing the added key) restores every byte.
    assert pin_text(result.text, p, "c1", {}, result.old, rel, raw=result.old_raw).text == original
    assert len(before) == len(after)


def _get(documents, field, p):
    doc = next(d for d in documents if p.matches(d, "c1", {}))
    node = doc
    for step in p.locate(doc, "c1"):
        node = node[step]
    return node


STYLES = [
    ("spec:\n  chart:\n    spec:\n      version: 1.0.0 # pinned\n", "      version: 2.0.0 # pinned\n"),
    ("spec:\n  chart:\n    spec:\n      version: '1.0.0'\n", "      version: '2.0.0'\n"),
    ('spec:\n  chart:\n    spec:\n      version: "1.0.0"   # keep spacing\n', '      version: "2.0.0"   # keep spacing\n'),
    ("spec: {chart: {spec: {version: 1.0.0, chart: x}}}\n", "spec: {chart: {spec: {version: 2.0.0, chart: x}}}\n"),
    ("spec:\r\n  chart:\r\n    spec:\r\n      version: 1.0.0\r\n", "      version: 2.0.0\r\n"),
]


@pytest.mark.parametrize("body, expected_line", STYLES)
def test_quoting_flow_style_comments_and_crlf_are_kept(body, expected_line):
    text = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: app}\n" + body
    result = pin_text(text, pin({"preset": "flux-helmrelease"}), "c1", {}, "2.0.0")
    assert expected_line in result.text
    assert result.text.replace(expected_line.strip(), "") == text.replace(text.splitlines(True)[-1].strip(), "")


def test_a_value_yaml_would_not_read_as_text_is_quoted():
    text = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nspec:\n  chart:\n    spec:\n      version: 1.0.0\n"
    p = pin({"preset": "flux-helmrelease"})
    for value, written in [("1.20", '"1.20"'), ("yes", '"yes"'), ("1e3", '"1e3"'), ("a: b", '"a: b"'), ("#x", '"#x"')]:
        result = pin_text(text, p, "c1", {}, value)
        assert f"      version: {written}\n" in result.text
        assert Located.parse("", result.text).documents[0]["spec"]["chart"]["spec"]["version"] == value


def test_multi_document_file_edits_only_the_named_document():
    text = (corpus() / "flux2-kustomize-helm-example/clusters/production/infrastructure.yaml").read_text()
    p = pin({"preset": "yaml-field", "kind": "Kustomization", "name": "infra-controllers", "field": "spec.path"})
    result = pin_text(text, p, "c1", {}, "./controllers-v2")
    assert result.line == 14
    assert result.text == text.replace("path: ./controllers", "path: ./controllers-v2", 1)
    ambiguous = pin({"preset": "yaml-field", "kind": "Kustomization", "field": "spec.path"})
    with pytest.raises(PinError, match="2 Kustomization documents in this file: set `name:`"):
        pin_text(text, ambiguous, "c1", {}, "x")


@pytest.mark.parametrize(
    "rel, spec, message",
    [
        ("flux2-kustomize-helm-example/clusters/production/apps.yaml", {"preset": "flux-kustomization-var", "var": "VERSION"},
         "spec.postBuild is missing"),
        ("argocd-example-apps/kustomize-guestbook/kustomization.yaml", {"preset": "kustomize-image", "image": "guestbook"},
         "no images list"),
        ("kargo-simple/env/dev/kustomization.yaml", {"preset": "kustomize-image", "image": "nginx"},
         "images has no entry with name: nginx"),
        ("kargo-simple/env/dev/kustomization.yaml", {"preset": "argocd-application"},
         "no argoproj.io/Application document in this file"),
        ("flux2-kustomize-helm-example/infrastructure/controllers/cert-manager.yaml", {"preset": "flux-helmrelease"},
         "uses spec.chartRef"),
    ],
)
def test_a_pin_that_finds_no_field_is_an_error_not_a_skip(rel, spec, message):
    with pytest.raises(PinError, match=message):
        pin_text((corpus() / rel).read_text(), pin(spec), "c1", {}, "v2")


def test_a_chart_ref_helmrelease_is_refused_at_its_chart_ref_line():
    """The flux example's cert-manager HelmRelease takes its chart from an OCIRepository
    (spec.chartRef): the refusal points at that line, not at the document's first."""
    text = (corpus() / "flux2-kustomize-helm-example/infrastructure/controllers/cert-manager.yaml").read_text()
    with pytest.raises(PinError, match="uses spec.chartRef") as caught:
        pin_text(text, pin({"preset": "flux-helmrelease"}), "c1", {}, "v2")
    lines = text.splitlines()
    release = max(i for i, line in enumerate(lines) if line.startswith("kind: HelmRelease"))
    assert caught.value.line == 1 + next(i for i in range(release, len(lines)) if lines[i] == "  chartRef:")


def test_argocd_application_single_and_multi_source():
    single = ("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  source:\n"
              "    repoURL: https://github.com/org/platform.git\n    targetRevision: v1.4.1  # current\n")
    result = pin_text(single, pin({"preset": "argocd-application"}), "c1", {}, "v1.4.2")
    assert result.text == single.replace("v1.4.1", "v1.4.2") and result.old == "v1.4.1"
    wrong_repo = pin({"preset": "argocd-application", "repoURL": "https://github.com/org/other.git"})
    with pytest.raises(PinError, match="spec.source.repoURL is"):
        pin_text(single, wrong_repo, "c1", {}, "v1.4.2")
    multi = ("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  sources:\n"
             "    - repoURL: https://charts.example.com\n      chart: podinfo\n      targetRevision: 6.0.0\n"
             "    - repoURL: https://github.com/org/values.git\n      targetRevision: main\n      ref: values\n")
    chart = pin({"preset": "argocd-application", "repoURL": "https://charts.example.com"})
    result = pin_text(multi, chart, "c1", {}, "6.7.1")
    assert result.field == "spec.sources[0].targetRevision"
    assert result.text == multi.replace("6.0.0", "6.7.1")
    with pytest.raises(PinError, match=r"choose the spec.sources\[\] entry to pin with repoURL, ref, chart or index"):
        pin_text(multi, pin({"preset": "argocd-application"}), "c1", {}, "x")


def test_applicationset_list_element_chosen_by_cluster():
    text = ("apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: platform}\nspec:\n  generators:\n"
            "    - list:\n        elements:\n          - cluster: prod-us-east\n            targetRevision: v1.4.1\n"
            "          - cluster: prod-eu-west\n            targetRevision: v1.4.1\n"
            "  template:\n    spec:\n      source:\n        targetRevision: '{{targetRevision}}'\n")
    p = pin({"preset": "argocd-applicationset-list"})
    result = pin_text(text, p, "prod-eu-west", {}, "v1.4.2")
    assert result.field == "spec.generators[0].list.elements[1].targetRevision"
    removed, added = changed_lines(text, result.text)
    assert removed == ["-            targetRevision: v1.4.1\n"] and added == ["+            targetRevision: v1.4.2\n"]
    assert result.text.index("v1.4.2") > result.text.index("prod-eu-west")
    with pytest.raises(PinError, match="no list generator element with cluster: dev"):
        pin_text(text, p, "dev", {}, "v1")


@settings(max_examples=examples(150), deadline=None)
@given(
    st.sampled_from(sorted(CORPUS_PINS)),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF), min_size=1, max_size=20),
)
def test_any_text_value_round_trips_and_reverts_byte_for_byte(rel, value):
    spec, _ = CORPUS_PINS[rel]
    original = (corpus() / rel).read_text()
    p = pin(spec)
    try:
        result = pin_text(original, p, "c1", {}, value, rel)
    except PinError as err:  # an image tag is not any text: `:` or `a b` would make another reference
        assert p.preset == "kubernetes-image" and "is not an image tag" in err.message
        return
    assert p.read(_get(Located.parse(rel, result.text).documents, result.field, p)) == value
    # A revert writes back the scalar exactly as it was written, quotes and all.
    assert pin_text(result.text, p, "c1", {}, result.old, rel, raw=result.old_raw).text == original
