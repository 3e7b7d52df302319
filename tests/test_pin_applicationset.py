"""ApplicationSet list pins must prove their effect: the template reads the pinned key.
Real files from ../shared/corpus/upstream (never copied), and variants made here."""

from __future__ import annotations


import pytest
from pydantic import TypeAdapter

from rollout.manifests.edit import PinError, pin_text
from upstream import corpus
from waves.pins import PinSpec

PIN = TypeAdapter(PinSpec)


def pin(**options):
    return PIN.validate_python({"files": "appset.yaml", "preset": "argocd-applicationset-list", **options})


def appset(generators: str, template: str, go: bool = False, patch: str = "") -> str:
    return ("apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: platform\nspec:\n"
            + ("  goTemplate: true\n" if go else "") + "  generators:\n" + generators
            + "  template:\n    metadata:\n      name: 'platform-{{cluster}}'\n    spec:\n      source:\n"
            f"        repoURL: https://github.com/org/platform.git\n        targetRevision: {template}\n"
            + patch)


LIST = ("    - list:\n        elements:\n          - cluster: dev\n            targetRevision: v1\n"
        "          - cluster: prod\n            targetRevision: v1\n")


@pytest.mark.parametrize("template, go, patch", [
    ("'{{targetRevision}}'", False, ""),
    ("'{{ targetRevision }}'", False, ""),  # fasttemplate trims the tag
    ("'{{ .targetRevision }}'", True, ""),
    ("'{{.targetRevision | default \"main\"}}'", True, ""),
    ("HEAD", True, "  templatePatch: |\n    spec:\n      source:\n        targetRevision: {{ .targetRevision | quote }}\n"),
])
def test_a_key_the_template_reads_is_pinned(template, go, patch):
    text = appset(LIST, template, go, patch)
    result = pin_text(text, pin(), "prod", {}, "v2")
    assert result.field == "spec.generators[0].list.elements[1].targetRevision"
    assert result.text == text[::-1].replace("1v", "2v", 1)[::-1]  # the last v1: prod's
    assert pin_text(result.text, pin(), "prod", {}, result.old, raw=result.old_raw).text == text


@pytest.mark.parametrize("template, go, reads", [
    ("HEAD", False, "{{targetRevision}}"),
    ("'{{targetRevision}}'", True, "{{ .targetRevision }}"),  # fasttemplate syntax under goTemplate: not read
    ("'{{ .spec.targetRevision }}'", True, "{{ .targetRevision }}"),
])
def test_a_key_the_template_never_reads_is_refused_naming_the_template_field(template, go, reads):
    text = appset(LIST, template, go)
    with pytest.raises(PinError) as err:
        pin_text(text, pin(), "prod", {}, "v2")
    assert "the template never reads the element's targetRevision" in err.value.message
    assert f"spec.template.spec.source.targetRevision is {template.strip(chr(39))!r}: write {reads!r} there" \
        in err.value.message
    assert err.value.line == text.splitlines().index(f"        targetRevision: {template}") + 1


def test_the_upstream_kargo_applicationset_is_refused_not_silently_pinned():
    # akuity/kargo: the list elements carry only `stage`; the template's targetRevision is a placeholder.
    rel = "akuity/kargo/hack/test/e2e/suites/argocd_update/testdata/argocd/argocd.yaml"
    with pytest.raises(PinError, match="spec.template.spec.source.targetRevision is 'placeholder'") as err:
        pin_text((corpus() / "upstream" / rel).read_text(), pin(clusterKey="stage"), "uat", {}, "v2")
    assert err.value.line == 22


@pytest.mark.parametrize("combiner", ["matrix", "merge"])
def test_a_list_nested_in_matrix_or_merge_is_found(combiner):
    generators = (f"    - {combiner}:\n        generators:\n          - clusters: {{}}\n          - list:\n"
                  "              elements:\n              - cluster: dev\n                targetRevision: v1\n")
    if combiner == "merge":
        generators += "        mergeKeys: [cluster]\n"
    text = appset(generators, "'{{targetRevision}}'")
    result = pin_text(text, pin(), "dev", {}, "v2")
    assert result.field == f"spec.generators[0].{combiner}.generators[1].list.elements[0].targetRevision"
    assert result.text == text.replace("targetRevision: v1", "targetRevision: v2")


