"""`rollout advance`: pin the revision into the manifests of the waves that may go (or of
one wave, `--wave`), one commit per wave, published through the session's delivery."""

from __future__ import annotations

import difflib
from pathlib import Path

from waves.decide import ADVANCE as START, HALT, WAIT, decide, of
from waves.holds import Hold
from waves.problems import Problem
from waves.state import ADVANCE, EMPTY, OUT, RolloutState, blockers, down_list, held_back, pinnable
from rollout.controls import hold_of
from rollout.errors import InvalidInput, Refused
from rollout.git.history import advance_message, history_refs, policy_digest
from rollout.inventory import record
from rollout.manifests.edit import PinError, pin_text
from rollout.outcome import Outcome, WaveChange
from rollout.trust import require_signing
from rollout.session import clock, load, open_session, publish, state_of, sync, wave_ref
from rollout.workspace import Workspace
from rollout.yamlfile import bulk


def advance(repo: Path, policy_ref: str, wave: str | None = None, dry_run: bool = False, push: bool | None = None,
            message: str | None = None, force: bool = False, now: int | None = None,
            delivery: str | None = None) -> Outcome:
    """Advance wave `wave`, or every wave that is ready (its dependencies passed: bake
    elapsed and, for gated waves, a recorded gate pass)."""
    session = open_session(repo, push, writing=not dry_run, delivery=delivery)
    if not dry_run:
        sync(session)

    def attempt():
        ws = load(session, policy_ref)
        if ws.degraded:  # the rollout started, and the inventory cannot be read: nothing is pinned blind
            raise Refused(f"nothing advanced: the inventory cannot be read: {ws.degraded}")
        state = state_of(session, ws, clock(now))
        outcome = Outcome(ws.plan.policy, ws.plan.revision, ws=ws, state=state)
        chosen = _choose(ws, state, wave, force, outcome, hold_of(session.git, ws.plan.policy, clock(now),
                                                                   history_refs(session.git, session.remote), ws))
        base = session.git.head()
        if not chosen:
            return outcome, base, base
        if not dry_run:
            require_signing(session, ws, "an advance")
        with bulk():
            tip = build_advances(session, ws, state, chosen, outcome, base, message, dry_run)
        return outcome, base, base if dry_run else tip

    return publish(session, attempt)  # which puts the session's notes first


def _choose(ws: Workspace, state: RolloutState, wave: str | None, force: bool, outcome: Outcome, hold: Hold):
    """[(wave number, clusters to pin, late join?, forced-past reasons, forced past a window?)].
    A pause holds every start; a change window holds a wave's first start (`--force` passes it)."""
    plan = ws.plan
    if hold.paused:
        outcome.paused = True
        if wave is not None:
            raise Refused(hold.pause_note())
        outcome.held.append(hold.pause_note())
        outcome.notes.append(hold.pause_note())
        return []
    if wave is not None:
        target = wave_ref(plan, wave)
        ws_state = state.wave(target.number)
        if ws_state.status == EMPTY:
            outcome.notes.append(f"wave {target.number} {target.name} is empty (no cluster matches its selector): "
                                 "nothing to advance; it passes once the waves it waits for have")
            return []
        if ws_state.status == "reverted":
            raise Refused(f"wave {target.number} {target.name} was reverted for {plan.revision}; "
                          "a new revision starts a new rollout")
        refuse_stopped(plan, state)  # as decide holds every start: no --force past a halt or a revert
        if ws_state.status == "proposed":
            outcome.notes.append(f"wave {target.number} {target.name} is already proposed: "
                                 f"{ws_state.proposal.describe()} waits to be merged")
            return []
        if ws_state.status in OUT:
            joining, waiting = pinnable(plan, target, ws_state.late)
            if joining:
                return [(target.number, joining, True, [], False)]
            if waiting:
                outcome.notes.append(f"wave {target.number} {target.name}: late joins wait for unavailable clusters: "
                                     f"{down_list(waiting)}")
                return []
            outcome.notes.append(f"wave {target.number} {target.name} is already advanced ({ws_state.status}): nothing to do")
            return []
        reasons = blockers(plan, state, target.number) + [f"spec.trust holds it: {b.line()}" for b in state.blocked]
        window = hold.window(target)
        if not window.open:
            reasons.append(window.describe())
        held = held_back(plan, target)
        if held:
            reasons.append(held)
        if reasons and not force:
            raise Refused(f"wave {target.number} {target.name} must wait: " + "; ".join(reasons) + " (--force to override)")
        # forced past unavailability: every cluster, as `include` would; else what spec.unavailable pins
        pinned, left_out = (list(target.clusters), {}) if held else pinnable(plan, target)
        if left_out:
            outcome.notes.append(f"wave {target.number} {target.name}: left out, unavailable (each joins late once "
                                 f"back): {down_list(left_out)}")
        return [(target.number, pinned, False, reasons, not window.open)]

    # every wave that may go: what `rollout run` would start, without judging any gate
    decided = decide(plan, state, {}, hold)
    chosen = [(a.wave, list(a.clusters), a.late, [], False) for a in of(decided, START)]
    outcome.held += [f"wave {a.wave} {a.name}: {a.reason}" for a in of(decided, WAIT) if a.wave is not None]
    # reverted or halted: nothing new starts; a pin set off by hand halts (`run` records the halt)
    stopped = [a.reason for a in of(decided, WAIT) if a.wave is None] + \
        [f"wave {a.wave} {a.name}: halts: {a.reason}" for a in of(decided, HALT)]
    if stopped:
        outcome.notes += stopped
        return []
    if not chosen and outcome.held:
        outcome.notes += outcome.held
    elif not chosen:
        waiting = [w for w in state.waves if w.status in ("pending", "proposed", "baking", "verifying")]
        if not waiting:
            outcome.notes.append(f"rollout {state.overall}: nothing to advance")
        else:
            pending = [w for w in state.waves if w.status == "pending"]
            if pending:
                w = pending[0]
                outcome.notes.append(f"wave {w.number} {w.name} waits: " + "; ".join(blockers(plan, state, w.number)))
            else:
                outcome.notes += ["; ".join(blockers(plan, state, w.number, itself=True))
                                  for w in state.waves if w.status in ("proposed", "baking", "verifying")]
    return chosen


