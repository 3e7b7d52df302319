"""A pin whose field another field overrides would change nothing: refused, naming the
winner. (ApplicationSets: tests/test_pin_applicationset.py; image digests:
tests/test_pin_upstream.py.)"""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from rollout.manifests.edit import PinError, pin_text
from waves.pins import PinSpec

PIN = TypeAdapter(PinSpec)

GITREPO = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: app}\nspec:\n  ref:\n{ref}"
OCIREPO = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: app}\nspec:\n  ref:\n{ref}"
FLEET = "apiVersion: fleet.cattle.io/v1alpha1\nkind: GitRepo\nmetadata: {name: app}\nspec:\n{ref}"
APP = ("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: app}\nspec:\n  source:\n"
       "    repoURL: https://charts.example.com\n    chart: app\n    targetRevision: 1.0.0\n    helm:\n{ref}")


def lines(indent: int, **fields: str) -> str:
    return "".join(f"{' ' * indent}{k}: {v}\n" for k, v in fields.items())


@pytest.mark.parametrize("template, fields, spec, winner", [
    (GITREPO, lines(4, branch="main", tag="v1.0.0"), {"preset": "flux-gitrepository", "ref": "branch"}, "spec.ref.tag"),
    (GITREPO, lines(4, tag="v1.0.0", semver="'>=1.0.0'"), {"preset": "flux-gitrepository"}, "spec.ref.semver"),
    (GITREPO, lines(4, branch="main", commit="abc123"), {"preset": "flux-gitrepository", "ref": "branch"},
     "spec.ref.commit"),
    (GITREPO, lines(4, semver="'1.x'", name="refs/tags/v1.0.0"), {"preset": "flux-gitrepository", "ref": "semver"},
     "spec.ref.name"),
    (OCIREPO, lines(4, tag="v1.0.0", digest="sha256:" + "a" * 64), {"preset": "flux-ocirepository"},
     "spec.ref.digest"),
    (OCIREPO, lines(4, tag="v1.0.0", semver="'1.x'"), {"preset": "flux-ocirepository"}, "spec.ref.semver"),
    (FLEET, lines(2, branch="main", revision="v1.0.0"), {"preset": "fleet-gitrepo", "field": "branch"},
     "spec.revision"),
])
def test_a_field_another_overrides_is_refused_naming_it(template, fields, spec, winner):
    text = template.replace("{ref}", fields)
    with pytest.raises(PinError) as err:
        pin_text(text, PIN.validate_python({"files": "x.yaml", **spec}), "c1", {}, "v2")
    assert f"{winner} is set" in err.value.message and "pinning" in err.value.message
    assert err.value.line == next(i for i, l in enumerate(text.splitlines(), 1) if l.strip().startswith(winner.split(".")[-1] + ":"))


@pytest.mark.parametrize("template, fields, spec", [
    (GITREPO, lines(4, branch="main", commit="abc123"), {"preset": "flux-gitrepository", "ref": "commit"}),
    (GITREPO, lines(4, tag="v1.0.0"), {"preset": "flux-gitrepository"}),
    (OCIREPO, lines(4, tag="v1.0.0", semver="'1.x'"), {"preset": "flux-ocirepository", "ref": "semver"}),
    (FLEET, lines(2, branch="main", revision="v1.0.0"), {"preset": "fleet-gitrepo"}),
])
def test_the_winning_field_is_pinned(template, fields, spec):
    text = template.replace("{ref}", fields)
    result = pin_text(text, PIN.validate_python({"files": "x.yaml", **spec}), "c1", {}, "v2")
    assert result.text != text


def test_argocd_helm_parameters_win_over_values_object():
    text = APP.replace("{ref}", "      parameters:\n        - name: image.tag\n          value: '1.0'\n"
                          "      valuesObject:\n        image:\n          tag: '1.0'\n")
    values = PIN.validate_python({"files": "x.yaml", "preset": "argocd-application-image", "valuesPath": "image.tag"})
    with pytest.raises(PinError, match="helm.parameters sets image.tag, and Argo CD's helm parameters win over "
                                       "valuesObject"):
        pin_text(text, values, "c1", {}, "1.1")
    parameter = PIN.validate_python({"files": "x.yaml", "preset": "argocd-application-image",
                                     "helmParameter": "image.tag"})
    assert "value: '1.1'" in pin_text(text, parameter, "c1", {}, "1.1").text
