"""`rollout retry POLICY --reason TEXT`: a new epoch of a revision that was reverted, once
its cause (a node, a quota, a flaky dependency) is fixed. One empty commit with
`Rollout-Action: retry` and the new `Rollout-Epoch` (a record: under pull-request
delivery it goes to the records branch, as a gate's pass does); from it on the revision's earlier
events count for nothing, and `rollout run` rolls it out afresh from the first wave, its
bakes and gates included (docs/git-engine.md, "Epochs")."""

from __future__ import annotations

from pathlib import Path

from rollout.halt import retry_lines
from rollout.outcome import Outcome, WaveChange
from rollout.trust import require_signing
from rollout.session import folded, open_synced, publish
from rollout.git.history import policy_digest, retry_message
from rollout.errors import Refused
from rollout.workspace import UsageError

RETRYABLE = ("reverted", "halted")  # what a rollout's overall status must be for a retry


def retry(repo: Path, policy_ref: str, reason: str, by: str | None = None, push: bool | None = None,
          now: int | None = None, delivery: str | None = None) -> Outcome:
    if not reason.strip():
        raise UsageError("--reason must say why")
    session = open_synced(repo, push, delivery)
    who = session.who(by)

    def attempt():
        ws, state = folded(session, policy_ref, now)
        plan = ws.plan
        if state.overall not in RETRYABLE:
            raise UsageError(f"{plan.policy} -> {plan.revision} is {state.overall} (epoch {state.epoch}): retry starts "
                             "a new epoch of a reverted or halted revision only")
        # reverted, a sibling out and unjudged would sit on the revision, never judged: epoch 1's events count for
        # nothing once epoch 2 starts. Halted, a person decides (run records no pass meanwhile: it would wait forever)
        unjudged = [w for w in state.waves if w.status in ("baking", "verifying") or w.joins_out]
        if unjudged and not state.halts:
            names = "; ".join(f"wave {w.number} {w.name} is still out and not judged ({w.status})" if w.status != "passed"
                              else f"a late join of wave {w.number} {w.name} is still out and not judged"
                              for w in unjudged)
            raise Refused(f"{plan.policy} -> {plan.revision}: {names}: `rollout run` judges it (a failure is "
                             f"reverted too), or `rollout revert {plan.policy} --wave N` takes it back; then retry")
        require_signing(session, ws, "a retry")
        epoch = max([state.epoch, *(e.number for e in state.epochs)]) + 1
        outcome = Outcome(plan.policy, plan.revision, ws=ws, state=state)
        base = session.delivery.record_base(session)
        tip = session.git.commit_empty_on(base, retry_message(plan.policy, plan.revision, epoch, reason, who,
                                                              policy_digest(ws.loaded.text)))
        outcome.changes.append(WaveChange(0, f"epoch {epoch}", "retry", [], [], commit=tip))
        outcome.notes += retry_lines(ws, state.halts, epoch)  # a hot-fix to a newer revision: pinned back, said
        if unjudged:  # halted, retried with waves out and unjudged: they stay on the revision, said, never silence
            names = ", ".join(f"wave {w.number} {w.name} ({w.shown if w.status != 'passed' else 'a late join'})"
                              for w in unjudged)
            outcome.notes.append(f"still out and not judged in epoch {state.epoch}: {names}: their clusters stay on "
                                 f"{plan.revision}, judged again once epoch {epoch} reaches their waves; `rollout "
                                 f"revert {plan.policy} --wave N` takes one back now")
        return outcome, base, tip

    return publish(session, attempt, record=True)  # a record: under pull-request delivery, on rollout/records
