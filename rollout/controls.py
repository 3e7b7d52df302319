"""What holds a rollout back besides its own waves: a pause (rollout/pause.py) and the
change windows (waves/windows.py). The engine asks this once per decision; the answer
never holds gates or reverts, only starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from waves.pause import Pause
from waves.windows import WindowVerdict, judge


@dataclass
class Hold:
    now: int
    pauses: list[Pause] = field(default_factory=list)

    @property
    def paused(self) -> bool:
        return bool(self.pauses)

    def pause_note(self) -> str:
        return "; ".join(p.describe() for p in self.pauses) + ": nothing new starts (`rollout resume` lifts it)"

    def window(self, wave) -> WindowVerdict:
        return judge(tuple(wave.windows), datetime.fromtimestamp(self.now, timezone.utc))


def hold_of(git, policy: str, now: int, ref: str | list[str] = "HEAD") -> Hold:
    from rollout.pause import pauses_of

    return Hold(now, pauses_of(git, policy, ref))
