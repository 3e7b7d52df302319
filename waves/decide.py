"""What one step of a rollout does, decided from one snapshot: a pure function.

    decide(plan, state, verdicts, hold, on_failure) -> [Action]

`state` is the rollout folded from Git (waves/state.py), `verdicts` the gates' verdicts
judged in this step, each bound to the advance commit it judged, `hold` the pauses and
change windows at the step's `now` (waves/holds.py). The shell fetches these, executes the
actions (commits, pushes, pull requests) and publishes; it decides nothing itself.

The rules, each a property test (tests/test_decide.py):
- every wave that is out and whose verdict failed is reverted (`onFailure: revert`) or
  halted (`halt`) in this step, all of them, not the first only; with `scope: rollout`
  a failure reverts every wave that is out, newest first;
- a gate that has seen nothing past `progressDeadline` halts: the tool cannot see, so it
  reverts nothing and advances nothing;
- a verdict about another advance (a revision bumped, a wave re-advanced since it was
  judged) counts for nothing: its wave waits for a verdict of its own;
- a pass is recorded (`verify`) only once the bake is over, and only once;
- under `spec.trust`, while a change to the policy or its allowed signers is unsigned, or
  pinned files hold the revision without a trusted advance, nothing is recorded as passed
  or advances (reverts still go: a stop counts signed or not);
- a halted wave (a halt record of its advance, not lifted) is judged no more, and nothing
  is recorded as passed or advances until a person lifts the halt or retries;
- nothing advances while a wave fails or halts in this step, while the revision has a
  reverted wave, or while the rollout is paused; a wave advances only when every wave it
  waits for has passed (a pass recorded in this very step counts) and is approved where
  approval is required, and, for its first start, inside its change window;
- an empty wave (it claims no cluster) is never advanced, judged, reverted or halted: it
  passes once every wave it waits for has, and what waits for it goes on;
- a partial plan (the waves out, from their advance records, while the inventory
  cannot be read: waves/recorded.py) judges, reverts, halts and records passes, and
  advances nothing;
- availability (a live source's condition) decides only what an advance pins
  (`pinnable`): `skip` leaves the unavailable clusters out (each pinned as a late join
  once back), `wait` holds the wave while any is unavailable, `include` pins them; a wave
  whose clusters are all unavailable waits, and so does every wave after it;
- a wave that went out is judged on what it pinned: clusters of it that left the inventory
  since make its verdict unknown (the shell's), and no late join is pinned into it until it
  passed;
- a late join (`joins`: verdicts by the join's commit) is judged on its own by its wave's
  gates, on the clusters it pinned, whether its wave passed already or not: failed, its
  commit alone is reverted (`onFailure: halt`: halted; `scope: rollout`: every wave out;
  halted when its commit cannot be reverted alone: a field it shares with clusters of
  another advance of the wave, or a commit that changed none of its files),
  blind past progressDeadline it halts, passed after its own bake it is recorded; a
  reverted late join stops the revision as a reverted wave does, and a wave that waits,
  directly or through others, for a wave with a late join out and unjudged (or pinned in
  this very step) does not start until that join passed;
- a wave's revert that would restore nothing while its clusters stay on the revision
  (`unchanged`: every file of it held the revision already when pinned) is a halt, never
  an empty revert read as `reverted` (a person decides), as for a late join;
- a cluster pinned by a wave out whose files are off the revision now (waves/drift.py):
  one that came back on an old pin (its file deleted since its pin) is a late join again;
  one set off by a commit that is no record of this rollout (a hand edit) halts its wave,
  the record naming the cluster, file and commit, and once a person lifts that halt it is
  a late join again; never `complete` meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from waves.state import OUT, RolloutState, down_list, held_back, joins_holding, pinnable, ready

REVERT, HALT, VERIFY, ADVANCE, WAIT = "revert", "halt", "verify", "advance", "wait"
JUDGED = ("baking", "verifying")  # out and not passed: the waves whose gates a step judges


@dataclass(frozen=True)
class Verdict:
    """A wave's gates, judged now (rollout/gate_check.py makes them)."""

    state: str  # passed | pending | failed | unknown
    reason: str
    advance: str | None  # the advance commit the gates judged
    halt: bool = False  # unknown past progressDeadline: the tool cannot see
    evidence: tuple[str, ...] = ()  # what a verify record keeps


@dataclass(frozen=True)
class Action:
    kind: str  # revert | halt | verify | advance | wait
    wave: int | None  # None: about the whole rollout (a pause)
    name: str = ""
    advance: str | None = None  # the advance commit it is about (revert, halt, verify; a late join's wave)
    reason: str = ""
    clusters: tuple[str, ...] = ()  # advance: whom to pin; a late join's revert, verify, halt: what it pinned
    late: bool = False  # clusters that joined after their wave went out: their advance, or a record of that join
    evidence: tuple[str, ...] = ()  # verify, halt: the verdict's
    off: tuple[tuple[str, str], ...] = ()  # a halt on clusters set off the revision: (cluster, commit) each


