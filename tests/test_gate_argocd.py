"""The Argo CD verdict on Application fixtures named by outcome (gitops-engine style),
each following an object of argoproj/argo-cd or gitops-engine test data or docs."""

from __future__ import annotations

import pytest

from tests.gate_fixtures import fixtures, load
from waves.gates.argocd import judge

ARGOCD = fixtures("argocd")


def test_there_are_enough_fixtures_and_each_names_its_upstream():
    assert len(ARGOCD) >= 20
    for path in ARGOCD:
        header, _ = load(path)
        assert header["upstream"] and all(line.split()[0].count("/") == 1 for line in header["upstream"]), path.name
        assert path.stem.endswith(header["expect"]), f"{path.name}: file name and header disagree"


@pytest.mark.parametrize("path", ARGOCD, ids=lambda p: p.stem)
def test_verdict(path):
    header, app = load(path)
    verdict = judge(app, header["pin"], sources=header["sources"], now=header["now"])
    assert verdict.state == header["expect"], f"{verdict.reason} ({header['why']})"


def test_stale_healthy_status_of_the_previous_revision_never_passes():
    header, app = load(next(p for p in ARGOCD if "previous-revision" in p.name))
    assert judge(app, header["pin"], now=header["now"]).state == "pending"
    previous = app["status"]["sync"]["comparedTo"]["source"]["targetRevision"]
    assert judge(app, previous, now=header["now"]).state == "passed"  # healthy, for the revision it runs


def test_a_multi_source_application_passes_only_when_every_pinned_source_is_compared_at_the_pin():
    header, app = load(next(p for p in ARGOCD if "multi-source-all-pinned" in p.name))
    assert judge(app, header["pin"], sources=[0, 1, 2, 3], now=header["now"]).state == "passed"
    compared = app["status"]["sync"]["comparedTo"]["sources"]
    for index in range(len(compared)):
        stale = {**app, "status": {**app["status"], "sync": {**app["status"]["sync"], "comparedTo": {
            **app["status"]["sync"]["comparedTo"],
            "sources": [dict(s, targetRevision="v0.0.1") if i == index else s for i, s in enumerate(compared)]}}}}
        assert judge(stale, header["pin"], sources=[0, 1, 2, 3], now=header["now"]).state == "pending", index


def test_error_conditions_fail_only_after_the_settle_time():
    header, app = load(next(p for p in ARGOCD if "app-path-missing" in p.name))
    condition = next(c for c in app["status"]["conditions"] if c["type"] == "ComparisonError")
    from waves.gates.verdict import parse_time

    since = parse_time(condition["lastTransitionTime"])
    assert judge(app, header["pin"], now=since + 5, settle=10).state == "pending"
    assert judge(app, header["pin"], now=since + 11, settle=10).state == "failed"


def test_a_degraded_health_left_from_the_previous_revision_is_no_evidence_against_the_pin():
    """Compared to the pin, OutOfSync, the last operation for the previous revision: the
    Degraded health is the old revision's (perhaps the breakage the pin fixes)."""
    header, app = load(next(p for p in ARGOCD if "previous-revision" in p.name))
    app["status"]["health"] = {"status": "Degraded", "message": "Deployment \"guestbook-ui\" exceeded its progress deadline"}
    app["status"]["sync"]["comparedTo"]["source"]["targetRevision"] = header["pin"]
    app["status"]["sync"]["status"] = "OutOfSync"
    app["status"]["sync"]["revision"] = "5e2b1c0d9a8f7e6d5c4b3a29180716f5e4d3c2b1"  # the pin's commit, not synced yet
    verdict = judge(app, header["pin"], now=header["now"] + 3600)
    assert verdict.state == "pending" and "not yet of" in verdict.reason


def _with_image(app: dict, image: str) -> dict:
    """The fixture's Application as it would be with a kustomize image set in its source
    (spec, comparedTo and the last sync's result alike)."""
    import copy

    app = copy.deepcopy(app)
    for source in (app["spec"]["source"], app["status"]["sync"]["comparedTo"]["source"],
                   app["status"]["operationState"]["syncResult"]["source"]):
        source["kustomize"] = {"images": [image]}
    return app


def test_an_image_pin_inside_the_application_is_judged_by_that_field_not_the_commit():
    header, app = load(next(p for p in ARGOCD if p.name == "application-healthy-passed.yaml"))
    field = {("kustomize", "images", 0): "ghcr.io/example/guestbook:v2"}
    at_pin = _with_image(app, "ghcr.io/example/guestbook:v2")
    assert judge(at_pin, "v2", fields=field, now=header["now"]).state == "passed"
    before = _with_image(app, "ghcr.io/example/guestbook:v1")  # same commit, the previous image
    verdict = judge(before, "v2", fields=field, now=header["now"])
    assert verdict.state == "pending" and "not compared with the pinned kustomize/images/0" in verdict.reason
    # compared with the pin, but the last sync was of the previous image: its Degraded is no evidence
    stale = _with_image(app, "ghcr.io/example/guestbook:v1")
    stale["status"]["sync"]["comparedTo"]["source"]["kustomize"]["images"] = ["ghcr.io/example/guestbook:v2"]
    stale["status"]["sync"]["status"], stale["status"]["health"] = "OutOfSync", {"status": "Degraded"}
    assert judge(stale, "v2", fields=field, now=header["now"] + 3600).state == "pending"


def test_a_pin_in_files_the_source_reads_is_judged_by_the_commit_argo_cd_compared():
    header, app = load(next(p for p in ARGOCD if p.name == "application-healthy-passed.yaml"))
    compared = app["status"]["sync"]["revision"]
    assert judge(app, "v2.13.0", commits={"0" * 40, compared}, now=header["now"]).state == "passed"
    verdict = judge(app, "v2.13.0", commits={"0" * 40}, now=header["now"])  # Argo CD has not seen the advance yet
    assert verdict.state == "pending" and f"compared at commit {compared[:12]}" in verdict.reason
    degraded = {**app, "status": {**app["status"], "health": {"status": "Degraded"}}}
    assert judge(degraded, "v2.13.0", commits={compared}, now=header["now"] + 3600).state == "failed"
    assert judge(degraded, "v2.13.0", commits={"0" * 40}, now=header["now"] + 3600).state == "pending"
