"""What the rollout's commands raise besides bad input (rollout/workspace.py: UsageError,
exit 2): a refusal (exit 1) and bad input found while checking (exit 2, located)."""

from __future__ import annotations

from waves.problems import Problem


class Refused(Exception):
    """The operation is not allowed now (exit 1): dependencies not passed, a race lost
    too many times, a diverged branch."""


class InvalidInput(Exception):
    """Bad input found while checking (exit 2); carries the located problems."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
