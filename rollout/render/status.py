"""A rollout's state as a table, JSON, or the live view of `run --wait` and the demo.

One vocabulary everywhere (docs/gates.md): pending, baking, verifying, passed, reverted
from the fold of Git's history; `failed` and `unknown` when a gate verdict of this very
run says so (a wave nobody can observe is `unknown`, never `passed`)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from waves.durations import format_duration
from waves.state import FIRST_EPOCH, OUT
from rollout.render.trust import trust_lines
from rollout.render.words import already_on, count, joins_still_on, off_lines, off_revision, still_on

COLOURS = {"empty": "dim", "pending": "dim", "proposed": "blue", "baking": "yellow", "verifying": "cyan", "passed": "green", "failed": "red",
           "unknown": "magenta", "reverted": "magenta", "halted": "red"}


def _when(ts: int | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None


def wave_status(wave_state, verdict=None) -> str:
    """The fold's status, overridden by a halt record of its advance (`halted`, until a
    person lifts it) or by a verdict of this run that failed or cannot see."""
    if wave_state.shown == "halted":
        return "halted"
    if verdict is not None and verdict.state in ("failed", "unknown") and wave_state.status in ("baking", "verifying"):
        return verdict.state
    return wave_state.status


def wave_rows(plan, state, verdicts: dict | None = None) -> list[dict]:
    """Every wave of the plan, pending ones too: status, gates' verdict and why."""
    verdicts = verdicts or {}
    rows = []
    for w in state.waves:
        verdict = verdicts.get(w.number)
        why = verdict.reason if verdict is not None else ""
        if w.status == "empty":
            why = "no cluster matches: passes once what it waits for has"
        elif w.shown == "halted":
            why = f"halted ({w.halt_commit[:12]}): {w.halt_reason}"
        elif w.status == "passed":
            why = f"gates passed: recorded {w.verify_commit[:12]}" if w.verify_commit else "bake over (no gates)"
        elif not why and w.status == "baking":
            why = f"{format_duration(w.bake_remaining)} of bake left"
        elif not why and w.status == "verifying":
            why = "bake over; gates not yet recorded as passed"
        for join in w.joins:  # each judged on its own (docs/inventory.md, "Late joins")
            if join.status in ("baking", "verifying", "reverted"):
                why = "; ".join(x for x in (why, f"late join ({', '.join(join.clusters)}) {join.status}"
                                            + (f", {still_on(state, join)}" if join.on_revision else "")) if x)
        if w.gone and w.status in ("baking", "verifying", "passed"):  # still its gate's: judged, or unknown
            why = "; ".join(x for x in (why, f"pinned, not in the inventory now: {', '.join(w.gone[:5])}"
                                        + (f" +{len(w.gone) - 5}" if len(w.gone) > 5 else "")) if x)
        if w.on_revision:  # its revert could not take them back: never read as an all-clear
            why = "; ".join(x for x in (why, still_on(state, w)) if x)
        if w.ahead:  # on the revision though not out in this epoch: no all-clear either
            why = "; ".join(x for x in (why, already_on(state, w)) if x)
        if (w.off or w.returned) and w.status in OUT:  # pinned, and off the revision since: never complete
            why = "; ".join(x for x in (why, off_revision(state, w)) if x)
        waiting = [c for c in w.late if c in getattr(plan, "down", {})]
        if waiting:  # left out of its advance, unavailable: pinned as a late join once back
            from waves.state import down_list

            why = "; ".join(x for x in (why, f"unavailable, not pinned yet: {down_list({c: plan.down[c] for c in waiting}, 3)}") if x)
        rows.append({"number": w.number, "name": w.name, "status": wave_status(w, verdict),
                     "gates": verdict.state if verdict is not None else ("passed" if w.verify_commit else ""),
                     "why": why,
                     "clusters": len(plan.wave(w.number).clusters)})
    return rows


def warning_lines(state, warnings) -> list[str]:
    """The load's warnings as `status` says them (of the rollout folded, when there is one:
    `status_warnings`), one `file:line: field: warning: ...` line each, for stderr."""
    from rollout.render.problems import problem_line

    return [problem_line(p) for p in (status_warnings(state, warnings) if state is not None else warnings)]


def status_warnings(state, warnings) -> list:
    """The plan's warnings as true of the rollout folded: `wave X claims no cluster` of a
    wave that went out (its clusters all left the inventory since) says what it pinned and
    that it is judged on it (docs/inventory.md), never that the wave is empty."""
    from dataclasses import replace

    advanced = {f"wave {w.name} claims no cluster": w for w in state.waves if w.advance_commit and w.pinned}
    out = []
    for problem in warnings:
        w = advanced.get(problem.message)
        if w is not None:
            gone = ", ".join(w.gone[:5]) + (f" +{len(w.gone) - 5}" if len(w.gone) > 5 else "")
            problem = replace(problem, message=f"wave {w.name} claims no cluster now, but it went out "
                              f"({w.advance_commit[:12]}): it is {w.shown}, "
                              + ("judged on the " if w.status in OUT else "of the ")
                              + f"{count(len(w.pinned), 'cluster')} it pinned"
                              + (f" (gone from the inventory: {gone})" if gone else ""))
        out.append(problem)
    return out


