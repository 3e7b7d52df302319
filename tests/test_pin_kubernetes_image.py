"""The `kubernetes-image` preset: a container's image tag (or digest) in any object with a
pod template, the rest of the reference kept byte for byte.

* the fixtures in tests/fixtures/pins/kubernetes-image/, each reproducing an upstream
  object field for field and naming its outcome in its header (`# expect: pinned FIELD =
  IMAGE` or `# expect: refused line N: WORDS`), as written, with CRLF and a byte-order mark;
* proof of effect: after the edit another YAML reader finds the chosen container running
  the new reference, and the documents otherwise unchanged;
* a property over generated references and YAML styles (registry ports, nested paths,
  tags, digests, quoting, flow style);
* the real gitops-environment-promotion Deployments (../shared/corpus) through the CLI on
  a git repository with a bare remote: validate, advance, status, revert byte-exact.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from conftest import ROLLOUT, TEST_GIT_IDENTITY, examples
from rollout.manifests.edit import PinError, pin_text
from upstream import corpus
from waves.pins import PinSpec
from waves.pins.images import parse_reference
from waves.pins.kubernetes_image import KINDS, POD_SPECS

PIN = TypeAdapter(PinSpec)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pins" / "kubernetes-image"
DIGEST = "sha256:" + "4f" * 32


def pin(**options):
    return PIN.validate_python({"files": "x.yaml", "preset": "kubernetes-image", **options})


def read(text: str) -> list:
    """Another reader than the editor's: pure-Python PyYAML, every scalar as text."""
    return [d for d in yaml.load_all(text.lstrip("\ufeff"), Loader=yaml.BaseLoader) if d is not None]


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.unified_diff(before.splitlines(True), after.splitlines(True), n=0))
    return ([l for l in diff if l.startswith("-") and not l.startswith("---")],
            [l for l in diff if l.startswith("+") and not l.startswith("+++")])


def variants(text: str) -> dict[str, str]:
    crlf = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return {"as-is": text, "crlf": crlf, "bom": "\ufeff" + text, "bom+crlf": "\ufeff" + crlf}


def set_field(document: dict, field: str, value: str) -> dict:
    from waves.pins.yaml_field import parse_field_path

    document = copy.deepcopy(document)
    *path, last = parse_field_path(field)
    node = document
    for step in path:
        node = node[step]
    node[last] = value
    return document


def at(document: dict, field: str) -> str:
    from waves.pins.yaml_field import parse_field_path

    for step in parse_field_path(field):
        document = document[step]
    return document


def only_change(before: list, after: list, field: str) -> int:
    """The index of the one document that differs, which must differ only at `field`."""
    differ = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(before) == len(after) and len(differ) == 1
    assert after[differ[0]] == set_field(before[differ[0]], field, at(after[differ[0]], field))
    return differ[0]


# The fixtures, each naming its upstream object, its pin and its outcome.

def fixture(name: str) -> dict:
    text = (FIXTURES / name).read_bytes().decode()
    header = {}
    for line in text.splitlines():
        if not line.startswith("# ") or ":" not in line:
            break
        key, _, value = line[2:].partition(": ")
        header[key] = value
    return {"text": text, **header}


NAMES = sorted(p.name for p in FIXTURES.glob("*.yaml"))


def test_every_fixture_names_its_upstream_pin_and_outcome():
    assert len(NAMES) >= 10
    kinds = set()
    for name in NAMES:
        case = fixture(name)
        assert {"upstream", "pin", "revision", "expect"} <= set(case), name
        assert case["upstream"].split()[0].count("/") == 1 and "field for field" in case["upstream"], name
        outcome = case["expect"].split()[0]
        assert outcome in ("pinned", "refused") and name.endswith(f"-{outcome}.yaml"), name
        kinds |= {d["kind"] for d in read(case["text"])}
    # Kubernetes docs' Deployment, StatefulSet, CronJob, Job, Pod, DaemonSet; Argo Rollouts' examples; ingress-nginx
    assert {"Deployment", "StatefulSet", "CronJob", "Job", "Pod", "DaemonSet", "Rollout"} <= kinds


