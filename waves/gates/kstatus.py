"""kstatus, exactly, and the `kstatus` gate built on it.

`compute(obj, now)` is kubernetes-sigs/cli-utils `pkg/kstatus/status` (what Flux and Rancher
Fleet use) in Python: `Compute` in status.go, `checkGenericProperties` in generic.go, the
per-kind rules of core.go and the field readers of util.go, rule for rule, with their
reasons and messages. The order (status.go `Compute`):

1. generic (generic.go): `metadata.deletionTimestamp` set: Terminating. `metadata.generation`
   and `status.observedGeneration` both set and different: InProgress
   (LatestGenerationNotObserved). A condition `Reconciling=True`: InProgress; `Stalled=True`:
   Failed; each with the condition's reason and message.
2. the kind's own rule (core.go `legacyTypes`, by API group and kind): Deployment,
   StatefulSet, DaemonSet, ReplicaSet, Pod, PersistentVolumeClaim, Service, Job, CronJob,
   PodDisruptionBudget, CustomResourceDefinition; ConfigMap, Secret and CronJob are always
   Current. A kind with a rule is decided by it.
3. any other kind: a `Ready` condition (`True`: Current; `False` or `Unknown`: InProgress
   with its reason), else Current ("Resource is current").

Where cli-utils' `Compute` returns an error (a field of the wrong type, a pod phase it does
not know) its callers report Unknown; so does `compute`, with the error as the message.
The one input beside the object is the time: a Pending pod unschedulable for less than 15
seconds after its creation is InProgress, after that Failed.

The gate (docs/gates.md) adds what a rollout needs beyond kstatus: an object must show it
runs the pin (`revisionFrom`), or the gate must share its wave with a revision-aware gate
(`gate_problems`); Current with no evidence at all and an empty selection are unknown;
Failed fails only once it has lasted `settle`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import BaseModel, Field, field_validator

from waves.durations import Duration
from waves.gates.verdict import Verdict, parse_time
from waves.model_config import STRICT
from waves.problems import Problem
from waves.templates import check_template

CURRENT, IN_PROGRESS, FAILED, TERMINATING, UNKNOWN = "Current", "InProgress", "Failed", "Terminating", "Unknown"
STATUSES = (CURRENT, IN_PROGRESS, FAILED, TERMINATING, UNKNOWN)
SCHEDULE_WINDOW = 15.0  # core.go ScheduleWindow: seconds a pod may stay unscheduled before it is Failed
_MAX_INT32 = 2147483647  # core.go: progressDeadlineSeconds unset reads as math.MaxInt32


@dataclass(frozen=True)
class Condition:
    """A kstatus condition (status.go `Condition`); `since` is the lastTransitionTime of the
    object's condition it came from (not kstatus's: the gate's settle time reads it)."""

    type: str
    status: str
    reason: str
    message: str
    since: str | None = None


@dataclass(frozen=True)
class Result:
    """status.go `Result`: the status, its message, and the standard conditions
    (Reconciling / Stalled) it implies; `reason` is theirs (kstatus has none for Current)."""

    status: str
    message: str
    conditions: tuple[Condition, ...] = ()

    @property
    def reason(self) -> str:
        return self.conditions[0].reason if self.conditions else ""

    @property
    def since(self) -> str | None:
        return self.conditions[0].since if self.conditions else None


class _ComputeError(Exception):
    """What cli-utils' Compute returns as an error (or panics on): the status is Unknown."""


def _in_progress(reason: str, message: str, since: str | None = None) -> Result:
    return Result(IN_PROGRESS, message, (Condition("Reconciling", "True", reason, message, since),))


def _failed(reason: str, message: str, since: str | None = None) -> Result:
    return Result(FAILED, message, (Condition("Stalled", "True", reason, message, since),))


def _current(message: str) -> Result:
    return Result(CURRENT, message)


# --- util.go: reading fields as apimachinery's unstructured helpers do ------------------------


def _path(text: str) -> tuple[str, ...]:
    fields = text.split(".")
    return tuple(fields[1:] if fields[0] == "" else fields)


def _nested(obj: dict, fields: tuple[str, ...]) -> tuple[bool, object]:
    """unstructured.NestedFieldNoCopy: (found, value); a non-map on the way is an error,
    a null on the way is "not found"."""
    value: object = obj
    for i, name in enumerate(fields):
        if value is None:
            return False, None
        if not isinstance(value, dict):
            raise _ComputeError(f".{'.'.join(fields[:i + 1])} accessor error: {value!r} is of the type "
                                f"{_go_type(value)}, expected map[string]interface{{}}")
        if name not in value:
            return False, None
        value = value[name]
    return True, value


