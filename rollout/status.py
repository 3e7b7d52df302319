"""`rollout status`: the rollout folded from the history and the files, read-only (a move a
killed run left journaled is finished first)."""

from __future__ import annotations

import sys
from pathlib import Path

from waves.state import RolloutState
from rollout.delivery import delivery_for
from rollout.errors import InvalidInput
from rollout.git import checkout
from rollout.git.history import RECORDS, followed_remote, history_refs, read_events
from rollout.git.repo import Git
from rollout.recorded import degrade
from rollout.reuse import at_revision
from rollout.session import clock, fold_events
from rollout.workspace import UsageError, Workspace, load_workspace


def status(repo: Path, policy_ref: str, now: int | None = None, check_files: bool = False
           ) -> tuple[Workspace, RolloutState]:
    """The workspace and the rollout's state. The plan, and what each pinned file says, are
    taken from the git dir when their inputs did not change (rollout/reuse.py).
    `check_files`: the checks on the pinned files too (`gate`: the evaluation reads them)."""
    ws, state, _ = status_and_hold(repo, policy_ref, now, check_files, hold=False)
    return ws, state


def status_and_hold(repo: Path, policy_ref: str, now: int | None = None, check_files: bool = False,
                    hold: bool = True) -> tuple[Workspace, RolloutState, object]:
    """`status`, and the pauses and the clock (rollout.controls.Hold) read from the same refs
    (`rollout status` shows both)."""
    from rollout.controls import hold_of

    git = Git(repo)
    top = git.toplevel()

    def read() -> tuple[Workspace, str | None]:
        ws = load_workspace(repo, policy_ref, check_files=check_files, reuse=git if top is not None else None,
                            strict=False,  # a shared-field conflict is said, not a stop
                            files_by_git=not check_files)  # the listing `at_revision` reads
        if top is None and not ws.errors:
            raise UsageError(f"{repo}: not a git repository")
        remote = followed_remote(git) if top is not None else None
        if top is not None and ws.hub_down and all(p.extra.get("hub") is not None for p in ws.errors):
            # the hub away once the rollout started: the waves out, from their advance records
            # (docs/inventory.md); before it started, the hub's problem stands (exit 2)
            ws = degrade(git, remote, ws, check_files) or ws
        if ws.errors:
            raise InvalidInput(ws.problems)  # exit 2, nothing written: not even a journaled move finished
        return ws, remote

    ws, remote = read()
    if top is not None and _finish_interrupted_move(git):
        ws, remote = read()  # the files and HEAD as the move left them
    now_ = clock(now)
    # a read-only look: HEAD and the records branch read once, together, after a journaled move was finished
    with git.refs_known(git.refs_now([f"refs/remotes/{remote}/{RECORDS}"] if remote else [])):
        refs = history_refs(git, remote)
        events = read_events(git, refs, ws.plan.policy, arrivals_for=ws.plan.revision)
        state = fold_events(delivery_for(ws.loaded.policy.spec.delivery), git, remote, ws, events, now_,
                            at_revision(ws, git))
        return ws, state, hold_of(git, ws.plan.policy, now_, refs, ws) if hold else None


def _finish_interrupted_move(git: Git) -> bool:
    """`status` reads HEAD: a move a killed run left journaled is finished (the commit is
    published already), unless a live rollout in this checkout is on it. True when it was."""
    if checkout.pending(git) is None or not checkout.hold(git, wait=0):
        return False
    for note in checkout.resume(git):
        print(f"rollout: {note}", file=sys.stderr)
    return True