@pytest.mark.parametrize("variant", ["as-is", "crlf", "bom", "bom+crlf"])
@pytest.mark.parametrize("name", NAMES)
def test_fixture_outcome(name, variant):
    case = fixture(name)
    spec = yaml.safe_load(case["pin"])
    text = variants(case["text"])[variant]
    p = pin(**spec)
    outcome, _, rest = case["expect"].partition(" ")
    if outcome == "refused":
        where, _, words = rest.partition(": ")
        with pytest.raises(PinError) as err:
            pin_text(text, p, "c1", {}, case["revision"], name)
        assert words in err.value.message
        assert f"line {err.value.line}" == where
        return
    field, _, image = rest.partition(" = ")
    result = pin_text(text, p, "c1", {}, case["revision"], name)
    assert result.field == field
    # Proof of effect: another reader finds the chosen container running the new reference,
    # and all other data as it was.
    index = only_change(read(text), read(result.text), field)
    assert at(read(result.text)[index], field) == image
    container = at(read(result.text)[index], field.rpartition(".")[0])
    assert container["name"] == spec.get("container", container["name"])
    before, after = parse_reference(at(read(text)[index], field)), parse_reference(image)
    assert spec.get("image", before.image) == before.image
    kept = ("image", "digest") if p.part == "tag" else ("image", "tag")
    assert all(getattr(before, k) == getattr(after, k) for k in kept)
    assert getattr(after, p.part) == case["revision"] and result.old == getattr(before, p.part)
    removed, added = changed_lines(text, result.text)
    assert len(removed) == len(added) == 1
    assert result.text.startswith("\ufeff") == text.startswith("\ufeff")
    if "crlf" in variant:
        assert "\n" not in result.text.replace("\r\n", "")
    again = pin_text(result.text, p, "c1", {}, case["revision"], name)
    assert again.text == result.text and again.old == case["revision"]
    assert pin_text(result.text, p, "c1", {}, result.old, name, raw=result.old_raw).text == text


# Every kind with a pod template, and where its pod spec is.

def workload(kind: str, api: str, image: str = "ghcr.io/org/app:1.0", init: str | None = None) -> str:
    spec = f"  containers:\n  - name: app\n    image: {image}\n"
    if init:
        spec += f"  initContainers:\n  - name: migrate\n    image: {init}\n"
    indent = {"Pod": 2, "CronJob": 10}.get(kind, 6)
    body = "".join(" " * (indent - 2) + line + "\n" for line in spec.splitlines())
    wrap = {"Pod": "spec:\n", "CronJob": "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"}
    return f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: app\n" + wrap.get(kind, "spec:\n  template:\n    spec:\n") + body


@pytest.mark.parametrize("kind, api", [
    ("Deployment", "apps/v1"), ("StatefulSet", "apps/v1"), ("DaemonSet", "apps/v1"), ("ReplicaSet", "apps/v1"),
    ("ReplicationController", "v1"), ("Job", "batch/v1"), ("CronJob", "batch/v1"), ("Pod", "v1"),
    ("Rollout", "argoproj.io/v1alpha1"),
])
def test_every_kind_with_a_pod_template(kind, api):
    assert set(KINDS) == {k for _, k in POD_SPECS}
    text = workload(kind, api, init="ghcr.io/org/migrate:1.0")
    for options, field, line in [
        ({"container": "app"}, "containers[0].image", "image: ghcr.io/org/app:2.0"),
        ({"image": "ghcr.io/org/migrate"}, "initContainers[0].image", "image: ghcr.io/org/migrate:2.0"),
        ({"container": "app", "kind": kind}, "containers[0].image", "image: ghcr.io/org/app:2.0"),
    ]:
        result = pin_text(text, pin(**options), "c1", {}, "2.0")
        assert result.field == ".".join(POD_SPECS[(api.rpartition("/")[0], kind)]) + "." + field
        assert result.text.count("2.0") == 1 and line in result.text
    other = "Pod" if kind != "Pod" else "Deployment"
    with pytest.raises(PinError, match=f"no {other} object in this file"):
        pin_text(text, pin(container="app", kind=other), "c1", {}, "2.0")


def test_an_object_of_another_api_group_is_not_a_workload():
    # extensions/v1beta1 Deployments are gone since Kubernetes 1.16; a CRD may reuse a kind.
    text = workload("Deployment", "extensions/v1beta1") + "---\n" + workload("Rollout", "example.com/v1")
    with pytest.raises(PinError, match="no workload object in this file"):
        pin_text(text, pin(container="app"), "c1", {}, "2.0")


