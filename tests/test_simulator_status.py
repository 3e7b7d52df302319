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
        (115, "OutOfSync", "Missing", "Running"),  # later sync waves not created yet
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


def test_argo_timeline_is_judged_pending_until_healthy_and_a_running_sync_is_never_failed():
    from waves.gates.argocd import judge

    for at in range(100, 140):
        status = argo(at)
        verdict = judge({"spec": obj().spec, "status": status}, "v2", now=at).state
        assert verdict == ("passed" if at >= 130 else "pending"), (at, status["health"], verdict)


def test_argo_multi_source_application_compares_and_syncs_each_pinned_source():
    from waves.gates.argocd import judge

    multi = obj()
    multi.spec = {"sources": [{"repoURL": "https://charts.example.com", "chart": "app", "targetRevision": "19.1.0"},
                              {"repoURL": "https://github.com/example/fleet.git", "targetRevision": "v2", "ref": "values"}]}
    stale, done = argo_status(multi, 105, TIMING, [], 0.0), argo_status(multi, 135, TIMING, [], 0.0)
    assert [s["targetRevision"] for s in stale["operationState"]["syncResult"]["sources"]] == ["19.1.0", "v1"]
    assert [s["targetRevision"] for s in done["sync"]["comparedTo"]["sources"]] == ["19.1.0", "v2"]
    assert done["sync"]["revisions"] == ["new", "new"] and done["operationState"]["syncResult"]["revision"] == ""
    assert judge({"spec": multi.spec, "status": stale}, "v2", sources=[1], now=105).state == "pending"
    assert judge({"spec": multi.spec, "status": done}, "v2", sources=[1], now=135).state == "passed"


def test_argo_comparison_error_fault_fails_after_the_settle_time():
    from waves.gates.argocd import judge

    status = argo(125, "prod-eu-west:comparison-error@v2")
    assert status["sync"]["status"] == "Unknown" and "app path does not exist" in status["conditions"][0]["message"]
    assert judge({"spec": obj().spec, "status": status}, "v2", now=115, settle=10).state == "pending"
    assert judge({"spec": obj().spec, "status": status}, "v2", now=125, settle=10).state == "failed"


def test_flux_helmrelease_follows_helm_controller_v2_history_only():
    from waves.gates.flux import judge

    helm = obj("HelmRelease")
    stale = flux_status(helm, 105, TIMING, [])
    assert stale["observedGeneration"] == 1 and "lastAppliedRevision" not in stale
    assert stale["history"][0]["chartVersion"] == "v1"
    done = flux_status(helm, 135, TIMING, [])
    assert done["history"][0] == {**done["history"][0], "chartVersion": "v2", "status": "deployed"}
    body = lambda status: {"metadata": {"generation": 2}, "status": status}  # noqa: E731
    assert [judge(body(flux_status(helm, t, TIMING, [])), "v2").state for t in (105, 115, 125, 135)] == \
        ["pending", "pending", "pending", "passed"]
    degraded = flux_status(helm, 135, TIMING, [parse_fault("prod-eu-west:degraded@v2")])
    assert {c["type"]: c["reason"] for c in degraded["conditions"]} == {"Stalled": "RetriesExceeded",
                                                                        "Ready": "UpgradeFailed"}
    assert judge(body(degraded), "v2").state == "failed"


def test_flux_kustomization_failure_keeps_retrying_pending_as_kustomize_controller_does():
    from waves.gates.flux import judge

    kustomization = obj("Kustomization")
    done = flux_status(kustomization, 135, TIMING, [])
    assert done["lastAppliedRevision"] == "v2@sha1:new"
    failing = flux_status(kustomization, 135, TIMING, [parse_fault("prod-eu-west:degraded@v2")])
    assert {c["type"]: c["reason"] for c in failing["conditions"]} == {"Reconciling": "ProgressingWithRetry",
                                                                       "Ready": "HealthCheckFailed"}
    assert failing["observedGeneration"] == 1 and all(c["observedGeneration"] == 2 for c in failing["conditions"])
    assert judge({"metadata": {"generation": 2}, "status": failing}, "v2").state == "pending"  # until progressDeadline


@pytest.mark.parametrize("spec", ["x:melted", "x:degraded", "x:errors=1.5@v1", "x:unreachable@30s", "X:degraded@v1"])
def test_bad_fault_specs(spec):
    with pytest.raises(ValueError):
        parse_fault(spec)
