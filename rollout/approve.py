"""`rollout approve`: the record that a person approved a wave marked `approval: required`."""

from __future__ import annotations

from pathlib import Path

from waves.state import EMPTY, OUT
from rollout.errors import Refused
from rollout.git.history import approve_message, policy_digest
from rollout.outcome import Outcome, WaveChange
from rollout.trust import require_signing
from rollout.session import folded, open_synced, publish, wave_ref
from rollout.workspace import UsageError


def approve(repo: Path, policy_ref: str, wave: str, by: str | None = None, push: bool | None = None,
            now: int | None = None, delivery: str | None = None) -> Outcome:
    """Record that a person approved wave `wave` (`approval: required`): an empty commit
    with `Rollout-Action: approve`; the waves after it may then go. Idempotent. Under
    spec.trust it counts only when signed by one of its approvers, and the approver it
    names is the signer (rollout/trust.py). Under pull-request delivery, when the approvers
    include forge users (`github:LOGIN`, `gitlab:USERNAME`), anyone whose key is allowed (the
    CI bot) may open the approval request: its approving review by such an approver is the
    approval, named in the merge that `rollout run` makes (docs/security.md)."""
    if by is not None and not by.strip():
        raise UsageError("--by must name who approves")
    session = open_synced(repo, push, delivery)
    by = session.who(by)

    def attempt():
        ws, state = folded(session, policy_ref, now)
        plan = ws.plan
        target = wave_ref(plan, wave)
        ws_state = state.wave(target.number)
        outcome = Outcome(plan.policy, plan.revision, ws=ws, state=state)
        base = session.git.head()
        if ws_state.status == EMPTY:
            outcome.notes.append(f"wave {target.number} {target.name} is empty (no cluster matches its selector): "
                                 "nothing went out to approve; what waits for it goes on without an approval")
            return outcome, base, base
        if target.approval != "required":
            outcome.notes.append(f"wave {target.number} {target.name} does not require approval: nothing to do")
            return outcome, base, base
        if ws_state.approved_by:
            outcome.notes.append(f"wave {target.number} {target.name} is already approved by {ws_state.approved_by}")
            return outcome, base, base
        if ws_state.status not in OUT:
            raise Refused(f"wave {target.number} {target.name} is {ws_state.status}: approve it once it has been advanced")
        reviewed = _by_review(session, ws)
        require_signing(session, ws, "an approval request" if reviewed else "an approval", approving=not reviewed)
        if reviewed:
            outcome.notes.append(f"wave {target.number} {target.name}: `rollout run` merges it once one of "
                                 f"{', '.join(reviewed)} approves it in review (at once, when an approver signed it)")
        message = approve_message(plan.policy, plan.revision, target.number, target.name, by,
                                  policy_digest(ws.loaded.text), epoch=state.epoch)
        tip = session.git.commit_empty_on(base, message)
        outcome.changes.append(WaveChange(target.number, target.name, "approve", [], [], commit=tip))
        return outcome, base, tip

    return publish(session, attempt)


def _by_review(session, ws) -> list[str]:
    """The approvers whose review of an approval request approves it: the forge users among
    spec.trust.approvers, under pull-request delivery (none otherwise)."""
    from waves.trust import FORGE_IDENTITIES

    trust = ws.loaded.policy.spec.trust
    if trust is None or getattr(session.delivery, "name", None) != "pull-request":
        return []
    return [a for a in trust.approvers if a.startswith(FORGE_IDENTITIES)]
