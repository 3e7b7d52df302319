"""A rollout's state, folded from the events recorded in Git commit trailers.

Pure: the shell reads the history (one `git log`) and the files; this decides what each
wave's status is and which waves may go next. A rollout is its policy, its revision and
an epoch (`Rollout-Epoch`): a new epoch starts at the first advance after the policy's
revision changed, and at a `retry`. Events of an earlier epoch never count for a later
one: setting a policy back to a revision the fleet ran before rolls it out afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from waves.drift import CAME_BACK, Change, Drift, drifts, suspects
from waves.durations import format_duration
from waves.planner import Plan

ADVANCE, REVERT, APPROVE, VERIFY, RETRY = "advance", "revert", "approve", "verify", "retry"
HALT, LIFT = "halt", "lift"  # a halt record (onFailure: halt, a blind gate past its deadline); its lifting
FIRST_EPOCH = 1  # a record without `Rollout-Epoch` (written before epochs) is of the first
# A wave that went out: on the new revision and not reverted.
OUT = ("baking", "verifying", "passed")
NOT_OUT = ("pending", "proposed")  # nothing of this epoch pinned it (reverted: its revert's records say what is left)
# A wave that claims no cluster: it pins nothing and has nothing to judge, so it is never
# advanced; it passes once every wave it waits for has (`passed`, below). A wave that went out
# is never empty, whatever the inventory says since: it is judged on what its advances pinned.
EMPTY = "empty"


@dataclass(frozen=True)
class Proposal:
    """A wave's change waiting in a pull request (pull-request delivery): its branch is
    on the remote, its change not yet on the branch the controllers follow."""

    branch: str | None  # the advance's branch; None when only late joins wait
    number: int | None = None  # the pull request, once known
    url: str | None = None
    late: tuple[str, ...] = ()  # clusters whose late join waits in a pull request of its own

    def describe(self) -> str:
        return f"pull request #{self.number}" if self.number is not None else f"branch {self.branch}"


@dataclass(frozen=True)
class Event:
    """One rollout commit, from its trailers."""

    commit: str
    time: int  # committer time, unix seconds
    action: str  # advance | revert | approve | verify
    policy: str
    revision: str
    wave: str  # wave name (numbers may shift when a policy changes; names do not)
    clusters: tuple[str, ...] = ()
    forced: bool = False
    reason: str | None = None
    by: str | None = None
    advance: str | None = None  # a record's advance commit: the advance it judged
    epoch: int = FIRST_EPOCH
    lifts: str | None = None  # a lift: the halt record it lifts
    clock: int | None = None  # made under a pinned clock (ROLLOUT_NOW, rehearsals): that clock
    number: int | None = None  # the wave's number in the plan it was made with (`Rollout-Wave`)
    left: tuple[str, ...] = ()  # a revert: the clusters it left on the revision (it could not take them back)
    # a halt: (cluster, commit) of each cluster it stopped for, set off the revision since its pin (`Rollout-Off-Revision`)
    off: tuple[tuple[str, str], ...] = ()
    # an advance: (cluster, the advance that pinned it before) of each cluster it pins again (`Rollout-Rejoins`)
    rejoins: tuple[tuple[str, str], ...] = ()

    @property
    def at(self) -> int:
        """When the record says it was made: its commit's time, or the pinned clock's."""
        return max(self.time, self.clock or 0)


@dataclass(frozen=True)
class Epoch:
    """One rollout of a policy: a revision from its first advance (or retry) on."""

    number: int
    revision: str
    started: int  # its first event's time
    commit: str  # its first event
    reverted: bool = False  # a wave of it was reverted
    retried: bool = False  # it began with `rollout retry`


@dataclass
class JoinState:
    """A late join: clusters pinned into a wave that was out already (left out of its advance
    while unavailable, or new in the inventory), judged on its own by its wave's gates, on
    the clusters it pinned, its bake and progressDeadline counted from its own commit: a
    failure reverts what it pinned, not the clusters that passed before it (docs/inventory.md)."""

    commit: str  # the late join's advance commit: its records name it (`Rollout-Advance`)
    clusters: tuple[str, ...]
    advanced_at: int
    status: str = "baking"  # baking | verifying | passed | reverted
    bake_remaining: int = 0
    verify_commit: str | None = None
    verified_at: int | None = None
    revert_commit: str | None = None
    reverted_at: int | None = None
    halt_commit: str | None = None  # a halt record naming it, not lifted
    halt_reason: str | None = None
    left: tuple[str, ...] = ()  # what its own revert's record left on the revision
    on_revision: list[str] = field(default_factory=list)  # reverted on its own: still on the revision (as a wave's)


@dataclass
class WaveState:
    number: int
    name: str
    # pending -> [proposed (pull-request delivery: its pull request is open)] ->
    # baking (advanced, bake running) -> verifying (bake over, gates not yet
    # recorded as passed) -> passed; or reverted. A wave without gates passes when its bake
    # ends; a gated one when `rollout run` (or `gate --record`) records the gates' pass.
    # `empty`: the wave claims no cluster (and stays so; its records, if any, count for nothing).
    status: str = "pending"
    advanced_at: int | None = None
    advance_commit: str | None = None
    verified_at: int | None = None
    verify_commit: str | None = None
    reverted_at: int | None = None
    revert_commit: str | None = None
    bake_remaining: int = 0
    approved_by: str | None = None
    clusters_behind: list[str] = field(default_factory=list)  # in the wave but not at the revision
    late: list[str] = field(default_factory=list)  # in the wave, not pinned by its advances (joined later, or was down)
    pinned: list[str] = field(default_factory=list)  # what its advances pinned: its gate's clusters, whatever comes later
    late_proposed: list[str] = field(default_factory=list)  # late, their join waiting in a pull request
    proposal: Proposal | None = None  # proposed: the pull request that carries the advance
    halt_commit: str | None = None  # a halt record of its advance (or of a late join of it), not lifted: nothing starts
    halt_reason: str | None = None
    halt_off: tuple[tuple[str, str], ...] = ()  # that halt's clusters set off the revision (`Rollout-Off-Revision`)
    joins: list[JoinState] = field(default_factory=list)  # its late joins, oldest first
    own: list[str] = field(default_factory=list)  # what its first advance pinned: its own gate's clusters
    gone: list[str] = field(default_factory=list)  # pinned, and in no wave of the plan now (left the inventory)
    # reverted: what its revert left on the revision (its record's `Rollout-Left-On-Revision`,
    # unless the files now say it is off), and what the files say still holds it
    on_revision: list[str] = field(default_factory=list)
    # out: clusters it (or another advance of the epoch) pinned whose files are off the revision now,
    # not accounted for (waves/drift.py): never complete; `run` halts on them
    off: list[Drift] = field(default_factory=list)
    # late again: pinned in the epoch, and came back on an old pin (or set off by hand, the halt on it lifted)
    returned: list[Drift] = field(default_factory=list)
    # not out in this epoch (pending, proposed), yet its files hold the revision for these: pinned by an
    # earlier epoch (a retry, a revision set back) or by hand; this epoch's reverts do not take them back
    ahead: list[str] = field(default_factory=list)

    @property
    def rejoin(self) -> dict[str, str]:
        """A late cluster pinned before in the epoch -> that pin: its join pins it again (`Rollout-Rejoins`)."""
        return {d.cluster: d.pin for d in self.returned}

    def join(self, commit: str | None) -> JoinState | None:
        return next((j for j in self.joins if j.commit == commit), None) if commit else None

    @property
    def halt_commits(self) -> list[str]:
        """Every halt record holding it, not lifted: its own and each of its late joins'
        (`halt_commit` shows one). `rollout resume --halt` lifts them all: lifting the one
        shown would leave the next holding the rollout."""
        out = [self.halt_commit] if self.halt_commit else []
        return out + [j.halt_commit for j in self.joins
                      if j.halt_commit and j.status != "reverted" and j.halt_commit not in out]

    @property
    def joins_out(self) -> list[JoinState]:
        """Its late joins out and not judged yet (baking, verifying): what waits for the wave waits for them."""
        return [j for j in self.joins if j.status in ("baking", "verifying")] if self.status in OUT else []

    @property
    def shown(self) -> str:
        """The status to show: `halted` while a halt record of its advance is not lifted."""
        return "halted" if self.halt_commit and self.status != "reverted" else self.status


@dataclass
class RolloutState:
    policy: str
    revision: str
    waves: list[WaveState]
    epoch: int = FIRST_EPOCH  # the epoch this state is of (new: not started yet)
    epochs: list[Epoch] = field(default_factory=list)  # the policy's epochs, oldest first; this one last once started
    # spec.trust (waves/trust.py): whether records were verified; the records that did not count;
    # the stops honoured unsigned; what holds the rollout (an unsigned change to the policy or its
    # allowed signers, pinned files without a trusted advance). Each a waves.trust.Ignored.
    verified: bool = False
    ignored: list = field(default_factory=list)
    unsigned: list = field(default_factory=list)
    blocked: list = field(default_factory=list)
    partial: str | None = None  # folded on a plan of the waves out only (waves/recorded.py): why

    @property
    def overall(self) -> str:
        statuses = {w.status for w in self.waves if w.status != EMPTY}  # an empty wave changes nothing
        if not statuses and not self.partial:  # every wave claims no cluster: nothing to roll out, nothing
            return EMPTY  # rolled out (never `complete`: no cluster is on the revision by this rollout)
        if "reverted" in statuses or any(j.status == "reverted" for w in self.waves for j in w.joins):
            return "reverted"  # a late join reverted: the revision failed on a cluster, as a wave's revert says
        if self.halts or self.blocked:
            return "halted"
        if "failed" in statuses:
            return "failed"
        # a cluster of the plan not pinned yet (late, its join out or waiting in a pull request): not complete
        # nor while a cluster it pinned is off the revision by its files (came back on an old pin, a hand edit)
        if statuses == {"passed"} and not any(w.late or w.late_proposed or w.joins_out or w.off for w in self.waves) \
                and not self.partial:
            return "complete"
        if statuses == {"pending"}:
            return "not-started"
        return "in-progress"

    @property
    def stopped(self) -> str | None:
        """Why nothing new starts, `--force` or not (None: nothing stops it): a halt not lifted
        (a person decides), a reverted wave or late join of the revision, or a pin of a wave out
        set off by hand whose halt is not recorded yet (decide halts on it before any start):
        decide's rules, for the starts made outside a step (`advance --wave`, a proposed wave's merge)."""
        if self.halts:
            names = "; ".join(f"wave {w.number} {w.name} ({w.halt_commit[:12]}): {w.halt_reason}" for w in self.halts)
            return f"{self.policy} -> {self.revision} is halted at {names}"
        reverted = [f"wave {w.number} {w.name}" for w in self.waves if w.status == "reverted"] + \
            [f"the late join of wave {w.number} {w.name} ({', '.join(j.clusters)})"
             for w in self.waves for j in w.joins if j.status == "reverted"]
        if reverted:
            return f"the rollout of {self.revision} was reverted ({', '.join(reverted)}): nothing new starts for it"
        # a pin set off by hand on a wave out, its halt not recorded yet: decide halts it before any start
        off = [w for w in self.waves if w.status in OUT and w.off and not w.halt_commit]
        if off:
            names = "; ".join(f"wave {w.number} {w.name} ({', '.join(d.cluster for d in w.off[:5])}"
                              + (f" and {len(w.off) - 5} more" if len(w.off) > 5 else "") + ")" for w in off)
            return (f"{self.policy} -> {self.revision} has pins set off {self.revision} by hand since pinned, not by "
                    f"this rollout, at {names}: `rollout run` halts on them")
        return None

    @property
    def halts(self) -> list[WaveState]:
        """The waves halted and not lifted: nothing starts until a person lifts the halt
        (`rollout resume --halt`) or retries."""
        return [w for w in self.waves if w.shown == "halted"]

    @property
    def out(self) -> list[WaveState]:
        """The waves on the new revision now."""
        return [w for w in self.waves if w.status in OUT]

    def wave(self, ref: int | str) -> WaveState:
        for wave in self.waves:
            if wave.number == ref or wave.name == ref:
                return wave
        raise KeyError(ref)


def fold(plan: Plan, events: list[Event], now: int, at_revision: dict[str, bool] | None = None,
         proposals: dict[str, Proposal] | None = None, changes: list[Change] | None = None,
         found: dict[str, tuple[str, str | None]] | None = None) -> RolloutState:
    """Wave statuses at `now`. `events` oldest first; only this policy, revision and epoch
    count. `at_revision[cluster]` tells whether the cluster's files hold the revision now;
    `proposals[wave name]` the pull request a wave's advance waits in; `changes` the
    commits that changed the files of the clusters pinned and off the revision since their
    pins (`pinned_off`: the shell reads them only when there are such; newest first), and
    `found` what their pinned fields hold now (cluster -> (file, value)), read only for them."""
    epoch = epoch_of(events, plan.policy, plan.revision)
    mine = [e for e in events if e.policy == plan.policy and e.revision == plan.revision and e.epoch == epoch]
    by_wave: dict[str, list[Event]] = {}
    for event in mine:
        by_wave.setdefault(event.wave, []).append(event)

    pinned_in_epoch = {c for e in mine if e.action == ADVANCE for c in e.clusters}
    # pinned, and off the revision by the files: why (waves/drift.py); a halt's lifting lets them join again
    off = drifts(pinned_off(plan, mine, at_revision), changes, {e.commit for e in events}, plan.policy, found)
    lifted = _lifted(mine)
    states = []
    for wave in plan.waves:
        state = WaveState(wave.number, wave.name)
        if wave.empty and not any(e.action == ADVANCE for e in by_wave.get(wave.name, [])):
            # claims no cluster and never went out; one that went out and whose clusters left
            # the inventory since is judged on what it pinned (`gone`), never empty
            state.status = EMPTY
            states.append(state)
            continue
        left: list[str] = []  # what its revert left on the revision, by its record
        passes: list[Event] = []  # its verify records
        joined: dict[str, list[Event]] = {}  # a late join's commit -> its verify records
        # Every advance of the wave after its first is a late join, judged on its own: its
        # records name its commit. Known before the loop: a records branch may sort a record
        # before the advance it names.
        advances = _new_pins([e for e in by_wave.get(wave.name, []) if e.action == ADVANCE])
        first = advances[0].commit if advances else None
        joins = {e.commit for e in advances[1:]}
        state.joins = [JoinState(e.commit, tuple(e.clusters), e.time) for e in advances[1:]]
        for event in by_wave.get(wave.name, []):
            join = state.join(event.advance) if event.advance in joins else None
            if event.action == ADVANCE and state.status != "reverted":
                if state.advance_commit is None:
                    state.advanced_at, state.advance_commit = event.time, event.commit
                    state.own = list(event.clusters)
                state.status = "baking"
            elif event.action == REVERT and event.advance in joins:  # a late join's, only its clusters
                if join is not None and join.status != "reverted":
                    join.status, join.reverted_at, join.revert_commit = "reverted", event.time, event.commit
                    join.left = event.left
            elif event.action == REVERT:
                state.status, state.reverted_at, state.revert_commit = "reverted", event.time, event.commit
                left = list(event.left)
            elif event.action == APPROVE:
                state.approved_by = event.by or "unknown"
            elif event.action == HALT and event.advance in joins:
                if join is not None:
                    join.halt_commit, join.halt_reason = event.commit, event.reason
            elif event.action == HALT and _judged(event, first):
                state.halt_commit, state.halt_reason, state.halt_off = event.commit, event.reason, event.off
            elif event.action == LIFT and event.lifts == state.halt_commit:
                state.halt_commit = state.halt_reason = None
                state.halt_off = ()
            elif event.action == LIFT and any(j.halt_commit == event.lifts for j in state.joins):
                for j in state.joins:
                    if j.halt_commit == event.lifts:
                        j.halt_commit = j.halt_reason = None
            elif event.action == VERIFY and event.advance in joins:
                joined.setdefault(event.advance, []).append(event)
            elif event.action == VERIFY and _judged(event, first):
                # Counts whatever its place in the list: a record is only written of an advanced
                # wave, but read from another branch (rollout/records) with a clock of its own it
                # may sort before the advance a forge committed in the same second (or on a clock
                # ahead of the runner's). Only an advanced, unreverted wave passes by it.
                passes.append(event)
        if state.advance_commit is None:  # never advanced: no record of it counts
            state.halt_commit = state.halt_reason = None
            state.halt_off = ()
        else:  # the first pass recorded once the bake was over (one made during it never counts)
            # what its advances pinned, in the order they pinned it: its gate's clusters
            state.pinned = list(dict.fromkeys(c for e in by_wave.get(wave.name, []) if e.action == ADVANCE
                                              for c in e.clusters))
            state.gone = [c for c in state.pinned if c not in plan.wave_of]
            done = next((e for e in passes if e.at >= state.advanced_at + wave.bake_seconds), None)
            if done is not None:
                state.verified_at, state.verify_commit = done.at, done.commit
            for join in state.joins:
                _fold_join(join, wave, joined.get(join.commit, []), now, state.status == "reverted")
            halted = next((j for j in state.joins if j.halt_commit and j.status != "reverted"), None)
            if state.halt_commit is None and halted is not None:  # a late join's halt holds the rollout as a wave's
                state.halt_commit = halted.halt_commit
                state.halt_reason = f"late join ({', '.join(halted.clusters)}): {halted.halt_reason}"
        if state.status == "baking":
            # off the revision since its pin, not by a revert of its late join (that is `reverted`)
            backed = {c for j in state.joins if j.status == "reverted" for c in j.clusters}
            drifted = [off[c] for c in wave.clusters if c in off and c not in backed]
            # came back on an old pin (its file deleted since it was pinned), or set off by hand and the
            # halt on it lifted: a late join again, judged on its own
            again = {d.cluster: d.pin for d in drifted if d.kind == CAME_BACK or (d.cluster, d.key) in lifted}
            state.off = [d for d in drifted if d.cluster not in again]
            # pinned by any advance of the epoch: a cluster another wave pinned (batches renumbered
            # when a cluster left, a label changed) is pinned once, judged there, never joined again
            recorded = pinned_in_epoch - set(again)
            waiting = set(proposals[wave.name].late) if proposals and wave.name in proposals else set()
            # a late join already proposed is not late again: a cluster joining meanwhile gets its own
            state.late = [c for c in wave.clusters if c not in recorded and c not in waiting]
            state.late_proposed = [c for c in wave.clusters if c not in recorded and c in waiting]
            state.returned = [d for d in drifted if d.cluster in again]
            state.bake_remaining = max(0, wave.bake_seconds - (now - state.advanced_at))
            if state.verify_commit is not None or (state.bake_remaining == 0 and not wave.gates):
                state.status, state.bake_remaining = "passed", 0
            elif state.bake_remaining == 0:
                state.status = "verifying"
        if state.status == "pending" and proposals and wave.name in proposals and proposals[wave.name].branch:
            state.status, state.proposal = "proposed", proposals[wave.name]
        if at_revision is not None and state.status in OUT:
            state.clusters_behind = [c for c in wave.clusters if not at_revision.get(c, False)]
        elif at_revision and state.status in NOT_OUT:
            state.ahead = ahead_of(wave, at_revision, pinned_in_epoch)
        if state.status == "reverted":  # a revert that left some on the revision is no all-clear
            state.on_revision = _still_on(left, state.pinned, at_revision)
        for join in state.joins:  # a late join reverted on its own, likewise
            if join.revert_commit is not None and state.status != "reverted":
                join.on_revision = _still_on(list(join.left), list(join.clusters), at_revision)
        states.append(state)
    return RolloutState(plan.policy, plan.revision, states, epoch, epochs(events, plan.policy),
                        partial=getattr(plan, "partial", None))


def pinned_off(plan: Plan, mine: list[Event], at_revision: dict[str, bool] | None) -> dict[str, list[str]]:
    """The clusters of the plan that advances of the epoch (`mine`) pinned and whose files
    are off the revision now (cluster -> the advances that pinned it, oldest first): whose
    history the shell reads (`changes`), only when there are any."""
    if not at_revision:
        return {}
    first: dict[str, str] = {}  # wave -> its first advance; a revert naming another is a late join's
    for event in mine:
        if event.action == ADVANCE:
            first.setdefault(event.wave, event.commit)
    # what a revert took back is off the revision by a record: `reverted`, never a hand edit
    reverted = {e.advance if e.advance and e.advance != first.get(e.wave) else e.wave
                for e in mine if e.action == REVERT}
    pins: dict[str, list[str]] = {}
    for event in mine:
        if event.action == ADVANCE and event.commit not in reverted and event.wave not in reverted:
            for cluster in event.clusters:
                pins.setdefault(cluster, []).append(event.commit)
    return suspects(pins, plan.wave_of, at_revision)


def off_now(plan: Plan, events: list[Event], at_revision: dict[str, bool] | None) -> dict[str, list[str]]:
    """`pinned_off` of the rollout's epoch, from all of the policy's events."""
    epoch = epoch_of(events, plan.policy, plan.revision)
    return pinned_off(plan, [e for e in events if e.policy == plan.policy and e.revision == plan.revision
                             and e.epoch == epoch], at_revision)


def _lifted(mine: list[Event]) -> set[tuple[str, str]]:
    """(cluster, key) of the clusters set off the revision whose halt a person lifted."""
    halts = {e.commit: e.off for e in mine if e.action == HALT and e.off}
    return {pair for e in mine if e.action == LIFT and e.lifts in halts for pair in halts[e.lifts]}


def ahead_of(wave, at_revision: dict[str, bool], pinned=frozenset()) -> list[str]:
    """The clusters of a wave not out in this epoch whose files hold the revision (an
    earlier epoch's pin, a hand edit): no revert of this epoch takes them back. Not one an
    advance of this epoch pinned (`pinned`), in another wave then (batches renumbered, a
    label changed): judged there, and that wave's revert takes it back (or says it left it)."""
    return [c for c in wave.clusters if at_revision.get(c, False) and c not in pinned]


def _still_on(left: list[str], pinned: list[str], at_revision: dict[str, bool] | None) -> list[str]:
    """What a revert left on the revision: what its record says it left, unless the files
    now say it is off (a person set it back by hand; a cluster gone from the inventory has
    its record only), and what it pinned that the files say holds the revision now."""
    known = at_revision or {}
    return list(dict.fromkeys([c for c in left if known.get(c, True)] + [c for c in pinned if known.get(c, False)]))


def _fold_join(join: JoinState, wave, passes: list[Event], now: int, wave_reverted: bool) -> None:
    """A late join's status at `now`: reverted (by a record naming it, or with its wave: a
    wave's revert restores every cluster its advances pinned), passed (a pass recorded once
    its own bake was over), else baking or verifying from its own commit."""
    if join.status == "reverted":
        return
    if wave_reverted:
        join.status = "reverted"
        return
    done = next((e for e in passes if e.at >= join.advanced_at + wave.bake_seconds), None)
    if done is not None:
        join.status, join.verified_at, join.verify_commit, join.bake_remaining = "passed", done.at, done.commit, 0
        return
    join.bake_remaining = max(0, wave.bake_seconds - (now - join.advanced_at))
    join.status = "baking" if join.bake_remaining else "verifying" if wave.gates else "passed"


def epoch_of(events: list[Event], policy: str, revision: str) -> int:
    """The epoch a rollout of `revision` is in: the policy's latest epoch, if it is of this
    revision; else a new one, numbered after it (the first advance after the revision
    changed starts it). Epochs only grow, so the latest is the highest, in whatever order
    the events were read (a retry may come from the records branch)."""
    latest = max((e for e in events if e.policy == policy and e.action in (ADVANCE, RETRY)),
                 key=lambda e: e.epoch, default=None)
    if latest is None:
        return FIRST_EPOCH
    return latest.epoch if latest.revision == revision else latest.epoch + 1


def epochs(events: list[Event], policy: str) -> list[Epoch]:
    """The policy's epochs that started, oldest first."""
    found: dict[int, Epoch] = {}
    for event in events:
        if event.policy != policy:
            continue
        known = found.get(event.epoch)
        if known is None and event.action in (ADVANCE, RETRY):
            found[event.epoch] = Epoch(event.epoch, event.revision, event.time, event.commit,
                                       retried=event.action == RETRY)
        elif known is not None and event.action == REVERT and known.revision == event.revision:
            found[event.epoch] = replace(known, reverted=True)
    return sorted(found.values(), key=lambda e: e.number)


def _judged(record: Event, first: str | None) -> bool:
    """A verify or halt record counts for the wave when it names the wave's first advance
    (whatever order a records branch sorts it in; one naming a late join is that join's);
    a record naming none is an older one's and counts as it always did."""
    return record.advance is None or record.advance == first


def pinnable(plan: Plan, wave, clusters: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """What an advance of `wave` pins now of `clusters` (default: all of the wave's), and
    the clusters it holds back (name -> why), by spec.unavailable (`plan.unavailable`):
    `include` pins every cluster; `skip` and `wait` hold back the unavailable ones, and
    the clusters that pin one field with one of them (writing it would move that one too).
    Availability decides only this, never what a wave is made of or what its gate judges."""
    clusters = list(wave.clusters if clusters is None else clusters)
    if plan.unavailable == "include" or not plan.down:
        return clusters, {}
    held = {c: plan.down[c] for c in clusters if c in plan.down}
    if not held:
        return clusters, {}
    for shared in getattr(wave, "shared", ()):
        down = [c for c in shared.clusters if c in plan.down]
        if down:
            for c in shared.clusters:
                if c in clusters and c not in held:
                    held[c] = f"pins {shared.file} {shared.field} with {', '.join(down)}, unavailable"
    return [c for c in clusters if c not in held], held


def held_back(plan: Plan, wave) -> str | None:
    """Why a wave's first advance waits for clusters to come back (None: it may go): under
    `wait`, any of them unavailable; under `skip`, all of them. Such a wave waits, and so
    does every wave after it: it is never skipped."""
    pin, held = pinnable(plan, wave)
    if not held:
        return None
    if plan.unavailable == "wait":
        return f"waiting for unavailable clusters (spec.unavailable: wait): {down_list(held)}"
    if not pin:
        return f"waiting: every cluster of the wave is unavailable: {down_list(held)}"
    return None


def down_list(held: dict[str, str], limit: int = 5) -> str:
    """`a (why); b (why) and 3 more`."""
    items = [f"{name} ({why})" for name, why in held.items()]
    return "; ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def ready(plan: Plan, state: RolloutState) -> list[int]:
    """Waves that may be advanced now: pending, and every wave they wait for has passed
    (and, where it requires approval, been approved)."""
    out = []
    for wave in plan.waves:
        ws = state.wave(wave.number)
        if ws.status != "pending":
            continue
        if all(passed(plan, state, dep) for dep in wave.after):
            out.append(wave.number)
    return out


def _new_pins(advances: list[Event]) -> list[Event]:
    """A wave's advances that pinned something: the first, then each that pinned a cluster
    none before it had. One change can reach the branch as two commits carrying the same
    record (GitLab's squash commit and the merge commit made with its message); the second
    pins nothing new and is no late join (a late join pins clusters its wave's advances had
    not, and a cluster is pinned once an epoch: a reverted join stops the revision)."""
    out, pinned, again = [], set(), set()
    for event in advances:
        # or pins again a cluster that came back (or was set off by hand), naming the pin it replaces
        if not out or not pinned.issuperset(event.clusters) or not again.issuperset(event.rejoins):
            out.append(event)
            pinned.update(event.clusters)
            again.update(event.rejoins)
    return out


def joins_holding(plan: Plan, state: RolloutState, number: int, reverted: bool = False,
                  starting: dict[int, tuple[str, ...]] | None = None) -> list[str]:
    """The late joins out and not judged yet (or waiting in their pull request) of the waves
    wave `number` waits for, directly or through others: its evidence is not all in until
    they passed (none: nothing holds it).
    `starting`: the late joins being pinned in this very step (wave -> clusters) hold it too."""
    seen: set[int] = set()
    todo = list(plan.wave(number).after)
    reasons = []
    while todo:
        dep = todo.pop()
        if dep in seen:
            continue
        seen.add(dep)
        todo += plan.wave(dep).after
        ws = state.wave(dep)
        for join in ws.joins_out:
            reasons.append(f"the late join of wave {dep} {ws.name} ({', '.join(join.clusters)}) is {join.status}")
        if ws.late_proposed and ws.status in OUT:  # pull-request delivery: its join not merged yet
            reasons.append(f"the late join of wave {dep} {ws.name} ({', '.join(ws.late_proposed)}) is proposed: "
                           "its pull request is not merged yet")
        if starting and dep in starting:
            reasons.append(f"the late join of wave {dep} {ws.name} ({', '.join(starting[dep])}) starting now")
        if reverted:  # `blockers`: a reverted one holds as a reverted wave does (decide stops the revision first)
            reasons += [f"the late join of wave {dep} {ws.name} ({', '.join(j.clusters)}) was reverted"
                        for j in ws.joins if j.status == "reverted"]
    return sorted(reasons)


def blockers(plan: Plan, state: RolloutState, number: int, itself: bool = False) -> list[str]:
    """Why wave `number` may not go yet (none: it may); with `itself`, why the wave
    itself has not passed yet. An empty wave it waits for holds it by what holds that one."""
    reasons: list[str] = []
    for dep in [number] if itself else plan.wave(number).after:
        ws, wave = state.wave(dep), plan.wave(dep)
        if ws.status == EMPTY:
            reasons += [r for r in blockers(plan, state, dep) if r not in reasons]
        elif ws.status == "pending":
            reasons.append(f"wave {dep} {wave.name} has not been advanced")
        elif ws.status == "proposed":
            reasons.append(f"wave {dep} {wave.name} is proposed: {ws.proposal.describe()} is not merged yet")
        elif ws.status in ("reverted", "failed"):
            reasons.append(f"wave {dep} {wave.name} is {ws.status}")
        elif ws.status == "baking":
            reasons.append(f"wave {dep} {wave.name} is baking ({format_duration(ws.bake_remaining)} left)")
        elif ws.status == "verifying":
            reasons.append(f"wave {dep} {wave.name} is verifying: its gates have not been recorded as passed "
                           "(rollout run, or rollout gate --record)")
        elif wave.approval == "required" and not ws.approved_by:
            reasons.append(f"wave {dep} {wave.name} needs approval")
    if not itself:
        reasons += [r for r in joins_holding(plan, state, number, reverted=True) if r not in reasons]
    return reasons


def passed(plan: Plan, state: RolloutState, number: int) -> bool:
    """Whether what waits for wave `number` may go: it passed (and is approved where
    approval is required), or it is empty and every wave it waits for passed so. An empty
    wave's bake, gates and approval do not apply: nothing of it goes out."""
    ws, wave = state.wave(number), plan.wave(number)
    if ws.status == EMPTY:
        return all(passed(plan, state, dep) for dep in wave.after)
    return ws.status == "passed" and (wave.approval != "required" or bool(ws.approved_by))
