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

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def _jitter(obj: SimObject, timing: Timing) -> float:
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
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def argo_status(obj: SimObject, now: float, timing: Timing, faults: list[Fault], started: float) -> dict:
    source = dict(obj.spec.get("source") or {})
    where = phase(obj, now, timing)
    fault = next((f for f in faults if f.kind in ("degraded", "sync-failed") and f.applies(obj.desired)), None)
    unreachable = any(f.kind == "unreachable" and f.applies(None, now - started) for f in faults)
    new_source = {**source, "targetRevision": obj.desired}
    old_source = {**source, "targetRevision": obj.previous or obj.desired}
    done = obj.changed_at + (2 * timing.sync) * _jitter(obj, timing)
    status: dict = {"reconciledAt": _time(now), "sync": {"comparedTo": {"source": new_source,
                                                                       "destination": obj.spec.get("destination", {})}}}
    last_ok = {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
               "startedAt": _time(started), "finishedAt": _time(started),
               "syncResult": {"revision": obj.previous_commit or obj.commit, "source": old_source}}
    if unreachable:
        status["sync"]["status"] = "Unknown"
        status["health"] = {"status": "Unknown"}
        status["conditions"] = [{"type": "ComparisonError", "message": f"failed to connect to cluster {obj.cluster}: "
                                 "dial tcp: connect: connection refused", "lastTransitionTime": _time(now)}]
        return status
    if where == "stale":
        status["sync"].update(status="OutOfSync", revision=obj.commit)
        status["health"] = {"status": "Healthy"}
        status["operationState"] = last_ok
    elif where == "syncing" or (fault and fault.kind == "sync-failed" and where != "syncing"):
        status["sync"].update(status="OutOfSync", revision=obj.commit)
        status["health"] = {"status": "Progressing"}
        running = {"phase": "Running", "message": "one or more tasks are running", "startedAt": _time(now)}
        if fault and fault.kind == "sync-failed" and where != "syncing":
            running = {"phase": "Failed", "message": f"one or more objects failed to apply: simulated failure at {obj.desired}",
                       "startedAt": _time(done - timing.sync), "finishedAt": _time(done),
                       "syncResult": {"revision": obj.commit, "source": new_source}}
            status["conditions"] = [{"type": "SyncError", "message": running["message"], "lastTransitionTime": _time(done)}]
        status["operationState"] = running
    else:
        health = "Progressing" if where == "synced" else ("Degraded" if fault and fault.kind == "degraded" else "Healthy")
        status["sync"].update(status="Synced", revision=obj.commit)
        status["health"] = {"status": health}
        status["operationState"] = {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                                    "startedAt": _time(done - timing.sync), "finishedAt": _time(done),
                                    "syncResult": {"revision": obj.commit, "source": new_source}}
        status["history"] = [{"id": obj.generation, "revision": obj.commit, "deployedAt": _time(done), "source": new_source}]
    return status


def flux_status(obj: SimObject, now: float, timing: Timing, faults: list[Fault]) -> dict:
    where = phase(obj, now, timing)
    fault = next((f for f in faults if f.kind in ("degraded", "sync-failed") and f.applies(obj.desired)), None)
    applied_new = f"{obj.desired}@sha1:{obj.commit}"
    applied_old = f"{obj.previous or obj.desired}@sha1:{obj.previous_commit or obj.commit}"
    revision_key = "lastAppliedRevision"
    if where == "stale":
        ready = ("True", "ReconciliationSucceeded", f"Applied revision: {applied_old}")
        observed, applied = obj.generation - 1, applied_old
    elif where == "syncing":
        ready = ("Unknown", "Progressing", f"Reconciliation in progress: {applied_new}")
        observed, applied = obj.generation, applied_old
    elif fault and fault.kind == "sync-failed":
        ready = ("False", "ReconciliationFailed", f"simulated apply failure at {obj.desired}")
        observed, applied = obj.generation, applied_old
    elif where == "synced":
        ready = ("Unknown", "Progressing", f"Health check in progress: {applied_new}")
        observed, applied = obj.generation, applied_new
    elif fault and fault.kind == "degraded":
        ready = ("False", "HealthCheckFailed", f"health check failed after applying {applied_new}")
        observed, applied = obj.generation, applied_new
    else:
        ready = ("True", "ReconciliationSucceeded", f"Applied revision: {applied_new}")
        observed, applied = obj.generation, applied_new
    status = {
        "observedGeneration": observed,
        "conditions": [{"type": "Ready", "status": ready[0], "reason": ready[1], "message": ready[2],
                        "lastTransitionTime": _time(now if ready[0] != "True" else obj.changed_at),
                        "observedGeneration": observed}],
        revision_key: applied,
        "lastAttemptedRevision": applied_new if where != "stale" else applied_old,
    }
    if ready[1] == "Progressing":
        status["conditions"].append({"type": "Reconciling", "status": "True", "reason": "Progressing",
                                     "message": ready[2], "lastTransitionTime": _time(now)})
    return status
