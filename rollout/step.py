"""A step's hands: what waves/decide.py decided, built as commits on one snapshot and
published through the session's delivery (one publish-and-retry path).

The snapshot (the loaded policy, the events, the fold, the holds) is read once per step;
it is read again only when what it was read from moved: a lost push race (the branch)
or a record another runner pushed first (the records branch). Then the decision is taken
again on the new snapshot, with the step's verdicts still bound to the advance commits
they judged: a verdict of an advance that is no longer the wave's acts on nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from waves.decide import ADVANCE, HALT, JUDGED, REVERT, VERIFY, Action, Verdict, decide, of
from waves.state import OUT, Event, RolloutState
from rollout.controls import hold_of
from rollout.advance import build_advances
from rollout.outcome import Outcome, WaveChange
from rollout.revert import restores_nothing, revert_wave
from rollout.trust import require_signing
from rollout.session import clock, events_of, fold_events, load, open_synced, publish
from rollout.git.history import RECORDS, halt_message, history_refs, policy_digest, verify_message
from rollout.workspace import Workspace
from rollout.yamlfile import bulk
from waves.holds import Hold


@dataclass
class Snapshot:
    ws: Workspace
    events: list[Event]
    state: RolloutState
    hold: Hold
    key: tuple  # the branch's and the records branch's commits it was read at
    reused: bool = False  # the plan and the checks' verdict were kept ones (rollout/reuse.py)


class Stepper:
    """One step on one session: `snapshot()` once, `act()` per kind of publication."""

    def __init__(self, session, policy_ref: str, now: int, check_files: bool = True, reuse: bool = True):
        self.session, self.policy_ref, self.now, self.check_files = session, policy_ref, now, check_files
        self.reuse = reuse
        self._snapshot: Snapshot | None = None
        self._moved = False  # this step's publications moved a branch

    def _key(self) -> tuple:
        """The branch's commit (HEAD: the session checked it out) and the records branch's,
        in one git process: a waiting step looks at its snapshot ~7 times."""
        git, remote = self.session.git, self.session.remote
        branch, records = f"refs/heads/{self.session.branch}", f"refs/remotes/{remote}/{RECORDS}"
        out = git.run("for-each-ref", "--format=%(refname) %(objectname)", branch, *([records] if remote else []))
        found = dict(line.split(" ", 1) for line in out.splitlines())
        return found.get(branch) or git.head(), found.get(records) if remote else None

    def latest(self) -> Snapshot | None:
        """The snapshot last read, without looking whether it is still current."""
        return self._snapshot

    def _reusable(self) -> bool:
        """A step that only looks takes the plan and the checks' verdict kept for the same
        inputs; not under a delivery that does not chain (pull requests: every step tends,
        and may merge, the requests in flight)."""
        delivery = self.session.delivery
        return self.reuse and (delivery is None or delivery.chains)

    def snapshot(self, fresh: bool = False) -> Snapshot:
        """`fresh`: read with nothing kept (what a step writes is decided on that)."""
        key = self._key()
        snap = self._snapshot
        if snap is None or snap.key != key or (snap.reused and (fresh or not self._reusable())):
            session = self.session
            # reading only: HEAD (the branch the session checked out) and the records branch are the key's
            known = {"HEAD": key[0], **({f"refs/remotes/{session.remote}/{RECORDS}": key[1]} if session.remote else {})}
            with session.git.refs_known(known):
                ws = load(session, self.policy_ref, check_files=self.check_files, reuse=self._reusable() and not fresh)
                if ws.plan_key is not None and not self._reusable():  # the policy's delivery, known now: pull requests
                    ws = load(session, self.policy_ref, check_files=self.check_files)
                events = events_of(session, ws)
                state = fold_events(session.delivery, session.git, session.remote, ws, events, self.now)
                hold = hold_of(session.git, ws.plan.policy, self.now, history_refs(session.git, session.remote), ws)
            self._snapshot = Snapshot(ws, events, state, hold, key, reused=ws.plan_key is not None)
        return self._snapshot

    def decide(self, verdicts: dict[str, Verdict], joins: dict[str, Verdict] | None = None) -> list[Action]:
        """The decision on the current snapshot; `verdicts` by wave name (numbers shift when
        the policy changes), each bound to the advance commit it judged; `joins`, the late
        joins' by their commits."""
        snap = self.snapshot()
        numbered = {w.number: verdicts[w.name] for w in snap.state.waves if w.name in verdicts}
        failure = snap.ws.loaded.policy.spec.onFailure
        unchanged = unrevertable(self.session, snap, numbered, joins or {}, failure.scope) \
            if failure.action == "revert" else {}
        return decide(snap.ws.plan, snap.state, numbered, snap.hold, failure.action, failure.scope, joins, unchanged)

    def act(self, verdicts: dict[str, Verdict], kinds: tuple[str, ...], urgent: bool = False,
            record: bool = False, joins: dict[str, Verdict] | None = None) -> Outcome:
        """Build the decided actions of `kinds` as commits and publish them; a lost race
        reads the snapshot again and decides again. The outcome's `decided` is the decision
        its commits carry out."""

        def attempt():
            snap = self.snapshot()
            decided = self.decide(verdicts, joins)
            if snap.reused and any(a.kind in kinds for a in decided):  # a write: decided again on files read afresh
                snap = self.snapshot(fresh=True)
                decided = self.decide(verdicts, joins)
            if any(a.kind in kinds for a in decided if a.kind in (VERIFY, ADVANCE)):
                require_signing(self.session, snap.ws, "a verify record or an advance")  # it would not count unsigned: exit 2
            outcome = Outcome(snap.ws.plan.policy, snap.ws.plan.revision, ws=snap.ws, state=snap.state,
                              decided=decided)
            base = self.session.delivery.record_base(self.session) if record else self.session.git.head()
            with bulk():
                tip = build(self.session, snap, [a for a in decided if a.kind in kinds], base, outcome)
            return outcome, base, tip

        outcome = publish(self.session, attempt, urgent=urgent, record=record)
        # What moved since the snapshot is what this decision built: the snapshot and its
        # decision stay right for the step's other kinds (the records this step published
        # still release the advances it decided), so they are not read again.
        key = self._key()
        self._moved = self._moved or key != self._snapshot.key
        self._snapshot.key = key
        return outcome

    def carry_out(self, verdicts: dict[str, Verdict], decided: list[Action], parts,
                  joins: dict[str, Verdict] | None = None) -> list[Outcome]:
        """The decided actions, in `parts` ([(kinds, {"urgent"/"record": True})], in order):
        under a delivery that chains (push) all of them in one chain and one push; under
        one that does not (pull requests), one publication per part that has actions (a
        revert as an urgent request, records on the records branch, advances each in its own
        request)."""
        if self.session.delivery.chains:
            kinds = tuple(kind for kinds, _ in parts for kind in kinds)
            return [self.act(verdicts, kinds, joins=joins)] if any(a.kind in kinds for a in decided) else []
        return [self.act(verdicts, kinds, joins=joins, **flags) for kinds, flags in parts
                if any(a.kind in kinds for a in decided)]

    def after(self) -> RolloutState:
        """The rollout after the step's commits: the events read again and folded on the
        snapshot's plan (the policy is not loaded again)."""
        snap = self.snapshot()  # read again if anyone but this step's publications moved the branches
        if not self._moved:  # this step published nothing: the same events, folded at the same now
            return snap.state
        session, ws = self.session, snap.ws
        # the files were read before this step's commits moved them: what its advances pinned holds the revision
        events = events_of(session, ws)
        before = {e.commit for e in snap.events}
        pinned = {c for e in events if e.commit not in before and e.action == ADVANCE for c in e.clusters}
        return fold_events(session.delivery, session.git, session.remote, ws, events, self.now, after=pinned)


