"""Multi-source Argo CD Applications: which `spec.sources[]` entry a pin writes, chosen
by repoURL, ref, chart or index, and `pinned_source_indexes` (what the gate judges)."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from rollout.manifests.edit import PinError, pin_text
from rollout.manifests.document import parse_manifest
from waves.pins import PinSpec
from waves.pins.argocd_application import pinned_source_indexes
from waves.pins.base import PinTargetError

PIN = TypeAdapter(PinSpec)

# Follows argoproj/argo-cd docs/user-guide/multiple_sources.md: a chart from a Helm
# repository, its values from git (`ref: values`), and plain manifests from a second repo.
MULTI = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: podinfo
spec:
  sources:
    - repoURL: https://stefanprodan.github.io/podinfo
      chart: podinfo
      targetRevision: 6.7.1
      helm:
        valueFiles:
          - $values/podinfo/values-prod.yaml
    - repoURL: https://github.com/example-org/fleet-values.git
      targetRevision: main  # values
      ref: values
    - repoURL: https://github.com/example-org/fleet-values.git
      path: extras/podinfo
      targetRevision: main
  destination:
    server: https://kubernetes.default.svc
"""

SINGLE = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: podinfo
spec:
  source:
    repoURL: https://github.com/example-org/platform.git
    targetRevision: v1.4.1
"""


def pin(**options):
    return PIN.validate_python({"files": "app.yaml", "preset": "argocd-application", **options})


@pytest.mark.parametrize("options, index", [
    ({"chart": "podinfo"}, 0),
    ({"repoURL": "https://stefanprodan.github.io/podinfo"}, 0),
    ({"ref": "values"}, 1),
    ({"index": 2}, 2),
    ({"repoURL": "https://github.com/example-org/fleet-values.git", "match": {"path": "extras/podinfo"}}, 2),
    ({"index": 1, "ref": "values"}, 1),
])
def test_a_source_is_chosen_and_only_its_revision_changes(options, index):
    p = pin(**options)
    result = pin_text(MULTI, p, "c1", {}, "v9")
    assert result.field == f"spec.sources[{index}].targetRevision"
    doc = parse_manifest(result.text).documents[0]
    assert [s["targetRevision"] for s in doc["spec"]["sources"]] == [
        "v9" if i == index else old for i, old in enumerate(["6.7.1", "main", "main"])]
    assert pinned_source_indexes(p, parse_manifest(MULTI).documents[0]) == [index]
    assert pin_text(result.text, p, "c1", {}, result.old, raw=result.old_raw).text == MULTI


@pytest.mark.parametrize("options, message", [
    ({}, "multi-source Application: choose the spec.sources[] entry to pin with repoURL, ref, chart or index: "
         "[0] repoURL=https://stefanprodan.github.io/podinfo, chart=podinfo; "
         "[1] repoURL=https://github.com/example-org/fleet-values.git, ref=values; "
         "[2] repoURL=https://github.com/example-org/fleet-values.git, path=extras/podinfo"),
    ({"repoURL": "https://github.com/example-org/fleet-values.git"},
     "spec.sources has 2 entries with repoURL: https://github.com/example-org/fleet-values.git: [0]"),
    ({"chart": "nginx"}, "spec.sources has no entries with chart: nginx: [0]"),
    ({"index": 3}, "spec.sources has 3 entries, no [3]"),
    ({"index": 0, "ref": "values"}, "spec.sources has no entries with ref: values at [0]"),
])
def test_a_missing_or_ambiguous_choice_is_refused_naming_the_choices(options, message):
    with pytest.raises(PinError) as err:
        pin_text(MULTI, pin(**options), "c1", {}, "v9")
    assert message in err.value.message
    assert err.value.line == 6  # spec.sources
    with pytest.raises(PinTargetError):
        pinned_source_indexes(pin(**options), parse_manifest(MULTI).documents[0])


def test_a_single_source_application():
    doc = parse_manifest(SINGLE).documents[0]
    assert pinned_source_indexes(pin(), doc) is None
    assert pin_text(SINGLE, pin(), "c1", {}, "v1.4.2").field == "spec.source.targetRevision"
    with pytest.raises(PinError, match="index 1 chooses a spec.sources\\[\\] entry, but this Application has a single"):
        pin_text(SINGLE, pin(index=1), "c1", {}, "v1.4.2")
    with pytest.raises(PinError, match="spec.source.ref is None, not 'values'"):
        pin_text(SINGLE, pin(ref="values"), "c1", {}, "v1.4.2")


def test_one_entry_in_sources_needs_no_choice_and_wins_over_source():
    both = SINGLE.replace("spec:\n", "spec:\n  sources:\n    - repoURL: https://charts.example.com\n"
                                     "      chart: platform\n      targetRevision: 1.0.0\n")
    result = pin_text(both, pin(), "c1", {}, "1.0.1")
    assert result.field == "spec.sources[0].targetRevision" and "targetRevision: v1.4.1" in result.text
    assert pinned_source_indexes(pin(), parse_manifest(both).documents[0]) == [0]


def test_image_pins_choose_sources_the_same_way():
    image = PIN.validate_python({"files": "app.yaml", "preset": "argocd-application-image", "ref": "values",
                                 "helmParameter": "image.tag"})
    assert pinned_source_indexes(image, parse_manifest(MULTI).documents[0]) == [1]


@pytest.mark.parametrize("options", [{"index": -1}, {"helmParameter": "a", "valuesPath": "b"}, {}, {"field": "name",
                                                                                                   "helmParameter": "a"}])
def test_bad_options_are_policy_errors(options):
    preset = "argocd-application" if "index" in options else "argocd-application-image"
    with pytest.raises(ValidationError):
        PIN.validate_python({"files": "app.yaml", "preset": preset, **options})
