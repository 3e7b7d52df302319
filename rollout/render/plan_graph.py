"""The wave DAG as Mermaid (renders in GitHub/GitLab pull requests) or Graphviz DOT."""

from __future__ import annotations

from waves.durations import format_duration

_SHOWN = 4  # cluster names per node before "+N more"
EMPTY_STYLE = "fill:#ffffff,stroke:#8c959f,color:#57606a,stroke-dasharray:4 3"  # a wave that claims no cluster


def _clusters(wave) -> str:
    if not wave.clusters:
        return "empty: no cluster matches"
    names = wave.clusters[:_SHOWN]
    more = len(wave.clusters) - len(names)
    return ", ".join(names) + (f" +{more} more" if more else "")


def _detail(wave) -> str:
    if wave.empty:  # its bake, gates and approval do not apply: nothing of it goes out
        return ""
    bits = [f"bake {format_duration(wave.bake_seconds)}"] if wave.bake_seconds else []
    if wave.approval:
        bits.append("approval")
    return " · ".join(bits)


def mermaid(plan) -> str:
    lines = ["flowchart LR"]
    for w in plan.waves:
        label = f"{w.number} {w.name}<br/>{_clusters(w)}"
        if _detail(w):
            label += f"<br/><i>{_detail(w)}</i>"
        lines.append(f'  w{w.number}["{_escape_mermaid(label)}"]' + (":::empty" if w.empty else ""))
    for w in plan.waves:
        for dep in w.after:
            lines.append(f"  w{dep} --> w{w.number}")
    if any(w.empty for w in plan.waves):
        lines.append(f"  classDef empty {EMPTY_STYLE}")
    return "\n".join(lines)


def _escape_mermaid(text: str) -> str:
    return text.replace('"', "#quot;")


def dot(plan) -> str:
    lines = [
        f'digraph "{plan.policy}" {{',
        "  rankdir=LR;",
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
    ]
    for w in plan.waves:
        label = f"{w.number} {w.name}\\n{_clusters(w)}"
        if _detail(w):
            label += f"\\n{_detail(w)}"
        lines.append(f'  w{w.number} [label="{_escape_dot(label)}"' + (', style="rounded,dashed"' if w.empty else "")
                     + "];")
    for w in plan.waves:
        for dep in w.after:
            lines.append(f"  w{dep} -> w{w.number};")
    lines.append("}")
    return "\n".join(lines)


def _escape_dot(text: str) -> str:
    return text.replace('"', '\\"')
