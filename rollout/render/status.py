"""`rollout status` as a table or JSON."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from waves.durations import format_duration


def _when(ts: int | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None


def state_dict(plan, state) -> dict:
    return {
        "policy": state.policy,
        "revision": state.revision,
        "status": state.overall,
        "waves": [
            {
                "number": w.number,
                "name": w.name,
                "status": w.status,
                "advanceCommit": w.advance_commit,
                "advancedAt": _when(w.advanced_at),
                "bakeRemainingSeconds": w.bake_remaining,
                "revertCommit": w.revert_commit,
                "approvedBy": w.approved_by,
                "clusters": plan.wave(w.number).clusters,
                "clustersNotAtRevision": w.clusters_behind,
                "late": w.late,
            }
            for w in state.waves
        ],
    }


def render(plan, state, fmt: str) -> None:
    """`fmt`: json, table, wide (every cluster not at the revision; never cut),
    mermaid or markdown (rollout/render/status_graph.py, status_markdown.py)."""
    if fmt == "json":
        print(json.dumps(state_dict(plan, state), indent=2))
        return
    if fmt == "mermaid":
        from rollout.render.status_graph import mermaid

        print(mermaid(plan, state))
        return
    if fmt == "markdown":
        from rollout.render.status_markdown import render as markdown

        print(markdown(plan, state))
        return
    from rich.table import Table

    from rollout.render.console import console

    shown = None if fmt == "wide" else 5

    colours = {"pending": "dim", "advanced": "yellow", "passed": "green", "failed": "red", "reverted": "magenta"}
    table = Table(title=f"rollout {state.policy} → {state.revision}: {state.overall}", title_justify="left")
    for column in ("#", "wave", "status", "advanced", "bake left", "not at revision"):
        table.add_column(column)
    for w in state.waves:
        advanced = f"{w.advance_commit[:10]} {_when(w.advanced_at)}" if w.advance_commit else "—"
        behind = ", ".join(w.clusters_behind[:shown])
        if shown and len(w.clusters_behind) > shown:
            behind += f" +{len(w.clusters_behind) - shown}"
        if w.late:
            behind = (behind + "; " if behind else "") + f"late: {', '.join(w.late)}"
        table.add_row(str(w.number), w.name, f"[{colours[w.status]}]{w.status}[/]", advanced,
                      format_duration(w.bake_remaining) if w.status == "advanced" else "—", behind or "—")
    console(wide=fmt == "wide").print(table)
