"""kstatus, exactly: every case of kubernetes-sigs/cli-utils' own status_compute_test.go
(tests/fixtures/kstatus/, one file per case, named by outcome), the rules its test file
leaves out, and properties that hold for any object (waves/gates/kstatus.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from conftest import examples

from rollout.yamlfile import load_documents
from waves.gates import kstatus
from waves.gates.kstatus import compute, holds, parse_field_path, resolve_kind
from waves.gates.verdict import parse_time

FIXTURES = Path(__file__).parent / "fixtures" / "kstatus"
NOW = parse_time("2025-06-01T12:00:00Z")

# Every test case of pkg/kstatus/status/status_compute_test.go, by its test function.
UPSTREAM_CASES = {
    "TestPodStatus": {"podNoStatus", "podReady", "podCompletedSuccessfully", "podCompletedFailed",
                      "podBeingScheduled", "podUnschedulable", "podCrashLooping"},
    "TestPVCStatus": {"pvcNoStatus", "pvcBound"},
    "TestStsStatus": {"stsNoStatus", "stsBadStatus", "stsOK", "stsLessReady", "stsLessCurrent", "stsExtraPods"},
    "TestDaemonsetStatus": {"dsNoStatus", "dsBadStatus", "dsOK", "dsLessReady", "dsDifferentGeneration",
                            "dsLessAvailable"},
    "TestDeploymentStatus": {"depNoStatus", "depOK", "depNotProgressing", "depNoProgressDeadlineSeconds",
                             "depNotAvailable"},
    "TestReplicasetStatus": {"rsNoStatus", "rsOK1", "rsOK2", "rsLessAvailable", "rsLessReady", "rsReplicaFailure"},
    "TestPDBStatus": {"pdbNotObserved", "pdbObserved"},
    "TestCRDGenericStatus": {"crdNoStatus", "crdReady", "crdNotReady", "crdNoCondition", "crdMismatchStatusGeneration"},
    "TestJobStatus": {"jobNoStatus", "jobComplete", "jobFailed", "jobInProgress"},
    "TestCronJobStatus": {"cronjobNoStatus", "cronjobWithStatus"},
    "TestServiceStatus": {"serviceDefault", "serviceNodePort", "serviceLBnok", "serviceLBok"},
    "TestCRDStatus": {"crdNoConditions", "crdInstalling", "crdNamesNotAccepted", "crdEstablished"},
}


def load(path: Path) -> tuple[dict[str, str], dict]:
    text = path.read_text()
    header = {}
    for line in text.splitlines():
        match = re.match(r"# (\w+): (.*)", line)
        if not match:
            break
        header[match.group(1)] = match.group(2).strip()
    [obj] = load_documents(path, text, datetimes=False)
    return header, obj


FILES = sorted(FIXTURES.glob("*.yaml"))


def test_every_upstream_case_is_a_fixture_named_by_its_outcome():
    found: dict[str, set[str]] = {}
    for path in FILES:
        header, _ = load(path)
        assert header["upstream"].startswith("kubernetes-sigs/cli-utils pkg/kstatus/status/"), path.name
        expect = header["expect"]
        assert expect in kstatus.STATUSES and f"-{expect.lower()}-" in f"-{path.stem}-", path.name
        if "case" in header:
            test, name = header["case"].split()[0].split("/")
            found.setdefault(test, set()).add(name)
    assert found == UPSTREAM_CASES


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_conformance(path):
    """status, the expected conditions (type, status, reason) and the absent ones, as
    upstream's runStatusTest checks them."""
    header, obj = load(path)
    now = parse_time(header["now"]) if "now" in header else NOW
    result = compute(obj, now)
    assert result.status == header["expect"], result
    for expected in header["conditions"].split() if header["conditions"] != "-" else []:
        kind, _, rest = expected.partition("=")
        status, _, reason = rest.partition("/")
        matching = [c for c in result.conditions if c.type == kind]
        assert matching, f"expected condition {kind}: {result}"
        assert all((c.status, c.reason) == (status, reason) for c in matching), result
    for absent in header["absent"].split():
        assert all(c.type != absent for c in result.conditions), result


def test_messages_are_upstream_s_words():
    _, deployment = load(FIXTURES / "deployment-inprogress-no-status.yaml")
    assert compute(deployment, NOW).message == "Replicas: 0/1"
    _, mismatch = load(FIXTURES / "daemonset-inprogress-different-generation.yaml")
    assert compute(mismatch, NOW).message == "DaemonSet generation is 2, but latest observed generation is 1"
    _, looping = load(FIXTURES / "pod-failed-crash-looping.yaml")
    assert compute(looping, NOW).message == "Containers in CrashLoop state: nginx"
    _, established = load(FIXTURES / "crd-current-established.yaml")
    assert compute(established, NOW).message == "CRD is established"


