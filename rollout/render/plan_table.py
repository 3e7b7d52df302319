"""The plan as rich tables, for people at a terminal."""

from __future__ import annotations

from waves.durations import format_duration

_NAMES_PER_WAVE = 8
_MAX_PIN_ROWS = 100


def render(plan, warnings=(), console=None, wide: bool = False) -> None:
    """`wide`: every cluster name, and the table never cut to the terminal."""
    from rich.markup import escape
    from rich.table import Table

    from rollout.render.console import console as make_console
    from rollout.render.words import count, waves_counted

    console = console or make_console(wide)
    names_per_wave = None if wide else _NAMES_PER_WAVE
    table = Table(title=f"rollout {plan.policy} → {plan.revision}", title_justify="left")
    table.add_column("#", justify="right", style="bold")
    table.add_column("wave", style="cyan")
    table.add_column("clusters")
    table.add_column("after", justify="right")
    table.add_column("bake", justify="right")
    table.add_column("gates")
    down = getattr(plan, "down", {})
    for w in plan.waves:
        shown = [escape(c) + (" [red](down)[/red]" if c in down else "") for c in w.clusters]
        names = ", ".join(shown[:names_per_wave]) if w.clusters else "[yellow]empty[/yellow]: no cluster matches"
        if names_per_wave and len(w.clusters) > names_per_wave:
            names += f" … and {len(w.clusters) - names_per_wave} more"
        gates = ", ".join(next(iter(type(g).model_fields)) for g in w.gates)
        if w.approval:
            gates = f"{gates}, approval" if gates else "approval"
        table.add_row(
            str(w.number),
            w.name,
            f"[dim]{len(w.clusters)}[/dim] {names}",
            ", ".join(map(str, w.after)) or "—",
            format_duration(w.bake_seconds) if w.bake_seconds and not w.empty else "—",  # an empty wave: none apply
            gates if gates and not w.empty else "—",
        )
    console.print(table)

    parallel = _parallel_groups(plan)
    summary = f"{count(len(plan.targets), 'cluster')} in {waves_counted(plan)}"
    if parallel:
        summary += "; may run in parallel: " + "; ".join(", ".join(map(str, g)) for g in parallel)
    console.print(summary)
    if down:
        from waves.state import down_list

        what = {"skip": "left out of their waves' advances, each pinned once back",
                "wait": "their waves wait until they are back", "include": "pinned anyway"}[plan.unavailable]
        console.print(f"[red]unavailable[/red]: {count(len(down), 'cluster')} (spec.unavailable: {plan.unavailable}: "
                      f"{what}): {escape(down_list(down))}", highlight=False)

    if wide or len(plan.targets) <= _MAX_PIN_ROWS:
        rows = [(c.name, plan.wave_of[c.name], t) for c in plan.targets for t in plan.pins[c.name]]
        fields = {t.field for _, _, t in rows}
        one_field = len(fields) == 1
        # A field path is text, not rich markup: `images[name=app]` must not read as a style.
        title = f"pins ({escape(next(iter(fields)))})" if one_field else "pins"
        pins = Table(title=title, title_justify="left")
        pins.add_column("cluster", no_wrap=True)
        pins.add_column("wave", justify="right")
        pins.add_column("file", overflow="fold")
        if not one_field:
            pins.add_column("field", overflow="fold")
        for name, wave, target in sorted(rows, key=lambda r: (r[1], r[0])):
            pins.add_row(name, str(wave), escape(target.file), *([] if one_field else [escape(target.field)]))
        console.print(pins)
    else:
        console.print(f"pins: {sum(len(t) for t in plan.pins.values())} files (list them with --format json)")
    for w in plan.waves:
        for shared in w.shared:  # one unit: writing the field moves every one of them
            console.print(f"wave {w.number} ({escape(w.name)}): {escape(', '.join(shared.clusters))} pin one field "
                          f"together, {escape(shared.file)} {escape(shared.field)}: they move as one", highlight=False)
    for problem in warnings:
        console.print(f"[yellow]warning:[/yellow] {problem.message}", highlight=False)


def _parallel_groups(plan) -> list[list[int]]:
    """Waves with the same dependencies, which may go out at the same time (an empty one
    goes out never)."""
    groups: dict[tuple, list[int]] = {}
    for w in (w for w in plan.waves if w.clusters):
        groups.setdefault(tuple(w.after), []).append(w.number)
    return [g for g in groups.values() if len(g) > 1]