def _go_type(value: object) -> str:
    return {bool: "bool", int: "int64", float: "float64", str: "string", list: "[]interface {}",
            dict: "map[string]interface {}"}.get(type(value), type(value).__name__)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _nested_int64(obj: dict, *fields: str) -> tuple[bool, int]:
    """unstructured.NestedInt64: found and an integer, or an error when found as anything else."""
    found, value = _nested(obj, fields)
    if not found:
        return False, 0
    if not _is_int(value):
        raise _ComputeError(f"looking up {'.'.join(fields)} from resource: .{'.'.join(fields)} accessor error: "
                            f"{value!r} is of the type {_go_type(value)}, expected int64")
    return True, value  # type: ignore[return-value]


def get_int(obj: dict, path: str, default: int) -> int:
    """util.go GetIntField: the integer at `path`, else `default` (errors included)."""
    try:
        found, value = _nested(obj, _path(path))
    except _ComputeError:
        return default
    return value if found and _is_int(value) else default  # type: ignore[return-value]


def get_str(obj: dict, path: str, default: str) -> str:
    """util.go GetStringField: the string at `path`, else `default` (errors included)."""
    try:
        found, value = _nested(obj, _path(path))
    except _ComputeError:
        return default
    return value if found and isinstance(value, str) else default


def conditions_of(obj: dict) -> list[Condition]:
    """util.go GetObjectWithConditions: `status.conditions` as BasicConditions. A status
    that is not an object, conditions that are not a list, a condition that is not an
    object, or a field of one that is not text cannot be converted: an error."""
    status = obj.get("status")
    if status is None:
        return []
    if not isinstance(status, dict):
        raise _ComputeError(f"status: cannot restore struct from: {_go_type(status)}")
    conditions = status.get("conditions")
    if conditions is None:
        return []
    if not isinstance(conditions, list):
        raise _ComputeError(f"status.conditions: cannot restore slice from {_go_type(conditions)}")
    out = []
    for i, entry in enumerate(conditions):
        if entry is None:
            entry = {}
        if not isinstance(entry, dict):
            raise _ComputeError(f"status.conditions[{i}]: cannot restore struct from: {_go_type(entry)}")
        values = []
        for key in ("type", "status", "reason", "message"):
            value = entry.get(key)
            if value is not None and not isinstance(value, str):
                raise _ComputeError(f"status.conditions[{i}].{key}: cannot convert {_go_type(value)} to string")
            values.append(value or "")
        since = entry.get("lastTransitionTime")
        out.append(Condition(*values, since=since if isinstance(since, str) else None))
    return out


def _with_status(conditions: list[Condition], kind: str, status: str) -> Condition | None:
    """util.go getConditionWithStatus: the first condition of that type and status."""
    return next((c for c in conditions if c.type == kind and c.status == status), None)


