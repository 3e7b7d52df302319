"""What the simulated controllers report, as pure functions of time.

An object's desired revision changes at `changed_at` (the simulator saw a new commit).
From then on, Argo CD shows (docs: ../shared/reference/formats.md):

  [0, sync)            OutOfSync against the new target; health and last operation are
                       still those of the *previous* revision (the stale-status trap of
                       Argo CD issue #29410: a gate must check the revision, not only health)
  [sync, 2*sync)       operation Running, health Progressing
  [2*sync, +health)    Synced, operation Succeeded at the new revision, health Progressing
  after                Healthy (Degraded under a `degraded` fault)

Flux shows the same timeline through `observedGeneration`, the Ready condition and
`lastAppliedRevision`. Offsets get a deterministic jitter per cluster and revision.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache


@dataclass(frozen=True)
class Timing:
    sync: float = 2.0  # seconds from a new commit to the sync starting, and the sync's length
    health: float = 2.0  # seconds from synced to healthy
    jitter: float = 0.5  # up to this fraction added to each delay, per cluster and revision


@dataclass
class Fault:
    cluster: str
    kind: str  # degraded | sync-failed | errors | unreachable
    revision: str | None = None  # only while the cluster runs this revision (None: any)
    error_rate: float = 0.0
    window: tuple[float, float] | None = None  # unreachable: seconds after start

    def applies(self, revision: str | None, elapsed: float | None = None) -> bool:
        if self.revision is not None and revision != self.revision:
            return False
        if self.window is not None and elapsed is not None:
            return self.window[0] <= elapsed < self.window[1]
        return True


@dataclass
class SimObject:
    """One Argo CD Application or Flux object the simulator serves."""

    cluster: str
    context: str  # kubeconfig context: "hub" or the cluster's name
    group: str
    version: str
    kind: str
    plural: str
    namespace: str
    name: str
    desired: str  # the pinned revision in Git now
    commit: str  # the Git commit it was read from
    changed_at: float  # when `desired` last changed (simulator clock)
    previous: str | None = None  # the revision before, for the stale-status window
    previous_commit: str | None = None
    spec: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    generation: int = 1
    resource_version: int = 1
    # True: the pin is this Application's targetRevision. False: the pin lives in files its
    # source reads (a kustomize image tag, say): it compares commits, its targetRevision stays.
    pins_revision: bool = True
    # A workload (Deployment, StatefulSet, DaemonSet) pinned by `kubernetes-image`: the path
    # to the pinned image in its document; `desired` is the whole image reference.
    image_path: tuple | None = None
    # A Rancher Fleet object (GitRepo, Bundle, BundleDeployment): what links it to its
    # GitRepo and bundle (rollout/simulator/rancher.py); `jitter: False` for the shared ones.
    fleet: dict | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def _jitter(obj: SimObject, timing: Timing) -> float:
    if obj.fleet is not None and obj.fleet.get("jitter") is False:
        return 1.0
    digest = hashlib.sha256(f"{obj.cluster}/{obj.name}/{obj.desired}".encode()).digest()
    return 1.0 + timing.jitter * digest[0] / 255


def phase(obj: SimObject, now: float, timing: Timing) -> str:
    """stale | syncing | synced | healthy, `now - changed_at` into the timeline."""
    elapsed = (now - obj.changed_at) / _jitter(obj, timing)
    if obj.previous is None or elapsed >= 2 * timing.sync + timing.health:
        return "healthy"
    if elapsed < timing.sync:
        return "stale"
    if elapsed < 2 * timing.sync:
        return "syncing"
    return "synced"


def _time(ts: float) -> str:
    return _second(int(ts))


@lru_cache(maxsize=4096)
def _second(ts: int) -> str:
    """RFC 3339, to the second (as Kubernetes writes it); cached: a list of 10,000
    objects formats the same few seconds 60,000 times."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sources(obj: SimObject, revision: str) -> dict:
    """`source` or `sources` as Argo CD shows them, with the pinned entries at `revision`
    (the live spec holds the new pin; an older status compared the previous one)."""
    if not obj.pins_revision:
        return {"sources": [dict(s) for s in obj.spec["sources"]]} if obj.spec.get("sources") else \
            {"source": dict(obj.spec.get("source") or {})}
    if obj.spec.get("sources"):
        return {"sources": [dict(s, targetRevision=revision) if s.get("targetRevision") == obj.desired else dict(s)
                            for s in obj.spec["sources"]]}
    return {"source": {**(obj.spec.get("source") or {}), "targetRevision": revision}}