def unrevertable(session, snap: Snapshot, verdicts: dict[int, Verdict], joins: dict[str, Verdict],
                 scope: str = "wave") -> dict[str, str]:
    """The advance commits whose revert would restore nothing while their clusters stay on
    the revision (rollout/revert.py: what revert_wave refuses to commit), so decide halts
    them: each failed late join (its commit), each failed wave (its first advance: the
    whole wave's revert) and, under `scope: rollout` once any failed, every wave out.
    Read for those only: a few `git cat-file` each. Commit -> why."""
    ws, state, events = snap.ws, snap.state, snap.events
    out = {}
    failed = {n for n, v in verdicts.items() if v.state == "failed" and v.advance == state.wave(n).advance_commit}
    for wave in state.waves:
        for join in wave.joins:
            verdict = joins.get(join.commit)
            if verdict is not None and verdict.state == "failed" and verdict.advance == join.commit:
                why = restores_nothing(session, ws, state, events, wave.number, join.commit, join.clusters)
                if why:
                    out[join.commit] = why
    any_failed = bool(failed) or any(v.state == "failed" for v in joins.values())
    for wave in state.waves:
        if wave.status in OUT and wave.advance_commit and (wave.number in failed or (scope == "rollout" and any_failed)):
            why = restores_nothing(session, ws, state, events, wave.number)
            if why:
                out[wave.advance_commit] = why
    return out


