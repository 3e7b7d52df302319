"""`rollout status --format markdown`: a table of the waves and the coloured DAG, for
`$GITHUB_STEP_SUMMARY` (rollout run) and pull-request comments."""

from __future__ import annotations

from datetime import datetime, timezone

from waves.durations import format_duration
from rollout.render.status_graph import mermaid
from rollout.render.trust import trust_lines
from rollout.render.words import already_on, count, joins_still_on, off_lines, off_revision, still_on, waves_counted

_LISTED = 10  # clusters named per cell


def _when(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else "—"


def render(plan, state) -> str:
    clusters = sum(len(w.clusters) for w in plan.waves)
    lines = [
        f"### Rollout `{state.policy}` → `{state.revision}`: **{state.overall}**",
        "",
        f"{count(clusters, 'cluster')} in {waves_counted(plan)}.",
        "",
        "| # | wave | status | clusters | advanced | bake left | not at revision |",
        "|---|------|--------|----------|----------|-----------|-----------------|",
    ]
    for wave in plan.waves:
        ws = state.wave(wave.number)
        advanced = f"`{ws.advance_commit[:10]}` {_when(ws.advanced_at)}" if ws.advance_commit else "—"
        bake = format_duration(ws.bake_remaining) if ws.bake_remaining else "—"
        behind = ", ".join(f"`{c}`" for c in ws.clusters_behind[:_LISTED])
        if len(ws.clusters_behind) > _LISTED:
            behind += f" and {len(ws.clusters_behind) - _LISTED} more"
        if ws.on_revision or any(j.on_revision for j in ws.joins):  # a revert left some on the revision
            behind = "; ".join(x for x in (behind, still_on(state, ws, _LISTED, lambda c: f"`{c}`"),
                                           joins_still_on(state, ws, _LISTED, lambda c: f"`{c}`")) if x)
        if ws.ahead:  # on the revision though not out in this epoch
            behind = "; ".join(x for x in (behind, already_on(state, ws, _LISTED, lambda c: f"`{c}`")) if x)
        if ws.off or ws.returned:  # pinned, and off the revision since (waves/drift.py)
            behind = "; ".join(x for x in (behind, off_revision(state, ws, _LISTED, lambda c: f"`{c}`")) if x)
        lines.append(f"| {wave.number} | {wave.name} | {ws.status} | {len(wave.clusters)} | {advanced} | {bake} | "
                     f"{behind or '—'} |")
    lines += [""] + [f"- :warning: {line}" for line in off_lines(state)] if off_lines(state) else []
    if state.verified:  # spec.trust: what holds it and what did not count (docs/security.md)
        lines += [""] + [f"- {line}" for line in trust_lines(state)]
    lines += ["", "```mermaid", mermaid(plan, state), "```", ""]
    return "\n".join(lines)
