"""The step's decision (waves/decide.py), pure: properties over random plans, states and
verdicts, and a state machine over random histories that executes each decision the way
the shell does (events in Git, pins in files) and checks the rollout never lies."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from waves.decide import ADVANCE, HALT, JUDGED, REVERT, VERIFY, WAIT, Verdict, decide, of, start_held
from waves.drift import Change
from waves.planner import Plan, SharedPin, Wave
from waves.state import EMPTY, OUT, Event, JoinState, Proposal, RolloutState, WaveState, blockers, fold, joins_holding


@dataclass
class Shut:
    open: bool = False

    def describe(self) -> str:
        return "outside its change window (test)"


class FakeHold:
    """Pauses and windows as the test draws them (waves/holds.py reads real ones)."""

    def __init__(self, paused: bool = False, shut: frozenset[int] = frozenset()):
        self.paused, self.shut = paused, shut

    def pause_note(self) -> str:
        return "paused (test)"

    def window(self, wave):
        return Shut(open=wave.number not in self.shut)


@st.composite
def plans(draw) -> Plan:
    count = draw(st.integers(1, 6))
    waves = []
    for number in range(1, count + 1):
        after = sorted(draw(st.sets(st.integers(1, number - 1), max_size=3))) if number > 1 else []
        size = draw(st.sampled_from([0, 1, 1, 2, 3]))  # 0: a wave that claims no cluster (issue 24)
        waves.append(Wave(number, f"w{number}", number - 1, None, None, [f"c{number}-{i}" for i in range(size)],
                          after=after, bake_seconds=draw(st.sampled_from([0, 60, 600])),
                          gates=draw(st.sampled_from([(), ({"argocd": {}},)])),
                          approval=draw(st.sampled_from([None, None, "required"]))))
    wave_of = {c: w.number for w in waves for c in w.clusters}
    # availability (a live source's condition): some clusters down, and what the policy does with them
    down = {c: "ControlPlaneHealthy is False" for c in draw(st.sets(st.sampled_from(sorted(wave_of) or ["none"])))
            if c in wave_of}
    return Plan("p", "v2", [], waves, {c: [] for c in wave_of}, wave_of, down=down,
                unavailable=draw(st.sampled_from(["skip", "skip", "wait", "include"])))


def availability_holds(plan, wave) -> bool:
    """Whether spec.unavailable holds a wave's first advance back: `wait` while any of its
    clusters is down, `skip` while all are; `include` never."""
    down = [c for c in wave.clusters if c in plan.down]
    return bool(down) and (plan.unavailable == "wait" or (plan.unavailable == "skip" and len(down) == len(wave.clusters)))


def pins_of(plan, clusters) -> list[str]:
    """What an advance pins of `clusters`: the available ones, unless the policy includes all."""
    return list(clusters) if plan.unavailable == "include" else [c for c in clusters if c not in plan.down]


STATUSES = ("pending", "proposed", "baking", "verifying", "passed", "reverted")


@st.composite
def situations(draw, with_joins: bool = False):
    """A plan, a state of it, verdicts (some about other advances) and holds; `with_joins`:
    late joins in the waves out too, and their verdicts (the last item)."""
    plan = draw(plans())
    waves = []
    for wave in plan.waves:
        status = EMPTY if wave.empty else draw(st.sampled_from(STATUSES))  # as the fold has it
        out = status in OUT or status == "reverted"
        waves.append(WaveState(
            wave.number, wave.name, status,
            advanced_at=0 if out else None, advance_commit=f"adv{wave.number}" if out else None,
            verify_commit=f"ver{wave.number}" if status == "passed" and draw(st.booleans()) else None,
            bake_remaining=draw(st.sampled_from([0, 30])) if status == "baking" else 0,
            approved_by="alice" if draw(st.booleans()) else None,
            late=draw(st.sampled_from([[], [f"late{wave.number}"], list(wave.clusters)])) if status in OUT else [],
            # pull-request delivery: a late join waiting in its pull request
            late_proposed=draw(st.sampled_from([[], [], [f"proposed{wave.number}"]])) if status in OUT else [],
            halt_commit=f"halt{wave.number}" if status in OUT and draw(st.integers(0, 5)) == 0 else None,
            joins=draw(st.lists(joins_of(wave.number), max_size=2, unique_by=lambda j: j.commit))
            if status in OUT and with_joins else []))
    state = RolloutState(plan.policy, plan.revision, waves)
    verdicts = {}
    for ws in waves:
        if draw(st.booleans()):
            kind = draw(st.sampled_from(["passed", "pending", "failed", "unknown"]))
            stale = draw(st.booleans()) and ws.advance_commit is not None
            verdicts[ws.number] = Verdict(kind, kind, "older" if stale else ws.advance_commit,
                                          halt=kind == "unknown" and draw(st.booleans()), evidence=(kind,))
    joined = {}  # a late join's verdict, by its commit; some about another advance (the wave's own)
    for ws in waves:
        for join in ws.joins:
            if draw(st.booleans()):
                kind = draw(st.sampled_from(["passed", "pending", "failed", "unknown"]))
                about = draw(st.sampled_from([join.commit, join.commit, ws.advance_commit]))
                joined[join.commit] = Verdict(kind, kind, about, halt=kind == "unknown" and draw(st.booleans()))
    hold = FakeHold(draw(st.booleans()), frozenset(draw(st.sets(st.sampled_from([w.number for w in plan.waves])))))
    on_failure = draw(st.sampled_from(["revert", "halt"]))
    scope = draw(st.sampled_from(["wave", "rollout"]))
    if with_joins:
        return plan, state, verdicts, hold, on_failure, scope, joined
    return plan, state, verdicts, hold, on_failure, scope


@st.composite
def joins_of(draw, number: int) -> JoinState:
    """A late join of wave `number`, in any state the fold gives one."""
    status = draw(st.sampled_from(["baking", "verifying", "verifying", "passed", "reverted"]))
    index = draw(st.integers(0, 3))
    return JoinState(f"join{number}-{index}", (f"j{number}-{index}",), 10, status,
                     bake_remaining=draw(st.sampled_from([0, 30])) if status == "baking" else 0,
                     verify_commit=f"ver-join{number}-{index}" if status == "passed" else None)


def cleared(plan, state, number, passed) -> bool:
    """What waits for wave `number` may go: it passed (approved where required), or it is
    empty and everything it waits for cleared."""
    wave = plan.wave(number)
    if wave.empty and state.wave(number).status == EMPTY:  # planned empty and never out (one out whose clusters left is judged)
        return all(cleared(plan, state, dep, passed) for dep in wave.after)
    return number in passed and (wave.approval != "required" or bool(state.wave(number).approved_by))


def bound(state, verdicts):
    return {w.number: verdicts[w.number] for w in state.waves if w.status in JUDGED and not w.halt_commit
            and w.number in verdicts and verdicts[w.number].advance == w.advance_commit}


def judged_joins(state, joined) -> dict:
    """join commit -> (wave, join, verdict): the late joins a step judges, by a verdict of their own."""
    return {j.commit: (w, j, joined[j.commit]) for w in state.waves if w.status in OUT and not w.halt_commit
            for j in w.joins if j.status in JUDGED and j.commit in joined and joined[j.commit].advance == j.commit}


def ancestors(plan, number: int) -> set[int]:
    """Every wave wave `number` waits for, directly or through others."""
    found, todo = set(), list(plan.wave(number).after)
    while todo:
        dep = todo.pop()
        if dep not in found:
            found.add(dep)
            todo += plan.wave(dep).after
    return found


# the existing rules, with late joins in the waves out or without
any_situation = st.booleans().flatmap(lambda joins: situations(with_joins=joins)).map(
    lambda s: s if len(s) == 7 else (*s, {}))


@given(any_situation)
@settings(deadline=None)
def test_the_decision_keeps_every_rule(situation):
    plan, state, verdicts, hold, on_failure, scope, joined = situation
    actions = decide(plan, state, verdicts, hold, on_failure, scope, joined)
    mine = bound(state, verdicts)
    theirs = judged_joins(state, joined)
    joins_stop = {c for c, (_, _, v) in theirs.items() if v.state == "failed" or v.state == "unknown" and v.halt}
    # an empty wave is never acted on: it pins nothing and has nothing to judge
    assert not {a.wave for a in actions if a.kind != WAIT} & {w.number for w in plan.waves if w.empty}
    failed = {n for n, v in mine.items() if v.state == "failed"}
    blind_halts = {n for n, v in mine.items() if v.state == "unknown" and v.halt}

    # every failed wave that is out is stopped, by the policy's action, in this very step
    stop = REVERT if on_failure == "revert" else HALT
    assert {a.wave for a in of(actions, stop) if a.reason.startswith("gate failed")} == failed
    if failed and on_failure == "revert" and scope == "rollout":  # every wave out, newest first
        out = sorted((w for w in state.waves if w.status in OUT), key=lambda w: (w.advanced_at or 0, w.number),
                     reverse=True)
        assert [a.wave for a in of(actions, REVERT)] == [w.number for w in out]
    elif scope == "wave" or on_failure == "halt":
        assert {a.wave for a in of(actions, REVERT) if not a.late} <= failed
    assert all(a.advance == state.wave(a.wave).advance_commit for a in actions
               if a.kind in (REVERT, HALT, VERIFY) and not a.late)
    assert all(state.wave(a.wave).join(a.advance) is not None for a in actions if a.late and a.kind != ADVANCE)
    # a blind gate past its deadline halts; it never reverts
    assert blind_halts <= {a.wave for a in of(actions, HALT)}
    assert not {a.wave for a in of(actions, REVERT) if not a.late} & blind_halts
    # only what was judged of the current advance acts
    assert {a.wave for a in actions if a.kind in (HALT, VERIFY) and not a.late} <= set(mine)
    # a halted wave is judged no more (an abort, scope rollout, still reverts it: it is out)
    assert not {a.wave for a in actions if a.kind != WAIT and not (a.kind == REVERT and scope == "rollout")} \
        & {w.number for w in state.halts}
    if failed or blind_halts or state.halts or joins_stop:
        assert not of(actions, ADVANCE) and not of(actions, VERIFY)
        return
    # a pass is recorded once, after the bake
    verified = {a.wave for a in of(actions, VERIFY) if not a.late}
    for number in verified:
        ws = state.wave(number)
        assert mine[number].state == "passed" and ws.verify_commit is None and ws.bake_remaining == 0
    assert verified == {n for n, v in mine.items() if v.state == "passed" and state.wave(n).verify_commit is None
                        and state.wave(n).bake_remaining == 0}
    # nothing starts in a paused or reverted rollout; otherwise only what may go
    starts = of(actions, ADVANCE)
    if hold.paused or any(w.status == "reverted" or any(j.status == "reverted" for j in w.joins)
                          for w in state.waves):
        assert not starts
        return
    joins_verified = {a.advance for a in of(actions, VERIFY) if a.late}
    passed = {w.number for w in state.waves if w.status == "passed"} | verified
    for action in starts:
        ws, wave = state.wave(action.wave), plan.wave(action.wave)
        # availability decides what is pinned: never a cluster that is down, unless the policy includes it
        if action.late:
            assert ws.status in OUT and list(action.clusters) == pins_of(plan, ws.late) != []
            continue
        assert ws.status == "pending" and action.wave not in hold.shut and not availability_holds(plan, wave)
        assert list(action.clusters) == pins_of(plan, wave.clusters) != []
        for dep in wave.after:
            assert cleared(plan, state, dep, passed)
    joining = {w.number for w in state.waves if w.status in OUT and pins_of(plan, w.late)}
    assert {a.wave for a in starts if a.late} == joining  # a late cluster joins once it is available
    # what may go and is held by its window, or by its clusters' availability, waits, saying so
    assert {a.wave for a in of(actions, WAIT) if "window" in a.reason} <= hold.shut
    held = {a.wave for a in of(actions, WAIT) if "unavailable" in a.reason}
    assert all(availability_holds(plan, plan.wave(n)) for n in held)
    # a wave whose evidence is not all in (a late join of one it waits for out and unjudged) waits
    judging = {a.wave for a in of(actions, WAIT) if a.reason.startswith("waiting for the late join")}
    for number in {a.wave for a in starts if not a.late} | judging:
        out = [j.commit for dep in ancestors(plan, number) for j in state.wave(dep).joins
               if state.wave(dep).status in OUT and j.status in JUDGED and j.commit not in joins_verified]
        out += [a.wave for a in starts if a.late and a.wave in ancestors(plan, number)]  # pinned in this step
        out += [dep for dep in ancestors(plan, number) if state.wave(dep).status in OUT
                and state.wave(dep).late_proposed]  # in its pull request
        assert bool(out) == (number in judging)
    # and what may go does: an empty wave holds back nothing that waits for it
    may_go = {w.number for w in plan.waves if state.wave(w.number).status == "pending"
              and all(cleared(plan, state, dep, passed) for dep in w.after)}
    assert {a.wave for a in starts if not a.late} | {a.wave for a in of(actions, WAIT) if "window" in a.reason} \
        | held | judging == may_go
    assert [a.wave for a in starts] == sorted(a.wave for a in starts)


@given(situations(with_joins=True), st.data())
@settings(deadline=None)
def test_a_late_join_is_judged_on_its_own_and_bound_to_its_commit(situation, data):
    """Failed: its commit alone reverted (halted under `onFailure: halt`; every wave out,
    whole, under `scope: rollout`; halted when its commit changed none of its files: its
    revert would restore nothing); blind past progressDeadline: halted, never reverted;
    passed after its own bake: recorded once; a verdict about another advance acts on nothing."""
    plan, state, verdicts, hold, on_failure, scope, joined = situation
    commits = sorted(j.commit for w in state.waves for j in w.joins)
    unchanged = data.draw(st.sets(st.sampled_from(commits))) if commits else set()
    actions = decide(plan, state, verdicts, hold, on_failure, scope, joined, unchanged)
    theirs = judged_joins(state, joined)
    late = [a for a in actions if a.late and a.kind != ADVANCE]
    assert {a.advance for a in late} <= set(theirs)  # only a join judged now, about its own commit
    for action in late:
        wave, join, _ = theirs[action.advance]
        assert action.wave == wave.number and action.clusters == join.clusters
    failed = {c for c, (_, _, v) in theirs.items() if v.state == "failed"}
    blind = {c for c, (_, _, v) in theirs.items() if v.state == "unknown" and v.halt}
    mine = bound(state, verdicts)
    waves_failed = {n for n, v in mine.items() if v.state == "failed"}
    reverts, halts = of(actions, REVERT), of(actions, HALT)
    if on_failure == "revert" and scope == "rollout" and (failed or waves_failed):
        # every wave out, whole: a wave's revert takes its late joins' clusters back too
        assert not [a for a in reverts if a.late]
        assert {a.wave for a in reverts} == {w.number for w in state.waves if w.status in OUT}
    elif on_failure == "revert":
        assert {a.advance for a in reverts if a.late} == failed - unchanged  # the late join's commit, nothing more
        stuck = [a for a in halts if a.late and a.advance in failed & unchanged]  # a revert restoring nothing: halted
        assert {a.advance for a in stuck} == failed & unchanged
        assert all("its commit alone cannot be reverted: it changed none of its clusters' files" in a.reason
                   for a in stuck)
    else:
        assert not reverts and {a.advance for a in halts if a.late} >= failed
    assert {a.advance for a in halts if a.late} >= blind and not {a.advance for a in reverts if a.late} & blind
    if failed or blind:  # nothing new starts while a late join fails, as while a wave fails
        assert not of(actions, ADVANCE) and not of(actions, VERIFY)
        return
    if any(v.state == "failed" or v.state == "unknown" and v.halt for v in mine.values()) or state.halts:
        return
    assert {a.advance for a in of(actions, VERIFY) if a.late} == {
        c for c, (_, j, v) in theirs.items() if v.state == "passed" and j.verify_commit is None and j.bake_remaining == 0}


@given(any_situation, st.data())
@settings(deadline=None)
def test_a_wave_whose_revert_would_restore_nothing_halts_never_an_empty_revert(situation, data):
    """`unchanged` holding waves' advances (the shell read that their whole revert restores
    nothing while their clusters stay on the revision): such a wave is halted where it would
    have been reverted, saying why, whatever the scope; every other stop is as without it."""
    plan, state, verdicts, hold, on_failure, scope, joined = situation
    commits = sorted(w.advance_commit for w in state.waves if w.status in OUT)
    unchanged = {c: "a: f.yaml held v2 already when it was pinned: it stays on v2"
                 for c in (data.draw(st.sets(st.sampled_from(commits))) if commits else ())}
    plain = decide(plan, state, verdicts, hold, on_failure, scope, joined)
    actions = decide(plan, state, verdicts, hold, on_failure, scope, joined, unchanged)
    assert not [a for a in of(actions, REVERT) if not a.late and a.advance in unchanged]  # never reverted
    stuck = [a for a in of(plain, REVERT) if not a.late and a.advance in unchanged]
    for was in stuck:  # halted instead, the same wave and advance, saying why
        (now,) = [a for a in actions if a.wave == was.wave and a.advance == was.advance and not a.late]
        assert now.kind == HALT and now.reason.startswith(was.reason) and f"({unchanged[was.advance]})" in now.reason
    # the rest as without it (scope rollout: a failure halted so still reverts every other wave out)
    assert [(a.kind, a.wave, a.advance) for a in actions if a.late or a.advance not in unchanged] == \
        [(a.kind, a.wave, a.advance) for a in plain if a.late or a.advance not in unchanged]
    if stuck:
        assert not of(actions, ADVANCE) and not of(actions, VERIFY)


@given(plans(), st.data())
@settings(deadline=None)
def test_nothing_starts_after_a_wave_whose_late_join_is_not_judged_yet(plan, data):
    """Every wave passed but one, ready; a late join of some wave out: the ready wave starts
    only when no wave it waits for, directly or through others, has a late join out and
    unjudged (a pass recorded in this very step counts), and otherwise says what it waits for."""
    plan = replace(plan, down={})
    ready_ones = [w for w in plan.waves if w.after and not w.empty]
    if not ready_ones:
        return
    wave = data.draw(st.sampled_from(ready_ones))
    others = [w for w in plan.waves if not w.empty and w.number != wave.number]
    if not others:
        return
    with_join = data.draw(st.sampled_from(others))
    status = data.draw(st.sampled_from(["baking", "verifying", "passed"]))
    join = JoinState("join", ("late",), 0, status, bake_remaining=30 if status == "baking" else 0,
                     verify_commit="vj" if status == "passed" else None)
    waves = [WaveState(w.number, w.name, EMPTY if w.empty else "pending" if w is wave else "passed", 0,
                       None if w.empty or w is wave else f"adv{w.number}", approved_by="alice",
                       verify_commit=None if w.empty or w is wave else f"ver{w.number}",
                       joins=[join] if w is with_join else []) for w in plan.waves]
    state = RolloutState(plan.policy, plan.revision, waves)
    verdict = data.draw(st.sampled_from([None, "passed", "pending"]))
    joined = {"join": Verdict(verdict, verdict, "join")} if verdict else {}
    actions = decide(plan, state, {}, FakeHold(), joins=joined)
    passes_now = status == "verifying" and verdict == "passed"
    holding = with_join.number in ancestors(plan, wave.number) and status != "passed" and not passes_now
    assert [a.advance for a in of(actions, VERIFY)] == (["join"] if passes_now else [])
    starts = [a.wave for a in of(actions, ADVANCE)]
    assert (wave.number in starts) == (not holding)
    if holding:
        (wait,) = [a for a in of(actions, WAIT) if a.wave == wave.number]
        assert wait.reason == f"waiting for the late join of wave {with_join.number} {with_join.name} (late) is {status}"


@given(plans(), st.data())
@settings(deadline=None)
def test_nothing_starts_after_a_wave_whose_late_join_waits_in_its_pull_request(plan, data):
    """Pull-request delivery: a late join proposed and not merged holds what waits for its
    wave, directly or through others, as one out and unjudged does (`advance` names it too)."""
    plan = replace(plan, down={})
    ready_ones = [w for w in plan.waves if w.after and not w.empty]
    if not ready_ones:
        return
    wave = data.draw(st.sampled_from(ready_ones))
    others = [w for w in plan.waves if not w.empty and w.number != wave.number]
    if not others:
        return
    with_join = data.draw(st.sampled_from(others))
    waves = [WaveState(w.number, w.name, EMPTY if w.empty else "pending" if w is wave else "passed", 0,
                       None if w.empty or w is wave else f"adv{w.number}", approved_by="alice",
                       verify_commit=None if w.empty or w is wave else f"ver{w.number}",
                       late_proposed=["late"] if w is with_join else []) for w in plan.waves]
    state = RolloutState(plan.policy, plan.revision, waves)
    actions = decide(plan, state, {}, FakeHold())
    holding = with_join.number in ancestors(plan, wave.number)
    assert (wave.number in [a.wave for a in of(actions, ADVANCE)]) == (not holding)
    assert not [a for a in of(actions, ADVANCE) if a.late]  # proposed already: not proposed again
    why = f"the late join of wave {with_join.number} {with_join.name} (late) is proposed: its pull request is not merged yet"
    assert (why in blockers(plan, state, wave.number)) == holding
    assert (start_held(plan, state, wave.number) == [why]) == holding  # what holds the merge of its pull request
    if holding:
        (wait,) = [a for a in of(actions, WAIT) if a.wave == wave.number]
        assert wait.reason == f"waiting for {why}"
    assert state.overall == "in-progress"  # a cluster of the plan lacks its pin: never complete


def test_a_late_join_waiting_in_its_pull_request_is_not_complete():
    """Every wave passed, b's late join proposed (its pull request open): the fold reads
    in-progress, and nothing after canary starts until it is merged and passed."""
    waves = [Wave(1, "canary", 0, None, None, ["a", "b"], bake_seconds=60, gates=({"argocd": {}},)),
             Wave(2, "prod", 1, None, None, ["c"], after=[1], bake_seconds=60, gates=({"argocd": {}},))]
    plan = Plan("p", "v2", [], waves, {c: [] for c in "abc"}, {"a": 1, "b": 1, "c": 2})
    events = [Event("A1", T0, "advance", "p", "v2", "canary", ("a",)),
              Event("V1", T0 + 100, "verify", "p", "v2", "canary", advance="A1")]
    proposals = {"canary": Proposal(None, late=("b",))}
    before = fold(plan, events, T0 + 200, proposals=proposals)
    assert (before.wave(1).late, before.wave(1).late_proposed) == ([], ["b"])
    assert [(a.kind, a.wave, a.reason) for a in decide(plan, before, {}, FakeHold())] == [
        (WAIT, 2, "waiting for the late join of wave 1 canary (b) is proposed: its pull request is not merged yet")]
    done = events + [Event("A2", T0 + 101, "advance", "p", "v2", "prod", ("c",)),
                     Event("V2", T0 + 200, "verify", "p", "v2", "prod", advance="A2")]
    assert fold(plan, done, T0 + 300).overall == "in-progress"  # b not pinned: late
    assert fold(plan, done, T0 + 300, proposals=proposals).overall == "in-progress"  # b's join in its pull request
    merged = done + [Event("J1", T0 + 400, "advance", "p", "v2", "canary", ("b",))]
    assert fold(plan, merged, T0 + 410).overall == "in-progress"  # out, not judged yet
    judged = merged + [Event("VJ", T0 + 470, "verify", "p", "v2", "canary", advance="J1")]
    assert fold(plan, judged, T0 + 480).overall == "complete"


def test_a_late_join_after_its_wave_passed_fails_and_only_it_is_reverted():
    """The case of issue 19: b was down when canary went, joined once back after canary
    passed, and fails canary's gates: its late join is reverted, canary stays passed, and
    nothing new starts for the revision; its fold says so, and a pass of it releases `rest`."""
    waves = [Wave(1, "canary", 0, None, None, ["a", "b"], bake_seconds=60, gates=({"argocd": {}},)),
             Wave(2, "rest", 1, None, None, ["c"], after=[1])]
    plan = Plan("p", "v2", [], waves, {}, {"a": 1, "b": 1, "c": 2})
    events = [Event("adv1", T0, "advance", "p", "v2", "canary", ("a",)),
              Event("ver1", T0 + 90, "verify", "p", "v2", "canary", advance="adv1")]
    # b is back once canary passed: it joins, and rest, ready too, waits for it in the same step
    assert [(a.kind, a.wave, a.clusters, a.reason) for a in decide(plan, fold(plan, events, T0 + 95), {}, FakeHold())] \
        == [(WAIT, 2, (), "waiting for the late join of wave 1 canary (b) starting now"),
            (ADVANCE, 1, ("b",), "late join")]
    # under pull-request delivery a request of rest's, opened before b came back, is not merged meanwhile
    assert start_held(plan, fold(plan, events, T0 + 95), 2) == ["the late join of wave 1 canary (b) starting now"]
    events.append(Event("join1", T0 + 100, "advance", "p", "v2", "canary", ("b",)))
    state = fold(plan, events, T0 + 120)
    canary = state.wave(1)
    assert canary.status == "passed" and canary.own == ["a"] and canary.pinned == ["a", "b"] and canary.late == []
    (join,) = canary.joins
    assert (join.commit, join.clusters, join.status, join.bake_remaining) == ("join1", ("b",), "baking", 40)
    assert state.overall == "in-progress"
    # baking: rest waits for it, saying so
    assert [(a.kind, a.wave, a.reason) for a in decide(plan, state, {}, FakeHold())] == [
        (WAIT, 2, "waiting for the late join of wave 1 canary (b) is baking")]
    assert blockers(plan, state, 2) == ["the late join of wave 1 canary (b) is baking"]  # `advance --wave rest`
    later = fold(plan, events, T0 + 200)
    failed = decide(plan, later, {}, FakeHold(), joins={"join1": Verdict("failed", "b: Degraded", "join1")})
    assert [(a.kind, a.wave, a.advance, a.clusters, a.late) for a in failed] == [(REVERT, 1, "join1", ("b",), True)]
    assert failed[0].reason == "late join (b): gate failed: b: Degraded"
    # a verdict about the wave's own advance is not the join's
    assert decide(plan, later, {}, FakeHold(), joins={"join1": Verdict("failed", "x", "adv1")})[0].kind == WAIT
    reverted = fold(plan, events + [Event("rev1", T0 + 210, "revert", "p", "v2", "canary", ("b",), advance="join1")],
                    T0 + 220)
    assert reverted.wave(1).status == "passed" and reverted.wave(1).joins[0].status == "reverted"
    assert reverted.overall == "reverted" and reverted.wave(1).late == []  # never joined again
    assert blockers(plan, reverted, 2) == ["the late join of wave 1 canary (b) was reverted"]
    retried = events + [Event("rev1", T0 + 210, "revert", "p", "v2", "canary", ("b",), advance="join1"),
                        Event("retry", T0 + 300, "retry", "p", "v2", "", epoch=2)]
    assert fold(plan, retried, T0 + 310).overall == "not-started"  # `rollout retry`: every wave afresh, b in canary
    assert decide(plan, fold(plan, retried, T0 + 310), {}, FakeHold())[0].clusters == ("a", "b")
    (stop,) = decide(plan, reverted, {}, FakeHold())
    assert stop.kind == WAIT and stop.reason == "a late join of v2 was reverted: wave 1 canary (b): nothing new " \
                                                "starts for this revision"
    # or it passes: recorded, naming its commit, and rest goes in the same step
    passed = decide(plan, later, {}, FakeHold(), joins={"join1": Verdict("passed", "ok", "join1")})
    assert [(a.kind, a.wave, a.advance, a.late) for a in passed] == [(VERIFY, 1, "join1", True),
                                                                     (ADVANCE, 2, None, False)]
    recorded = fold(plan, events + [Event("ver2", T0 + 210, "verify", "p", "v2", "canary", advance="join1")], T0 + 220)
    assert recorded.wave(1).joins[0].status == "passed" and recorded.wave(1).verify_commit == "ver1"
    # blind past its deadline: halted, a record naming it; the halt holds the rollout, a lift lifts it
    blind = decide(plan, later, {}, FakeHold(), joins={"join1": Verdict("unknown", "cannot see", "join1", halt=True)})
    assert [(a.kind, a.advance, a.late) for a in blind] == [(HALT, "join1", True)]
    halted = events + [Event("halt1", T0 + 210, "halt", "p", "v2", "canary", advance="join1", reason="cannot see")]
    assert [w.number for w in fold(plan, halted, T0 + 220).halts] == [1]
    assert fold(plan, halted, T0 + 220).wave(1).halt_reason == "late join (b): cannot see"
    lifted = halted + [Event("lift1", T0 + 230, "lift", "p", "v2", "canary", lifts="halt1")]
    assert fold(plan, lifted, T0 + 240).halts == [] and fold(plan, lifted, T0 + 240).wave(1).joins[0].halt_commit is None
    # the wave halted too (its own halt record): `resume --halt` lifts both, one record each, or it stays halted
    both = halted + [Event("halt0", T0 + 215, "halt", "p", "v2", "canary", advance="adv1", reason="cannot see a")]
    assert fold(plan, both, T0 + 220).wave(1).halt_commits == ["halt0", "halt1"]
    one = both + [Event("lift0", T0 + 230, "lift", "p", "v2", "canary", lifts="halt0")]
    assert [w.number for w in fold(plan, one, T0 + 240).halts] == [1]  # the join's halt still holds it
    assert fold(plan, one + [Event("lift1", T0 + 231, "lift", "p", "v2", "canary", lifts="halt1")], T0 + 240).halts == []


def test_a_failed_late_join_whose_revert_would_restore_nothing_halts():
    """b joins canary on values/dev.yaml image.tag, a field it shares with a, which
    canary's own advance pinned: b's commit changed nothing there, and restoring the field
    would move a too. Its failure halts (a person chooses: the wave's revert takes the
    field back whole), never an empty revert read as `reverted`; so does a join whose commit
    changed none of its files (the shell reads it from Git). `scope: rollout` reverts the
    waves whole, as always."""
    pin = SharedPin("values/dev.yaml", "image.tag", ("a", "b"))
    waves = [Wave(1, "canary", 0, None, None, ["a", "b"], bake_seconds=60, gates=({"argocd": {}},), shared=(pin,)),
             Wave(2, "rest", 1, None, None, ["c"], after=[1])]
    plan = Plan("p", "v2", [], waves, {}, {"a": 1, "b": 1, "c": 2})
    events = [Event("adv1", T0, "advance", "p", "v2", "canary", ("a",)),
              Event("ver1", T0 + 90, "verify", "p", "v2", "canary", advance="adv1"),
              Event("join1", T0 + 100, "advance", "p", "v2", "canary", ("b",))]
    state = fold(plan, events, T0 + 200)
    joins = {"join1": Verdict("failed", "b: Degraded", "join1")}
    (halt,) = decide(plan, state, {}, FakeHold(), joins=joins)
    assert (halt.kind, halt.wave, halt.advance, halt.clusters, halt.late) == (HALT, 1, "join1", ("b",), True)
    assert halt.reason == (
        "late join (b): gate failed: b: Degraded; its commit alone cannot be reverted: its clusters pin "
        "values/dev.yaml image.tag with a, pinned by another advance of the wave; a person decides: `rollout revert p "
        "--wave 1 --reason ...` takes the wave back whole (its late joins and shared fields with it), or `rollout "
        "resume p --halt --reason ...` once the pin is fixed by hand")
    assert [(a.kind, a.wave, a.advance, a.late) for a in decide(plan, state, {}, FakeHold(), scope="rollout",
                                                                  joins=joins)] == [(REVERT, 1, "adv1", False)]
    halted = fold(plan, events + [Event("halt1", T0 + 210, "halt", "p", "v2", "canary", advance="join1",
                                        reason=halt.reason)], T0 + 220)
    assert halted.overall == "halted" and halted.wave(1).joins[0].status == "verifying"
    assert [a.kind for a in decide(plan, halted, {}, FakeHold(), joins=joins)] == [WAIT]  # a person decides
    # a field of its own: its commit alone goes back; unless that commit changed none of its files
    alone = replace(plan, waves=[replace(waves[0], shared=()), waves[1]])
    assert [a.kind for a in decide(alone, state, {}, FakeHold(), joins=joins)] == [REVERT]
    (stuck,) = decide(alone, state, {}, FakeHold(), joins=joins, unchanged={"join1"})
    assert stuck.kind == HALT and "cannot be reverted: it changed none of its clusters' files (they held v2 " \
                                  "already)" in stuck.reason


def test_two_parallel_waves_failing_are_both_reverted():
    plan = Plan("p", "v2", [], [Wave(1, "canary", 0, None, None, ["a"]),
                               Wave(2, "eu", 1, None, None, ["b"], after=[1]),
                               Wave(3, "us", 1, None, None, ["c"], after=[1])], {}, {})
    state = RolloutState("p", "v2", [WaveState(1, "canary", "passed", 0, "a1"),
                                     WaveState(2, "eu", "verifying", 5, "a2"),
                                     WaveState(3, "us", "verifying", 5, "a3")])
    verdicts = {n: Verdict("failed", "Degraded", f"a{n}") for n in (2, 3)}
    actions = decide(plan, state, verdicts, FakeHold())
    assert [(a.kind, a.wave, a.advance) for a in actions] == [(REVERT, 2, "a2"), (REVERT, 3, "a3")]
    halts = decide(plan, state, verdicts, FakeHold(), "halt")
    assert [(a.kind, a.wave) for a in halts] == [(HALT, 2), (HALT, 3)]


def test_a_verdict_of_an_earlier_advance_counts_for_nothing():
    plan = Plan("p", "v2", [], [Wave(1, "canary", 0, None, None, ["a"]),
                               Wave(2, "rest", 1, None, None, ["b"], after=[1])], {}, {})
    state = RolloutState("p", "v2", [WaveState(1, "canary", "verifying", 5, "new")])
    state.waves.append(WaveState(2, "rest"))
    for kind in ("passed", "failed"):
        assert decide(plan, state, {1: Verdict(kind, kind, "old")}, FakeHold()) == []


def test_a_pass_recorded_in_the_step_releases_the_next_wave_in_the_same_step():
    plan = Plan("p", "v2", [], [Wave(1, "canary", 0, None, None, ["a"]),
                               Wave(2, "rest", 1, None, None, ["b"], after=[1])], {}, {})
    state = RolloutState("p", "v2", [WaveState(1, "canary", "verifying", 5, "a1"), WaveState(2, "rest")])
    actions = decide(plan, state, {1: Verdict("passed", "ok", "a1", evidence=("argocd: 1 of 1",))}, FakeHold())
    assert [(a.kind, a.wave) for a in actions] == [(VERIFY, 1), (ADVANCE, 2)]
    assert actions[0].evidence == ("argocd: 1 of 1",) and actions[1].clusters == ("b",)
    baking = replace(state, waves=[replace(state.waves[0], status="baking", bake_remaining=10), state.waves[1]])
    assert decide(plan, baking, {1: Verdict("passed", "ok", "a1")}, FakeHold()) == []  # no verify in the bake


# --- the state machine: random histories, executed as the shell executes them ----------

T0 = 1_000_000


class Rollouts(RuleBasedStateMachine):
    """A fleet whose files and Git events follow each step's decision; health, time,
    pauses, approvals and new revisions arrive at random in between."""

    @initialize(plan=plans(), on_failure=st.sampled_from(["revert", "halt"]))
    def start(self, plan, on_failure):
        self.plan, self.on_failure = plan, on_failure
        self.events: list[Event] = []
        self.files = {c: "v1" for c in plan.wave_of}  # what each cluster's files pin
        # cluster -> revision -> the pin it held before that revision reached it (an advance
        # of a revision it holds already, in a later epoch, keeps the earlier one: a revert
        # goes back past it, as the engine's does)
        self.prior: dict[str, dict[str, str]] = {c: {} for c in plan.wave_of}
        self.health = {w.number: "good" for w in plan.waves}
        self.join_health = {w.number: "good" for w in plan.waves}  # its late joins' clusters
        self.now, self.paused, self.serial = T0, False, 0

    def commit(self, action, wave, clusters=(), by=None, epoch=None, advance=None, rejoins=()) -> None:
        """A rollout commit, of the epoch the shell writes: the fold's (a retry: the next)."""
        self.serial += 1
        self.events.append(Event(f"c{self.serial}", self.now, action, self.plan.policy, self.plan.revision, wave,
                                 tuple(clusters), by=by, epoch=epoch or self.state().epoch, advance=advance,
                                 rejoins=tuple(rejoins)))

    def state(self) -> RolloutState:
        return fold(self.plan, self.events, self.now)

    @rule(paused=st.booleans())
    def pause(self, paused):
        self.paused = paused

    @rule(changed=st.sets(st.integers(0, 20), max_size=3))
    def availability(self, changed):
        """Clusters go down or come back, as the hub's sources say between steps."""
        names = sorted(self.plan.wave_of)
        down = dict(self.plan.down)
        for index in changed:
            if names:
                name = names[index % len(names)]
                down.pop(name) if name in down else down.update({name: "down (test)"})
        self.plan = replace(self.plan, down=down)

    @rule(index=st.integers(0, 20))
    def outage(self, index):
        """A cluster of a wave not out yet goes down: its wave goes without it, and it joins late."""
        state = self.state()
        names = sorted(c for w in self.plan.waves if state.wave(w.number).status == "pending" for c in w.clusters)
        if names:
            self.plan = replace(self.plan, down={**self.plan.down, names[index % len(names)]: "down (test)"})

    @rule()
    def recover(self):
        self.plan = replace(self.plan, down={})

    @rule(indexes=st.sets(st.integers(0, 20), min_size=1, max_size=3))
    def leave(self, indexes):
        """Clusters leave the inventory (a fleet file edited, a hub's object deleted): the
        plan no longer has them, whatever went out. The shell cannot judge a pinned cluster
        it no longer knows (rollout/gate_check.py): what the step's verdicts model below."""
        state = self.state()  # the clusters of the waves out: where leaving can lie about a rollout
        names = sorted({c for w in self.plan.waves if state.wave(w.number).status in OUT for c in w.clusters}) \
            or sorted(self.plan.wave_of)
        gone = {names[i % len(names)] for i in indexes} if names else set()
        self.plan = replace(self.plan, waves=[replace(w, clusters=[c for c in w.clusters if c not in gone])
                                              for w in self.plan.waves],
                            wave_of={c: n for c, n in self.plan.wave_of.items() if c not in gone},
                            pins={c: p for c, p in self.plan.pins.items() if c not in gone},
                            down={c: why for c, why in self.plan.down.items() if c not in gone})

    @rule(wave=st.integers(1, 6))
    def approve(self, wave):
        state = self.state()
        if wave in self.health and state.wave(wave).status in OUT:
            self.commit("approve", self.plan.wave(wave).name, by="alice")

    @rule(revision=st.sampled_from(["v2", "v3", "v4"]))
    def set_revision(self, revision):
        """The policy's revision changes, maybe back to one the fleet ran before (A -> B -> A)."""
        self.plan = replace(self.plan, revision=revision)

    @rule()
    def retry(self):
        state = self.state()
        if state.overall in ("reverted", "halted"):
            self.commit("retry", "", epoch=max([state.epoch, *(e.number for e in state.epochs)]) + 1)
            after = self.state()  # (every wave planned empty, its clusters gone: nothing to start; it reads in-progress)
            assert after.overall == "not-started" or all(w.status == EMPTY for w in after.waves)

    @rule()
    def lift(self):
        """`rollout resume --halt`: the halted waves are judged afresh."""
        for wave in self.state().halts:
            for halt in wave.halt_commits:  # as rollout/halt.py writes them: its own and its late joins'
                self.serial += 1
                self.events.append(Event(f"c{self.serial}", self.now, "lift", self.plan.policy, self.plan.revision,
                                         wave.name, epoch=self.state().epoch, lifts=halt))
        assert not self.state().halts

    @rule(seconds=st.sampled_from([0, 1, 30, 120, 700]),
          health=st.dictionaries(st.integers(1, 6), st.sampled_from(["good", "bad", "bad", "blind"]), max_size=3),
          stale=st.sampled_from([False, False, False, True]),
          join_health=st.dictionaries(st.integers(1, 6), st.sampled_from(["good", "good", "bad", "blind"]),
                                      max_size=2))
    def step(self, seconds, health, stale, join_health):
        """Time passes, some waves' (and late joins') health changes, and a step runs."""
        self.now += seconds
        self.health.update({n: h for n, h in health.items() if n in self.health})
        self.join_health.update({n: h for n, h in join_health.items() if n in self.join_health})
        state = self.state()
        joined = {}  # each late join out, judged by its wave's gates on its own clusters
        for ws in state.waves:
            for join in ws.joins_out:
                health = self.join_health[ws.number]
                health = _unseen(self.plan.wave(ws.number), join.clusters, self.plan.wave_of, health)
                kind = "failed" if health == "bad" else "unknown" if health == "blind" else \
                    "passed" if join.bake_remaining == 0 else "pending"
                joined[join.commit] = Verdict(kind, kind, "earlier" if stale else join.commit,
                                              halt=health == "blind" and self.now - join.advanced_at > 1200)
        holding = {w.number: bool(joins_holding(self.plan, state, w.number)) for w in self.plan.waves}
        verdicts = {}
        for ws in state.waves:
            if ws.status not in JUDGED:
                continue
            health = _unseen(self.plan.wave(ws.number), ws.own, self.plan.wave_of, self.health[ws.number])
            if health == "bad":
                kind, halt = "failed", False
            elif health == "blind":
                kind, halt = "unknown", self.now - ws.advanced_at > 1200
            else:
                kind, halt = ("passed" if ws.bake_remaining == 0 else "pending"), False
            verdicts[ws.number] = Verdict(kind, kind, "earlier" if stale else ws.advance_commit, halt)
        actions = decide(self.plan, state, verdicts, FakeHold(self.paused), self.on_failure, joins=joined)
        # failed now, judged (a halted wave is judged no more: a person decides)
        failed_now = {n for n, v in verdicts.items() if v.state == "failed" and not stale
                      and not state.wave(n).halt_commit}
        joins_failed = {j.commit: j for w in state.waves if not w.halt_commit for j in w.joins_out
                        if j.commit in joined and joined[j.commit].state == "failed" and not stale}
        passed_joins = {a.advance for a in of(actions, VERIFY) if a.late}
        joining = {a.wave for a in of(actions, ADVANCE) if a.late}
        verified_now = {a.wave for a in of(actions, VERIFY) if not a.late}
        # what `advance --wave` and a proposed wave's merge ask (`stopped`): when it stops starts, decide starts none
        assert not (state.stopped and of(actions, ADVANCE)), (state.stopped, actions)
        # and the converse for what decide stops on without a verdict: a halt on a pin set off by hand
        assert state.stopped or not any(a.off for a in of(actions, HALT)), actions
        for action in of(actions, ADVANCE):  # nothing is pinned into a wave that cannot be judged, unpassed
            if action.late:
                into = state.wave(action.wave)
                assert not into.gone or into.status == "passed" or action.wave in verified_now, (action, into)
        for action in of(actions, ADVANCE):  # a first start: no late join of a wave before it out (or now), unjudged
            if not action.late:
                assert not joining & ancestors(self.plan, action.wave), (action, joining)
                # nor a gated wave before it that went out (its records say so, whatever the fold
                # and the inventory say now) and was not recorded as passed
                for dep in ancestors(self.plan, action.wave):
                    ours = {e.action for e in self.events if e.wave == self.plan.wave(dep).name
                            and e.revision == self.plan.revision and e.epoch == state.epoch and e.advance is None}
                    if "advance" in ours and self.plan.wave(dep).gates:
                        assert "verify" in ours or dep in verified_now, (action, dep)
            if not action.late and holding[action.wave]:
                after = [j for dep in ancestors(self.plan, action.wave) for j in state.wave(dep).joins_out
                         if j.commit not in passed_joins]
                assert not after, (action, after)
        event(f"waves failed at once: {min(len(failed_now), 2)}")
        event(f"late joins judged: {min(len(joined), 1)}, failed: {min(len(joins_failed), 1)}, "
              f"held a start: {any(holding.values())}")
        for action in actions:
            wave = self.plan.wave(action.wave) if action.wave else None
            if action.kind == ADVANCE:
                # availability decides only what is pinned: a cluster down now is not, unless included
                assert self.plan.unavailable == "include" or not set(action.clusters) & set(self.plan.down)
                for cluster in action.clusters:
                    if self.files[cluster] != self.plan.revision:
                        self.prior[cluster][self.plan.revision] = self.files[cluster]
                for cluster in action.clusters:
                    self.files[cluster] = self.plan.revision
                again = state.wave(action.wave).rejoin if action.late else {}  # as build_advances records it
                self.commit("advance", wave.name, action.clusters,
                            rejoins=[(c, again[c]) for c in action.clusters if c in again])
            elif action.kind == REVERT and action.late:  # a late join's: what it pinned, nothing more
                for cluster in action.clusters:
                    if self.files[cluster] == self.plan.revision:
                        self.files[cluster] = self.prior[cluster][self.plan.revision]
                self.commit("revert", wave.name, action.clusters, advance=action.advance)
            elif action.kind == REVERT:  # what its advances pinned, the clusters gone since included
                for cluster in dict.fromkeys([*wave.clusters, *state.wave(action.wave).pinned]):
                    if self.files[cluster] == self.plan.revision:
                        self.files[cluster] = self.prior[cluster][self.plan.revision]
                self.commit("revert", wave.name)
            elif action.kind == VERIFY:
                self.commit("verify", wave.name, advance=action.advance if action.late else None)
            elif action.kind == HALT:  # a halt record of the advance it judged
                self.serial += 1
                self.events.append(Event(f"c{self.serial}", self.now, "halt", self.plan.policy, self.plan.revision,
                                         wave.name, advance=action.advance, reason=action.reason,
                                         epoch=self.state().epoch, off=action.off))
        if state.halts:  # a halt sticks: nothing starts until it is lifted or retried
            assert not of(actions, ADVANCE) and not of(actions, VERIFY)
        if self.on_failure == "revert":
            # no cluster of a wave (or a late join) that failed in this step is left on the revision
            for number in failed_now:
                assert all(self.files[c] != self.plan.revision for c in self.plan.wave(number).clusters)
            for join in joins_failed.values():
                assert all(self.files[c] != self.plan.revision for c in join.clusters)
                assert self.state().overall == "reverted"
        else:  # halted, and it sticks
            assert {a.wave for a in of(actions, HALT)} >= failed_now
            assert {w.number for w in self.state().halts} >= failed_now

    @invariant()
    def never_complete_while_a_cluster_lacks_the_revision(self):
        if not hasattr(self, "plan"):
            return
        if self.state().overall == "complete":
            assert all(self.files[c] == self.plan.revision for c in self.plan.wave_of)

    @invariant()
    def a_cluster_once_pinned_stays_in_its_wave_s_gate(self):
        """Whatever availability says later: the gate judges what the advances pinned."""
        if not hasattr(self, "plan"):
            return
        state = self.state()
        for ws in state.waves:
            if ws.status in OUT:
                pinned = {c for e in self.events if e.action == "advance" and e.wave == ws.name
                          and e.epoch == state.epoch and e.revision == self.plan.revision for c in e.clusters}
                assert set(ws.pinned) == pinned

    @invariant()
    def a_reverted_wave_holds_no_cluster_on_the_revision(self):
        if not hasattr(self, "plan"):
            return
        for ws in self.state().waves:
            if ws.status == "reverted":
                assert all(self.files[c] != self.plan.revision for c in [*self.plan.wave(ws.number).clusters,
                                                                         *ws.pinned])
            for join in ws.joins:  # nor a reverted late join: and its clusters never join again
                if join.status == "reverted":
                    assert all(self.files[c] != self.plan.revision for c in join.clusters)
                    assert not set(join.clusters) & set(ws.late)

    @invariant()
    def no_wave_is_out_before_what_it_waits_for_passed(self):
        if not hasattr(self, "plan"):
            return
        state = self.state()
        passed = {w.number for w in state.waves if w.status == "passed" or w.verify_commit is not None}
        for wave in self.plan.waves:
            if state.wave(wave.number).status in OUT:
                for dep in wave.after:  # approved then or since (approval is not taken back)
                    assert cleared(self.plan, state, dep, passed)

    @invariant()
    def an_empty_wave_is_empty_and_never_recorded(self):
        """Planned empty: `empty` and without a record of this rollout, unless it went out
        before its clusters left the inventory: then it is out (or reverted) on what it
        pinned, never empty."""
        if not hasattr(self, "plan"):
            return
        state = self.state()
        for wave in self.plan.waves:
            ours = [e for e in self.events if e.wave == wave.name and e.revision == self.plan.revision
                    and e.epoch == state.epoch]
            went = [e for e in ours if e.action == "advance"]
            if not wave.empty:
                continue
            if went:
                assert state.wave(wave.number).status != EMPTY
                assert state.wave(wave.number).pinned == list(dict.fromkeys(c for e in went for c in e.clusters))
            else:
                assert state.wave(wave.number).status == EMPTY and not ours


