"""The simulated controllers' timelines, as pure functions of time."""

from __future__ import annotations

import pytest

from rollout.simulator.faults import parse_fault
from rollout.simulator.status import SimObject, Timing, argo_status, flux_status

TIMING = Timing(sync=10.0, health=10.0, jitter=0.0)


def obj(kind: str = "Application") -> SimObject:
    return SimObject("prod-eu-west", "hub", "argoproj.io", "v1alpha1", kind, "applications", "argocd", "app",
                     desired="v2", commit="new", changed_at=100.0, previous="v1", previous_commit="old",
                     spec={"source": {"targetRevision": "v2"}}, generation=2)


def argo(at: float, *faults: str) -> dict:
    return argo_status(obj(), at, TIMING, [parse_fault(f) for f in faults], started=0.0)


@pytest.mark.parametrize(
    "at, sync, health, operation",
    [
        (105, "OutOfSync", "Healthy", "Succeeded"),  # stale: the old revision's health and operation
        (115, "OutOfSync", "Progressing", "Running"),
        (125, "Synced", "Progressing", "Succeeded"),
        (135, "Synced", "Healthy", "Succeeded"),
    ],
)
def test_argo_timeline(at, sync, health, operation):
    status = argo(at)
    assert (status["sync"]["status"], status["health"]["status"], status["operationState"]["phase"]) == (sync, health, operation)
    assert status["sync"]["comparedTo"]["source"]["targetRevision"] == "v2"
    stale = at < 110
    assert status["operationState"].get("syncResult", {}).get("source", {}).get("targetRevision", "v2") == ("v1" if stale else "v2")


def test_argo_faults():
    assert argo(135, "prod-eu-west:degraded@v2")["health"]["status"] == "Degraded"
    assert argo(135, "prod-eu-west:degraded@v3")["health"]["status"] == "Healthy"  # only at its revision
    failed = argo(125, "prod-eu-west:sync-failed@v2")
    assert failed["operationState"]["phase"] == "Failed" and failed["sync"]["status"] == "OutOfSync"
    assert failed["conditions"][0]["type"] == "SyncError"
    unreachable = argo(50, "prod-eu-west:unreachable@30s-90s")
    assert unreachable["health"]["status"] == "Unknown" and unreachable["conditions"][0]["type"] == "ComparisonError"
    assert argo(95, "prod-eu-west:unreachable@30s-90s")["health"]["status"] == "Healthy"


def test_flux_timeline_and_faults():
    helm = obj("HelmRelease")
    stale = flux_status(helm, 105, TIMING, [])
    assert stale["observedGeneration"] == 1 and stale["lastAppliedRevision"] == "v1@sha1:old"
    syncing = flux_status(helm, 115, TIMING, [])
    assert syncing["observedGeneration"] == 2 and syncing["conditions"][0]["status"] == "Unknown"
    done = flux_status(helm, 135, TIMING, [])
    assert done["conditions"][0]["status"] == "True" and done["lastAppliedRevision"] == "v2@sha1:new"
    degraded = flux_status(helm, 135, TIMING, [parse_fault("prod-eu-west:degraded@v2")])
    assert (degraded["conditions"][0]["status"], degraded["conditions"][0]["reason"]) == ("False", "HealthCheckFailed")
    failed = flux_status(helm, 135, TIMING, [parse_fault("prod-eu-west:sync-failed@v2")])
    assert failed["conditions"][0]["reason"] == "ReconciliationFailed" and failed["lastAppliedRevision"] == "v1@sha1:old"


@pytest.mark.parametrize("spec", ["x:melted", "x:degraded", "x:errors=1.5@v1", "x:unreachable@30s", "X:degraded@v1"])
def test_bad_fault_specs(spec):
    with pytest.raises(ValueError):
        parse_fault(spec)
