"""`rollout inventory`: the fleet as the sources describe it."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import typer

from rollout.inventory import LIVE_READERS, READERS, load_inventory
from rollout.workspace import UsageError, repo_root


FORMS = ("KIND=PATH (KIND one of " + ", ".join(READERS) + ") or KIND={context: C, namespace: N, selector: {...}} "
         "(KIND one of " + ", ".join(LIVE_READERS) + ")")


def source_option(item: str) -> tuple[str, object]:
    """One `--source`: `KIND=PATH` (a file or glob in the repo), or `KIND={...}`, a live
    source as the policy writes it (YAML flow: `clusterProfiles={context: hub, namespace:
    fleet-system}`), checked by the policy's own model: the same forms, the same errors."""
    from pydantic import ValidationError

    from waves.policy import InventorySource
    from rollout.policy_file import _data_loc, _message

    kind, sep, value = item.partition("=")
    if not sep or kind not in READERS and kind not in LIVE_READERS or not value.strip():
        raise UsageError(f"--source {item!r}: use {FORMS}")
    spec: object = value
    if value.lstrip().startswith("{"):
        import yaml

        try:
            spec = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise UsageError(f"--source {item!r}: not a YAML mapping: {' '.join(str(err).split())}") from None
    elif kind not in READERS:
        raise UsageError(f"--source {item!r}: {kind} is listed on a hub: use {kind}={{context: C, namespace: N}}")
    try:
        source = InventorySource.model_validate({kind: spec})
    except ValidationError as err:
        data = {kind: spec}
        first = err.errors()[0]
        where = ".".join(str(p) for p in _data_loc(data, first["loc"]))
        raise UsageError(f"--source {item!r}: {where}: {_message(first, None)}") from None
    return kind, source.path if source.path is not None else source.hub


def _sources(repo: Path, given: list[str], policy: str | None) -> tuple[list[tuple[str, object]], list]:
    """The sources, and where each was given (a hub that cannot be read is named there):
    `--source '...'`, or the policy's file, line and field, as `plan` names it."""
    sources = [source_option(item) for item in given]
    where: list = [lambda p, item=item: replace(p, message=f"--source {item!r}: {p.message}") for item in given]
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
            for index, source in enumerate(loaded.policy.spec.inventory):
                spec = source.path if source.path is not None else source.hub  # a file glob, or a LIST on a hub
                if (source.kind, spec) not in sources:
                    sources.append((source.kind, spec))
                    where.append(lambda p, loaded=loaded, at=("spec", "inventory", index, source.kind):
                                 loaded.locate(replace(p, loc=at, source=str(loaded.path))))
    if not sources:
        raise UsageError(f"no inventory source: no policy under {repo / 'rollouts'}; pass --source {FORMS}")
    return sources, where


def run_inventory(repo_opt: str | None, given: list[str], policy: str | None, selector: str | None, fmt: str) -> None:
    from waves.selectors import parse_selector

    repo = repo_root(repo_opt)
    try:
        chosen = parse_selector(selector) if selector else None
    except ValueError as err:
        raise UsageError(f"--selector: {err}") from None
    sources, where = _sources(repo, given, policy)
    clusters, problems = load_inventory(repo, sources)
    problems = [where[p.extra["source"]](p) if p.extra.get("hub") is not None else p if p.extra.get("live")
                else replace(p, source=str(repo / p.source)) for p in problems]
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