def _group_kind(obj: dict) -> str:
    """core.go GetLegacyConditionsFn's key: `group/Kind`, or `Kind` for the core group."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    api_version = api_version if isinstance(api_version, str) else ""
    kind = kind if isinstance(kind, str) else ""
    if api_version.count("/") > 1:  # schema.ParseGroupVersion fails: an empty GroupVersionKind
        return ""
    group = api_version.rpartition("/")[0]
    return f"{group}/{kind}" if group else kind


def _kind(obj: dict) -> str:
    kind = obj.get("kind")
    return kind if isinstance(kind, str) else ""


# --- generic.go -------------------------------------------------------------------------------


def _generic(obj: dict) -> Result | None:
    found, deletion = _nested(obj, ("metadata", "deletionTimestamp"))
    if found and not isinstance(deletion, str):
        raise _ComputeError(f"looking up metadata.deletionTimestamp from resource: {deletion!r} is of the type "
                            f"{_go_type(deletion)}, expected string")
    if found and deletion != "":
        return Result(TERMINATING, "Resource scheduled for deletion")
    result = _check_generation(obj)
    if result is not None:
        return result
    for c in conditions_of(obj):
        if c.type == "Reconciling" and c.status == "True":
            return _in_progress(c.reason, c.message, c.since)
        if c.type == "Stalled" and c.status == "True":
            return _failed(c.reason, c.message, c.since)
    return None


def _check_generation(obj: dict) -> Result | None:
    found, generation = _nested_int64(obj, "metadata", "generation")
    if not found:
        return None
    found, observed = _nested_int64(obj, "status", "observedGeneration")
    if found and observed != generation:
        message = f"{_kind(obj)} generation is {generation}, but latest observed generation is {observed}"
        return _in_progress("LatestGenerationNotObserved", message)
    return None


def _check_generation_set(obj: dict) -> Result | None:
    """core.go checkGenerationSet (DaemonSets): both fields must be there."""
    if not _nested_int64(obj, "metadata", "generation")[0]:
        return _in_progress("NoGeneration", f"{_kind(obj)} metadata.generation not found")
    if not _nested_int64(obj, "status", "observedGeneration")[0]:
        return _in_progress("NoObservedGeneration", f"{_kind(obj)} status.observedGeneration not found")
    return None


# --- core.go: the per-kind rules --------------------------------------------------------------


def _always_ready(obj: dict, now: float) -> Result:
    return _current("Resource is always ready")


def _statefulset(obj: dict, now: float) -> Result:
    if get_str(obj, ".spec.updateStrategy.type", "") == "OnDelete":
        return _current("StatefulSet is using the ondelete update strategy")
    spec = get_int(obj, ".spec.replicas", 1)
    ready = get_int(obj, ".status.readyReplicas", 0)
    current = get_int(obj, ".status.currentReplicas", 0)
    updated = get_int(obj, ".status.updatedReplicas", 0)
    replicas = get_int(obj, ".status.replicas", 0)
    partition = get_int(obj, ".spec.updateStrategy.rollingUpdate.partition", -1)
    if spec > replicas:
        return _in_progress("LessReplicas", f"Replicas: {replicas}/{spec}")
    if spec > ready:
        return _in_progress("LessReady", f"Ready: {ready}/{spec}")
    if replicas > spec:
        return _in_progress("ExtraPods", f"Pending termination: {replicas - spec}")
    if partition != -1:
        if updated < spec - partition:
            return _in_progress("PartitionRollout", f"updated: {updated}/{spec - partition}")
        return _current(f"Partition rollout complete. updated: {updated}")
    if spec > current:
        return _in_progress("LessCurrent", f"current: {current}/{spec}")
    if get_str(obj, ".status.currentRevision", "") != get_str(obj, ".status.updateRevision", ""):
        return _in_progress("RevisionMismatch", "Waiting for updated revision to match current")
    return _current(f"All replicas scheduled as expected. Replicas: {replicas}")


def _deployment(obj: dict, now: float) -> Result:
    progressing = get_int(obj, ".spec.progressDeadlineSeconds", _MAX_INT32) == _MAX_INT32
    available = False
    for c in conditions_of(obj):
        if c.type == "Progressing":
            if c.reason == "ProgressDeadlineExceeded":
                return Result(FAILED, "Progress deadline exceeded",
                              (Condition("Stalled", "True", c.reason, c.message, c.since),))
            if c.status == "True" and c.reason == "NewReplicaSetAvailable":
                progressing = True
        elif c.type == "Available" and c.status == "True":
            available = True
    spec = get_int(obj, ".spec.replicas", 1)
    replicas = get_int(obj, ".status.replicas", 0)
    updated = get_int(obj, ".status.updatedReplicas", 0)
    ready = get_int(obj, ".status.readyReplicas", 0)
    available_replicas = get_int(obj, ".status.availableReplicas", 0)
    if spec > replicas:
        return _in_progress("LessReplicas", f"Replicas: {replicas}/{spec}")
    if spec > updated:
        return _in_progress("LessUpdated", f"Updated: {updated}/{spec}")
    if replicas > spec:
        return _in_progress("ExtraPods", f"Pending termination: {replicas - spec}")
    if updated > available_replicas:
        return _in_progress("LessAvailable", f"Available: {available_replicas}/{updated}")
    if spec > ready:
        return _in_progress("LessReady", f"Ready: {ready}/{spec}")
    if not progressing:
        return _in_progress("ReplicaSetNotAvailable", "ReplicaSet not Available")
    if not available:
        return _in_progress("DeploymentNotAvailable", "Deployment not Available")
    return _current(f"Deployment is available. Replicas: {replicas}")


def _replicaset(obj: dict, now: float) -> Result:
    for c in conditions_of(obj):
        if c.type == "ReplicaFailure" and c.status == "True":
            return _in_progress("ReplicaFailure", "Replica Failure condition. Check Pods", c.since)
    spec = get_int(obj, ".spec.replicas", 1)
    replicas = get_int(obj, ".status.replicas", 0)
    ready = get_int(obj, ".status.readyReplicas", 0)
    available = get_int(obj, ".status.availableReplicas", 0)
    labelled = get_int(obj, ".status.fullyLabeledReplicas", 0)
    if spec > labelled:
        return _in_progress("LessLabelled", f"Labelled: {labelled}/{spec}")
    if spec > available:
        return _in_progress("LessAvailable", f"Available: {available}/{spec}")
    if spec > ready:
        return _in_progress("LessReady", f"Ready: {ready}/{spec}")
    if replicas > spec:
        return _in_progress("ExtraPods", f"Pending termination: {replicas - spec}")
    return _current(f"ReplicaSet is available. Replicas: {replicas}")


def _daemonset(obj: dict, now: float) -> Result:
    result = _check_generation_set(obj)
    if result is not None:
        return result
    desired = get_int(obj, ".status.desiredNumberScheduled", -1)
    current = get_int(obj, ".status.currentNumberScheduled", 0)
    updated = get_int(obj, ".status.updatedNumberScheduled", 0)
    available = get_int(obj, ".status.numberAvailable", 0)
    ready = get_int(obj, ".status.numberReady", 0)
    if desired == -1:
        return _in_progress("NoDesiredNumber", "Missing .status.desiredNumberScheduled")
    if desired > current:
        return _in_progress("LessCurrent", f"Current: {current}/{desired}")
    if desired > updated:
        return _in_progress("LessUpdated", f"Updated: {updated}/{desired}")
    if desired > available:
        return _in_progress("LessAvailable", f"Available: {available}/{desired}")
    if desired > ready:
        return _in_progress("LessReady", f"Ready: {ready}/{desired}")
    return _current(f"All replicas scheduled as expected. Replicas: {desired}")


def _pvc(obj: dict, now: float) -> Result:
    phase = get_str(obj, ".status.phase", "unknown")
    if phase != "Bound":
        return _in_progress("NotBound", f"PVC is not Bound. phase: {phase}")
    return _current("PVC is Bound")


def _pod(obj: dict, now: float) -> Result:
    conditions = conditions_of(obj)
    phase = get_str(obj, ".status.phase", "")
    if phase == "Succeeded":
        return _current("Pod has completed successfully")
    if phase == "Failed":
        return _current("Pod has completed, but not successfully")
    if phase == "Running":
        if _with_status(conditions, "Ready", "True"):
            return _current("Pod is Ready")
        looping = _crash_looping(obj)
        if looping:
            return _failed("ContainerCrashLooping", f"Containers in CrashLoop state: {','.join(looping)}")
        return _in_progress("PodRunningNotReady", "Pod is running but is not Ready")
    if phase == "Pending":
        scheduled = _with_status(conditions, "PodScheduled", "False")
        if scheduled is not None and scheduled.reason == "Unschedulable":
            created = _rfc3339(get_str(obj, ".metadata.creationTimestamp", ""))  # unreadable: the zero time
            if created is not None and now - SCHEDULE_WINDOW < created:
                return _in_progress("PodNotScheduled", "Pod has not been scheduled", scheduled.since)
            return _failed("PodUnschedulable", "Pod could not be scheduled", scheduled.since)
        return _in_progress("PodPending", "Pod is in the Pending phase")
    if phase == "":
        return _in_progress("PodNotObserved", "Pod phase not available")
    raise _ComputeError(f"unknown phase {phase}")


_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")


def _rfc3339(text: str) -> float | None:
    """metav1.Time's reading: RFC 3339 or nothing (Python's fromisoformat takes more)."""
    return parse_time(text) if _RFC3339.fullmatch(text) else None


def _crash_looping(obj: dict) -> list[str]:
    """core.go getCrashLoopingContainers; where Go would panic on a wrong type, an error."""
    found, statuses = _nested(obj, ("status", "containerStatuses"))
    if not found:
        return []
    if not isinstance(statuses, list):
        raise _ComputeError(f".status.containerStatuses accessor error: {statuses!r} is of the type "
                            f"{_go_type(statuses)}, expected []interface {{}}")
    names = []
    for item in statuses:  # each type assertion where Go makes it: a wrong type there is an error
        if not isinstance(item, dict):
            _bad("an entry")
        if "name" not in item:
            continue
        name = item["name"] if isinstance(item["name"], str) else _bad("name")
        if "state" not in item:
            continue
        state = item["state"] if isinstance(item["state"], dict) else _bad("state")
        if "waiting" not in state:
            continue
        waiting = state["waiting"] if isinstance(state["waiting"], dict) else _bad("state.waiting")
        if "reason" not in waiting:
            continue
        reason = waiting["reason"] if isinstance(waiting["reason"], str) else _bad("state.waiting.reason")
        if reason == "CrashLoopBackOff":
            names.append(name)
    return names


def _bad(what: str):
    raise _ComputeError(f"status.containerStatuses: {what} is not of the type cli-utils reads")


def _pdb(obj: dict, now: float) -> Result:
    return _current("AllowedDisruptions has been computed.")


def _job(obj: dict, now: float) -> Result:
    parallelism = get_int(obj, ".spec.parallelism", 1)
    completions = get_int(obj, ".spec.completions", parallelism)
    succeeded = get_int(obj, ".status.succeeded", 0)
    active = get_int(obj, ".status.active", 0)
    failed = get_int(obj, ".status.failed", 0)
    started = get_str(obj, ".status.startTime", "")
    for c in conditions_of(obj):
        if c.type == "Complete" and c.status == "True":
            return _current(f"Job Completed. succeeded: {succeeded}/{completions}")
        if c.type == "Failed" and c.status == "True":
            return _failed("JobFailed", f"Job Failed. failed: {failed}/{completions}", c.since)
        if c.type == "Suspended" and c.status == "True":  # suspended jobs are not in progress
            return _current("Job is suspended")
    if started == "":
        return _in_progress("JobNotStarted", "Job not started")
    return _current(f"Job in progress. success:{succeeded}, active: {active}, failed: {failed}")


def _service(obj: dict, now: float) -> Result:
    if get_str(obj, ".spec.type", "ClusterIP") == "LoadBalancer" and get_str(obj, ".spec.clusterIP", "") == "":
        return _in_progress("NoIPAssigned", "ClusterIP not set. Service type: LoadBalancer")
    return _current("Service is ready")


def _crd(obj: dict, now: float) -> Result:
    for c in conditions_of(obj):
        if c.type == "NamesAccepted" and c.status == "False":
            return _failed(c.reason, c.message, c.since)
        if c.type == "Established":
            if c.status == "False" and c.reason != "Installing":
                return _failed(c.reason, c.message, c.since)
            if c.status == "True":
                return _current("CRD is established")
    return _in_progress("Installing", "Install in progress")


RULES = {  # core.go legacyTypes
    "Service": _service,
    "Pod": _pod,
    "Secret": _always_ready,
    "PersistentVolumeClaim": _pvc,
    "apps/StatefulSet": _statefulset,
    "apps/DaemonSet": _daemonset,
    "extensions/DaemonSet": _daemonset,
    "apps/Deployment": _deployment,
    "extensions/Deployment": _deployment,
    "apps/ReplicaSet": _replicaset,
    "extensions/ReplicaSet": _replicaset,
    "policy/PodDisruptionBudget": _pdb,
    "batch/CronJob": _always_ready,
    "ConfigMap": _always_ready,
    "batch/Job": _job,
    "apiextensions.k8s.io/CustomResourceDefinition": _crd,
}
ALWAYS_CURRENT = frozenset(k for k, rule in RULES.items() if rule is _always_ready)


# --- status.go --------------------------------------------------------------------------------


def _ready_condition(obj: dict) -> Result | None:
    for c in conditions_of(obj):
        if c.type != "Ready":
            continue
        if c.status == "True":
            return _current("Resource is Ready")
        if c.status in ("False", "Unknown"):
            return _in_progress(c.reason, c.message, c.since)
    return None


def compute(obj: dict, now: float) -> Result:
    """kstatus's status of one object as the API shows it (status included), at unix time
    `now`. Never raises: what cli-utils reports as an error is Unknown."""
    try:
        if not isinstance(obj, dict):
            raise _ComputeError(f"not an object: {_go_type(obj)}")
        result = _generic(obj)
        if result is not None:
            return result
        rule = RULES.get(_group_kind(obj))
        if rule is not None:
            return rule(obj, now)
        return _ready_condition(obj) or _current("Resource is current")
    except _ComputeError as err:
        return Result(UNKNOWN, str(err))


def evidence(obj: dict) -> list[str]:
    """What a controller wrote that a verdict can rest on: `status.observedGeneration`
    (against `metadata.generation`), the conditions, a phase. Empty: nothing at all, and a
    Current then says only that kstatus found nothing wrong."""
    status = obj.get("status") if isinstance(obj, dict) else None
    if not isinstance(status, dict):
        return []
    out = []
    observed = status.get("observedGeneration")
    if observed is not None:
        generation = (obj.get("metadata") or {}).get("generation") if isinstance(obj.get("metadata"), dict) else None
        out.append(f"observedGeneration {observed}" + (f" of generation {generation}" if generation is not None else ""))
    conditions = status.get("conditions")
    for c in conditions if isinstance(conditions, list) else []:
        if isinstance(c, dict) and c.get("type"):
            out.append(f"{c.get('type')}={c.get('status', '')}" + (f" ({c['reason']})" if c.get("reason") else ""))
    if isinstance(status.get("phase"), str):
        out.append(f"phase {status['phase']}")
    return out


# --- kinds: what the gate and `rollout health --kind` list -----------------------------------


@dataclass(frozen=True)
class Kind:
    kind: str | None  # None: a custom resource named by plural.version.group (its items carry their kind)
    group: str
    version: str
    plural: str
    namespaced: bool = True
    short: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return self.kind or f"{self.plural}.{self.version}.{self.group}"


KNOWN_KINDS = (
    Kind("Deployment", "apps", "v1", "deployments", short=("deploy",)),
    Kind("StatefulSet", "apps", "v1", "statefulsets", short=("sts",)),
    Kind("DaemonSet", "apps", "v1", "daemonsets", short=("ds",)),
    Kind("ReplicaSet", "apps", "v1", "replicasets", short=("rs",)),
    Kind("Pod", "", "v1", "pods", short=("po",)),
    Kind("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", short=("pvc",)),
    Kind("Service", "", "v1", "services", short=("svc",)),
    Kind("ConfigMap", "", "v1", "configmaps", short=("cm",)),
    Kind("Secret", "", "v1", "secrets"),
    Kind("Job", "batch", "v1", "jobs"),
    Kind("CronJob", "batch", "v1", "cronjobs", short=("cj",)),
    Kind("PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets", short=("pdb",)),
    Kind("CustomResourceDefinition", "apiextensions.k8s.io", "v1", "customresourcedefinitions", False, ("crd", "crds")),
    Kind("Application", "argoproj.io", "v1alpha1", "applications", short=("app", "apps")),
    Kind("Rollout", "argoproj.io", "v1alpha1", "rollouts", short=("ro",)),
    Kind("Kustomization", "kustomize.toolkit.fluxcd.io", "v1", "kustomizations", short=("ks",)),
    Kind("HelmRelease", "helm.toolkit.fluxcd.io", "v2", "helmreleases", short=("hr",)),
    Kind("GitRepository", "source.toolkit.fluxcd.io", "v1", "gitrepositories", short=("gitrepo",)),
)
_BY_NAME = {name.lower(): k for k in KNOWN_KINDS for name in (k.kind, k.plural, *k.short) if name}
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def resolve_kind(text: str) -> Kind:
    """`Deployment`, `deployments`, `deploy`, or a custom resource as kubectl names it
    fully: `PLURAL.VERSION.GROUP` (`rollouts.v1alpha1.argoproj.io`). ValueError otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a kind is a name such as Deployment, or PLURAL.VERSION.GROUP")
    known = _BY_NAME.get(text.strip().lower())
    if known is not None:
        return known
    plural, _, rest = text.strip().partition(".")
    version, _, group = rest.partition(".")
    if not (_DNS_LABEL.fullmatch(plural) and re.fullmatch(r"v[0-9]+((alpha|beta)[0-9]+)?", version) and group
            and all(_DNS_LABEL.fullmatch(part) for part in group.split("."))):
        known_names = ", ".join(k.kind for k in KNOWN_KINDS if k.kind)
        raise ValueError(f"unknown kind {text!r}: one of {known_names}, or a custom resource as "
                         "PLURAL.VERSION.GROUP (rollouts.v1alpha1.argoproj.io)")
    known = next((k for k in KNOWN_KINDS if (k.plural, k.group) == (plural, group)), None)
    return Kind(known.kind if known else None, group, version, plural, known.namespaced if known else True)


