"""Reading what holds a rollout back besides its own waves: the pause commits
(rollout/pause.py). The hold itself, pauses and change windows, is pure (waves/holds.py)."""

from __future__ import annotations

from waves.holds import Hold


def hold_of(git, policy: str, now: int, ref: str | list[str] = "HEAD") -> Hold:
    from rollout.pause import pauses_of

    return Hold(now, pauses_of(git, policy, ref))
