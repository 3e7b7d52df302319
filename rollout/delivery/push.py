"""Push delivery (the default): each commit is pushed to the followed branch, never
forced; a rejected push means another runner moved the branch, so its state is taken
and the decision made again. Only a published tip moves the local branch and working
tree (rollout/git/checkout.py journals that move)."""

from __future__ import annotations

import random
import time

from rollout.delivery import Tending
from rollout.errors import Refused

MAX_ATTEMPTS = 5
# A revert must land even while other runners keep the branch busy: more attempts, each
# after a growing, jittered pause (0.2 s, 0.4 s, ... at most 5 s; about half a minute in all).
URGENT_ATTEMPTS, BACKOFF, BACKOFF_CAP = 12, 0.2, 5.0
_PAST = {"advance": "advanced", "revert": "reverted", "approve": "approved"}


class Delivery:
    name = "push"
    chains = True

    def __init__(self, spec=None):
        self.spec = spec

    def preflight(self, session) -> None:
        return None

    def record_base(self, session) -> str:
        return session.git.head()

    def proposals(self, git, remote, plan, epoch: int, admits=None) -> dict:
        return {}

    def tend(self, session, ws, state, hold=None, advances=None):
        return Tending()

    def publish(self, session, attempt, urgent: bool = False, record: bool = False):
        attempts = URGENT_ATTEMPTS if urgent else MAX_ATTEMPTS
        for tried in range(attempts):
            if tried and urgent:
                time.sleep(min(BACKOFF_CAP, BACKOFF * 2 ** (tried - 1)) * random.uniform(0.5, 1.0))
            outcome, base, tip = attempt()
            outcome.notes[:0] = session.notes
            if tip == base:
                return outcome
            if session.push:
                pushed = session.git.push(session.upstream, tip)
                if pushed is None:
                    session.sync()  # another runner moved the remote
                    continue
                if pushed == "already":
                    # Another runner built the very same commits (same base, files, message and
                    # second) and published them first: they are its, not ours to announce.
                    outcome.notes += [f"wave {c.number} {c.name} was already {_PAST.get(c.action, c.action)} by another "
                                      f"runner ({c.commit[:12]}): nothing to do" for c in outcome.changes]
                    outcome.changes = []
                else:
                    outcome.pushed = True
            session.git.fast_forward(tip)
            return outcome
        raise Refused(f"the remote kept moving: gave up after {attempts} attempts; run again")
