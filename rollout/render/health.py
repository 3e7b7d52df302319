"""`rollout health` output: a table for people (status, object, reason, message, the
evidence), or JSON: a list, one entry per object."""

from __future__ import annotations

_STYLE = {"Current": "green", "InProgress": "yellow", "Failed": "red", "Terminating": "magenta", "Unknown": "dim"}


def render(entries, fmt: str) -> None:
    if fmt == "json":
        import json

        print(json.dumps([e.as_dict() for e in entries], indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    from rollout.render.console import console

    if not entries:
        print("no objects")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("STATUS", "OBJECT", "REASON", "MESSAGE", "EVIDENCE"):
        table.add_column(column, overflow="fold")
    for e in entries:
        where = f"{e.namespace}/" if e.namespace else ""
        table.add_row(f"[{_STYLE.get(e.status, 'default')}]{e.status}[/]", escape(f"{e.kind} {where}{e.name}"),
                      escape(e.reason or "-"), escape(e.message), escape("; ".join(e.evidence) or "none"))
    console().print(table)
