"""`rollout status`: the rollout folded from the history and the files, read-only (a move a
killed run left journaled is finished first)."""

from __future__ import annotations

import sys
from pathlib import Path

from waves.state import RolloutState
from rollout.delivery import delivery_for
from rollout.errors import InvalidInput
from rollout.git import checkout
from rollout.git.history import followed_remote, history_refs, read_events
from rollout.git.repo import Git
from rollout.manifests.edit import PinError, parse, read_pin
from rollout.session import clock, fold_events
from rollout.workspace import UsageError, Workspace, load_workspace
from rollout.yamlfile import bulk


def status(repo: Path, policy_ref: str, now: int | None = None) -> tuple[Workspace, RolloutState]:
    ws = load_workspace(repo, policy_ref, strict=False)
    if ws.errors:
        raise InvalidInput(ws.problems)
    git = Git(repo)
    if git.toplevel() is None:
        raise UsageError(f"{repo}: not a git repository")
    _finish_interrupted_move(git)
    now_ = clock(now)
    remote = followed_remote(git)
    events = read_events(git, history_refs(git, remote), ws.plan.policy, arrivals_for=ws.plan.revision)
    with bulk():
        at_revision = _at_revision(repo, ws)
    return ws, fold_events(delivery_for(ws.loaded.policy.spec.delivery), git, remote, ws, events, now_, at_revision)


def _finish_interrupted_move(git: Git) -> None:
    """`status` reads HEAD: a move a killed run left journaled is finished first (the
    commit is published already), unless a live rollout in this checkout is on it."""
    if checkout.pending(git) is not None and checkout.hold(git, wait=0):
        for note in checkout.resume(git):
            print(f"rollout: {note}", file=sys.stderr)


def _at_revision(repo: Path, ws: Workspace) -> dict[str, bool]:
    """Which clusters' files hold the revision now: parsed once per file."""
    plan, policy = ws.plan, ws.loaded.policy
    labels = {c.name: c.labels for c in plan.targets}
    parsed: dict[str, object] = {}
    out = {}
    for cluster, targets in plan.pins.items():
        ok = True
        for target in targets:
            if target.file not in parsed:
                try:
                    text = (repo / target.file).read_text()
                    parsed[target.file] = (text, parse(text, target.file))
                except (OSError, PinError):
                    parsed[target.file] = None
            entry = parsed[target.file]
            if entry is None:
                ok = False
                continue
            try:
                result = read_pin(entry[0], policy.spec.pin[target.pin_index], cluster, labels[cluster],
                                  target.file, located=entry[1])
                ok = ok and result.old == plan.revision
            except PinError:
                ok = False
        out[cluster] = ok
    return out