# --- revisionFrom: a field path whose value must hold the pin ---------------------------------


@dataclass(frozen=True)
class FieldPath:
    """A field path in the syntax the pins use (waves/pins/yaml_field.py):
    `spec.template.spec.containers[0].image`, `spec.template.spec.containers[name=web].image`."""

    text: str
    steps: tuple = ()

    def values(self, obj: object) -> list[object]:
        """Every value the path reaches (a `[key=value]` step may choose several entries: each
        counts); [] when it reaches nothing."""
        nodes = [obj]
        for step in self.steps:
            following = []
            for node in nodes:
                if isinstance(step, str) and isinstance(node, dict) and step in node:
                    following.append(node[step])
                elif isinstance(step, int) and isinstance(node, list) and step < len(node):
                    following.append(node[step])
                elif isinstance(step, tuple) and isinstance(node, list):
                    key, value = step
                    following += [n for n in node if isinstance(n, dict) and str(n.get(key)) == value]
            nodes = following
        return nodes


def parse_field_path(text: str) -> FieldPath:
    """Parse a field path; ValueError naming what is wrong."""
    from waves.pins.yaml_field import parse_field_path as steps

    if not isinstance(text, str) or not text.strip():
        raise ValueError("a field path such as spec.template.spec.containers[name=web].image")
    return FieldPath(text, tuple(steps(text)))


