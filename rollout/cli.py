"""The `rollout` command. Imports stay inside the commands so `rollout --help` starts
fast (no pydantic, networkx or rich on that path; see docs/performance.md)."""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Annotated, Optional

import typer

app = typer.Typer(
    help="Progressive multi-cluster rollouts for GitOps fleets: plan waves, pin revisions in Git.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_INVALID = 2

RepoOption = Annotated[
    Optional[str],
    typer.Option("--repo", help="Root of the GitOps repo (default: git top-level of the working directory)."),
]
PolicyArgument = Annotated[
    str, typer.Argument(help="Policy name (rollouts/<name>.yaml under the repo) or a path to a policy file.")
]


class PlanFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    mermaid = "mermaid"
    dot = "dot"


class CheckFormat(str, Enum):
    text = "text"
    json = "json"


class ListFormat(str, Enum):
    table = "table"
    json = "json"


def command(func):
    """Register a command whose UsageError becomes one line on stderr and exit 2, both
    from the console script and in-process (tests, embedding)."""
    import functools

    @functools.wraps(func)
    def run(*args, **kwargs):
        from rollout.workspace import UsageError

        try:
            return func(*args, **kwargs)
        except UsageError as err:
            print(f"rollout: {err}", file=sys.stderr)
            raise typer.Exit(EXIT_INVALID) from None

    return app.command()(run)


def _fail(problems) -> None:
    from rollout.render.problems import problem_line

    for problem in problems:
        print(problem_line(problem), file=sys.stderr)
    raise typer.Exit(EXIT_INVALID)


def _workspace(policy: str, repo: Optional[str], check_files: bool = False):
    from rollout.workspace import load_workspace, repo_root

    return load_workspace(repo_root(repo, policy), policy, check_files=check_files)


@command
def plan(
    policy: PolicyArgument,
    repo: RepoOption = None,
    format: Annotated[PlanFormat, typer.Option("--format", "-f", help="Output format.")] = PlanFormat.table,
) -> None:
    """Show which clusters get the change in which wave, in what order, after what."""
    ws = _workspace(policy, repo)
    if ws.errors:
        _fail(ws.problems)
    if format is PlanFormat.table:
        from rollout.render.plan_table import render

        render(ws.plan, ws.warnings)
        return
    _print_warnings(ws.warnings, also_in_output=format in (PlanFormat.json, PlanFormat.markdown))
    if format is PlanFormat.json:
        from rollout.render.plan_json import render as render_json

        print(render_json(ws.plan, ws.warnings, pretty=sys.stdout.isatty()))
    elif format is PlanFormat.markdown:
        from rollout.render.plan_markdown import render as render_markdown

        print(render_markdown(ws.plan, ws.warnings))
    else:
        from rollout.render import plan_graph

        print(plan_graph.mermaid(ws.plan) if format is PlanFormat.mermaid else plan_graph.dot(ws.plan))


def _print_warnings(warnings, also_in_output: bool) -> None:
    from rollout.render.problems import problem_line

    if not also_in_output:
        for problem in warnings:
            print(problem_line(problem), file=sys.stderr)


@command
def validate(
    policy: PolicyArgument,
    repo: RepoOption = None,
    format: Annotated[CheckFormat, typer.Option("--format", "-f", help="text, or json of the problems.")] = CheckFormat.text,
) -> None:
    """Run every check on a policy, its inventory and the pinned files; exit 0 when
    valid, 2 when not."""
    ws = _workspace(policy, repo, check_files=True)
    if format is CheckFormat.json:
        import json

        from rollout.render.problems import problem_json

        print(json.dumps({"valid": not ws.errors, "problems": [problem_json(p) for p in ws.problems]}, indent=2))
        if ws.errors:
            raise typer.Exit(EXIT_INVALID)
        return
    if ws.errors:
        _fail(ws.problems)
    _print_warnings(ws.warnings, also_in_output=False)
    print(f"{ws.loaded.path}: valid: {len(ws.plan.targets)} clusters in {len(ws.plan.waves)} waves")


@command
def inventory(
    repo: RepoOption = None,
    source: Annotated[
        Optional[list[str]],
        typer.Option(
            "--source",
            help="KIND=PATH, KIND one of fleet, argocdClusterSecrets, clusterAPI, kustomizeClusters "
            "(repeatable; default: the sources of the policies under rollouts/).",
        ),
    ] = None,
    policy: Annotated[Optional[str], typer.Option("--policy", help="Use this policy's inventory sources.")] = None,
    selector: Annotated[
        Optional[str], typer.Option("--selector", "-l", help="Label selector, e.g. 'env=prod,region in (eu-west)'.")
    ] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """List the fleet's clusters, their labels and which source each came from."""
    from rollout.inventory_command import run_inventory

    run_inventory(repo, source or [], policy, selector, format.value)


@command
def schema() -> None:
    """Print the policy's JSON Schema, for editors and CI to validate policy files."""
    import json

    from waves.policy import RolloutPolicy

    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "RolloutPolicy",
        **RolloutPolicy.model_json_schema(),
    }
    print(json.dumps(document, indent=2))


@command
def version() -> None:
    """Print the version."""
    from rollout import __version__

    print(__version__)


def main() -> None:
    """Console entry point: bad input is exit 2 with one line per problem; a bug is one
    line and exit 1 (ROLLOUT_DEBUG=1 shows the traceback)."""
    try:
        app()  # click's standalone mode: usage errors exit 2, typer.Exit exits with its code
    except KeyboardInterrupt:
        print("rollout: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - the last line of defence
        if os.environ.get("ROLLOUT_DEBUG"):
            raise
        print(f"rollout: internal error: {type(err).__name__}: {err} (ROLLOUT_DEBUG=1 shows where)", file=sys.stderr)
        sys.exit(1)
