"""Pause and emergency stop, folded from Git: `rollout pause` / `resume` commits, and a
plain `git revert` of a pause commit, which lifts it. Pure: the shell reads the commits.

A pause names one policy, or every policy (`pause --all`, policy `*`). While a policy is
paused nothing new starts (`run` and `advance` report the pause); gates are still judged
and a failed wave is still reverted.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = "*"


@dataclass(frozen=True)
class PauseEvent:
    commit: str
    time: int
    action: str  # pause | resume | undo (a `git revert` of `undoes`)
    policy: str = ALL  # a policy's name, or ALL
    by: str | None = None
    reason: str | None = None
    undoes: str | None = None


@dataclass(frozen=True)
class Pause:
    policy: str  # the policy's name, or ALL for an emergency stop of every policy
    by: str
    since: int
    reason: str
    commit: str

    def describe(self) -> str:
        from datetime import datetime, timezone

        when = datetime.fromtimestamp(self.since, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        scope = "every policy (pause --all)" if self.policy == ALL else self.policy
        return f"paused {scope} by {self.by} since {when} ({self.commit[:12]}): {self.reason}"


def fold_pauses(events: list[PauseEvent], policy: str) -> list[Pause]:
    """The pauses holding `policy` now; `events` oldest first. `resume POLICY` lifts the
    policy's own pauses, `resume --all` the emergency stops; a revert lifts its pause."""
    active: dict[str, Pause] = {}
    for event in events:
        if event.action == "undo":
            active.pop(event.undoes or "", None)
        elif event.policy not in (policy, ALL):
            continue
        elif event.action == "pause":
            active[event.commit] = Pause(event.policy, event.by or "unknown", event.time, event.reason or "", event.commit)
        elif event.action == "resume":
            active = {k: p for k, p in active.items() if p.policy != event.policy}
    return sorted(active.values(), key=lambda p: p.since)
