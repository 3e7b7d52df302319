"""A rollout's state, folded from the events recorded in Git commit trailers.

Pure: the shell reads the history (one `git log`) and the files; this decides what each
wave's status is and which waves may go next. A rollout is identified by its policy name
and revision: a new revision starts a new rollout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from waves.planner import Plan

ADVANCE, REVERT, APPROVE = "advance", "revert", "approve"


@dataclass(frozen=True)
class Event:
    """One rollout commit, from its trailers."""

    commit: str
    time: int  # committer time, unix seconds
    action: str  # advance | revert | approve
    policy: str
    revision: str
    wave: str  # wave name (numbers may shift when a policy changes; names do not)
    clusters: tuple[str, ...] = ()
    forced: bool = False
    reason: str | None = None
    by: str | None = None


@dataclass
class WaveState:
    number: int
    name: str
    status: str = "pending"  # pending | advanced | passed | failed | reverted
    advanced_at: int | None = None
    advance_commit: str | None = None
    reverted_at: int | None = None
    revert_commit: str | None = None
    bake_remaining: int = 0
    approved_by: str | None = None
    clusters_behind: list[str] = field(default_factory=list)  # in the wave but not at the revision
    late: list[str] = field(default_factory=list)  # joined the inventory after the wave went out


@dataclass
class RolloutState:
    policy: str
    revision: str
    waves: list[WaveState]

    @property
    def overall(self) -> str:
        statuses = {w.status for w in self.waves}
        if "reverted" in statuses:
            return "reverted"
        if "failed" in statuses:
            return "failed"
        if statuses == {"passed"}:
            return "complete"
        if statuses == {"pending"}:
            return "not-started"
        return "in-progress"

    def wave(self, ref: int | str) -> WaveState:
        for wave in self.waves:
            if wave.number == ref or wave.name == ref:
                return wave
        raise KeyError(ref)


def fold(plan: Plan, events: list[Event], now: int, at_revision: dict[str, bool] | None = None) -> RolloutState:
    """Wave statuses at `now`. `events` oldest first; only this policy and revision count.
    `at_revision[cluster]` tells whether the cluster's files hold the revision now."""
    mine = [e for e in events if e.policy == plan.policy and e.revision == plan.revision]
    by_wave: dict[str, list[Event]] = {}
    for event in mine:
        by_wave.setdefault(event.wave, []).append(event)

    states = []
    for wave in plan.waves:
        state = WaveState(wave.number, wave.name)
        for event in by_wave.get(wave.name, []):
            if event.action == ADVANCE and state.status != "reverted":
                if state.advance_commit is None:
                    state.advanced_at, state.advance_commit = event.time, event.commit
                state.status = "advanced"
                recorded = set(event.clusters)
                state.late = [c for c in state.late if c not in recorded]
            elif event.action == REVERT:
                state.status, state.reverted_at, state.revert_commit = "reverted", event.time, event.commit
            elif event.action == APPROVE:
                state.approved_by = event.by or "unknown"
        if state.status == "advanced":
            recorded = {c for e in by_wave.get(wave.name, []) if e.action == ADVANCE for c in e.clusters}
            state.late = [c for c in wave.clusters if c not in recorded]
            elapsed = now - state.advanced_at
            state.bake_remaining = max(0, wave.bake_seconds - elapsed)
            if state.bake_remaining == 0:
                state.status = "passed"
        if at_revision is not None and state.status in ("advanced", "passed"):
            state.clusters_behind = [c for c in wave.clusters if not at_revision.get(c, False)]
        states.append(state)
    return RolloutState(plan.policy, plan.revision, states)


def ready(plan: Plan, state: RolloutState) -> list[int]:
    """Waves that may be advanced now: pending, and every wave they wait for has passed
    (and, where it requires approval, been approved)."""
    out = []
    for wave in plan.waves:
        ws = state.wave(wave.number)
        if ws.status != "pending":
            continue
        if all(_passed(plan, state, dep) for dep in wave.after):
            out.append(wave.number)
    return out


def blockers(plan: Plan, state: RolloutState, number: int) -> list[str]:
    """Why wave `number` may not go yet (empty: it may)."""
    reasons = []
    for dep in plan.wave(number).after:
        ws, wave = state.wave(dep), plan.wave(dep)
        if ws.status == "pending":
            reasons.append(f"wave {dep} {wave.name} has not been advanced")
        elif ws.status in ("reverted", "failed"):
            reasons.append(f"wave {dep} {wave.name} is {ws.status}")
        elif ws.status == "advanced":
            reasons.append(f"wave {dep} {wave.name} is baking ({ws.bake_remaining}s left)")
        elif wave.approval == "required" and not ws.approved_by:
            reasons.append(f"wave {dep} {wave.name} needs approval")
    return reasons


def _passed(plan: Plan, state: RolloutState, number: int) -> bool:
    ws, wave = state.wave(number), plan.wave(number)
    return ws.status == "passed" and (wave.approval != "required" or bool(ws.approved_by))
