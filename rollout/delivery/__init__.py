"""Delivery: how the rollout's commits reach the branch the GitOps controllers follow.
One module per mode, behind one small interface the engine and `rollout run` use; the
engine never asks which mode it has (docs/delivery.md).

    push.py          push each commit to the branch (the default)
    pull_request.py  one branch and one pull request per change, merged by `rollout run`
                     (autoMerge) or by a person; records go to the `rollout/records` branch.
                     The forges behind it: github.py (PyGithub), gitlab.py (python-gitlab).

A delivery offers:

    chains: bool
        whether one run's wave commits chain on each other (push) or each sits on the
        branch's tip, in its own pull request.
    preflight(session) -> None
        set-up errors (token missing or refused, forge unknown): ForgeSetupError, exit 2,
        before anything is written.
    record_base(session) -> str
        the commit that a record (verify, pause) is built on.
    publish(session, attempt, urgent=False, record=False) -> Outcome
        run `attempt() -> (outcome, base, tip)` until its commits land. `urgent`: a revert.
        `record`: an empty-commit record rather than a change of the manifests.
    proposals(git, remote, plan, epoch, admits) -> {wave name: Proposal}
        the waves whose advance waits in a pull request, of the rollout's epoch (from the
        fetched branches; no network); `admits(commit)`: whether a branch may count (spec.trust).
    tend(session, ws, state, hold) -> Tending
        `rollout run`'s first move: merge what is ready, rebuild what the branch left
        behind, halt on what a person closed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

MODES = {"push": "rollout.delivery.push", "pull-request": "rollout.delivery.pull_request"}


@dataclass
class Tending:
    """What `tend` did to the rollout's open pull requests in one step."""

    merged: list[dict] = field(default_factory=list)  # {"wave", "name", "action", "number", "url", "commit", "ref"}
    notes: list[str] = field(default_factory=list)
    halts: list[str] = field(default_factory=list)  # a closed pull request, a conflict: the rollout stops
    # a revert proposed and not merged yet: the wave is judged no more and nothing advances
    # (a flapping gate must not pass it meanwhile); the step's status is `reverting`
    reverting: list[str] = field(default_factory=list)


def delivery_for(spec, override: str | None = None):
    """The delivery of a policy's `spec.delivery`, or of `--delivery` when given."""
    from waves.delivery import DeliverySpec

    spec = spec or DeliverySpec()
    mode = override or spec.mode
    if override is not None and override != spec.mode:
        spec = spec.model_copy(update={"mode": override})
    return importlib.import_module(MODES[mode]).Delivery(spec)