def test_upstream_matrix_list_values_key_is_pinned():
    # argoproj/argo-cd applicationset/examples/matrix/list-and-git.yaml: list inside a matrix,
    # the template reads {{.values.project}}.
    rel = "argoproj/argo-cd/applicationset/examples/matrix/list-and-git.yaml"
    text = (corpus() / "upstream" / rel).read_text()
    result = pin_text(text, pin(field="values.project"), "engineering-prod", {}, "prod-2")
    assert result.field == "spec.generators[0].matrix.generators[1].list.elements[1].values.project"
    assert result.text == text.replace("project: prod\n", "project: prod-2\n")
    assert pin_text(result.text, pin(field="values.project"), "engineering-prod", {}, result.old,
                    raw=result.old_raw).text == text


def test_an_absent_key_the_template_reads_is_refused_not_added():
    """Added to one element, the key the template reads would still be missing from the
    others (an ApplicationSet error with missingkey=error, `<no value>` without), and a
    revert would take it away again: every element must hold it first."""
    text = appset("    - list:\n        elements:\n          - cluster: dev\n          - cluster: prod\n",
                  "'{{targetRevision}}'")
    with pytest.raises(PinError) as err:
        pin_text(text, pin(), "dev", {}, "v2")
    assert "has no key targetRevision" in err.value.message
    assert "add it, with the revision each cluster runs now, to every element first" in err.value.message
    # A revert reads the element as it was: absent, nothing to write.
    assert pin_text(text, pin(), "dev", {}, None).text == text


@pytest.mark.parametrize("rel, generator, source", [
    ("argoproj/argo-cd/applicationset/examples/design-doc/git-directory-discovery.yaml",
     "spec.generators[0].git", "a git repository"),
    ("argoproj/argo-cd/applicationset/examples/matrix/list-and-git.yaml",
     "spec.generators[0].matrix.generators[0].git", "a git repository"),
])
def test_git_generators_are_explained(rel, generator, source):
    with pytest.raises(PinError) as err:
        pin_text((corpus() / "upstream" / rel).read_text(), pin(), "prod-eu", {}, "v2")
    message = err.value.message
    assert message.startswith("no list generator element with cluster: prod-eu")
    assert f"{generator} takes them from {source}" in message
    assert "yaml-field on spec.template.spec.source.targetRevision" in message
    assert "cluster Secret's labels" in message


def test_cluster_generators_and_elements_yaml_are_explained():
    text = appset("    - clusters: {selector: {matchLabels: {env: prod}}}\n"
                  "    - list:\n        elementsYaml: '{{ .values.clusters }}'\n", "'{{targetRevision}}'")
    with pytest.raises(PinError) as err:
        pin_text(text, pin(), "prod", {}, "v2")
    assert "spec.generators[1].list.elementsYaml is a string of YAML" in err.value.message
    assert "spec.generators[0].clusters takes them from Argo CD's cluster Secrets" in err.value.message


def test_two_elements_for_one_cluster_are_refused():
    text = appset(LIST + "    - list:\n        elements:\n          - cluster: prod\n", "'{{targetRevision}}'")
    with pytest.raises(PinError, match=r"2 list generator elements with cluster: prod \(spec.generators\[0\]"):
        pin_text(text, pin(), "prod", {}, "v2")


def test_generator_template_override_counts_as_a_reader():
    # argoproj/argo-cd applicationset/examples/design-doc/template-override.yaml: the url is read
    # by spec.template; a key read only by the generator's own template is read too.
    rel = "argoproj/argo-cd/applicationset/examples/design-doc/template-override.yaml"
    text = (corpus() / "upstream" / rel).read_text()
    result = pin_text(text, pin(field="url"), "engineering-prod", {}, "https://5.6.7.8")
    assert result.field == "spec.generators[1].list.elements[0].url"
    override = text.replace("path: '{{.cluster}}-override'", "path: '{{.cluster}}-{{ .flavour }}'")
    flavour = pin(field="flavour")
    with pytest.raises(PinError, match="has no key flavour"):  # read by the override, but no element has it
        pin_text(override, flavour, "engineering-dev", {}, "blue")
    given = override.replace("cluster: engineering-dev\n", "cluster: engineering-dev\n          flavour: red\n", 1)
    assert given != override
    assert pin_text(given, flavour, "engineering-dev", {}, "blue").field == "spec.generators[0].list.elements[0].flavour"
    with pytest.raises(PinError, match="never reads the element's flavour"):
        pin_text(override, flavour, "engineering-prod", {}, "blue")  # the second list's template does not


