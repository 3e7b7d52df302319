"""`rollout resume POLICY --halt --reason TEXT`: a person lifts the halts of a rollout
(`onFailure: halt`, or a gate blind past `progressDeadline`). One record per halted wave
(`Rollout-Action: lift`, naming the halt record in `Rollout-Lifts`); the next `rollout run`
judges those waves afresh: a wave still failing halts again, with a new record. A record:
under pull-request delivery it goes to the records branch, as the halt did."""

from __future__ import annotations

from pathlib import Path

from waves.drift import CAME_BACK, pin_back, pinned_again
from rollout.outcome import Outcome, WaveChange
from rollout.reuse import found_values
from rollout.trust import require_signing
from rollout.session import clock, events_of, fold_events, folded, open_synced, publish
from rollout.git.history import lift_message, policy_digest
from rollout.workspace import UsageError


def lift(repo: Path, policy_ref: str, reason: str | None, by: str | None = None, push: bool | None = None,
         now: int | None = None, delivery: str | None = None) -> Outcome:
    if not (reason or "").strip():
        raise UsageError("--reason must say why the halt is lifted")
    session = open_synced(repo, push, delivery)
    who = session.who(by)

    def attempt():
        ws, state = folded(session, policy_ref, now)
        plan = ws.plan
        outcome = Outcome(plan.policy, plan.revision, ws=ws, state=state)
        base = tip = session.delivery.record_base(session)
        if not state.halts:
            outcome.notes.append(f"{plan.policy} -> {plan.revision} is not halted: nothing to lift")
        digest = policy_digest(ws.loaded.text)
        if state.halts:
            require_signing(session, ws, "the lifting of a halt")
        for wave in state.halts:
            for halt in wave.halt_commits:  # the wave's own and its late joins': one lift each
                tip = session.git.commit_empty_on(tip, lift_message(plan.policy, plan.revision, wave.number, wave.name,
                                                                    halt, reason, who, digest, epoch=state.epoch))
                outcome.changes.append(WaveChange(wave.number, wave.name, "lift", [], [], commit=tip))
        outcome.notes += pin_back_lines(ws, state.halts, lambda known: fold_events(
            session.delivery, session.git, session.remote, ws, events_of(session, ws), clock(now), known))
        return outcome, base, tip

    return publish(session, attempt, record=True)


SHOWN = 10  # pin-back lines said one by one; the rest counted


def _named(ws, halts) -> tuple[list[tuple[str, tuple | None, tuple | None]], list[str]]:
    """([(cluster, (its file, what its pinned field holds now) or None, (wave number, name)
    or None)] for the first SHOWN clusters the halts name as set off the revision (only their
    files read), [the line counting the rest] or [])."""
    plan = ws.plan
    clusters = list(dict.fromkeys(c for wave in halts for c, _ in wave.halt_off))
    found = found_values(ws, clusters[:SHOWN]) if clusters else {}
    named = []
    for cluster in clusters[:SHOWN]:
        number = plan.wave_of.get(cluster)
        named.append((cluster, found.get(cluster), (number, plan.wave(number).name) if number is not None else None))
    more = [f"and {len(clusters) - SHOWN} more (`rollout status {plan.policy}` names each)"] \
        if len(clusters) > SHOWN else []
    return named, more


def pin_back_lines(ws, halts, refold=None) -> list[str]:
    """One line per cluster the lifted halts name as set off the revision (`Rollout-Off-Revision`):
    what the next `run` does with it, with what its file holds now (a person who hot-fixed it
    to a newer revision sees that lifting pins it back: a downgrade). Only their files are read.
    `refold(at_revision)`: the state folded again with those files' view, for why each is off
    now (the lift's own fold reads no pinned file): one set off again since the halt (a later
    edit, a new key) is not let join again by the lift, the next run halts on it."""
    plan = ws.plan
    named, more = _named(ws, halts)
    again = {}
    off = {c: found[1] != plan.revision for c, found, _ in named if found is not None}
    if refold is not None and any(off.values()):
        pairs = {pair for wave in halts for pair in wave.halt_off}
        now = refold({c: not o for c, o in off.items()})  # these clusters only: no other file's history read
        again = {d.cluster: d for wave in now.waves for d in wave.off
                 if d.kind != CAME_BACK and (d.cluster, d.key) not in pairs}
    return [pin_back(c, plan.revision, found, wave, again.get(c)) for c, found, wave in named] + more


def retry_lines(ws, halts, epoch: int) -> list[str]:
    """`pin_back_lines` for a retry of a halted rollout: one line per cluster the halts name
    as set off the revision whose file does not hold it now: the new epoch pins it again
    when its wave goes out. Only their files are read."""
    named, more = _named(ws, halts)
    lines = [pinned_again(c, ws.plan.revision, found, wave, epoch) for c, found, wave in named]
    return [line for line in lines if line is not None] + more