def build(session, snap: Snapshot, actions: list[Action], base: str, outcome: Outcome) -> str:
    """The actions' commits on `base`: reverts, then halt and verify records, then advances;
    chained where the delivery chains (push), each on `base` where it does not (pull requests)."""
    ws, state, plan = snap.ws, snap.state, snap.ws.plan
    chains = session.delivery.chains
    tip = base
    for action in of(actions, REVERT):  # a late join's: its commit's clusters only
        tip = revert_wave(session, ws, state, snap.events, action.wave, action.reason, tip if chains else base,
                           outcome, advance=action.advance, only=action.clusters if action.late else None)
    digest = policy_digest(ws.loaded.text)
    record = {  # the empty commits that record a verdict: its evidence, and the advance (or late join) it judged
        HALT: lambda a: halt_message(plan.policy, plan.revision, a.wave, a.name, a.reason, list(a.evidence), digest,
                                     a.advance, epoch=state.epoch, late=a.clusters if a.late else (), off=a.off),
        VERIFY: lambda a: verify_message(plan.policy, plan.revision, a.wave, a.name, list(a.evidence), digest,
                                         advance=a.advance, epoch=state.epoch, late=a.clusters if a.late else ())}
    for action in [a for kind in (HALT, VERIFY) for a in of(actions, kind)]:
        tip = session.git.commit_empty_on(tip, record[action.kind](action))
        clusters = list(action.clusters) if action.late or action.off else list(plan.wave(action.wave).clusters)
        outcome.changes.append(WaveChange(action.wave, action.name, action.kind, clusters, [], commit=tip,
                                          late=action.late, advance=action.advance if action.late else None))
    starts = [(a.wave, list(a.clusters), a.late, [], False) for a in of(actions, ADVANCE)]
    if starts:
        tip = build_advances(session, ws, state, starts, outcome, tip, None, False)
    return tip


def record_passes(repo, policy_ref: str, verdicts: dict[str, Verdict], push: bool | None = None,
                  now: int | None = None, delivery: str | None = None,
                  joins: dict[str, Verdict] | None = None) -> Outcome:
    """`rollout gate --record`: the verify records of waves whose gates passed, each bound
    to the advance it judged, and of late joins (`joins`, by their commits), decided as
    `rollout run` decides them (none during the bake, none twice, none for another advance)."""
    session = open_synced(repo, push, delivery)
    # the pinned files read, as run's step reads them: a cluster set off the revision by hand halts
    # its wave there (and, under spec.trust, a pin no trusted advance made holds every record back)
    return Stepper(session, policy_ref, clock(now)).act(verdicts, (VERIFY,), record=True, joins=joins)


def bind(verdict, advance: str | None) -> Verdict:
    """A judged wave's verdict (rollout/gate_check.py) bound to the advance commit it judged."""
    return Verdict(verdict.state, verdict.reason, advance, verdict.halt, tuple(verdict.evidence()))


def record_gate(repo, policy_ref: str, state: RolloutState, number: int, verdict, joins: list[tuple],
                push: bool | None = None, now: int | None = None) -> dict[str | None, str]:
    """`rollout gate --wave N --record`: the passes of wave `number` (`verdict`) and of its
    late joins out (`joins`: (join, its verdict) each), recorded as `rollout run` records
    them. Every verdict judged goes to the decision, not the passes alone: a failure or a
    halt among them (the wave's, or a late join's) records no pass, as in run's step (a
    late join's pass of a wave failing in the same judgement was recorded, and the wave's
    revert takes the join back with it). The advance each record judged (None: the
    wave's own) -> the record's commit. No session is opened (nor its checkout locked)
    unless something out and unjudged passed."""
    wave = state.wave(number)
    judged = ([verdict] if wave.status in JUDGED else []) + [v for j, v in joins if j.status in JUDGED]
    if not any(v.state == "passed" for v in judged):
        return {}
    outcome = record_passes(repo, policy_ref, {verdict.name: bind(verdict, wave.advance_commit)}, push, now,
                            joins={j.commit: bind(v, j.commit) for j, v in joins})
    return {c.advance if c.late else None: c.commit for c in outcome.changes if c.commit}