def test_name_and_kind_choose_among_objects_running_the_container():
    text = workload("Deployment", "apps/v1") + "---\n" + workload("CronJob", "batch/v1").replace("name: app\n", "name: nightly\n", 1)
    with pytest.raises(PinError) as err:
        pin_text(text, pin(container="app"), "c1", {}, "2.0")
    assert err.value.message.startswith("container app is in 2 objects of this file: Deployment app "
                                        "(spec.template.spec.containers[0] (app)); CronJob nightly "
                                        "(spec.jobTemplate.spec.template.spec.containers[0] (app)): set `name:` or `kind:` "
                                        "on the pin to choose one")
    assert err.value.line == text.splitlines().index("            image: ghcr.io/org/app:1.0") + 1
    for options in ({"name": "nightly"}, {"kind": "CronJob"}):
        result = pin_text(text, pin(container="app", **options), "c1", {}, "2.0")
        assert result.field.startswith("spec.jobTemplate") and result.line == err.value.line
    assert pin_text(text, pin(container="app", name="{cluster}"), "app", {}, "2.0").field.startswith("spec.template")


def test_ephemeral_containers_are_not_pinned_and_say_why():
    text = workload("Pod", "v1") + "  ephemeralContainers:\n  - name: debugger\n    image: busybox:1.36\n"
    with pytest.raises(PinError) as err:
        pin_text(text, pin(container="debugger"), "c1", {}, "1.37")
    assert "spec.ephemeralContainers[0] (debugger) is an ephemeral container, which the API server refuses" in err.value.message
    assert err.value.line == 10  # its entry


@pytest.mark.parametrize("image, words", [
    ("${APP_IMAGE}", "is '${APP_IMAGE}', not an image reference"),
    ("ghcr.io/Org/app:1.0", "not an image reference"),
    ("'{{ .Values.image }}'", "not an image reference"),
])
def test_a_value_that_is_no_image_reference_is_refused(image, words):
    with pytest.raises(PinError, match=words.replace("$", r"\$").replace("{", r"\{").replace(".", r"\.")):
        pin_text(workload("Deployment", "apps/v1", image=image), pin(container="app"), "c1", {}, "2.0")


def test_a_container_without_an_image_is_refused():
    text = workload("Deployment", "apps/v1").replace("    image: ghcr.io/org/app:1.0\n", "    args: [x]\n")
    with pytest.raises(PinError, match=r"spec.template.spec.containers\[0\].image is missing"):
        pin_text(text, pin(container="app"), "c1", {}, "2.0")


@pytest.mark.parametrize("options, words", [
    ({}, "set exactly one of container (its name) or image (its repository)"),
    ({"container": "a", "image": "b"}, "set exactly one of container (its name) or image (its repository), not both"),
    ({"image": "nginx:1.25"}, "'nginx:1.25' has a tag: give the repository alone (nginx)"),
    ({"image": f"nginx@{DIGEST}"}, "has a digest: give the repository alone"),
    ({"image": "Docker.io/Nginx"}, "is not an image repository"),
    ({"container": "a", "kind": "Service"}, "Input should be 'Deployment'"),
    ({"container": "a", "part": "newTag"}, "Input should be 'tag' or 'digest'"),
])
def test_options_are_checked(options, words):
    with pytest.raises(ValidationError) as err:
        pin(**options)
    assert words in str(err.value)


def test_the_revision_must_be_a_tag_or_a_digest():
    from waves.pins.base import PinTargetError

    for revision in ("v1:2", "a b", "-x", "x" * 129, "", "1.0@sha256:" + "a" * 64):
        with pytest.raises(PinTargetError, match="is not an image tag"):
            pin(container="a").check_revision(revision)
    for revision in ("4.0", "v1.25.3-alpine", "_x", "x" * 128, "latest"):
        pin(container="a").check_revision(revision)
    with pytest.raises(PinTargetError, match="is not an image digest"):
        pin(container="a", part="digest").check_revision("4.0")
    pin(container="a", part="digest").check_revision(DIGEST)
    # The editor checks it too, whatever calls it: `a:b` as a tag would read back as another reference.
    text = workload("Deployment", "apps/v1")
    for options, value in (({}, "a:b"), ({}, "1.0@" + DIGEST), ({"part": "digest"}, "4.0")):
        with pytest.raises(PinError, match="is not an image (tag|digest)"):
            pin_text(text, pin(container="app", **options), "c1", {}, value)


