"""The step's decision (waves/decide.py), pure: properties over random plans, states and
verdicts, and a state machine over random histories that executes each decision the way
the shell does (events in Git, pins in files) and checks the rollout never lies."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from waves.decide import ADVANCE, HALT, JUDGED, REVERT, VERIFY, WAIT, Verdict, decide, of
from waves.planner import Plan, Wave
from waves.state import EMPTY, OUT, Event, RolloutState, WaveState, fold


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
def situations(draw):
    """A plan, a state of it, verdicts (some about other advances) and holds."""
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
            halt_commit=f"halt{wave.number}" if status in OUT and draw(st.integers(0, 5)) == 0 else None))
    state = RolloutState(plan.policy, plan.revision, waves)
    verdicts = {}
    for ws in waves:
        if draw(st.booleans()):
            kind = draw(st.sampled_from(["passed", "pending", "failed", "unknown"]))
            stale = draw(st.booleans()) and ws.advance_commit is not None
            verdicts[ws.number] = Verdict(kind, kind, "older" if stale else ws.advance_commit,
                                          halt=kind == "unknown" and draw(st.booleans()), evidence=(kind,))
    hold = FakeHold(draw(st.booleans()), frozenset(draw(st.sets(st.sampled_from([w.number for w in plan.waves])))))
    on_failure = draw(st.sampled_from(["revert", "halt"]))
    scope = draw(st.sampled_from(["wave", "rollout"]))
    return plan, state, verdicts, hold, on_failure, scope


def cleared(plan, state, number, passed) -> bool:
    """What waits for wave `number` may go: it passed (approved where required), or it is
    empty and everything it waits for cleared."""
    wave = plan.wave(number)
    if wave.empty:
        return all(cleared(plan, state, dep, passed) for dep in wave.after)
    return number in passed and (wave.approval != "required" or bool(state.wave(number).approved_by))


def bound(state, verdicts):
    return {w.number: verdicts[w.number] for w in state.waves if w.status in JUDGED and not w.halt_commit
            and w.number in verdicts and verdicts[w.number].advance == w.advance_commit}


@given(situations())
@settings(deadline=None)
def test_the_decision_keeps_every_rule(situation):
    plan, state, verdicts, hold, on_failure, scope = situation
    actions = decide(plan, state, verdicts, hold, on_failure, scope)
    mine = bound(state, verdicts)
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
        assert {a.wave for a in of(actions, REVERT)} <= failed
    assert all(a.advance == state.wave(a.wave).advance_commit for a in actions if a.kind in (REVERT, HALT, VERIFY))
    # a blind gate past its deadline halts; it never reverts
    assert blind_halts <= {a.wave for a in of(actions, HALT)}
    assert not {a.wave for a in of(actions, REVERT)} & blind_halts
    # only what was judged of the current advance acts
    assert {a.wave for a in actions if a.kind in (HALT, VERIFY)} <= set(mine)
    # a halted wave is judged no more (an abort, scope rollout, still reverts it: it is out)
    assert not {a.wave for a in actions if a.kind != WAIT and not (a.kind == REVERT and scope == "rollout")} \
        & {w.number for w in state.halts}
    if failed or blind_halts or state.halts:
        assert not of(actions, ADVANCE) and not of(actions, VERIFY)
        return
    # a pass is recorded once, after the bake
    verified = {a.wave for a in of(actions, VERIFY)}
    for number in verified:
        ws = state.wave(number)
        assert mine[number].state == "passed" and ws.verify_commit is None and ws.bake_remaining == 0
    assert verified == {n for n, v in mine.items() if v.state == "passed" and state.wave(n).verify_commit is None
                        and state.wave(n).bake_remaining == 0}
    # nothing starts in a paused or reverted rollout; otherwise only what may go
    starts = of(actions, ADVANCE)
    if hold.paused or any(w.status == "reverted" for w in state.waves):
        assert not starts
        return
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
    # and what may go does: an empty wave holds back nothing that waits for it
    may_go = {w.number for w in plan.waves if state.wave(w.number).status == "pending"
              and all(cleared(plan, state, dep, passed) for dep in w.after)}
    assert {a.wave for a in starts if not a.late} | {a.wave for a in of(actions, WAIT) if "window" in a.reason} \
        | held == may_go
    assert [a.wave for a in starts] == sorted(a.wave for a in starts)


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
        self.now, self.paused, self.serial = T0, False, 0

    def commit(self, action, wave, clusters=(), by=None, epoch=None) -> None:
        """A rollout commit, of the epoch the shell writes: the fold's (a retry: the next)."""
        self.serial += 1
        self.events.append(Event(f"c{self.serial}", self.now, action, self.plan.policy, self.plan.revision, wave,
                                 tuple(clusters), by=by, epoch=epoch or self.state().epoch))

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
            assert self.state().overall == "not-started"

    @rule()
    def lift(self):
        """`rollout resume --halt`: the halted waves are judged afresh."""
        for wave in self.state().halts:
            self.serial += 1
            self.events.append(Event(f"c{self.serial}", self.now, "lift", self.plan.policy, self.plan.revision,
                                     wave.name, epoch=self.state().epoch, lifts=wave.halt_commit))
        assert not self.state().halts

    @rule(seconds=st.sampled_from([0, 1, 30, 120, 700]),
          health=st.dictionaries(st.integers(1, 6), st.sampled_from(["good", "bad", "bad", "blind"]), max_size=3),
          stale=st.sampled_from([False, False, False, True]))
    def step(self, seconds, health, stale):
        """Time passes, some waves' health changes, and a step runs."""
        self.now += seconds
        self.health.update({n: h for n, h in health.items() if n in self.health})
        state = self.state()
        verdicts = {}
        for ws in state.waves:
            if ws.status not in JUDGED:
                continue
            health = self.health[ws.number]
            if health == "bad":
                kind, halt = "failed", False
            elif health == "blind":
                kind, halt = "unknown", self.now - ws.advanced_at > 1200
            else:
                kind, halt = ("passed" if ws.bake_remaining == 0 else "pending"), False
            verdicts[ws.number] = Verdict(kind, kind, "earlier" if stale else ws.advance_commit, halt)
        actions = decide(self.plan, state, verdicts, FakeHold(self.paused), self.on_failure)
        # failed now, judged (a halted wave is judged no more: a person decides)
        failed_now = {n for n, v in verdicts.items() if v.state == "failed" and not stale
                      and not state.wave(n).halt_commit}
        event(f"waves failed at once: {min(len(failed_now), 2)}")
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
                self.commit("advance", wave.name, action.clusters)
            elif action.kind == REVERT:
                for cluster in wave.clusters:
                    if self.files[cluster] == self.plan.revision:
                        self.files[cluster] = self.prior[cluster][self.plan.revision]
                self.commit("revert", wave.name)
            elif action.kind == VERIFY:
                self.commit("verify", wave.name)
            elif action.kind == HALT:  # a halt record of the advance it judged
                self.serial += 1
                self.events.append(Event(f"c{self.serial}", self.now, "halt", self.plan.policy, self.plan.revision,
                                         wave.name, advance=action.advance, reason=action.reason,
                                         epoch=self.state().epoch))
        if state.halts:  # a halt sticks: nothing starts until it is lifted or retried
            assert not of(actions, ADVANCE) and not of(actions, VERIFY)
        if self.on_failure == "revert":
            # no cluster of a wave that failed in this step is left on the revision
            for number in failed_now:
                assert all(self.files[c] != self.plan.revision for c in self.plan.wave(number).clusters)
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
                assert all(self.files[c] != self.plan.revision for c in self.plan.wave(ws.number).clusters)

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
        if not hasattr(self, "plan"):
            return
        empty = {w.name for w in self.plan.waves if w.empty}
        assert all(self.state().wave(name).status == EMPTY for name in empty)
        assert not [e for e in self.events if e.wave in empty]


TestRollouts = Rollouts.TestCase
TestRollouts.settings = settings(stateful_step_count=40, deadline=None)


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
