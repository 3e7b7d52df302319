"""The plan of the waves out from their advance records (waves/recorded.py), pure: the
hub away mid-rollout. Each wave one number, so that nothing looked up by number (a
verdict, `gate --wave`, a revert) can take one wave for another."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from waves.decide import REVERT, Verdict, decide
from waves.inventory import Cluster
from waves.policy import RolloutPolicy
from waves.recorded import recorded_plan
from waves.state import Event, fold

POLICY = RolloutPolicy.model_validate(yaml.safe_load("""
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {name: p}
spec:
  revision: v2
  inventory: [{clusterProfiles: {context: hub, namespace: fleet-system}}]
  pin: [{preset: argocd-application, files: "apps/{cluster}.yaml"}]
  waves:
    - {name: canary, selector: {matchLabels: {environment: dev}}, bake: 1m}
    - {name: region, groupBy: region, after: [canary], bake: 1m}
  gates: [{argocd: {context: hub, namespace: argocd}}]
"""))


class Open:
    paused = False

    def window(self, wave):
        return type("Window", (), {"open": True})()


def test_two_waves_advanced_under_one_number_get_a_number_each_and_verdicts_never_cross():
    """region-us went out as wave 3; then a region `ap` appeared in the hub, shifting the
    waves after it, and region-eu went out as wave 3 too. With the hub away each gets a
    number of its own (a warning says why), and region-eu's failure reverts region-eu only."""
    events = [Event("A1", 1000, "advance", "p", "v2", "canary", ("dev1",), number=1),
              Event("V1", 1100, "verify", "p", "v2", "canary", advance="A1"),
              Event("A3", 1101, "advance", "p", "v2", "region-us", ("us1",), number=3),
              Event("V3", 1200, "verify", "p", "v2", "region-us", advance="A3"),
              Event("A3b", 1300, "advance", "p", "v2", "region-eu", ("eu1",), number=3)]
    clusters = {n: Cluster(n, {"environment": e, "region": r}) for n, e, r in
                [("dev1", "dev", "x"), ("us1", "prod", "us"), ("eu1", "prod", "eu")]}
    plan = recorded_plan(POLICY, events, clusters, "hub away")
    assert [(w.number, w.name, w.clusters) for w in plan.waves] == [
        (1, "canary", ["dev1"]), (4, "region-us", ["us1"]), (5, "region-eu", ["eu1"])]
    (warning,) = plan.warnings
    assert warning.message == ("waves region-us, region-eu were each advanced as wave 3 (the plan changed between "
                               "their advances): numbered 4, 5 while the inventory cannot be read; name them "
                               "(--wave NAME)")
    state = fold(plan, events, 1400)
    assert [(w.number, w.name, w.status) for w in state.waves] == [
        (1, "canary", "passed"), (4, "region-us", "passed"), (5, "region-eu", "verifying")]
    eu = plan.wave("region-eu").number  # `gate --wave region-eu`
    assert state.wave(eu).name == "region-eu" and state.wave(eu).advance_commit == "A3b"
    verdicts = {"region-us": Verdict("passed", "ok", "A3"), "region-eu": Verdict("failed", "eu1 degraded", "A3b")}
    numbered = {w.number: verdicts[w.name] for w in state.waves if w.name in verdicts}  # as Stepper.decide keys them
    actions = decide(plan, state, numbered, Open())
    assert [(a.kind, a.wave, a.name, a.advance) for a in actions] == [(REVERT, 5, "region-eu", "A3b")]


@given(st.lists(st.tuples(st.sampled_from(["canary", "region-a", "region-b", "region-c", "region-d"]),
                          st.one_of(st.none(), st.integers(1, 4))), min_size=1, max_size=8))
@settings(deadline=None)
def test_every_recorded_wave_has_a_number_of_its_own(advances):
    """Whatever numbers the advances recorded (the same one for two waves, or none): the
    waves are the ones advanced, each under one number; a number only one wave recorded is
    kept; a fresh one is none that any advance recorded."""
    events = [Event(f"A{i}", 1000 + i, "advance", "p", "v2", name, (f"{name}-{i}",), number=number)
              for i, (name, number) in enumerate(advances)]
    clusters = {e.clusters[0]: Cluster(e.clusters[0], {"environment": "dev", "region": e.wave}) for e in events}
    plan = recorded_plan(POLICY, events, clusters, "hub away")
    numbers = [w.number for w in plan.waves]
    assert len(numbers) == len(set(numbers))
    assert [w.name for w in plan.waves] == list(dict.fromkeys(name for name, _ in advances))
    first = {}
    for name, number in advances:
        if number is not None:
            first.setdefault(name, number)
    for wave in plan.waves:
        shared = [n for n, number in first.items() if number == first.get(wave.name)]
        if wave.name in first and shared == [wave.name]:
            assert wave.number == first[wave.name]
        else:
            assert wave.number not in first.values()
    state = fold(plan, events, 5000)
    assert all(state.wave(w.number).name == w.name for w in plan.waves)
    assert bool(plan.warnings) == (len(set(first.values())) < len(first))


def test_the_fields_a_wave_s_clusters_share_are_known_from_the_records_too():
    """With the hub away, a failed late join on a field its wave's own advance pinned must
    still halt rather than revert nothing (waves/decide.py: inseparable): the recorded
    plan knows the wave's shared fields, as the planner does."""
    policy = RolloutPolicy.model_validate(yaml.safe_load("""
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {name: p}
spec:
  revision: v2
  inventory: [{clusterProfiles: {context: hub, namespace: fleet-system}}]
  pin: [{preset: yaml-field, files: "values/{labels.env}.yaml", field: image.tag}]
  waves:
    - {name: canary, selector: {matchLabels: {env: dev}}, bake: 1m}
  gates: [{argocd: {context: hub, namespace: argocd}}]
"""))
    events = [Event("A1", 1000, "advance", "p", "v2", "canary", ("a",), number=1),
              Event("J1", 1100, "advance", "p", "v2", "canary", ("b",), number=1)]
    clusters = {n: Cluster(n, {"env": "dev"}) for n in "ab"}
    plan = recorded_plan(policy, events, clusters, "hub away")
    assert [(s.file, s.field, s.clusters) for s in plan.wave(1).shared] == [("values/dev.yaml", "image.tag", ("a", "b"))]
    state = fold(plan, events, 1200)
    (halt,) = decide(plan, state, {}, Open(), joins={"J1": Verdict("failed", "b: Degraded", "J1")})
    assert (halt.kind, halt.advance) == ("halt", "J1") and "values/dev.yaml image.tag with a" in halt.reason