# The property: any reference, any style, only the pinned part changes.

_COMPONENT = st.from_regex(r"[a-z][a-z0-9]{0,5}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,4})?", fullmatch=True)
_REGISTRY = st.sampled_from(["", "docker.io/", "ghcr.io/", "localhost:5000/", "registry.k8s.io/", "10.0.0.1:443/",
                             "my-registry.example.com:8443/", "[::1]:5000/", "Quay.IO/"])
_TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_DIGEST = st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256:" + h)


@st.composite
def references(draw):
    name = draw(_REGISTRY) + "/".join(draw(st.lists(_COMPONENT, min_size=1, max_size=3)))
    tag = draw(st.none() | _TAG)
    digest = draw(st.none() | _DIGEST)
    return name + (f":{tag}" if tag is not None else "") + (f"@{digest}" if digest is not None else "")


# The container's entry around its reference: (text before, text after), by style.
STYLES = {
    "plain": ("  - name: app\n    image: ", "\n"),
    "single": ("  - name: app\n    image: '", "'\n"),
    "double": ('  - name: app\n    image: "', '"   # pinned by rollout\n'),
    "flow": ("  - {name: app, image: ", ", imagePullPolicy: IfNotPresent}\n"),
    "flow-double": ('  - {name: app, image: "', '"}\n'),
}


@settings(max_examples=examples(300), deadline=None)
@given(references(), st.sampled_from(sorted(STYLES)), st.sampled_from(["tag", "digest"]), _TAG, _DIGEST,
       st.sampled_from(["containers", "initContainers"]))
def test_only_the_pinned_part_of_any_reference_changes(ref, style, part, tag, digest, where):
    if ref.startswith("[") and style in ("plain", "flow"):
        style = "double"  # a plain scalar cannot start with [
    before_ref, after_ref = STYLES[style]
    head = f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  {where}:\n{before_ref}"
    tail = after_ref + ("  containers:\n  - {name: other, image: 'ghcr.io/org/other:1.0'}\n" if where != "containers"
                        else "")
    text = head + ref + tail
    p = pin(container="app", part=part)
    value = tag if part == "tag" else digest
    before = parse_reference(ref)
    if part == "tag" and before.digest is not None:
        with pytest.raises(PinError, match="the digest is what runs"):
            pin_text(text, p, "c1", {}, value)
        return
    result = pin_text(text, p, "c1", {}, value)
    # Byte-exact outside the pinned part: registry, repository and the other part as written.
    expected = before.image + (f":{value}" if part == "tag" else f":{before.tag}" if before.tag is not None else "") \
        + (f"@{value}" if part == "digest" else "")
    assert result.text == head + expected + tail
    assert read(result.text)[0]["spec"][where][0]["image"] == expected
    assert result.old == getattr(before, part)
    assert pin_text(result.text, p, "c1", {}, value).text == result.text
    assert pin_text(result.text, p, "c1", {}, result.old, raw=result.old_raw).text == text


# The real Deployments of kostis-codefresh/gitops-environment-promotion, through the CLI.

FLEET = """\
apiVersion: rollout/v1alpha1
kind: Fleet
clusters:
  - {name: qa, labels: {environment: qa}}
  - {name: prod-eu, labels: {environment: prod, region: eu}}
  - {name: prod-us, labels: {environment: prod, region: us}}
  - {name: prod-asia, labels: {environment: prod, region: asia}}
"""