def _unseen(wave, clusters, planned, health: str) -> str:
    """The shell's verdict on pinned clusters the inventory no longer lists (gated waves):
    those cannot be judged, so blind, unless a cluster it still sees fails (positive
    evidence); none left to see: blind."""
    if not wave.gates or all(c in planned for c in clusters):
        return health
    seen = [c for c in clusters if c in planned]
    return "bad" if health == "bad" and seen else "blind"


TestRollouts = Rollouts.TestCase
TestRollouts.settings = settings(stateful_step_count=40, deadline=None)


class LateJoins(Rollouts):
    """The same rules and invariants, on fleets where half the clusters are down when their
    waves go and the waves' own gates mostly pass: late joins, judged on their own, are
    what is explored (failing, blind, passing, holding the waves after them)."""

    @initialize(plan=plans(), on_failure=st.sampled_from(["revert", "halt"]))
    def start(self, plan, on_failure):
        super().start(plan, on_failure)
        self.plan = replace(plan, unavailable="skip", down={c: "down (test)" for i, c in enumerate(sorted(plan.wave_of))
                                                             if i % 2})

    @rule(seconds=st.sampled_from([1, 30, 120, 700]),
          health=st.dictionaries(st.integers(1, 6), st.sampled_from(["good", "good", "good", "bad"]), max_size=1),
          stale=st.just(False),
          join_health=st.dictionaries(st.integers(1, 6), st.sampled_from(["good", "bad", "blind"]), max_size=3))
    def step(self, seconds, health, stale, join_health):
        super().step(seconds, health, stale, join_health)

    # steps, outages and recoveries, lifts and approvals only: the rules above, not as rules here
    def pause(self, paused):
        pass

    def set_revision(self, revision):
        pass

    def retry(self):
        pass

    def availability(self, changed):
        pass