def test_a_pending_unschedulable_pod_is_failed_after_the_schedule_window_exactly():
    _, pod = load(FIXTURES / "pod-inprogress-being-scheduled.yaml")
    created = parse_time(pod["metadata"]["creationTimestamp"])
    assert compute(pod, created + 14.9).status == "InProgress"
    assert compute(pod, created + 15).status == "Failed"  # not Before: the window is over


def test_field_readers_follow_apimachinery_types():
    """GetIntField ignores what is not an integer (booleans and floats included: Go's
    JSON reads them as other types); NestedInt64 of metadata.generation is an error."""
    base = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
            "status": {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                       "conditions": [{"type": "Available", "status": "True"}]}}
    assert compute(base, NOW).status == "Current"
    for odd in (True, 1.0, "1"):
        assert compute({**base, "spec": {"replicas": odd}}, NOW).status == "Current"  # the default 1
    assert compute({**base, "metadata": {"generation": 1.5}}, NOW).status == "Unknown"
    assert compute({**base, "status": "broken"}, NOW).status == "Unknown"
    assert compute({**base, "status": {"conditions": [{"type": 3}]}}, NOW).status == "Unknown"
    assert compute({**base, "metadata": {"deletionTimestamp": None}}, NOW).status == "Unknown"


def test_pods_read_as_go_reads_them():
    """A creation time that is not RFC 3339 is metav1.Time's zero (long ago: Failed); a
    container status whose name is not text is Go's failed type assertion (Unknown)."""
    _, pod = load(FIXTURES / "pod-inprogress-being-scheduled.yaml")
    created = parse_time(pod["metadata"]["creationTimestamp"])
    dated = {**pod, "metadata": {**pod["metadata"], "creationTimestamp": "2019-06-04"}}
    assert compute(pod, created).status == "InProgress" and compute(dated, created).status == "Failed"
    running = {"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Running"}}
    assert compute({**running, "status": {"phase": "Running", "containerStatuses": [{"name": 7}]}}, NOW).status == "Unknown"
    assert compute({**running, "status": {"phase": "Running", "containerStatuses": [{"name": "a"}]}}, NOW).reason == \
        "PodRunningNotReady"


def test_the_ready_condition_decides_only_kinds_without_a_rule():
    ready_false = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Nope"}]}}
    assert compute({"apiVersion": "example.com/v1", "kind": "Widget", **ready_false}, NOW).status == "InProgress"
    job = {"apiVersion": "batch/v1", "kind": "Job", "status": {"startTime": "2025-01-01T00:00:00Z",
                                                               **ready_false["status"]}}
    assert compute(job, NOW).status == "Current"  # the Job rule decides; it ignores Ready
    other = {"apiVersion": "example.com/v1", "kind": "Widget",
             "status": {"conditions": [{"type": "Ready", "status": "Maybe"}, {"type": "Ready", "status": "True"}]}}
    assert compute(other, NOW).status == "Current"  # a status that is none of the three: the next Ready


# --- properties -------------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.floats(allow_nan=False, width=16),
                     st.sampled_from(["", "True", "False", "Unknown", "Running", "Pending", "Bound", "OnDelete"]))
_json = st.recursive(_scalars, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(st.sampled_from(
        ["type", "status", "reason", "message", "phase", "replicas", "conditions", "observedGeneration", "name",
         "state", "waiting", "containerStatuses", "spec", "generation"]), children, max_size=4)), max_leaves=12)
_kinds = st.sampled_from([("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
                          ("apps/v1", "ReplicaSet"), ("v1", "Pod"), ("v1", "PersistentVolumeClaim"), ("v1", "Service"),
                          ("batch/v1", "Job"), ("batch/v1", "CronJob"), ("policy/v1", "PodDisruptionBudget"),
                          ("apiextensions.k8s.io/v1", "CustomResourceDefinition"), ("example.com/v1", "Widget"),
                          ("a/b/c", "Odd")])


@st.composite
def objects(draw):
    api_version, kind = draw(_kinds)
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}
    if draw(st.booleans()):
        obj["metadata"]["generation"] = draw(st.integers(1, 4))
    status = draw(st.one_of(st.none(), st.dictionaries(
        st.sampled_from(["observedGeneration", "replicas", "readyReplicas", "phase", "conditions",
                         "containerStatuses", "startTime", "desiredNumberScheduled"]), _json, max_size=4)))
    if status is not None:
        obj["status"] = status
    if draw(st.booleans()):
        obj["spec"] = draw(st.dictionaries(st.sampled_from(["replicas", "type", "updateStrategy"]), _json, max_size=2))
    return obj