POLICY = """\
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {name: simple-env-app}
spec:
  revision: "4.0"
  inventory:
    - fleet: fleet/clusters.yaml
  pin:
    - preset: kubernetes-image
      files: envs/{cluster}/version.yml
      container: webserver-simple
  waves:
    - name: qa
      selector: {matchLabels: {environment: qa}}
    - name: prod
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env={**os.environ, **TEST_GIT_IDENTITY}).stdout


def rollout(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **TEST_GIT_IDENTITY, "COLUMNS": "200"})


def test_gitops_environment_promotion_through_the_cli(tmp_path):
    envs = corpus() / "gitops-environment-promotion" / "envs"
    source = tmp_path / "source"
    shutil.copytree(envs, source / "envs")  # a temporary repository: the corpus is read, never changed
    original = {p.parent.name: p.read_bytes() for p in envs.glob("*/version.yml")}
    assert sorted(original) == ["prod-asia", "prod-eu", "prod-us", "qa"]
    (source / "fleet").mkdir()
    (source / "fleet" / "clusters.yaml").write_text(FLEET)
    (source / "rollouts").mkdir()
    (source / "rollouts" / "simple-env-app.yaml").write_text(POLICY)
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "gitops-environment-promotion")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(remote))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))

    def files() -> dict[str, bytes]:
        return {env: (clone / "envs" / env / "version.yml").read_bytes() for env in original}

    def pushed(env: str) -> bytes:
        return subprocess.run(["git", "show", f"main:envs/{env}/version.yml"], cwd=remote, capture_output=True,
                              check=True).stdout

    def pinned(env: str) -> bytes:
        return original[env].replace(b"simple-env-app:" + original[env].split(b"simple-env-app:")[1].strip(),
                                     b"simple-env-app:4.0")

    validated = rollout(clone, "validate", "simple-env-app")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    planned = rollout(clone, "plan", "simple-env-app")
    assert planned.returncode == 0 and "pins (containers[name=webserver-simple].image:tag)" in planned.stdout

    # A container the files do not have: every cluster's file refused, located, exit 2.
    (clone / "rollouts" / "wrong.yaml").write_text(POLICY.replace("webserver-simple", "webserver"))
    wrong = rollout(clone, "validate", "wrong")
    assert wrong.returncode == 2
    lines = sorted(l for l in wrong.stdout.splitlines() + wrong.stderr.splitlines() if "version.yml" in l)
    assert lines == [f"envs/{env}/version.yml:9: containers[name=webserver].image:tag: cluster {env}: no container "
                     f"named webserver in this file's workload "
                     f"objects (Deployment simple-deployment: webserver-simple (docker.io/kostiscodefresh/simple-env-app:"
                     f"{original[env].split(b':')[-1].strip().decode()}))" for env in sorted(original)]
    (clone / "rollouts" / "wrong.yaml").unlink()

    advanced = rollout(clone, "advance", "simple-env-app")
    assert advanced.returncode == 0, advanced.stderr
    assert files() == {**original, "qa": pinned("qa")}
    assert pinned("qa") == original["qa"].replace(b"simple-env-app:1.0", b"simple-env-app:4.0")
    assert pushed("qa") == pinned("qa")

    status = rollout(clone, "status", "simple-env-app", "--format", "json")
    assert status.returncode == 0, status.stderr
    waves = {w["name"]: w["status"] for w in json.loads(status.stdout)["waves"]}
    assert waves == {"qa": "passed", "prod": "pending"}  # no gates, no bake: passed once advanced

    advanced = rollout(clone, "advance", "simple-env-app")
    assert advanced.returncode == 0, advanced.stderr
    assert files() == {env: pinned(env) for env in original}
    assert all(pushed(env) == pinned(env) for env in original)
    diff = git(clone, "diff", "-U0", "HEAD~2", "HEAD", "--", "envs")
    changed = [l for l in diff.splitlines() if l[:1] in "+-" and not l.startswith(("+++", "---"))]
    assert sorted(changed) == sorted(
        [f"-        image: docker.io/kostiscodefresh/simple-env-app:{v}" for v in ("1.0", "2.0", "3.0", "3.0")]
        + ["+        image: docker.io/kostiscodefresh/simple-env-app:4.0"] * 4)

    reverted = rollout(clone, "revert", "simple-env-app", "--all", "--reason", "kubernetes-image rehearsal")
    assert reverted.returncode == 0, reverted.stderr
    assert files() == original
    assert all(pushed(env) == original[env] for env in original)
    status = rollout(clone, "status", "simple-env-app", "--format", "json")
    assert {w["name"]: w["status"] for w in json.loads(status.stdout)["waves"]} == {"qa": "reverted", "prod": "reverted"}