TestLateJoins = LateJoins.TestCase
TestLateJoins.settings = settings(stateful_step_count=30, max_examples=60, deadline=None)


class Departures(Rollouts):
    """The same rules and invariants, where clusters leave the inventory while their waves
    are out (docs/inventory.md, "Clusters that leave the inventory mid-rollout"): steps and
    departures only, so that a wave emptied after its advance is what is explored. And
    what the fold cannot know from the records alone (docs/inventory.md, "A cluster that
    comes back"): a gone cluster comes back with its file on the old pin, or a person sets
    a pinned file off the revision; the fold reads the files (`at_revision`) and the commits
    that changed them (`changes`, newest first), as the shell gives them."""

    @initialize(plan=plans(), on_failure=st.sampled_from(["revert", "halt"]))
    def start(self, plan, on_failure):
        super().start(plan, on_failure)
        self.original = plan
        self.changes: list[Change] = []  # oldest first: every commit that changed a cluster's file
        self.seen = dict(self.files)
        self.hand: dict[str, str] = {}  # a cluster set off by a person -> that commit, until pinned again

    def commit(self, action, wave, clusters=(), by=None, epoch=None, advance=None, rejoins=()) -> None:
        if action == "advance":  # pinned again over a person's edit only once a person lifted the halt naming it
            lifted = {e.lifts for e in self.events if e.action == "lift"}
            named = {pair for e in self.events if e.action == "halt" and e.commit in lifted for pair in e.off}
            for cluster, _ in rejoins:
                if cluster in self.hand:
                    assert (cluster, self.hand[cluster]) in named, (cluster, self.events)
            for cluster in clusters:
                self.hand.pop(cluster, None)
        super().commit(action, wave, clusters, by, epoch, advance, rejoins)
        self._changed(self.events[-1].commit)

    def _changed(self, commit: str, deleted: frozenset = frozenset(), added: frozenset = frozenset()) -> None:
        for cluster, pin in self.files.items():  # a file made again is a change whatever it holds (git: A)
            if self.seen.get(cluster) != pin or cluster in deleted or cluster in added:
                self.changes.append(Change(cluster, commit, f"{cluster}.yaml", deleted=cluster in deleted))
        self.seen = dict(self.files)

    def state(self) -> RolloutState:
        at = {c: self.files[c] == self.plan.revision for c in self.plan.wave_of}
        return fold(self.plan, self.events, self.now, at, changes=self.changes[::-1])

    @rule(index=st.integers(0, 20), on_revision=st.sampled_from([False, False, True]))
    def come_back(self, index, on_revision):
        """A gone cluster (decommissioned: its file deleted) is re-provisioned under its
        name, its file from the old template: in its wave again, on the old pin (or from
        a new template, on the revision: a person may set it off by hand after)."""
        def gone():  # pinned in this epoch, and left the inventory (one never pinned is a new cluster)
            state = self.state()
            pinned = {c for e in self.events if e.action == "advance" and e.epoch == state.epoch
                      and e.revision == self.plan.revision for c in e.clusters}
            return sorted(c for c in self.original.wave_of if c not in self.plan.wave_of and c in pinned)

        if not gone():  # none: one of a wave out leaves (its file deleted) to come back at once
            state = self.state()
            if not any(state.wave(w.number).status in OUT and w.clusters for w in self.plan.waves):
                return
            Departures.leave(self, {index})
        if not gone():
            return
        cluster = gone()[index % len(gone())]
        self.serial += 1
        self._changed(f"rm{self.serial}", deleted=frozenset([cluster]))
        self.hand.pop(cluster, None)  # decommissioned: what a person did to its file before is gone with it
        # on the revision only while nothing was reverted (the invariants hold a reverted wave's or join's clusters
        # off it: a person re-provisioning one on the bad revision is no rollout's doing)
        on_revision = on_revision and not any(e.action == "revert" for e in self.events)
        self.files[cluster] = self.plan.revision if on_revision else "v1"
        self._changed(f"add{self.serial}", added=frozenset([cluster]))
        number = self.original.wave_of[cluster]
        self.plan = replace(self.plan, waves=[replace(w, clusters=[*w.clusters, cluster]) if w.number == number else w
                                              for w in self.plan.waves],
                            wave_of={**self.plan.wave_of, cluster: number}, pins={**self.plan.pins, cluster: []})

    @rule(index=st.integers(0, 20))
    def hand_edit(self, index):
        """A person sets a pinned cluster of a wave out back to the old pin (no rollout record)."""
        state = self.state()
        pinned = sorted(c for w in self.plan.waves if state.wave(w.number).status in OUT for c in w.clusters
                        if self.files[c] == self.plan.revision)
        if pinned:
            self.serial += 1
            cluster = pinned[index % len(pinned)]
            self.files[cluster] = "v1"
            self._changed(f"hand{self.serial}")
            self.hand[cluster] = f"hand{self.serial}"

    @invariant()
    def never_complete_while_a_planned_cluster_of_a_wave_out_is_off_the_revision(self):
        if not hasattr(self, "original"):
            return
        state = self.state()
        event(f"pinned again (came back, or lifted): {min(sum(1 for e in self.events if e.rejoins), 1)}; "
              f"halted on a hand edit: {min(sum(1 for e in self.events if e.off), 1)}")
        if state.overall == "complete":
            for wave in self.plan.waves:
                if state.wave(wave.number).status in OUT:
                    assert all(self.files[c] == self.plan.revision for c in wave.clusters), (wave, self.files)

    def pause(self, paused):
        pass

    def set_revision(self, revision):
        pass

    def availability(self, changed):
        pass

    def outage(self, index):
        pass

    def recover(self):
        pass


