"""What the simulated forges' REST layers (github.py, gitlab.py) share: the request a
synchronous handler sees, who a simulator token stands for, a page of a list, and the
rate-limit bookkeeping behind each forge's own headers and refusals (the primary budget
per window, and the answers the `_sim/rate-limit` test knob forces).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from rollout.simulator.server import TOKEN


@dataclass
class Call:
    """One request, as a synchronous handler sees it."""

    match: dict[str, str]
    query: dict[str, str]
    body: Any
    api: str  # the mounted API's absolute URL
    web: str  # where the "web pages" live
    user: str
    url: Any  # yarl.URL of the request


def login_of(token: str | None, bot: str) -> str | None:
    """The user a token stands for: TOKEN is `bot`, `TOKEN/<login>` is `<login>` (a second
    person, to approve or merge by hand); None for any other token."""
    if token == TOKEN:
        return bot
    if token and token.startswith(f"{TOKEN}/") and len(token) > len(TOKEN) + 1:
        return token[len(TOKEN) + 1:]
    return None


def page_of(items: list, page: int, per_page: int) -> tuple[list, int]:
    """The `page`th (from 1) slice of `per_page` items, and the number of the last page
    (1 for an empty list)."""
    last = max(math.ceil(len(items) / per_page), 1)
    return items[(page - 1) * per_page: page * per_page], last


@dataclass
class Budget:
    """A primary rate limit (`limit` requests per `window` seconds) and the answers the
    test knob forces on the coming requests."""

    limit: int
    window: float = 3600.0
    remaining: int = -1
    reset: float = 0.0  # epoch seconds when the budget renews
    forced: list[tuple[int, float] | None] = field(default_factory=list)  # (status, retry-after) per coming
    # request; None: that one is answered as usual (the knob's "after")

    def __post_init__(self):
        if self.remaining < 0:
            self.remaining = self.limit
        if not self.reset:
            self.reset = time.time() + self.window

    @property
    def used(self) -> int:
        return self.limit - self.remaining

    def until_reset(self) -> int:
        return max(0, math.ceil(self.reset - time.time()))

    def spend(self) -> tuple[bool, tuple[int, float] | None]:
        """One API request: (within the budget, the forced answer for it or None). A
        request beyond the budget spends nothing."""
        now = time.time()
        if now >= self.reset:
            self.remaining, self.reset = self.limit, now + self.window
        if self.remaining <= 0:
            return False, None
        self.remaining -= 1
        return True, self.forced.pop(0) if self.forced else None

    def control(self, body: dict, statuses: tuple[int, ...]) -> None:
        """The knob: {"count": N, "status": S, "retryAfter": T} forces the next N answers
        (with "after": K, the N after the next K: a failure in the middle of a step);
        {"remaining": R, "reset": T} sets the budget, renewed in T seconds. Raises
        ValueError for a status the forge does not refuse with."""
        if "count" in body:
            status = int(body.get("status", 429))
            if status not in statuses:
                raise ValueError(f"status: one of {', '.join(map(str, statuses))}")
            self.forced += [None] * int(body.get("after", 0))
            self.forced += [(status, float(body.get("retryAfter", 1)))] * int(body["count"])
        if "remaining" in body:
            self.remaining = int(body["remaining"])
            self.reset = time.time() + float(body.get("reset", self.window))
