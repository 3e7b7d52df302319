"""Reading what holds a rollout back besides its own waves: the pause commits (written by
rollout/pause.py), folded with a plain `git revert` of a pause. The hold itself, pauses
and change windows, is pure (waves/holds.py, waves/pause.py)."""

from __future__ import annotations

import re

from waves.holds import Hold
from waves.pause import ALL, Pause, PauseEvent, fold_pauses
from rollout.git.history import followed_remote, history_refs
from rollout.git.repo import Git, GitError
from rollout.trust import screen_for

_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})")
_TRAILER = re.compile(r"^(Rollout-[A-Za-z-]+): (.*)$", re.M)
GREP = r"^Rollout-Action: (pause|resume)$|^This reverts commit [0-9a-f]+"


def read_pause_events(git, ref: str = "HEAD") -> list[PauseEvent]:
    """Every pause, resume and revert of a pause reachable from `ref`, oldest first (one `git log`)."""
    events = []
    for commit, time, message in git.log(ref, GREP):
        fields = dict(_TRAILER.findall(message))
        action = fields.get("Rollout-Action", "").strip()
        if action in ("pause", "resume"):
            events.append(PauseEvent(commit, time, action, fields.get("Rollout-Policy", ALL).strip(),
                                     fields.get("Rollout-Paused-By", "").strip() or None,
                                     fields.get("Rollout-Reason", "").strip() or None))
        elif (match := _REVERTS.search(message)) is not None:
            events.append(PauseEvent(commit, time, "undo", undoes=match.group(1)))
    # `This reverts commit` may give an abbreviated sha: match it to the full one
    shas = [e.commit for e in events if e.action == "pause"]
    return [_full(e, shas) for e in events]


def _full(event: PauseEvent, shas: list[str]) -> PauseEvent:
    if event.action != "undo" or not event.undoes:
        return event
    full = next((s for s in shas if s.startswith(event.undoes)), event.undoes)
    return PauseEvent(event.commit, event.time, "undo", undoes=full)


def pauses_of(git, policy: str, ref: str | list[str] = "HEAD") -> list[Pause]:
    return fold_pauses(read_pause_events(git, ref), policy)




def hold_of(git, policy: str, now: int, ref: str | list[str] = "HEAD", ws=None) -> Hold:
    """The pauses and the clock. With `ws` (the loaded policy), under its spec.trust a
    resume (or a `git revert` of a pause) counts only when signed by an allowed signer;
    a pause counts signed or not (rollout/trust.py)."""
    events = read_pause_events(git, ref)
    if ws is None:
        return Hold(now, fold_pauses(events, policy))
    counted, ignored, _ = screen_for(git, ws).screen(events)
    return Hold(now, fold_pauses(counted, policy), [i for i in ignored if i.action in ("resume", "undo")])


def hold_at(root, ws, now: int) -> Hold:
    """The pauses and the clock for a read-only look (status, the report page): no pause
    to read outside a git repository."""
    try:
        git = Git(root)
        return hold_of(git, ws.plan.policy, now, history_refs(git, followed_remote(git)), ws)
    except GitError:
        return Hold(now)