def decide(plan, state: RolloutState, verdicts: dict[int, Verdict], hold, on_failure: str = "revert",
           scope: str = "wave", joins: dict[str, Verdict] | None = None,
           unchanged: frozenset[str] | set[str] | dict[str, str] = frozenset()) -> list[Action]:
    """`unchanged`: the advance commits whose revert would restore nothing while their
    clusters stay on the revision, as the shell read them from Git: a late join's commit
    (it changed none of the files its clusters pin), or a wave's first advance (the
    whole wave's revert: every file of it held the revision before it, or cannot be told);
    a dict gives the shell's words for why, by commit."""
    actions: list[Action] = []
    bound = {w.number: verdicts[w.number] for w in state.waves if w.status in JUDGED and not w.halt_commit
             and w.number in verdicts and verdicts[w.number].advance == w.advance_commit}
    joined = bound_joins(state, joins or {})

    stops = []
    for wave in state.waves:
        verdict = bound.get(wave.number)
        if verdict is None:
            continue
        if verdict.state == "failed":
            kind = REVERT if on_failure == "revert" else HALT
            reason = f"gate failed: {verdict.reason}"
            if kind == REVERT and wave.advance_commit in unchanged:  # its revert would restore nothing
                kind, reason = HALT, f"{reason}; {_stays(plan, wave, unchanged)}"
            stops.append(Action(kind, wave.number, wave.name, wave.advance_commit, reason, evidence=verdict.evidence))
        elif verdict.state == "unknown":
            kind = HALT if verdict.halt else WAIT
            actions.append(Action(kind, wave.number, wave.name, wave.advance_commit, verdict.reason,
                                  evidence=verdict.evidence))
    for wave, join, verdict in joined:  # each late join by its own verdict, bound to its commit
        what = f"late join ({', '.join(join.clusters)})"
        if verdict.state == "failed":
            kind = REVERT if on_failure == "revert" else HALT
            reason = f"{what}: gate failed: {verdict.reason}"
            stuck = inseparable(plan, wave, join, unchanged) if kind == REVERT and scope != "rollout" else None
            if stuck:  # its commit alone cannot take its clusters back: a person chooses
                kind, reason = HALT, (f"{reason}; its commit alone cannot be reverted: {stuck}; a person decides: "
                                      f"`rollout revert {plan.policy} --wave {wave.number} --reason ...` takes the "
                                      "wave back whole (its late joins and shared fields with it), or `rollout resume "
                                      f"{plan.policy} --halt --reason ...` once the pin is fixed by hand")
            stops.append(Action(kind, wave.number, wave.name, join.commit, reason,
                                join.clusters, late=True, evidence=verdict.evidence))
        elif verdict.state == "unknown":
            kind = HALT if verdict.halt else WAIT
            actions.append(Action(kind, wave.number, wave.name, join.commit, f"{what}: {verdict.reason}",
                                  join.clusters, late=True, evidence=verdict.evidence))
    if scope == "rollout" and on_failure == "revert" and stops:  # a failure (even one halted: restores nothing)
        stops = _revert_everything(plan, state, stops, unchanged)
    stopping = {a.wave for a in stops if not a.late}
    for wave in state.waves:  # set off the revision after its pin (a hand edit): a person decides, never the tool
        if wave.status in OUT and wave.off and not wave.halt_commit and wave.number not in stopping:
            actions.append(off_halt(plan, wave))
    actions[:0] = stops
    if stops or any(a.kind == HALT for a in actions):
        return actions

    if state.blocked:  # spec.trust: the tool cannot tell who moved it, so it releases nothing
        return actions + [Action(WAIT, None, reason="halted by spec.trust: " + "; ".join(b.line() for b in state.blocked))]
    if state.halts:
        names = "; ".join(f"wave {w.number} {w.name} ({w.halt_commit[:12]}): {w.halt_reason}" for w in state.halts)
        return actions + [Action(WAIT, None, reason=f"halted: {names}; a person decides: `rollout resume "
                                                    f"{plan.policy} --halt --reason ...` judges it afresh, "
                                                    f"`rollout revert` or `rollout retry`")]
    passed_now = set()
    for wave in state.waves:
        verdict = bound.get(wave.number)
        if verdict is not None and verdict.state == "passed" and wave.verify_commit is None and wave.bake_remaining == 0:
            passed_now.add(wave.number)
            actions.append(Action(VERIFY, wave.number, wave.name, wave.advance_commit, verdict.reason,
                                  evidence=verdict.evidence))
    for wave, join, verdict in joined:
        if verdict.state == "passed" and join.verify_commit is None and join.bake_remaining == 0:
            passed_now.add(join.commit)
            actions.append(Action(VERIFY, wave.number, wave.name, join.commit, verdict.reason, join.clusters,
                                  late=True, evidence=verdict.evidence))

    reverted = [w for w in state.waves if w.status == "reverted"]
    if reverted:
        names = ", ".join(f"{w.number} {w.name}" for w in reverted)
        return actions + [Action(WAIT, None, reason=f"wave {names} of {plan.revision} was reverted: "
                                                    "nothing new starts for this revision")]
    backed = [(w, j) for w in state.waves for j in w.joins if j.status == "reverted"]
    if backed:  # a late join failed: the revision is bad on a cluster, as a wave's revert says
        names = "; ".join(f"wave {w.number} {w.name} ({', '.join(j.clusters)})" for w, j in backed)
        return actions + [Action(WAIT, None, reason=f"a late join of {plan.revision} was reverted: {names}: "
                                                    "nothing new starts for this revision")]
    if hold.paused:
        return actions + [Action(WAIT, None, reason=hold.pause_note())]
    if getattr(plan, "partial", None):
        return actions + [Action(WAIT, None, reason=f"nothing advances while the inventory cannot be read: "
                                                    f"{plan.partial}")]

    for w in state.waves:
        if w.status in OUT and w.late and w.gone and w.status != "passed":  # joining_now pins nothing into it
            actions.append(Action(WAIT, w.number, w.name, w.advance_commit,
                                  f"late join ({', '.join(w.late)}) waits: the wave cannot be judged, clusters it "
                                  f"pinned left the inventory ({', '.join(w.gone)})"))
        elif w.status in OUT and w.late and w.status != "passed" and plan.wave(w.number).batch is not None:
            actions.append(Action(WAIT, w.number, w.name, w.advance_commit,
                                  f"late join ({', '.join(w.late)}) waits until the batch passed (one batch at a time)"))
    starts = [Action(ADVANCE, n, state.wave(n).name, state.wave(n).advance_commit, "late join", clusters, late=True)
              for n, clusters in joining_now(plan, state).items()]
    after = _with_passes(state, passed_now)
    for number in ready(plan, after):
        wave = plan.wave(number)
        window = hold.window(wave)
        held = held_back(plan, wave)
        judging = joins_holding(plan, after, number, starting={a.wave: a.clusters for a in starts if a.late})
        if judging:  # the evidence of a wave it waits for is not all in
            actions.append(Action(WAIT, number, wave.name, None, "waiting for " + "; ".join(judging)))
        elif held:
            actions.append(Action(WAIT, number, wave.name, None, held))
        elif window.open:
            pinned, left_out = pinnable(plan, wave)
            reason = "ready" + (f"; left out, unavailable (each joins late once back): {down_list(left_out)}"
                                if left_out else "")
            starts.append(Action(ADVANCE, number, wave.name, None, reason, tuple(pinned)))
        else:
            actions.append(Action(WAIT, number, wave.name, None, f"waiting for window: {window.describe()}"))
    return actions + sorted(starts, key=lambda a: a.wave)