def holds(value: object, pin: str) -> bool:
    """Whether a value shows the pin: the value itself, or an image reference whose tag
    or digest is the pin (`registry/app:v1.4.2`, `app@sha256:...`, `app:v1.4.2@sha256:...`
    for either), or a revision as Flux writes one (`v1.4.2@sha1:...`). Never a substring:
    `app:v1.4.20` does not hold `v1.4.2`."""
    from waves.gates.revisions import matches

    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return False
    text = str(value)
    if text == pin:
        return True
    image, at, digest = text.partition("@")
    slash, colon = image.rfind("/"), image.rfind(":")
    tag = image[colon + 1:] if colon > slash else None
    bare = pin.partition(":")[2] if pin.startswith("sha256:") else pin
    if at and digest.partition(":")[2] == bare:
        return True
    if tag is not None and (tag == pin or matches(pin, tag)):
        return True
    return "/" not in text and ":" not in image and matches(pin, text)


# --- the gate ---------------------------------------------------------------------------------


class KStatusGateConfig(BaseModel):
    model_config = STRICT

    context: str | None = Field(default=None, description="kubeconfig context of the cluster's API, usually '{cluster}'.")
    namespace: str = Field(default="default", description="Namespace of the objects (a template).")
    selector: str | None = Field(
        default=None, description="Label selector in kubectl's syntax (a template), e.g. 'app=web'; none: every object.")
    kinds: tuple[str, ...] = Field(
        default=("Deployment", "StatefulSet", "DaemonSet"), min_length=1,
        description="Kinds to list: Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, PersistentVolumeClaim, Job, "
        "PodDisruptionBudget, CustomResourceDefinition, Rollout, Kustomization, HelmRelease, GitRepository, or "
        "PLURAL.VERSION.GROUP for a custom resource.")
    revisionFrom: str | None = Field(
        default=None, description="Field path whose value must hold the pin in every object, e.g. "
        "spec.template.spec.containers[0].image; without it, a revision-aware gate (argocd, flux, fleet) must "
        "share the wave.")
    settle: Duration = Field(
        default=30, description="How long kstatus's Failed must last (since the wave's advance at the earliest) "
        "before it counts as a failure.")

    TEMPLATES: ClassVar[tuple[str, ...]] = ("context", "namespace", "selector")  # filled in per cluster

    @field_validator("context", "namespace")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from waves.selectors import parse_selector

        check_template(value)
        parse_selector(re.sub(r"\{[^{}]*\}", "x", value))  # the placeholders filled: is it a selector?
        return value

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        for text in kinds:
            kind = resolve_kind(text)
            if kind.kind == "Application":
                raise ValueError("Application: kstatus cannot read an Argo CD Application (no observedGeneration, "
                                 "no kstatus conditions): use the argocd gate")
            key = f"{kind.group}/{kind.kind}" if kind.group else str(kind.kind)
            if key in ALWAYS_CURRENT or kind.kind == "Service":
                raise ValueError(f"{kind.kind}: kstatus judges it Current without reading any status, so the gate "
                                 "could never see it pass (Current with no evidence is unknown)")
        return kinds

    @field_validator("revisionFrom")
    @classmethod
    def _revision_from(cls, value: str | None) -> str | None:
        if value is not None:
            parse_field_path(value)
        return value

    def resolved_kinds(self) -> list[Kind]:
        return [resolve_kind(k) for k in self.kinds]