@settings(max_examples=examples(200))
@given(objects(), st.floats(0, 2e9))
def test_compute_never_raises_and_says_one_of_kstatus_s_words(obj, now):
    result = compute(obj, now)
    assert result.status in kstatus.STATUSES
    assert all(c.type in ("Reconciling", "Stalled") for c in result.conditions)
    if result.status == "InProgress":
        assert [c.type for c in result.conditions] == ["Reconciling"]
    if result.status == "Failed":
        assert [c.type for c in result.conditions] == ["Stalled"]


@settings(max_examples=examples(100))
@given(objects())
def test_deletion_comes_first_and_an_unobserved_generation_next(obj):
    terminating = {**obj, "metadata": {**obj["metadata"], "deletionTimestamp": "2025-01-01T00:00:00Z"}}
    assert compute(terminating, NOW).status == "Terminating"
    behind = {**obj, "metadata": {**obj["metadata"], "generation": 3},
              "status": {**(obj.get("status") or {}), "observedGeneration": 2}}
    result = compute(behind, NOW)
    assert result.status == "InProgress" and result.reason == "LatestGenerationNotObserved"


@settings(max_examples=examples(100))
@given(objects(), st.sampled_from(["Reconciling", "Stalled"]))
def test_the_standard_conditions_decide_before_any_kind_s_rule(obj, kind):
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    status = {k: v for k, v in status.items() if k not in ("observedGeneration", "conditions")}
    marked = {**obj, "status": {**status, "conditions": [{"type": kind, "status": "True", "reason": "Why"}]}}
    result = compute(marked, NOW)
    assert result.status == ("InProgress" if kind == "Reconciling" else "Failed") and result.reason == "Why"


# --- what the gate and `rollout health --kind` read ---------------------------------------------


def test_kinds_by_name_plural_short_name_or_plural_version_group():
    assert resolve_kind("deploy") == resolve_kind("Deployment") == resolve_kind("deployments")
    assert (resolve_kind("pvc").group, resolve_kind("pvc").plural) == ("", "persistentvolumeclaims")
    custom = resolve_kind("widgets.v1beta1.example.com")
    assert (custom.kind, custom.api_version, custom.plural) == (None, "example.com/v1beta1", "widgets")
    assert resolve_kind("deployments.v1.apps").kind == "Deployment"
    for bad in ("Deploymnet", "widgets.example.com", "widgets.1.example.com", ""):
        with pytest.raises(ValueError):
            resolve_kind(bad)


def test_field_paths_reach_every_value_they_name():
    deployment = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "ghcr.io/a/web:v2"},
                                                                {"name": "proxy", "image": "envoy:v1.30"},
                                                                {"name": "proxy", "image": "envoy:v1.31"}]}}}}
    assert parse_field_path("spec.template.spec.containers[0].image").values(deployment) == ["ghcr.io/a/web:v2"]
    assert parse_field_path("spec.template.spec.containers[name=proxy].image").values(deployment) == [
        "envoy:v1.30", "envoy:v1.31"]
    assert parse_field_path("spec.template.spec.containers[5].image").values(deployment) == []
    assert parse_field_path("spec.template.spec.containers[name=db].image").values(deployment) == []
    for bad in ("", "spec..x", "spec[", "spec.containers[name=web]"):
        with pytest.raises(ValueError):
            parse_field_path(bad)


@pytest.mark.parametrize("value, pin, held", [
    ("ghcr.io/org/web:v1.4.2", "v1.4.2", True),
    ("ghcr.io/org/web:v1.4.20", "v1.4.2", False),
    ("registry:5000/org/web:v1.4.2", "v1.4.2", True),
    ("registry:5000/org/web", "5000", False),
    ("web@sha256:" + "a" * 64, "sha256:" + "a" * 64, True),
    ("web:v1@sha256:" + "b" * 64, "b" * 64, True),
    ("v1.4.2", "v1.4.2", True),
    ("main@sha1:" + "c" * 40, "c" * 7, True),
    ("web:4.0.3", "4.0.x", True),
    ("web:4.1.0", "4.0.x", False),
    (True, "true", False),
])
def test_a_value_holds_the_pin_as_a_whole_tag_digest_or_revision_never_a_substring(value, pin, held):
    assert holds(value, pin) is held
