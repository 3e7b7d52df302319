"""Now, for every command: the wall clock, or ROLLOUT_NOW for rehearsals. Apart from
rollout/session.py (which uses it) so that `rollout gate` can read the clock before it
sends its LISTs ahead, without loading the session's modules first."""

from __future__ import annotations

import os
import time

CLOCK_OVERRIDE = "ROLLOUT_NOW"


def clock(now: int | None = None) -> int:
    """Now, in unix seconds. ROLLOUT_NOW pins it, for rehearsals (the demo, a remote that
    is a local path) and tests of bake times; a writing run towards any other remote
    refuses it (`open_session`), and every commit made under it says so (history.py)."""
    if now is not None:
        return now
    return int(os.environ.get(CLOCK_OVERRIDE) or time.time())
