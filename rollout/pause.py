"""`rollout pause` / `rollout resume`: a pause is a commit, so it is published, audited
and lifted the Git way (`git revert <pause commit>` works too: the commit also writes a
small marker file, `.rollout/pause/<policy>` or `.rollout/pause/ALL`, so the revert is
not empty). The fold (waves/pause.py) reads the trailers, never the marker."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rollout.engine import Outcome

from waves.pause import ALL, Pause, PauseEvent, fold_pauses

MARKERS = ".rollout/pause"
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


def message(action: str, policy: str, by: str, reason: str | None) -> str:
    scope = "every policy" if policy == ALL else policy
    subject = f"rollout({policy if policy != ALL else 'all'}): {action} {scope}" + (f": {_one_line(reason)}" if reason else "")
    body = [subject, ""]
    if action == "pause":
        body += ["Nothing new starts while paused: gates are still judged and a failed wave is still reverted.",
                 "Lift it with `rollout resume` or `git revert` of this commit.", ""]
    trailers = [f"Rollout-Policy: {policy}", f"Rollout-Action: {action}", f"Rollout-Paused-By: {_one_line(by)}"]
    if reason:
        trailers.append(f"Rollout-Reason: {_one_line(reason)}")
    return "\n".join(body + trailers) + "\n"


def marker(policy: str) -> str:
    return f"{MARKERS}/{'ALL' if policy == ALL else policy}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass
class PauseOutcome(Outcome):
    reason: str = ""
    by: str = ""


def record(repo: Path, policy_ref: str | None, action: str, by: str | None, reason: str | None,
           push: bool | None = None, now: int | None = None, delivery: str | None = None):
    """Commit a pause or resume of one policy (`policy_ref`) or of every policy (None),
    and publish it. Idempotent: pausing a paused policy or resuming a running one does nothing."""
    from datetime import datetime, timezone

    from rollout.delivery import delivery_for
    from rollout.engine import Refused, WaveChange, _publish, clock, open_session, sync
    from rollout.git.history import history_refs
    from rollout.workspace import UsageError, load_workspace

    if action == "pause" and not (reason or "").strip():
        raise UsageError("--reason must say why")
    session = open_session(repo, push, delivery=delivery)
    sync(session)
    if policy_ref is None:  # every policy: --delivery says where records go (docs/delivery.md)
        session.delivery = delivery_for(None, delivery)
    who = (by or "").strip() or session.git.identities()[0].rsplit(" <", 1)[0]

    def attempt():
        if policy_ref is None:
            name = ALL
        else:
            ws = load_workspace(session.repo, policy_ref)
            if ws.loaded is None or ws.loaded.policy is None:
                from rollout.engine import InvalidInput

                raise InvalidInput(ws.problems)
            name = ws.loaded.policy.metadata.name
            session.use(ws)
        base = session.delivery.record_base(session)
        refs = history_refs(session.git, session.remote)
        outcome = PauseOutcome(name, "", reason=reason or "", by=who)
        active = [p for p in pauses_of(session.git, name, refs) if p.policy == name]
        if action == "pause" and active:
            outcome.notes.append(active[0].describe() + ": already paused")
            return outcome, base, base
        if action == "resume" and not active:
            others = pauses_of(session.git, name, refs)
            if others:
                raise Refused(f"{name} is held by an emergency stop: {others[0].describe()}; "
                              "`rollout resume --all` lifts it")
            outcome.notes.append(f"{'every policy' if name == ALL else name} is not paused: nothing to do")
            return outcome, base, base
        stamp = datetime.fromtimestamp(clock(now), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = f"{action}d by {who} at {stamp}" + (f": {_one_line(reason)}" if reason else "") + "\n"
        tip = session.git.commit_on(base, {marker(name): text.encode()}, message(action, name, who, reason))
        outcome.changes.append(WaveChange(0, name, action, [], [marker(name)], commit=tip))
        return outcome, base, tip

    return _publish(session, attempt, record=True)
