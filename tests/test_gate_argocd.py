"""The Argo CD verdict, on Application fixtures named by outcome (gitops-engine style)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from waves.gates.argocd import judge

FIXTURES = Path(__file__).parent / "fixtures" / "gates" / "argocd"
EXPECTED = {
    "application-healthy.yaml": "passed",
    "application-progressing.yaml": "pending",
    "application-out-of-sync-stale-health.yaml": "pending",
    "application-previous-revision.yaml": "pending",
    "application-degraded.yaml": "failed",
    "application-sync-failed.yaml": "failed",
}


def test_every_fixture_has_an_expected_outcome():
    assert sorted(p.name for p in FIXTURES.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict(name):
    verdict = judge(yaml.safe_load((FIXTURES / name).read_text()), "v1.4.2")
    assert verdict.state == EXPECTED[name], verdict.reason


def test_stale_healthy_status_of_the_previous_revision_never_passes():
    app = yaml.safe_load((FIXTURES / "application-previous-revision.yaml").read_text())
    assert judge(app, "v1.4.2").state == "pending"
    assert judge(app, "v1.4.1").state == "passed"  # it is healthy, for the revision it runs