def epoch_lines(state) -> list[str]:
    """When this epoch started, and the policy's earlier epochs (docs/git-engine.md, "Epochs")."""
    current = next((e for e in state.epochs if e.number == state.epoch), None)
    lines = [f"epoch {state.epoch}: " + (f"started {_when(current.started)} ({current.commit[:12]}"
                                          + (", a retry)" if current.retried else ")") if current else "not started yet")]
    lines += [f"  earlier: epoch {e.number} {e.revision} started {_when(e.started)}"
              + (" (reverted)" if e.reverted else "") for e in reversed(state.epochs) if e.number != state.epoch][:5]
    return lines


def _trust_dict(state) -> dict:
    def item(i):
        return {"commit": i.commit, "action": i.action, "wave": i.wave or None, "why": i.why, "signer": i.by}

    return {"verified": state.verified, "blocked": [item(i) for i in state.blocked],
            "ignored": [item(i) for i in state.ignored], "unsignedStops": [item(i) for i in state.unsigned]}


def _epoch_dict(epoch) -> dict:
    return {"number": epoch.number, "revision": epoch.revision, "startedAt": _when(epoch.started),
            "commit": epoch.commit, "reverted": epoch.reverted, "retried": epoch.retried}


# What a status folded on the waves out from their records (the hub away) cannot show.
NOT_SHOWN = ("the waves not advanced yet", "clusters not pinned yet (late joins to come)",
             "which clusters are unavailable now", "whether the rollout is complete")


def unread(state) -> dict | None:
    """Why the inventory could not be read, what is shown instead and what is not (None:
    it was read). docs/inventory.md, "When the hub cannot be read"."""
    if not state.partial:
        return None
    return {"read": False, "reason": state.partial,
            "shown": "the waves that are out, from their advance records", "notShown": list(NOT_SHOWN)}


def unread_line(state) -> str | None:
    said = unread(state)
    if said is None:
        return None
    return (f"the inventory could not be read ({said['reason']}): shown are {said['shown']}; not shown: "
            + ", ".join(said["notShown"]))


def state_dict(plan, state) -> dict:
    return {
        **({"inventory": unread(state)} if state.partial else {}),
        "policy": state.policy,
        "revision": state.revision,
        "status": state.overall,
        "epoch": state.epoch,
        "epochs": [_epoch_dict(e) for e in state.epochs],
        "trust": _trust_dict(state),
        "waves": [
            {
                "number": w.number,
                "name": w.name,
                "status": wave_status(w),
                "advanceCommit": w.advance_commit,
                "haltCommit": w.halt_commit,
                "haltReason": w.halt_reason,
                "advancedAt": _when(w.advanced_at),
                "bakeRemaining": format_duration(w.bake_remaining) if w.status == "baking" else None,
                "bakeRemainingSeconds": w.bake_remaining,
                "verifyCommit": w.verify_commit,
                "verifiedAt": _when(w.verified_at),
                "revertCommit": w.revert_commit,
                "approvedBy": w.approved_by,
                "gated": bool(plan.wave(w.number).gates),
                "clusters": plan.wave(w.number).clusters,
                "pinned": w.pinned,  # what its advances pinned: its gate's clusters, whatever the inventory says now
                "gone": w.gone,  # pinned, and in no wave of the plan now (left the inventory)
                "clustersNotAtRevision": w.clusters_behind,
                "clustersStillOnRevision": w.on_revision,  # reverted: what its revert left on the revision
                # not out in this epoch, yet its files hold the revision (an earlier epoch's pin, a hand edit)
                "clustersAlreadyOnRevision": w.ahead,
                "late": w.late,
                # pinned in the epoch, off the revision now (waves/drift.py): `cameBack` joins again,
                # the others (a hand edit) halt `run` until a person lifts it
                "offRevision": [_drift_dict(state, d, d in w.returned) for d in [*w.off, *w.returned]],
                "lateJoins": [{"commit": j.commit, "clusters": list(j.clusters), "status": j.status,
                               "advancedAt": _when(j.advanced_at), "verifyCommit": j.verify_commit,
                               "revertCommit": j.revert_commit, "haltCommit": j.halt_commit,
                               "clustersStillOnRevision": j.on_revision} for j in w.joins],
                "unavailable": [{"cluster": c, "reason": plan.down[c]} for c in plan.wave(w.number).clusters
                                if c in getattr(plan, "down", {})],
            }
            for w in state.waves
        ],
    }


