"""`rollout inventory`: the fleet as the sources describe it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from rollout.inventory import READERS, load_inventory
from rollout.workspace import UsageError, repo_root


def _sources(repo: Path, given: list[str], policy: str | None) -> list[tuple[str, object]]:
    sources = []
    for item in given:
        kind, sep, path = item.partition("=")
        if not sep or kind not in READERS or not path:
            raise UsageError(f"--source {item!r}: use KIND=PATH with KIND one of {', '.join(READERS)}")
        sources.append((kind, path))
    if policy is not None or not sources:
        from rollout.policy_file import PolicyNotFound, find_policy, load_policy

        if policy is not None:
            try:
                paths = [find_policy(repo, policy)]
            except PolicyNotFound as err:
                raise UsageError(str(err)) from None
        else:
            paths = sorted((repo / "rollouts").glob("*.y*ml"))
        for path in paths:
            loaded = load_policy(path)
            if loaded.policy is None:
                from rollout.render.problems import problem_line

                for problem in loaded.problems:
                    print(problem_line(problem), file=sys.stderr)
                raise typer.Exit(2)
            for source in loaded.policy.spec.inventory:
                spec = source.path if source.path is not None else source.hub  # a file glob, or a LIST on a hub
                if (source.kind, spec) not in sources:
                    sources.append((source.kind, spec))
    if not sources:
        raise UsageError(f"no inventory source: no policy under {repo / 'rollouts'}; pass --source KIND=PATH")
    return sources


def run_inventory(repo_opt: str | None, given: list[str], policy: str | None, selector: str | None, fmt: str) -> None:
    from dataclasses import replace

    from waves.selectors import parse_selector

    repo = repo_root(repo_opt)
    try:
        chosen = parse_selector(selector) if selector else None
    except ValueError as err:
        raise UsageError(f"--selector: {err}") from None
    clusters, problems = load_inventory(repo, _sources(repo, given, policy))
    problems = [p if p.extra.get("live") or p.extra.get("hub") is not None else replace(p, source=str(repo / p.source))
                for p in problems]
    if any(p.is_error for p in problems):
        from rollout.render.problems import problem_line

        for problem in problems:
            print(problem_line(problem), file=sys.stderr)
        raise typer.Exit(2)
    if chosen is not None:
        clusters = [c for c in clusters if chosen.matches(c.labels)]
    if fmt == "json":
        print(json.dumps(
            [{"name": c.name, "server": c.server, "labels": dict(sorted(c.labels.items())), "sources": list(c.sources),
              **({"unavailable": c.down} if c.down else {})}
             for c in clusters],
            indent=2,
        ))
        return
    from rich.table import Table

    from rollout.render.console import console
    from rollout.render.words import count

    table = Table(title=count(len(clusters), "cluster"), title_justify="left")
    for column in ("cluster", "server", "labels", "source"):
        table.add_column(column)
    for c in clusters:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(c.labels.items()))
        name = c.name if not c.down else f"{c.name} (down: {c.down})"  # availability: docs/inventory.md
        table.add_row(name, c.server or "—", labels, ", ".join(c.sources))
    console(wide=fmt == "wide").print(table)
