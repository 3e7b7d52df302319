"""What holds a rollout's starts back besides its own waves: the pauses folded from Git
(waves/pause.py) and each wave's change windows (waves/windows.py). Pure: the shell
reads the pause commits (rollout/controls.py) and passes the clock. A hold never holds
a gate or a revert, only a start."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from waves.pause import Pause
from waves.windows import WindowVerdict, judge


@dataclass
class Hold:
    now: int
    pauses: list[Pause] = field(default_factory=list)
    ignored: list = field(default_factory=list)  # spec.trust: resumes that did not count (waves.trust.Ignored)

    @property
    def paused(self) -> bool:
        return bool(self.pauses)

    def pause_note(self) -> str:
        return "; ".join(p.describe() for p in self.pauses) + ": nothing new starts (`rollout resume` lifts it)"

    def window(self, wave) -> WindowVerdict:
        return judge(tuple(wave.windows), datetime.fromtimestamp(self.now, timezone.utc))
