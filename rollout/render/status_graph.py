"""`rollout status --format mermaid`: the wave DAG, each wave coloured by its status and
its clusters counted. GitHub and GitLab render it in step summaries and comments.

The statuses come from the folded state (waves/state.py) as they are; a status this
module does not know yet is drawn in the neutral `other` style, so a new state needs
only a line in STYLES to get its colour."""

from __future__ import annotations

from rollout.render.words import clusters_of

# status -> Mermaid style (fill, stroke, text colour); colour-blind-safe pairs of fill
# and a darker stroke, with the status also written in each box.
STYLES: dict[str, str] = {
    "empty": "fill:#ffffff,stroke:#8c959f,color:#57606a,stroke-dasharray:4 3",
    "pending": "fill:#f6f8fa,stroke:#8c959f,color:#24292f",
    "proposed": "fill:#f6f8fa,stroke:#0969da,color:#24292f,stroke-dasharray:6 3",
    "baking": "fill:#fff8c5,stroke:#bf8700,color:#24292f",
    "verifying": "fill:#ddf4ff,stroke:#0969da,color:#24292f",
    "passed": "fill:#dafbe1,stroke:#1a7f37,color:#24292f",
    "failed": "fill:#ffebe9,stroke:#cf222e,color:#24292f",
    "reverted": "fill:#fbefff,stroke:#8250df,color:#24292f",
    "unknown": "fill:#eaeef2,stroke:#6e7781,color:#24292f,stroke-dasharray:2 2",
    "halted": "fill:#ffebe9,stroke:#cf222e,color:#24292f,stroke-width:3px",
}
OTHER = "fill:#ffffff,stroke:#57606a,color:#24292f,stroke-dasharray:4 3"


def style_class(status: str) -> str:
    """The Mermaid class of a status: `s_<status>` when known, `s_other` otherwise."""
    return f"s_{status}" if status in STYLES else "s_other"


def _escape(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(plan, state) -> str:
    lines = ["flowchart LR"]
    used: dict[str, str] = {}
    for wave in plan.waves:
        status = state.wave(wave.number).shown
        label = f"{wave.number} {_escape(wave.name)}<br/>{clusters_of(wave, state.wave(wave.number))} · <b>{_escape(status)}</b>"
        ws = state.wave(wave.number)
        if ws.off or ws.returned:  # pinned, and off the revision since (waves/drift.py): never complete
            label += f"<br/>{len(ws.off) + len(ws.returned)} off {_escape(state.revision)} since pinned"
        cls = style_class(status)
        used[cls] = STYLES.get(status, OTHER)
        lines.append(f'  w{wave.number}["{label}"]:::{cls}')
    for wave in plan.waves:
        for dep in wave.after:
            lines.append(f"  w{dep} --> w{wave.number}")
    for cls, style in used.items():
        lines.append(f"  classDef {cls} {style}")
    return "\n".join(lines)