class KStatusGate(BaseModel):
    model_config = STRICT

    kstatus: KStatusGateConfig


REVISION_AWARE = ("argocd", "flux", "fleet")  # gates that compare the pin themselves


def gate_problems(spec) -> list[Problem]:
    """A kstatus gate without `revisionFrom` shows only that the objects are healthy,
    which they were before the advance too: it must share its wave with a gate that
    compares the pin (argocd, flux, fleet). `spec` is a PolicySpec; one problem per such gate."""
    problems = []
    places = [(("spec", "gates"), spec.gates, any(w.gates is None for w in spec.waves))]  # used by a wave?
    places += [(("spec", "waves", i, "gates"), w.gates, True) for i, w in enumerate(spec.waves) if w.gates is not None]
    for loc, gates, used in places:
        if not used:
            continue
        names = [next(iter(type(g).model_fields)) for g in gates]
        if any(n in REVISION_AWARE for n in names):
            continue
        for index, gate in enumerate(gates):
            config = getattr(gate, "kstatus", None)
            if config is not None and config.revisionFrom is None:
                problems.append(Problem(
                    "a kstatus gate without revisionFrom could pass on the old revision (the objects were healthy "
                    "before the advance too): set revisionFrom to a field that holds the pin (e.g. "
                    "spec.template.spec.containers[0].image), or add an argocd, flux or fleet gate to the same gates",
                    (*loc, index, "kstatus")))
    return problems