def _sync_result(obj: SimObject, revision: str, commit: str, shown: dict | None = None) -> dict:
    shown = shown or _sources(obj, revision)
    if "sources" in shown:  # multi-source: `revision` is empty, the SHAs are in `revisions`
        return {"revision": "", "revisions": [commit] * len(shown["sources"]), **shown}
    return {"revision": commit, **shown}


def _operation(commit: str, count: int | None) -> dict:
    sync = {"revisions": [commit] * count} if count else {"revision": commit}
    return {"sync": sync, "initiatedBy": {"automated": True}, "retry": {"limit": 5}}


def argo_status(obj: SimObject, now: float, timing: Timing, faults: list[Fault], started: float) -> dict:
    where = phase(obj, now, timing)
    fault = next((f for f in faults if f.kind in ("degraded", "sync-failed", "comparison-error")
                  and f.applies(obj.desired)), None)
    unreachable = any(f.kind == "unreachable" and f.applies(None, now - started) for f in faults)
    count = len(obj.spec["sources"]) if obj.spec.get("sources") else None
    previous, previous_commit = obj.previous or obj.desired, obj.previous_commit or obj.commit
    done = obj.changed_at + (2 * timing.sync) * _jitter(obj, timing)
    new_sources = _sources(obj, obj.desired)  # computed once: shared read-only by the parts below
    status: dict = {"reconciledAt": _time(now), "sync": {"comparedTo": {**new_sources,
                                                                       "destination": obj.spec.get("destination", {})}}}
    def last_ok() -> dict:  # the previous revision's operation, as left before the new one
        return {"operation": _operation(previous_commit, count), "phase": "Succeeded",
                "message": "successfully synced (all tasks run)", "startedAt": _time(started),
                "finishedAt": _time(started), "syncResult": _sync_result(obj, previous, previous_commit)}
    revision_key = "revisions" if count else "revision"
    if unreachable:
        status["sync"]["status"] = "Unknown"
        status["health"] = {"status": "Unknown"}
        status["conditions"] = [{"type": "ComparisonError", "message": f"failed to connect to cluster {obj.cluster}: "
                                 "dial tcp: connect: connection refused", "lastTransitionTime": _time(now)}]
        return status
    if where != "stale" and fault and fault.kind == "comparison-error":
        # Manifest generation fails for the new revision: compared to it, status Unknown,
        # no revision resolved, the last (good) operation and health left as they were.
        status["sync"]["status"] = "Unknown"
        status["health"] = {"status": "Healthy"}
        status["operationState"] = last_ok()
        status["conditions"] = [{"type": "ComparisonError", "lastTransitionTime": _time(obj.changed_at + timing.sync),
                                 "message": "Failed to load target state: failed to generate manifest for source 1 of 1: "
                                 "rpc error: code = Unknown desc = Manifest generation error (cached): "
                                 f"{obj.spec.get('source', {}).get('path', 'app')}: app path does not exist"}]
        return status
    if where == "stale" and not obj.pins_revision:
        # Argo CD has not noticed the new commit yet: still Synced, at the previous one.
        status["sync"].update(status="Synced", **{revision_key: [previous_commit] * count if count else previous_commit})
        status["health"] = {"status": "Healthy"}
        status["operationState"] = last_ok()
    elif where == "stale":
        status["sync"].update(status="OutOfSync", **{revision_key: [obj.commit] * count if count else obj.commit})
        status["health"] = {"status": "Healthy"}
        status["operationState"] = last_ok()
    elif where == "syncing" or (fault and fault.kind == "sync-failed"):
        status["sync"].update(status="OutOfSync", **{revision_key: [obj.commit] * count if count else obj.commit})
        # Resources of later sync waves do not exist yet: Argo CD shows them Missing.
        status["health"] = {"status": "Missing"}
        operation = {"operation": _operation(obj.commit, count), "phase": "Running",
                     "message": "waiting for completion of hook batch/Job/db-migrate and 2 more resources",
                     "startedAt": _time(obj.changed_at + timing.sync * _jitter(obj, timing))}
        if fault and fault.kind == "sync-failed" and where != "syncing":
            operation.update(phase="Failed", message=f"one or more objects failed to apply, reason: simulated failure at {obj.desired}",
                             finishedAt=_time(done), syncResult=_sync_result(obj, obj.desired, obj.commit, new_sources))
            status["health"] = {"status": "Progressing"}
            status["conditions"] = [{"type": "SyncError", "message": operation["message"], "lastTransitionTime": _time(done)}]
        status["operationState"] = operation
    else:
        health = "Progressing" if where == "synced" else ("Degraded" if fault and fault.kind == "degraded" else "Healthy")
        status["sync"].update(status="Synced", **{revision_key: [obj.commit] * count if count else obj.commit})
        status["health"] = {"status": health}
        if health == "Degraded":
            status["health"]["message"] = "Deployment \"app\" exceeded its progress deadline"
        status["operationState"] = {"operation": _operation(obj.commit, count), "phase": "Succeeded",
                                    "message": "successfully synced (all tasks run)",
                                    "startedAt": _time(done - timing.sync), "finishedAt": _time(done),
                                    "syncResult": _sync_result(obj, obj.desired, obj.commit, new_sources)}
        status["history"] = [{"id": obj.generation, "deployedAt": _time(done),
                              **status["operationState"]["syncResult"]}]
    return status