TestDepartures = Departures.TestCase
TestDepartures.settings = settings(stateful_step_count=20, max_examples=60, deadline=None)


class ComeBacks(Departures):
    """Departures' rules and invariants, where the gates mostly pass so the waves go out and
    stay out: what is explored is a cluster coming back on the old pin (a late join again)
    and a pin set off by hand (a halt, lifted, and the cluster pinned again)."""

    @rule(seconds=st.sampled_from([1, 30, 700]),
          health=st.dictionaries(st.integers(1, 6), st.sampled_from(["good", "good", "good", "bad"]), max_size=1),
          stale=st.just(False),
          join_health=st.dictionaries(st.integers(1, 6), st.sampled_from(["good", "good", "bad", "blind"]),
                                      max_size=2))
    def step(self, seconds, health, stale, join_health):
        super().step(seconds, health, stale, join_health)

    def retry(self):
        pass

    def approve(self, wave):
        pass

    def leave(self, indexes):  # come_back makes its own departure
        pass


TestComeBacks = ComeBacks.TestCase
TestComeBacks.settings = settings(stateful_step_count=25, max_examples=100, deadline=None)


def test_an_unavailable_cluster_is_left_out_joins_once_back_and_nothing_completes_without_it():
    waves = [Wave(1, "canary", 0, None, None, ["a", "b"]), Wave(2, "rest", 1, None, None, ["c"], after=[1])]
    plan = Plan("p", "v2", [], waves, {}, {"a": 1, "b": 1, "c": 2}, down={"b": "ManagedClusterConditionAvailable is "
                                                                              "Unknown (lease stopped)"})
    (start,) = decide(plan, fold(plan, [], T0), {}, FakeHold())
    assert (start.kind, start.clusters) == (ADVANCE, ("a",))
    assert start.reason == "ready; left out, unavailable (each joins late once back): b (ManagedClusterCondition" \
                           "Available is Unknown (lease stopped))"
    events = [Event("adv1", T0, "advance", "p", "v2", "canary", ("a",))]
    state = fold(plan, events, T0)
    assert state.wave(1).status == "passed" and state.wave(1).pinned == ["a"] and state.wave(1).late == ["b"]
    assert [(a.kind, a.wave, a.clusters) for a in decide(plan, state, {}, FakeHold())] == [(ADVANCE, 2, ("c",))]
    events.append(Event("adv2", T0, "advance", "p", "v2", "rest", ("c",)))
    assert fold(plan, events, T0).overall == "in-progress"  # every wave passed, but b lacks the revision
    back = replace(plan, down={})
    (join,) = decide(back, fold(back, events, T0), {}, FakeHold())
    assert (join.kind, join.wave, join.clusters, join.late) == (ADVANCE, 1, ("b",), True)
    events.append(Event("adv3", T0, "advance", "p", "v2", "canary", ("b",)))
    assert fold(back, events, T0).overall == "complete"
    assert fold(plan, events, T0).wave(1).pinned == ["a", "b"]  # down again later: still judged


