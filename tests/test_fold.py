"""The state fold (waves/state.py) on events as the shell reads them from several refs:
HEAD and rollout/records, whose commits come from different clocks (a forge's merge, the
runner's record), so their order in the list is not causal."""

from __future__ import annotations

from hypothesis import given, strategies as st

from waves.state import Event, fold

T0 = 1_800_000_000


def _plan():
    from pathlib import Path

    from rollout.workspace import load_workspace

    return load_workspace(Path(__file__).resolve().parents[1] / "examples" / "fleet-config", "security-patch").plan


PLAN = _plan()


def event(action: str, wave: str, time: int, commit: str, clusters=()) -> Event:
    return Event(commit, time, action, PLAN.policy, PLAN.revision, wave, tuple(clusters))


@given(skew=st.integers(min_value=-5, max_value=5), verify_first=st.booleans())
def test_a_gate_record_counts_wherever_it_sorts_against_its_advance(skew, verify_first):
    """The forge merged the advance at T0 (its clock); the runner recorded the gates' pass
    once the bake was over by its clock, which may be `skew` seconds behind the forge's (it
    waited that much longer): read in either order, the wave has passed, once."""
    wave = PLAN.waves[0]
    advance = event("advance", wave.name, T0, "a" * 40, wave.clusters)
    verify = event("verify", wave.name, T0 + wave.bake_seconds + abs(skew), "b" * 40)
    events = [verify, advance] if verify_first else [advance, verify]
    state = fold(PLAN, events, T0 + wave.bake_seconds + 10).wave(wave.number)
    assert (state.status, state.verify_commit, state.advance_commit) == ("passed", "b" * 40, "a" * 40)


@given(same_time=st.booleans())
def test_one_advance_reaching_the_branch_as_two_commits_is_no_late_join(same_time):
    """GitLab's squash-and-merge: the squash commit and the merge commit carry the same
    advance record. The second pins nothing new: no late join of the wave's own clusters,
    one pass. A later advance that pins a cluster the first had not is a join."""
    wave = PLAN.waves[0]
    squash = event("advance", wave.name, T0, "a" * 40, wave.clusters)
    merge = event("advance", wave.name, T0 + (0 if same_time else 1), "m" * 40, wave.clusters)
    verify = event("verify", wave.name, T0 + wave.bake_seconds + 1, "b" * 40)
    state = fold(PLAN, [squash, merge, verify], T0 + wave.bake_seconds + 10).wave(wave.number)
    assert (state.status, state.joins, state.advance_commit) == ("passed", [], "a" * 40)
    first, *rest = wave.clusters
    joined = fold(PLAN, [event("advance", wave.name, T0, "a" * 40, [first]),
                         event("advance", wave.name, T0 + 5, "m" * 40, [first]),
                         event("advance", wave.name, T0 + 9, "j" * 40, wave.clusters)], T0 + 20).wave(wave.number)
    assert [(j.commit, j.clusters) for j in joined.joins] == [("j" * 40, tuple(wave.clusters))]


@given(early=st.integers(min_value=1, max_value=1800), verify_first=st.booleans())
def test_a_pass_recorded_during_the_bake_never_counts_and_one_after_it_does(early, verify_first):
    """Issue 18: no verify before the bake ends (a hand-made record, or a runner whose
    clock was pinned back): the wave stays verifying; a record after the bake passes it."""
    wave = PLAN.waves[0]
    advance = event("advance", wave.name, T0, "a" * 40, wave.clusters)
    during = event("verify", wave.name, T0 + wave.bake_seconds - early, "b" * 40)
    events = [during, advance] if verify_first else [advance, during]
    after_bake = T0 + wave.bake_seconds + 60
    assert fold(PLAN, events, after_bake).wave(wave.number).status == "verifying"
    later = event("verify", wave.name, T0 + wave.bake_seconds, "c" * 40)
    state = fold(PLAN, events + [later], after_bake).wave(wave.number)
    assert (state.status, state.verify_commit) == ("passed", "c" * 40)


def test_a_gate_record_of_a_wave_never_advanced_counts_for_nothing():
    wave = PLAN.waves[0]
    state = fold(PLAN, [event("verify", wave.name, T0, "b" * 40)], T0 + 10).wave(wave.number)
    assert (state.status, state.verify_commit) == ("pending", None)


@given(verify_first=st.booleans())
def test_a_reverted_wave_stays_reverted_whatever_its_records(verify_first):
    wave = PLAN.waves[0]
    advance = event("advance", wave.name, T0, "a" * 40, wave.clusters)
    verify = event("verify", wave.name, T0 + 1, "b" * 40)
    revert = event("revert", wave.name, T0 + 2, "c" * 40)
    events = [verify, advance, revert] if verify_first else [advance, verify, revert]
    assert fold(PLAN, events, T0 + 10).wave(wave.number).status == "reverted"