def flux_status(obj: SimObject, now: float, timing: Timing, faults: list[Fault]) -> dict:
    """helm-controller v2 (a history, no lastAppliedRevision: it is deprecated; retries
    exhausted = Stalled) or kustomize-controller v1 (`<ref>@sha1:<sha>`; a failing
    reconcile keeps Reconciling=True/ProgressingWithRetry and its observedGeneration)."""
    where = phase(obj, now, timing)
    fault = next((f for f in faults if f.kind in ("degraded", "sync-failed") and f.applies(obj.desired)), None)
    helm = obj.kind == "HelmRelease"
    new = obj.desired if helm else f"{obj.desired}@sha1:{obj.commit}"
    old = (obj.previous or obj.desired) if helm else f"{obj.previous or obj.desired}@sha1:{obj.previous_commit or obj.commit}"
    generation = obj.generation
    changed = _time(obj.changed_at)

    def condition(kind, status, reason, message, observed=generation):
        return {"type": kind, "status": status, "reason": reason, "message": message,
                "lastTransitionTime": changed if kind == "Ready" and status == "True" else _time(now),
                "observedGeneration": observed}

    release = f"{obj.namespace}/{obj.name}.v{generation}"
    if where == "stale":
        observed, attempted, applied = generation - 1, old, old
        conditions = [condition("Ready", "True", "UpgradeSucceeded" if helm else "ReconciliationSucceeded",
                                f"Helm upgrade succeeded for release {obj.namespace}/{obj.name}.v{generation - 1} with chart "
                                f"{obj.name}@{old}" if helm else f"Applied revision: {old}", generation - 1)]
    elif where in ("syncing", "synced") and not (fault and fault.kind == "sync-failed" and where == "synced"):
        observed, attempted, applied = generation - 1, new, old if where == "syncing" else new
        message = ("Running 'upgrade' action with timeout of 5m0s" if helm else f"Reconciliation in progress: {new}")
        conditions = [condition("Reconciling", "True", "Progressing", message),
                      condition("Ready", "Unknown", "Progressing", message)]
    elif fault and helm:
        # helm-controller v2, default remediation (no retries): the upgrade failed, stalled.
        observed, attempted, applied = generation, new, None
        why = "health check failed" if fault.kind == "degraded" else "simulated apply failure"
        conditions = [condition("Stalled", "True", "RetriesExceeded", "Failed to upgrade after 1 attempt(s)"),
                      condition("Ready", "False", "UpgradeFailed",
                                f"Helm upgrade failed for release {release} with chart {obj.name}@{new}: {why}")]
    elif fault:
        observed, attempted, applied = generation - 1, new, old if fault.kind == "sync-failed" else new
        reason = "HealthCheckFailed" if fault.kind == "degraded" else "ReconciliationFailed"
        message = (f"health check failed after 30s: timeout waiting for: [Deployment/{obj.namespace}/app status: "
                   "'InProgress']" if fault.kind == "degraded" else f"simulated apply failure at {new}")
        conditions = [condition("Reconciling", "True", "ProgressingWithRetry", f"Detecting drift for revision {new}"),
                      condition("Ready", "False", reason, message)]
    else:
        observed, attempted, applied = generation, new, new
        conditions = [condition("Ready", "True", "UpgradeSucceeded" if helm else "ReconciliationSucceeded",
                                f"Helm upgrade succeeded for release {release} with chart {obj.name}@{new}" if helm
                                else f"Applied revision: {new}")]
    status = {"observedGeneration": observed, "conditions": conditions, "lastAttemptedRevision": attempted}
    if helm:
        history = [{"chartName": obj.name, "chartVersion": v, "name": obj.name, "namespace": obj.namespace,
                    "version": n, "status": state, "firstDeployed": changed, "lastDeployed": changed}
                   for v, n, state in ((applied, generation, "deployed"),) if v]
        if applied != old:
            history.append({"chartName": obj.name, "chartVersion": old, "name": obj.name, "namespace": obj.namespace,
                            "version": generation - 1, "status": "superseded", "firstDeployed": changed,
                            "lastDeployed": changed})
        if applied is None:
            history.insert(0, {"chartName": obj.name, "chartVersion": new, "name": obj.name, "namespace": obj.namespace,
                               "version": generation, "status": "failed", "firstDeployed": changed, "lastDeployed": changed})
        status["history"] = history
        status["lastAttemptedReleaseAction"] = "upgrade"
    else:
        status["lastAppliedRevision"] = applied
    return status


WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def workload(obj: SimObject, now: float, timing: Timing, faults: list[Fault]) -> tuple[dict, int, dict]:
    """(spec, metadata.generation, status) of a workload whose image the repo pins, as the
    GitOps controller applies it and the workload controllers roll it out:

      stale     the old image, the old generation: Current at the old revision
      syncing   the new image applied (generation + 1), not yet observed
      synced    observed; one new pod up, the old ones still serving: InProgress
      healthy   every replica updated and available: Current
      degraded  (fault) a Deployment's new ReplicaSet times out: ProgressDeadlineExceeded
                (Failed); a StatefulSet or DaemonSet stays rolling (InProgress)
      sync-failed  (fault) the apply fails: the old image stays
    """
    where = phase(obj, now, timing)
    fault = next((f for f in faults if f.kind in ("degraded", "sync-failed") and f.applies(obj.desired)), None)
    applied = where != "stale" and not (fault and fault.kind == "sync-failed")
    image = obj.desired if applied or obj.previous is None else obj.previous
    generation = obj.generation if applied else max(1, obj.generation - 1)
    spec = _set(obj.spec, obj.image_path[1:], image) if obj.image_path and obj.image_path[0] == "spec" else obj.spec
    replicas = spec.get("replicas", 1) if isinstance(spec.get("replicas", 1), int) else 1
    rolling = applied and (where == "synced" or (fault is not None and fault.kind == "degraded"))
    observed = generation - 1 if where == "syncing" and applied else generation
    done = _time(obj.changed_at + 2 * timing.sync * _jitter(obj, timing))
    revision = f"{obj.name}-{hashlib.sha256(image.encode()).hexdigest()[:10]}"
    if obj.kind == "Deployment":
        status = {"observedGeneration": observed, "replicas": replicas + 1 if rolling else replicas,
                  "updatedReplicas": 1 if rolling else replicas, "readyReplicas": replicas,
                  "availableReplicas": replicas}
        progressing = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                       "message": f'ReplicaSet "{revision}" has successfully progressed.', "lastTransitionTime": done}
        if rolling and fault is not None:
            progressing = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                           "message": f'ReplicaSet "{revision}" has timed out progressing.', "lastTransitionTime": done}
        elif rolling:
            progressing.update(reason="ReplicaSetUpdated", message=f'ReplicaSet "{revision}" is progressing.')
        status["conditions"] = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                 "message": "Deployment has minimum availability.", "lastTransitionTime": done},
                                progressing]
    elif obj.kind == "StatefulSet":
        old = f"{obj.name}-{hashlib.sha256((obj.previous or image).encode()).hexdigest()[:10]}"
        status = {"observedGeneration": observed, "replicas": replicas,
                  "readyReplicas": replicas - 1 if rolling else replicas,
                  "currentReplicas": replicas - 1 if rolling else replicas, "updatedReplicas": 1 if rolling else replicas,
                  "currentRevision": old if rolling else revision, "updateRevision": revision}
    else:  # DaemonSet: one pod a node, three nodes
        status = {"observedGeneration": observed, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
                  "updatedNumberScheduled": 1 if rolling else 3, "numberAvailable": 2 if rolling else 3,
                  "numberReady": 2 if rolling else 3}
    return spec, generation, status


def _set(node: dict, path: tuple, value):
    """A copy of `node` with `path` set to `value` (the parts on the way copied)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, list):
        copy = list(node)
        copy[head] = _set(node[head], rest, value)
        return copy
    return {**node, head: _set(node[head], rest, value)}