def off_halt(plan, wave) -> Action:
    """The halt on a wave's clusters set off the revision since their pins (waves/drift.py):
    the tool neither pins them back over a person's edit nor reads the rollout as done."""
    # named in full by the record's evidence and its trailer; the reason is one line a person reads (10,000 off
    # when a pin's template changed)
    names = ", ".join(d.cluster for d in wave.off[:10]) + (f" and {len(wave.off) - 10} more" if len(wave.off) > 10 else "")
    reason = (f"off {plan.revision} since pinned, not by this rollout: {names} ("
              + "; ".join(d.why(plan.revision) for d in wave.off[:3])
              + (f"; and {len(wave.off) - 3} more" if len(wave.off) > 3 else "")
              + f"); a person decides: to keep a cluster out, take it out of the plan (its labels, the wave's selector, the inventory), not its pin; "
              f"`rollout resume {plan.policy} --halt --reason ...` pins it again as a late join, judged on its own")
    return Action(HALT, wave.number, wave.name, wave.advance_commit, reason, tuple(d.cluster for d in wave.off),
                  evidence=tuple(d.why(plan.revision) for d in wave.off), off=tuple((d.cluster, d.key) for d in wave.off))


def joining_now(plan, state: RolloutState) -> dict[int, tuple[str, ...]]:
    """The late joins a step pins (wave -> clusters): the late clusters of each wave out
    that are available (one still unavailable joins once back), none into a wave that
    cannot be judged (clusters it pinned left the inventory) or into a batch until it
    passed."""
    out = {}
    for w in state.waves:
        if w.status in OUT and w.late and not (w.gone and w.status != "passed") and \
                not (plan.wave(w.number).batch is not None and w.status != "passed"):
            # Nothing more is pinned into a wave until it passed when its pinned clusters left the
            # inventory (it cannot be judged), or when it is a batch (`maxClusters`): a batch is
            # one at a time, and a cluster added to the fleet, or the next batch's cluster handed
            # to it when a departure renumbered the batches, would go out before it was judged.
            joining, _ = pinnable(plan, plan.wave(w.number), w.late)
            if joining:
                out[w.number] = tuple(joining)
    return out


