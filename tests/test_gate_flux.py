"""The Flux verdict on fixtures named by outcome, each following an object of
fluxcd's controllers' docs or test data, and on the simulator's own objects."""

from __future__ import annotations

import pytest

from tests.gate_fixtures import fixtures, load
from waves.gates.flux import judge

FLUX = fixtures("flux")


def test_there_are_enough_fixtures_and_each_names_its_upstream():
    assert len(FLUX) >= 14
    for path in FLUX:
        header, _ = load(path)
        assert header["upstream"], path.name
        assert path.stem.endswith(header["expect"]), f"{path.name}: file name and header disagree"


@pytest.mark.parametrize("path", FLUX, ids=lambda p: p.stem)
def test_verdict(path):
    header, obj = load(path)
    verdict = judge(obj, header["pin"])
    assert verdict.state == header["expect"], f"{verdict.reason} ({header['why']})"


@pytest.mark.parametrize("at, expected", [(105, "pending"), (115, "pending"), (125, "pending"), (135, "passed")])
def test_verdict_over_the_simulated_timeline_never_passes_early(at, expected):
    from rollout.simulator.status import SimObject, Timing, flux_status

    obj = SimObject("c", "c", "helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases", "podinfo", "podinfo",
                    desired="6.7.1", commit="new", changed_at=100.0, previous="6.7.0", previous_commit="old", generation=2)
    body = {"metadata": {"generation": 2}, "status": flux_status(obj, at, Timing(10.0, 10.0, 0.0), [])}
    assert judge(body, "6.7.1").state == expected


def test_a_stalled_condition_for_the_current_generation_fails_although_status_observed_generation_lags():
    """kustomize-controller moves status.observedGeneration only on success (its docs'
    failed example: status 2, conditions 3)."""
    header, obj = load(next(p for p in FLUX if "kustomization-stalled" in p.name))
    generation = obj["metadata"]["generation"]
    obj["status"]["observedGeneration"] = generation - 1
    for condition in obj["status"]["conditions"]:
        condition["observedGeneration"] = generation
    assert judge(obj, header["pin"]).state == "failed"
    for condition in obj["status"]["conditions"]:
        condition["observedGeneration"] = generation - 1
    assert judge(obj, header["pin"]).state == "pending"


@pytest.mark.parametrize("pin, applied, expected", [
    ("main", "main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738", True),
    ("5394cb7", "main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738", True),
    ("5394cb", "main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738", False),  # under 7: never a SHA
    ("5394cb7f48332b2de7c17dd8b8384bbc84b7e738", "sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738", True),
    ("master", "master/5394cb7f48332b2de7c17dd8b8384bbc84b7e738", True),
    ("main", "refs/heads/main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738", True),
    ("latest", "latest@sha256:" + "ab" * 32, True),
    ("latest", "latest/" + "ab" * 32, True),
    ("sha256:" + "ab" * 32, "ab" * 32, True),
    ("6.6.1", "6.6.1+a0c0da1aeb8b", True),
    ("6.6.1+a0c0da1aeb8b", "6.6.1+a0c0da1aeb8b", True),
    ("6.6.1+ffffffffffff", "6.6.1+a0c0da1aeb8b", False),
    ("6.6", "6.6.1", False),
    ("4.0.x", "4.0.7", True), ("4.0.x", "4.1.0", False),
    (">=1.2 <2", "1.9.9", True), (">=1.2 <2", "2.0.0", False), (">=1.2, <2", "1.2.0", True),
    ("^1.2", "1.5.0", True), ("~1.2.3", "1.2.9", True), ("~1.2.3", "1.3.0", False),
    ("v1.4.2", "v1.4.1@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738", False),
    ("main", "mainline@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738", False),
])
def test_revision_formats_flux_writes_match_the_pin(pin, applied, expected):
    from waves.gates.revisions import matches

    assert matches(pin, applied) is expected


def test_a_range_pin_admits_exactly_the_versions_in_the_range():
    """Property: `>=a.b.c <A` (also written with a comma, or a `v` on the applied
    version) admits a version exactly when a.b.c <= it < A.0.0, compared as numbers."""
    from hypothesis import given, strategies as st

    from waves.gates.revisions import matches

    part = st.integers(0, 12)

    @given(st.tuples(part, part, part), st.tuples(part, part, part), st.sampled_from([" ", ", "]), st.booleans())
    def check(low, version, separator, prefixed):
        pin = f">={'.'.join(map(str, low))}{separator}<{low[0] + 1}"
        applied = ("v" if prefixed else "") + ".".join(map(str, version))
        assert matches(pin, applied) == (low <= version < (low[0] + 1, 0, 0)), (pin, applied)

    check()
