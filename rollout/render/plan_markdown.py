"""The plan as Markdown: what CI posts on a pull request that changes a policy."""

from __future__ import annotations

from waves.durations import format_duration
from rollout.render.plan_graph import mermaid
from rollout.render.words import count, waves_counted

_MAX_LISTED = 200  # clusters listed in the per-cluster section


def _gates(wave) -> str:
    names = [next(iter(type(g).model_fields)) for g in wave.gates]
    out = ", ".join(names) or "—"
    return out + (", approval" if wave.approval else "")


def render(plan, warnings=()) -> str:
    lines = [
        f"### Rollout plan `{plan.policy}` → `{plan.revision}`",
        "",
        f"{count(len(plan.targets), 'cluster')} in {waves_counted(plan)}.",
        "",
        "| # | wave | clusters | after | bake | gates |",
        "|---|------|----------|-------|------|-------|",
    ]
    for w in plan.waves:
        shown = ", ".join(f"`{c}`" for c in w.clusters[:10]) or "*empty*: no cluster matches"
        if len(w.clusters) > 10:
            shown += f" and {len(w.clusters) - 10} more"
        after = ", ".join(str(n) for n in w.after) or "—"
        bake = format_duration(w.bake_seconds) if w.bake_seconds and not w.empty else "—"  # none apply to it
        lines.append(f"| {w.number} | {w.name} | {shown} | {after} | {bake} | {'—' if w.empty else _gates(w)} |")
    lines += ["", "```mermaid", mermaid(plan), "```", ""]
    shared = [(w, s) for w in plan.waves for s in w.shared]
    if shared:
        lines += ["**Pinned together** (one field moves all its clusters at once)", ""]
        lines += [f"- wave {w.number} ({w.name}): {', '.join(f'`{c}`' for c in s.clusters)}: `{s.file}` `{s.field}`"
                  for w, s in shared] + [""]
    if warnings:
        lines += ["**Warnings**", ""] + [f"- {p.message}" for p in warnings] + [""]
    lines += ["<details><summary>Where each cluster is pinned</summary>", "", "| cluster | wave | file | field |",
              "|---|---|---|---|"]
    for cluster in plan.targets[:_MAX_LISTED]:
        for target in plan.pins[cluster.name]:
            lines.append(f"| `{cluster.name}` | {plan.wave_of[cluster.name]} | `{target.file}` | `{target.field}` |")
    if len(plan.targets) > _MAX_LISTED:
        lines.append(f"| … {len(plan.targets) - _MAX_LISTED} more | | | |")
    lines += ["", "</details>"]
    return "\n".join(lines)