def refuse_stopped(plan, state: RolloutState) -> None:
    """Refuse (exit 1, `--force` or not) a start of a rollout a person must decide on: halted
    (a halt record not lifted, on any wave: a passed wave's halt left its dependants free
    to go), its revision reverted, or a pin set off by hand that decide halts on (before `run`
    recorded that halt, the same passed wave's dependants were free). A pause is refused
    alike (`_choose`)."""
    why = state.stopped
    if why is None:
        return
    if state.halts:
        raise Refused(f"{why}; --force does not pass a halt: a person decides: `rollout resume {plan.policy} --halt "
                      "--reason ...` (the next run judges it afresh), `rollout revert` or `rollout retry`")
    if state.overall != "reverted":  # a pin set off by hand, not halted yet: what `rollout advance` says it halts on
        raise Refused(f"{why}, --force or not: a person decides: put the pins back on {plan.revision}, or take the "
                      f"clusters out of the plan, or `rollout run` records the halt and `rollout resume {plan.policy} "
                      "--halt --reason ...` pins them again as a late join")
    raise Refused(f"{why}, --force or not; `rollout retry {plan.policy} --reason ...` rolls it out afresh from the "
                  "first wave, or a new revision starts a new rollout")


def build_advances(session, ws, state, chosen, outcome, base, message, dry_run) -> str:
    """One commit per wave, chained on `base`; returns the last commit (or base)."""
    plan, policy = ws.plan, ws.loaded.policy
    digest = policy_digest(ws.loaded.text)
    inspected = {(t.cluster, t.pin_index): t for t in ws.inspection.targets}
    labels = {c.name: c.labels for c in plan.targets}
    by_name = {c.name: c for c in plan.targets}
    texts: dict[str, str] = {}  # file -> text after the edits so far
    originals = {t.file: t.text for t in ws.inspection.targets}
    modes = session.git.modes(base) if not dry_run else {}
    tip = base
    for number, clusters, late, forced, past_window in chosen:
        wave = plan.wave(number)
        if not session.delivery.chains:  # each wave's commit sits on the branch's tip, in its own pull request
            tip, texts = base, {}
        changes: dict[str, str] = {}
        before = dict(texts)  # this wave's diff starts where the previous wave left off
        pinned = []
        for cluster in clusters:
            for target in plan.pins[cluster]:
                item = inspected[(cluster, target.pin_index)]
                text = texts.get(target.file, item.text)
                try:
                    if target.file not in texts and item.current is not None:
                        result = item.current  # inspect already pinned this very text
                    else:
                        result = pin_text(text, policy.spec.pin[target.pin_index], cluster, labels[cluster],
                                          plan.revision, target.file)
                except PinError as err:
                    raise InvalidInput([Problem(f"cluster {cluster}: {err.message}", (), str(session.repo / target.file),
                                                line=err.line)]) from None
                if result.text != text:
                    texts[target.file] = changes[target.file] = result.text
                pinned.append((cluster, target.file))
        change = WaveChange(number, wave.name, ADVANCE, clusters, sorted(changes), late=late, forced=forced)
        outcome.changes.append(change)
        if dry_run:
            change.diff = _diff({f: before.get(f, originals[f]) for f in changes}, changes)
            continue
        msg = advance_message(plan.policy, plan.revision, number, wave.name, pinned, digest, late=late,
                              forced=forced, note=message, forced_window=past_window, epoch=state.epoch,
                              unchanged=[f for _, f in pinned if f not in changes],
                              inventory=record.lines(ws.listed, [by_name[c] for c in clusters if c in by_name]),
                              rejoins=[(c, state.wave(number).rejoin[c]) for c in clusters
                                       if late and c in state.wave(number).rejoin])
        if changes:
            tip = session.git.commit_on(tip, {f: t.encode() for f, t in changes.items()}, msg, modes)
        else:
            tip = session.git.commit_empty_on(tip, msg)  # already pinned by hand: record it
        change.commit = tip
    return tip


def _diff(before: dict[str, str], after: dict[str, str]) -> str:
    out = []
    for file in sorted(after):
        out += difflib.unified_diff(before[file].splitlines(True), after[file].splitlines(True),
                                    f"a/{file}", f"b/{file}")
    return "".join(out)