def _drift_dict(state, d, again: bool) -> dict:
    return {"cluster": d.cluster, "why": d.kind, "commit": d.commit, "file": d.file, "pinnedBy": d.pin,
            "joinsAgain": again, "reason": d.why(state.revision),
            # what its pinned field holds now (null: the pin finds nothing, the file is missing); left out when
            # not read (status from the advance records, the hub away): never a null that means two things
            **({"found": d.found} if d.found_file is not None else {})}


def render(plan, state, fmt: str, hold=None) -> None:
    """`fmt`: json, table, wide (every cluster not at the revision; never cut),
    mermaid or markdown (rollout/render/status_graph.py, status_markdown.py). `hold`
    (rollout/controls.py): the pause and change windows, shown after the table / in the JSON."""
    from rollout.render import controls

    if fmt == "json":
        print(json.dumps({**state_dict(plan, state), **(controls.controls(plan, hold, state) if hold else {})},
                         indent=2))
        return
    if fmt == "mermaid":
        from rollout.render.status_graph import mermaid

        print(mermaid(plan, state))
        if state.partial:  # a mermaid comment: the picture stays one
            print(f"%% {unread_line(state)}")
        return
    if fmt == "markdown":
        from rollout.render.status_markdown import render as markdown

        print(markdown(plan, state))
        if state.partial:
            print(f"\n> **{unread_line(state)}**")
        return
    from rich.table import Table
    from rich.text import Text

    from rollout.render.console import console

    shown = None if fmt == "wide" else 5

    # cells as Text: shown as they are (no markup read into a name, no highlighter's
    # colours on numbers), and laid out ~30% sooner than strings rich parses per cell
    table = Table(title=Text(f"rollout {state.policy} → {state.revision}: {state.overall}"), title_justify="left")
    for column in ("#", "wave", "status", "advanced", "bake left", "gates passed", "not at revision"):
        table.add_column(Text(column))  # as Text too: no markup read, no emoji table loaded (~2 ms)
    for w in state.waves:
        advanced = f"{w.advance_commit[:10]} {_when(w.advanced_at)}" if w.advance_commit else "—"
        behind = ", ".join(w.clusters_behind[:shown])
        if shown and len(w.clusters_behind) > shown:
            behind += f" +{len(w.clusters_behind) - shown}"
        if w.on_revision:
            behind = (behind + "; " if behind else "") + still_on(state, w, shown)
        if w.ahead:
            behind = (behind + "; " if behind else "") + already_on(state, w, shown)
        if joins_still_on(state, w):
            behind = (behind + "; " if behind else "") + joins_still_on(state, w, shown)
        if w.late:
            behind = (behind + "; " if behind else "") + f"late: {', '.join(w.late)}"
        if w.gone and w.status in OUT:
            behind = (behind + "; " if behind else "") + f"gone from the inventory: {', '.join(w.gone[:shown])}" \
                + (f" +{len(w.gone) - shown}" if shown and len(w.gone) > shown else "")
        if (w.off or w.returned) and w.status in OUT:
            behind = (behind + "; " if behind else "") + off_revision(state, w, shown)
        verified = (f"{w.verify_commit[:10]} {_when(w.verified_at)}" if w.verify_commit
                    else "—" if w.status == "empty" else "no gates" if not plan.wave(w.number).gates else "—")
        shown_status = wave_status(w)
        table.add_row(Text(str(w.number)), Text(w.name), Text(shown_status, style=COLOURS.get(shown_status, "white")),
                      Text(advanced), Text(format_duration(w.bake_remaining) if w.status == "baking" else "—"),
                      Text(verified), Text(behind or "—"))
    console(wide=fmt == "wide").print(table)
    if state.partial:
        print(unread_line(state))
    for line in off_lines(state):  # which clusters are off the revision since pinned, and why
        print(line)
    if state.epoch > FIRST_EPOCH or len(state.epochs) > 1:  # a first rollout of a revision says nothing of epochs
        for line in epoch_lines(state):
            print(line)
    for line in trust_lines(state):
        print(line)
    for line in controls.lines(plan, hold, state) if hold else []:
        print(line)


def live_view(plan, state, verdicts, log: list[str], title: str):
    """The live table of `rollout run --wait` and the demo: log lines above, then every
    wave with its status, gates' verdict and why."""
    from rich.console import Group
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("#", "wave", "status", "gates", "why"):
        table.add_column(column)
    for row in wave_rows(plan, state, {v.number: v for v in verdicts}):
        colour = COLOURS.get(row["status"], "white")
        table.add_row(str(row["number"]), row["name"], f"[{colour}]{row['status']}[/]", row["gates"] or "—",
                      row["why"] or "—")
    return Group(*log[-8:], table)