def start_held(plan, state: RolloutState, number: int) -> list[str]:
    """What holds wave `number`'s start for late joins (none: nothing): a late join of a
    wave it waits for out and unjudged, waiting in its pull request, or to be pinned now.
    Pull-request delivery asks it before merging the request that carries a first advance:
    that merge is the wave's start."""
    return joins_holding(plan, state, number, starting=joining_now(plan, state))


def bound_joins(state: RolloutState, joins: dict[str, Verdict]) -> list[tuple]:
    """(wave, join, verdict) of each late join out and unjudged whose verdict is about it
    (its commit); none of a halted wave (a person decides) or a reverted one."""
    return [(w, j, joins[j.commit]) for w in state.waves if w.status in OUT and not w.halt_commit
            for j in w.joins if j.status in JUDGED and j.commit in joins and joins[j.commit].advance == j.commit]


def inseparable(plan, wave, join, unchanged=frozenset()) -> str | None:
    """Why a late join's commit cannot be reverted alone (None: it can): a field its
    clusters pin together with clusters another advance of the wave pinned (`Wave.shared`:
    the field held the revision already when it joined, so its commit changed nothing
    there, and restoring it would move those clusters too), or a commit whose revert
    restores nothing while its clusters stay on the revision (`unchanged`, read from Git by
    the shell, with its words for why: it changed none of their files). Its revert would
    restore nothing: never recorded as reverted while its clusters stay on the revision."""
    mine = set(join.clusters)
    others = set(wave.pinned) - mine - {c for j in wave.joins if j.status == "reverted" for c in j.clusters}
    fields = []
    for shared in getattr(plan.wave(wave.number), "shared", ()):
        with_ = [c for c in shared.clusters if c in others]
        if with_ and mine & set(shared.clusters):
            fields.append(f"{shared.file} {shared.field} with {', '.join(with_)}")
    if fields:
        return "its clusters pin " + "; ".join(fields) + ", pinned by another advance of the wave"
    if join.commit in unchanged:
        why = unchanged.get(join.commit) if isinstance(unchanged, dict) else None  # the shell's words, when given
        return (f"its revert would restore nothing ({why})" if why else
                f"it changed none of its clusters' files (they held {plan.revision} already)")
    return None


def _revert_everything(plan, state: RolloutState, failed: list[Action], unchanged=frozenset()) -> list[Action]:
    """`scope: rollout`: every wave that is out, newest first, each naming its own advance
    (its revert restores its late joins' clusters too); halted, one whose revert would
    restore nothing (`unchanged`)."""
    why = "; ".join(f"wave {a.wave} {a.name}: {a.reason}" for a in failed)
    out = sorted((w for w in state.waves if w.status in OUT),
                 key=lambda w: (w.advanced_at or 0, w.number), reverse=True)
    own = {a.wave: a for a in failed if not a.late}
    return [own.get(w.number) or (Action(HALT, w.number, w.name, w.advance_commit, f"onFailure scope rollout: {why}; "
                                         + _stays(plan, w, unchanged)) if w.advance_commit in unchanged else
                                  Action(REVERT, w.number, w.name, w.advance_commit, f"onFailure scope rollout: {why}"))
            for w in out]


def _stays(plan, wave, unchanged) -> str:
    """Why a whole wave's failure halts rather than reverts: its revert restores nothing
    (`unchanged` a dict: the shell's words for why, by advance commit)."""
    why = unchanged.get(wave.advance_commit) if isinstance(unchanged, dict) else None
    return (f"its revert would restore nothing ({why or f'its files held {plan.revision} already when pinned'}); "
            "a person decides: set the previous pins by hand, then "
            f"`rollout revert {plan.policy} --wave {wave.number} --reason ...` records the revert, or `rollout resume "
            f"{plan.policy} --halt --reason ...`")


def of(actions: list[Action], kind: str) -> list[Action]:
    return [a for a in actions if a.kind == kind]


def _with_passes(state: RolloutState, passed: set) -> RolloutState:
    """The state once this step's verify records are in: those waves (numbers) and late
    joins (commits) passed."""
    if not passed:
        return state

    def joins(w):
        return [replace(j, status="passed", bake_remaining=0) if j.commit in passed else j for j in w.joins]

    return replace(state, waves=[replace(w, status="passed" if w.number in passed else w.status,
                                         bake_remaining=0 if w.number in passed else w.bake_remaining,
                                         joins=joins(w)) for w in state.waves])
