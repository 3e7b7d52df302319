"""Whether a cluster is up, from its own source's condition: a pure function of the object
the hub listed (and, for Rancher Fleet, the time). docs/inventory.md, "Availability".

Each returns None when the cluster is available, else why it is not (one line). What a
source does not say is not guessed as "up": a ClusterProfile without ControlPlaneHealthy,
a ManagedCluster without ManagedClusterConditionAvailable, a Cluster API Cluster without
its Ready/Available condition, a Fleet agent that never checked in are all down. Argo CD
cluster Secrets carry no availability: always up.

Availability decides only what a wave pins (waves/state.py, `pinnable`), never what it
judges: a pinned cluster stays in its wave's gate whatever its source says later.
"""

from __future__ import annotations

from waves.durations import format_duration
from waves.gates.verdict import parse_time

CLUSTER_PROFILE_HEALTHY = "ControlPlaneHealthy"  # cluster-inventory-api ClusterConditionControlPlaneHealthy
MANAGED_CLUSTER_AVAILABLE = "ManagedClusterConditionAvailable"  # open-cluster-management-io/api cluster/v1
CAPI_READY = "Ready"  # cluster.x-k8s.io/v1beta1 status.conditions
CAPI_AVAILABLE = "Available"  # cluster.x-k8s.io/v1beta2 status.conditions (v1beta1: status.v1beta2.conditions)
CAPI_UP_PHASES = ("Provisioned",)  # Pending, Provisioning, Deleting, Failed, Unknown: not (yet, or any more) up
FLEET_OFFLINE_CHECKINS = 3  # rancher/fleet clustermonitor: offline after 3 check-in intervals


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _condition(conditions: object, kind: str) -> dict | None:
    for condition in conditions if isinstance(conditions, list) else ():
        if isinstance(condition, dict) and condition.get("type") == kind:
            return condition
    return None


def _said(condition: dict) -> str:
    """`False (ManagedClusterLeaseUpdateStopped: Registration agent stopped updating its lease.)`"""
    status = str(condition.get("status") or "no status")
    reason, message = condition.get("reason"), condition.get("message")
    detail = ": ".join(str(x) for x in (reason, message) if x)
    return f"{status} ({_one_line(detail)})" if detail else status


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _deleting(obj: dict) -> str | None:
    stamp = _mapping(obj.get("metadata")).get("deletionTimestamp")
    return f"being deleted (since {stamp})" if stamp else None


def _by_condition(obj: dict, conditions: object, kind: str) -> str | None:
    deleting = _deleting(obj)
    if deleting:
        return deleting
    condition = _condition(conditions, kind)
    if condition is None:
        return f"no {kind} condition"
    if condition.get("status") == "True":
        return None
    return f"{kind} is {_said(condition)}"


def cluster_profile(obj: dict) -> str | None:
    """ClusterProfile: status.conditions ControlPlaneHealthy True (False, Unknown or absent: down)."""
    return _by_condition(obj, _mapping(obj.get("status")).get("conditions"), CLUSTER_PROFILE_HEALTHY)


def managed_cluster(obj: dict) -> str | None:
    """ManagedCluster: ManagedClusterConditionAvailable True; False (OCM's `unavailable`
    taint) and Unknown or absent (its `unreachable` taint) are down."""
    return _by_condition(obj, _mapping(obj.get("status")).get("conditions"), MANAGED_CLUSTER_AVAILABLE)


def cluster_api(obj: dict) -> str | None:
    """Cluster API Cluster: phase Provisioned, and its summary condition True: v1beta2's
    `Available` (in v1beta2 objects status.conditions, in v1beta1 objects written by a
    v1.11+ controller status.v1beta2.conditions), else v1beta1's `Ready`."""
    deleting = _deleting(obj)
    if deleting:
        return deleting
    status = _mapping(obj.get("status"))
    phase = status.get("phase")
    if phase not in CAPI_UP_PHASES:
        return f"phase is {phase}" if phase else "no phase yet"
    if str(obj.get("apiVersion", "")).endswith("/v1beta1"):
        newer = _mapping(status.get("v1beta2")).get("conditions")
        if _condition(newer, CAPI_AVAILABLE) is not None:
            return _by_condition(obj, newer, CAPI_AVAILABLE)
        return _by_condition(obj, status.get("conditions"), CAPI_READY)
    return _by_condition(obj, status.get("conditions"), CAPI_AVAILABLE)


def fleet_cluster(obj: dict, now: float, checkin_interval: float) -> str | None:
    """Rancher Fleet Cluster: its agent checked in (status.agent.lastSeen) within three
    check-in intervals, as Fleet's own cluster monitor rules; never seen: not registered."""
    deleting = _deleting(obj)
    if deleting:
        return deleting
    seen = _mapping(_mapping(obj.get("status")).get("agent")).get("lastSeen")
    when = parse_time(seen)
    if when is None or when <= 0:
        return "its Fleet agent never checked in"
    threshold = FLEET_OFFLINE_CHECKINS * checkin_interval
    if now - when > threshold:
        return f"its Fleet agent last checked in {_ago(now - when)} ago (offline after {_ago(threshold)})"
    return None


def argocd_secret(obj: dict) -> str | None:
    """Argo CD cluster Secrets say nothing of the cluster's health: always up."""
    return None


def _ago(seconds: float) -> str:
    return format_duration(int(seconds))
