"""The report page's eyes: what rollout/render/html.py draws, read from the repo.

`rollout status --format html` and `rollout run --report FILE` take the state as `rollout
status` folds it (rollout/status.py); this adds only what the page shows besides: the
bodies of the commits the state names (a gate pass's evidence, a revert's reason), the
pauses and change windows, and the forge's web links from the remote URL. One `git log`
for the bodies, whatever the size of the fleet."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rollout.render.html import Page, Record


def status_page(repo: Path, policy_ref: str, verdicts: list | None = None, now: int | None = None) -> Page:
    """The rollout as `rollout status` sees it; with `verdicts` (rollout run), this step's
    gate verdicts too (a wave whose gates failed or cannot see shows so, as in `run`'s table)."""
    from rollout.controls import hold_at
    from rollout.git.repo import Git
    from rollout.render.status import status_warnings
    from rollout.session import clock
    from rollout.status import status

    now = clock(now)
    ws, state = status(repo, policy_ref, now)
    git = Git(repo)
    named = [c for w in state.waves for c in (w.advance_commit, w.verify_commit, w.halt_commit, w.revert_commit) if c]
    return Page(ws.plan, state, now, "status", hold_at(repo, ws, now),
                {v.number: v for v in verdicts or ()}, records(git, named), links(git, ws),
                warnings=tuple(status_warnings(state, ws.warnings)))  # as the table says them


def plan_page(ws, now: int | None = None) -> Page:
    """A plan: the fold of no event (every wave pending), and the change windows as of now."""
    from waves.holds import Hold
    from waves.state import fold
    from rollout.session import clock

    now = clock(now)
    return Page(ws.plan, fold(ws.plan, [], now), now, "plan", Hold(now), warnings=tuple(ws.warnings))


def records(git, commits: list[str]) -> dict[str, Record]:
    """commit -> its subject and body, in one `git log`."""
    if not commits:
        return {}
    out = git.run("log", "--no-walk=unsorted", "--stdin", "--format=%H%x1f%s%x1f%b%x1e",
                  input="".join(f"{c}\n" for c in dict.fromkeys(commits)).encode(), check=False)
    found = {}
    for item in out.split("\x1e"):
        item = item.strip("\n")
        if item.count("\x1f") >= 2:
            commit, subject, body = item.split("\x1f", 2)
            found[commit] = Record(subject, body)
    return found


def links(git, ws):
    """The forge's web links for the remote the branch follows (else `origin`), or None."""
    from rollout.delivery.forge import web_links
    from rollout.git.history import followed_remote

    remote = followed_remote(git) or "origin"
    url = git.run("remote", "get-url", remote, check=False).strip()
    return web_links(url, ws.loaded.policy.spec.delivery.provider) if url else None


def write(path: Path, text: str) -> None:
    """Whole or not at all: a temp file beside it, renamed over it (a reader, such as a CI
    artifact upload, never sees half a page)."""
    path = Path(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