@dataclass
class Observed:
    """One object the gate judged: kstatus's result, and what the gate makes of it."""

    obj: dict
    result: Result
    at_pin: bool | None  # None: no revisionFrom
    shown: list = field(default_factory=list)  # the values revisionFrom reached

    @property
    def name(self) -> str:
        metadata = self.obj.get("metadata") if isinstance(self.obj.get("metadata"), dict) else {}
        return f"{_kind(self.obj) or 'object'}/{metadata.get('name', '?')}"


def judge(objects: list[dict], revision: str, revision_from: str | None, now: float, settle: float,
          advanced_at: float | None = None, what: str = "objects") -> Verdict:
    """A cluster's verdict from the objects the gate listed there.

    failed: an object at the pin that kstatus says is Failed, for `settle` or longer (from
    the condition's lastTransitionTime, never before the wave's advance `advanced_at`);
    pending: an object not (yet) at the pin, or InProgress, Terminating, Unknown, or Failed
    still settling; unknown: nothing listed, an object whose revisionFrom reaches nothing,
    or Current with no evidence at all; passed: every object Current, with evidence, at
    the pin. `what` names the selection in the reasons."""
    if not objects:
        return Verdict(state="unknown", reason=f"no {what}: nothing to judge (an empty selection never passes)")
    path = parse_field_path(revision_from) if revision_from else None
    judged = []
    for obj in objects:
        shown = path.values(obj) if path else []
        at_pin = None if path is None else bool(shown) and all(holds(v, revision) for v in shown)
        judged.append(Observed(obj, compute(obj, now), at_pin, shown))
    failed, pending, unknown = [], [], []
    for o in judged:
        if path is not None and not o.shown:
            unknown.append(f"{o.name}: {revision_from} reaches nothing: cannot tell its revision")
        elif o.at_pin is False:
            pending.append(f"{o.name}: {revision_from} is {', '.join(map(str, o.shown))}, not yet {revision}")
        elif o.result.status == FAILED:
            since = [t for t in (parse_time(o.result.since), advanced_at) if t is not None]
            age = now - max(since) if since else None
            words = f"Failed ({o.result.reason}): {o.result.message}"
            detail = o.result.conditions[0].message if o.result.conditions else ""
            if detail and detail != o.result.message:  # the object's own words (a Deployment's condition)
                words += f": {detail}"
            if age is not None and age < settle:
                pending.append(f"{o.name}: {words}, for {age:.0f}s (settling)")
            else:
                failed.append(f"{o.name}: {words}")
        elif o.result.status != CURRENT:
            reason = f" ({o.result.reason})" if o.result.reason else ""
            pending.append(f"{o.name}: {o.result.status}{reason}: {o.result.message}")
        elif not evidence(o.obj):
            unknown.append(f"{o.name}: Current with no evidence (no status.conditions, no status.observedGeneration)")
    for state, reasons in (("failed", failed), ("pending", pending), ("unknown", unknown)):
        if reasons:
            more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
            return Verdict(state=state, reason=reasons[0] + more)
    pinned = f" at {revision}" if path is not None else ""
    return Verdict(state="passed", reason=f"{len(judged)} {what} Current{pinned}")