def test_a_wave_whose_clusters_are_all_down_waits_and_so_does_every_wave_after_it():
    waves = [Wave(1, "canary", 0, None, None, ["a"]), Wave(2, "rest", 1, None, None, ["c"], after=[1])]
    plan = Plan("p", "v2", [], waves, {}, {"a": 1, "c": 2}, down={"a": "no ControlPlaneHealthy condition"})
    actions = decide(plan, fold(plan, [], T0), {}, FakeHold())
    assert [(a.kind, a.wave, a.reason) for a in actions] == [
        (WAIT, 1, "waiting: every cluster of the wave is unavailable: a (no ControlPlaneHealthy condition)")]
    two = replace(plan, waves=[replace(waves[0], clusters=["a", "b"]), waves[1]], wave_of={"a": 1, "b": 1, "c": 2})
    waiting = replace(two, unavailable="wait")
    assert [(a.kind, a.wave) for a in decide(waiting, fold(waiting, [], T0), {}, FakeHold())] == [(WAIT, 1)]
    including = replace(two, unavailable="include")
    assert [(a.kind, a.clusters) for a in decide(including, fold(including, [], T0), {}, FakeHold())] == [
        (ADVANCE, ("a", "b"))]


def test_clusters_that_pin_one_field_with_an_unavailable_one_wait_with_it():
    """Writing a shared field moves every cluster that pins it: one down holds the others."""
    from waves.planner import SharedPin

    wave = Wave(1, "prod", 0, None, None, ["a", "b", "c"], shared=(SharedPin("fleet.yaml", "x", ("a", "b")),))
    plan = Plan("p", "v2", [], [wave], {}, {"a": 1, "b": 1, "c": 1}, down={"a": "agent offline"})
    (start,) = decide(plan, fold(plan, [], T0), {}, FakeHold())
    assert start.clusters == ("c",)
    assert start.reason.endswith("a (agent offline); b (pins fleet.yaml x with a, unavailable)")
