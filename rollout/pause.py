"""`rollout pause` / `rollout resume`: a pause is a commit, so it is published, audited
and lifted the Git way (`git revert <pause commit>` works too: the commit also writes a
small marker file, `.rollout/pause/<policy>` or `.rollout/pause/ALL`, so the revert is
not empty). The fold (waves/pause.py) reads the trailers, never the marker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from waves.pause import ALL
from rollout.controls import hold_of, pauses_of
from rollout.git.history import clock_trailer
from rollout.errors import InvalidInput, Refused
from rollout.outcome import Outcome, WaveChange
from rollout.trust import require_signing
from rollout.session import clock, open_synced, publish, state_of
from rollout.workspace import UsageError, load_workspace

MARKERS = ".rollout/pause"


def message(action: str, policy: str, by: str, reason: str | None) -> str:
    scope = "every policy" if policy == ALL else policy
    subject = f"rollout({policy if policy != ALL else 'all'}): {action} {scope}" + (f": {_one_line(reason)}" if reason else "")
    body = [subject, ""]
    if action == "pause":
        body += ["Nothing new starts while paused: gates are still judged and a failed wave is still reverted.",
                 "Lift it with `rollout resume` or `git revert` of this commit.", ""]
    trailers = [f"Rollout-Policy: {policy}", f"Rollout-Action: {action}", f"Rollout-Paused-By: {_one_line(by)}",
                *clock_trailer()]
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
    from rollout.git.history import history_refs

    if action == "pause" and not (reason or "").strip():
        raise UsageError("--reason must say why")
    session = open_synced(repo, push, delivery)
    if policy_ref is None:  # every policy: --delivery says where records go (docs/delivery.md)
        session.delivery = delivery_for(None, delivery)
    who = session.who(by)

    def attempt():
        lines: list[str] = []  # a resume of a halted rollout says the halt remains
        ws = None
        if policy_ref is None:
            name = ALL
            if action == "resume":
                _require_signing_for_all(session)
        else:
            ws = load_workspace(session.repo, policy_ref)
            if ws.loaded is None or ws.loaded.policy is None:
                raise InvalidInput(ws.problems)
            name = ws.loaded.policy.metadata.name
            session.use(ws)
            if action == "resume" and ws.plan is not None:
                require_signing(session, ws, "a resume")
            if action == "resume" and ws.plan is not None:
                halted = state_of(session, ws, clock(now)).halts
                lines = [f"the rollout stays halted at wave {w.number} {w.name} ({w.halt_commit[:12]}): "
                         f"`rollout resume {name} --halt --reason ...` lifts a halt" for w in halted]
        base = session.delivery.record_base(session)
        refs = history_refs(session.git, session.remote)

        def held(name):  # under the policy's spec.trust, a resume counts only signed (rollout/trust.py)
            return hold_of(session.git, name, 0, refs, ws).pauses if ws is not None else pauses_of(session.git, name, refs)
        outcome = PauseOutcome(name, "", reason=reason or "", by=who)
        outcome.notes += lines
        active = [p for p in held(name) if p.policy == name]
        if action == "pause" and active:
            outcome.notes.append(active[0].describe() + ": already paused")
            return outcome, base, base
        if action == "resume" and not active:
            others = held(name)
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

    return publish(session, attempt, record=True)


def _require_signing_for_all(session) -> None:
    """`resume --all` lifts the stop of every policy: under each policy's spec.trust it
    counts only signed by an allowed signer, so a record that would not count for one of
    them is refused (exit 2) before anything is written, as `resume POLICY` is. A policy
    that does not load cannot be judged here; its own commands say why."""
    folder = session.repo / "rollouts"
    for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
        ws = load_workspace(session.repo, path.stem)
        if ws.loaded is not None and ws.loaded.policy is not None and ws.plan is not None \
                and ws.loaded.policy.spec.trust is not None:
            require_signing(session, ws, "a resume of every policy")