def test_a_late_join_already_proposed_is_not_late_again_and_a_newer_one_is():
    """c joined and its late join waits in a pull request; d joins meanwhile: only d is
    late (its own pull request), c is proposed, neither is recorded."""
    from waves.state import Proposal

    wave = PLAN.waves[0]
    first, *rest = wave.clusters
    assert rest, "the canary wave has two clusters"
    advance = event("advance", wave.name, T0, "a" * 40, [first])
    proposals = {wave.name: Proposal(None, late=(rest[0],))}
    state = fold(PLAN, [advance], T0 + 10, proposals=proposals).wave(wave.number)
    assert (state.status, state.late, state.late_proposed) == ("baking", rest[1:], [rest[0]])
    assert fold(PLAN, [advance], T0 + 10).wave(wave.number).late == rest


@given(records_first=st.booleans())
def test_a_late_join_s_records_name_it_wherever_they_sort_and_its_revert_proposal_is_its_own(records_first):
    """A late join's pass or halt (from rollout/records, read before or after the branch)
    and its revert count for the join the record names, never for its wave; under
    pull-request delivery its revert has a branch of its own, in flight until the join is
    reverted (not until the wave is: it never is)."""
    from dataclasses import replace

    from rollout.delivery.pull_request import _in_flight, branch_name

    wave = PLAN.waves[0]
    first, joiner = wave.clusters[:1], wave.clusters[1:]
    advance = event("advance", wave.name, T0, "a" * 40, first)
    passed = replace(event("verify", wave.name, T0 + wave.bake_seconds, "b" * 40), advance="a" * 40)
    join = event("advance", wave.name, T0 + wave.bake_seconds + 5, "c" * 40, joiner)
    halt = replace(event("halt", wave.name, T0 + 2 * wave.bake_seconds + 9, "d" * 40), advance="c" * 40,
                   reason="cannot see")
    records = [passed, halt]
    events = records + [advance, join] if records_first else [advance, join] + records
    state = fold(PLAN, events, T0 + 3 * wave.bake_seconds).wave(wave.number)
    assert state.status == "passed" and state.verify_commit == "b" * 40 and state.own == list(first)
    assert [(j.commit, j.clusters, j.halt_commit) for j in state.joins] == [("c" * 40, tuple(joiner), "d" * 40)]
    assert state.halt_commit == "d" * 40 and state.halt_reason.startswith(f"late join ({', '.join(joiner)}): ")
    revert = replace(event("revert", wave.name, T0 + 3 * wave.bake_seconds, "e" * 40, joiner), advance="c" * 40)
    assert _in_flight(revert, fold(PLAN, events, T0 + 3 * wave.bake_seconds))
    done = fold(PLAN, events + [revert], T0 + 3 * wave.bake_seconds + 1)
    assert done.wave(wave.number).status == "passed" and done.wave(wave.number).joins[0].status == "reverted"
    assert not _in_flight(revert, done) and done.overall == "reverted"
    whole, alone = (branch_name(PLAN.policy, PLAN.revision, wave.number, "revert", joiner, late)
                    for late in (False, True))
    assert whole.endswith(f"wave-{wave.number}-revert") and "-revert-late-" in alone and whole != alone


def test_a_cluster_pinned_in_the_epoch_by_another_wave_is_not_shown_ahead_in_its_new_wave():
    """Batches renumbered mid-rollout (a cluster new in the inventory sorts first): the
    cluster production/1 pinned is in production/2 now, pending. It is pinned once an epoch,
    judged where it was pinned (and taken back by that wave's revert): not `ahead` (already
    on the revision, "pinned before this epoch, or by hand"), which it was not."""
    from dataclasses import replace

    first, second = PLAN.wave(4), PLAN.wave(5)
    moved = "prod-eu-west"
    plan = replace(PLAN, waves=[replace(first, clusters=["prod-ap-south"]) if w is first else
                                replace(second, clusters=[moved, *second.clusters]) if w is second else w
                                for w in PLAN.waves],
                   wave_of={**PLAN.wave_of, "prod-ap-south": first.number, moved: second.number})
    events = [event("advance", first.name, T0, "a" * 40, [moved])]
    at = {c: c == moved for c in plan.wave_of}
    state = fold(plan, events, T0 + 10, at)
    assert state.wave(4).late == ["prod-ap-south"] and state.wave(5).status == "pending"
    assert state.wave(5).ahead == [], state.wave(5).ahead
    hand = fold(plan, events, T0 + 10, {**at, "prod-us-east": True})  # a hand edit ahead is still shown
    assert hand.wave(5).ahead == ["prod-us-east"]
