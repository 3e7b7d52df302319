"""The Flux verdict, on fixtures named by outcome, and on the simulator's own objects."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from waves.gates.flux import judge

FIXTURES = Path(__file__).parent / "fixtures" / "gates" / "flux"
EXPECTED = {
    "helmrelease-ready.yaml": "passed",
    "helmrelease-stale-generation.yaml": "pending",
    "helmrelease-progressing.yaml": "pending",
    "helmrelease-health-check-failed.yaml": "failed",
    "helmrelease-stalled.yaml": "failed",
}


def test_every_fixture_has_an_expected_outcome():
    assert sorted(p.name for p in FIXTURES.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict(name):
    verdict = judge(yaml.safe_load((FIXTURES / name).read_text()), "6.7.1")
    assert verdict.state == EXPECTED[name], verdict.reason


@pytest.mark.parametrize("at, expected", [(105, "pending"), (115, "pending"), (125, "pending"), (135, "passed")])
def test_verdict_over_the_simulated_timeline_never_passes_early(at, expected):
    from rollout.simulator.status import SimObject, Timing, flux_status

    obj = SimObject("c", "c", "helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases", "podinfo", "podinfo",
                    desired="6.7.1", commit="new", changed_at=100.0, previous="6.7.0", previous_commit="old", generation=2)
    body = {"metadata": {"generation": 2}, "status": flux_status(obj, at, Timing(10.0, 10.0, 0.0), [])}
    assert judge(body, "6.7.1").state == expected