def _list_example() -> str:
    """argoproj/argo-cd applicationset/examples/list-generator/list-example.yaml, as the
    recipe prepares it: the template reads each element's targetRevision."""
    text = (corpus() / "upstream/argoproj/argo-cd/applicationset/examples/list-generator/list-example.yaml").read_text()
    text = text.replace("targetRevision: HEAD", "targetRevision: '{{.targetRevision}}'")
    return text.replace("url: https://kubernetes.default.svc\n",
                        "url: https://kubernetes.default.svc\n        targetRevision: HEAD\n")


@pytest.mark.parametrize("template, element, expected", [
    ("server: '{{.url}}'", "url: https://prod.example.com", {"server": "https://prod.example.com"}),
    ("server: 'https://{{.cluster}}.example.com'", "url: x", {"server": "https://engineering-prod.example.com"}),
    ("server: https://fixed.example.com", "url: x", {"server": "https://fixed.example.com"}),  # every element: one server
    ("server: '{{.other}}'", "url: x", {}),  # another generator's parameter: cannot be told here
    ("name: '{{.cluster}}'", "url: x", {"name": "engineering-prod"}),
])
def test_the_destination_of_an_elements_application_is_read_from_the_template(template, element, expected):
    text = _list_example().replace("server: '{{.url}}'", template)
    text = text.replace("- cluster: engineering-prod\n        url: https://kubernetes.default.svc",
                        f"- cluster: engineering-prod\n        {element}")
    from rollout.yamlfile import Located

    doc = Located.parse("x", text).documents[0]
    got = pin(field="targetRevision").destination(doc, "engineering-prod")
    assert {k: v[0] for k, v in got.items()} == expected
    assert all(v[1][-3:-1] == ["spec", "destination"] for v in got.values())


def test_an_element_whose_application_deploys_elsewhere_is_refused(tmp_path):
    """The inventory says engineering-prod is https://prod.example.com; its element's url
    (the template's destination.server) is the in-cluster server: refused at that line."""
    from conftest import Repo

    repo = Repo(tmp_path / "r")
    repo.write("appset.yaml", _list_example())
    repo.write("fleet.yaml", "apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n"
               "  - {name: engineering-dev, server: 'https://kubernetes.default.svc', labels: {env: dev}}\n"
               "  - {name: engineering-prod, server: 'https://prod.example.com', labels: {env: prod}}\n")
    repo.write("rollouts/guestbook.yaml", "apiVersion: rollout/v1alpha1\nkind: RolloutPolicy\n"
               "metadata: {name: guestbook}\nspec:\n  revision: v2\n  inventory:\n    - fleet: fleet.yaml\n"
               "  pin:\n    - preset: argocd-applicationset-list\n      files: appset.yaml\n  waves:\n"
               "    - name: dev\n      selector: {matchLabels: {env: dev}}\n    - name: prod\n")
    result = repo.cli("validate", "guestbook")
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.endswith("appset.yaml:27: spec.template.spec.destination.server: the "
                         "ApplicationSet's Application for cluster engineering-prod deploys to "
                         "https://kubernetes.default.svc, but the inventory gives https://prod.example.com for "
                         "engineering-prod: refusing to pin the wrong cluster"), line
    fixed = _list_example().replace("- cluster: engineering-prod\n        url: https://kubernetes.default.svc",
                                    "- cluster: engineering-prod\n        url: https://prod.example.com")
    repo.write("appset.yaml", fixed)
    assert repo.cli("validate", "guestbook").exit_code == 0
