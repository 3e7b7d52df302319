"""The `rollout` command. Imports stay inside the commands so `rollout --help` starts
fast (no pydantic, networkx or rich on that path; see docs/performance.md)."""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from rollout import pydantic_plugins

app = typer.Typer(
    help="Progressive multi-cluster rollouts for GitOps fleets: plan waves, pin revisions in Git.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from rollout import __version__

        print(f"rollout {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", "-V", help="Print the version and exit.", callback=_print_version, is_eager=True)
    ] = False,
) -> None:
    """Progressive multi-cluster rollouts for GitOps fleets: plan waves, pin revisions in Git."""


def _duration(flag: str, value: str) -> float:
    """A duration option in seconds; a bad one is a usage error naming the flag."""
    from waves.durations import parse_duration
    from rollout.workspace import UsageError

    try:
        return float(parse_duration(value))
    except ValueError as err:
        raise UsageError(f"{flag}: {err}") from None

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
    wide = "wide"
    json = "json"
    markdown = "markdown"
    mermaid = "mermaid"
    dot = "dot"
    html = "html"


class CheckFormat(str, Enum):
    text = "text"
    json = "json"


class ListFormat(str, Enum):
    table = "table"
    wide = "wide"
    json = "json"


class StatusFormat(str, Enum):
    table = "table"
    wide = "wide"
    json = "json"
    markdown = "markdown"
    mermaid = "mermaid"
    html = "html"


def command(func):
    """Register a command whose UsageError becomes one line on stderr and exit 2, both
    from the console script and in-process (tests, embedding)."""
    import functools

    @functools.wraps(func)
    def run(*args, **kwargs):
        from rollout.hubs import connect  # not the inventory package: ~25 ms a command
        from rollout.workspace import UsageError

        connect(functools.partial(_hub, kwargs.get("kubeconfig")))  # live inventory sources list through it
        try:
            _named_kubeconfig(kwargs.get("kubeconfig"))
            return func(*args, **kwargs)
        except UsageError as err:
            print(f"rollout: {err}", file=sys.stderr)
            raise typer.Exit(EXIT_INVALID) from None

    return app.command()(run)


def _named_kubeconfig(path: Optional[str]) -> None:
    """A `--kubeconfig` that names no file is the user's typo, said before anything is
    read or written, whether or not this command ends up reading it (a file inventory)."""
    from pathlib import Path

    from rollout.workspace import UsageError

    if path is not None and not Path(path).is_file():
        raise UsageError(f"--kubeconfig {path}: no such kubeconfig file (is it the right path?)")


def _hub(kubeconfig: Optional[str]):
    """The lister of live inventory sources: the kubeconfig the gates use (docs/inventory.md)."""
    from rollout.inventory.hub import KubeLister
    from rollout.observers.kube import Kube

    return KubeLister(Kube(kubeconfig))


KubeconfigOption = Annotated[Optional[str], typer.Option(
    "--kubeconfig", help="Where live inventory sources (and gates) are read. Default: $KUBECONFIG or ~/.kube/config "
    "(in-cluster works too).")]


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
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Show which clusters get the change in which wave, in what order, after what."""
    ws = _workspace(policy, repo)
    if ws.errors:
        _fail(ws.problems)
    if format in (PlanFormat.table, PlanFormat.wide):
        from rollout.controls import Hold
        from rollout.session import clock
        from rollout.render.controls import lines
        from rollout.render.plan_table import render

        render(ws.plan, ws.warnings, wide=format is PlanFormat.wide)
        for line in lines(ws.plan, Hold(clock())):
            print(line)
        return
    _print_warnings(ws.warnings, also_in_output=format in (PlanFormat.json, PlanFormat.markdown, PlanFormat.html))
    if format is PlanFormat.html:
        from rollout.render.html import render as render_html
        from rollout.report import plan_page

        sys.stdout.write(render_html(plan_page(ws)))
    elif format is PlanFormat.json:
        from rollout.render.plan_json import write

        write(sys.stdout, ws.plan, ws.warnings, pretty=sys.stdout.isatty())
        print()
    elif format is PlanFormat.markdown:
        from rollout.render.plan_markdown import render as render_markdown

        print(render_markdown(ws.plan, ws.warnings))
    else:
        from rollout.render import plan_graph

        print(plan_graph.mermaid(ws.plan) if format is PlanFormat.mermaid else plan_graph.dot(ws.plan))


def _print_load_warnings(outcome) -> None:
    """What loading the policy, the inventory and the files warned of, on stderr as `status`
    says it (a file deleted since, a shared field split, a folder's link, a wave that claims
    no cluster), after an advance's or a revert's outcome, in every --format."""
    if outcome.ws is not None:
        from rollout.render.status import warning_lines

        for line in warning_lines(outcome.state, outcome.ws.warnings):
            print(line, file=sys.stderr)


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
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Run every check on a policy, its inventory and the pinned files; exit 0 when
    valid, 2 when not."""
    ws = _workspace(policy, repo, check_files=True)
    if format is CheckFormat.json:
        import json

        from rollout.render.problems import problem_json

        out = {"valid": not ws.errors, "problems": [problem_json(p) for p in ws.problems]}
        if ws.inspection is not None:  # targeting safety: which sources were followed, which not and why
            from rollout.targeting import Report

            out["sources"] = Report(sources=ws.inspection.sources).as_dict()
        print(json.dumps(out, indent=2))
        if ws.errors:
            raise typer.Exit(EXIT_INVALID)
        return
    if ws.errors:
        _fail(ws.problems)
    _print_warnings(ws.warnings, also_in_output=False)
    from rollout.render.words import count, waves_counted

    print(f"{ws.loaded.path}: valid: {count(len(ws.plan.targets), 'cluster')} in {waves_counted(ws.plan)}")


@command
def inventory(
    repo: RepoOption = None,
    source: Annotated[
        Optional[list[str]],
        typer.Option(
            "--source",
            help="KIND=PATH, KIND one of fleet, argocdClusterSecrets, clusterAPI, kustomizeClusters; or a live "
            "source as a policy writes it, KIND={context: C, namespace: N, selector: {...}}, KIND one of "
            "clusterProfiles, managedClusters, clusterAPI, fleetClusters, argocdClusterSecrets, read through "
            "--kubeconfig (repeatable; default: the sources of the policies under rollouts/).",
        ),
    ] = None,
    policy: Annotated[Optional[str], typer.Option("--policy", help="Use this policy's inventory sources.")] = None,
    selector: Annotated[
        Optional[str], typer.Option("--selector", "-l", help="Label selector, e.g. 'env=prod,region in (eu-west)'.")
    ] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """List the fleet's clusters, their labels and which source each came from."""
    from rollout.inventory_command import run_inventory

    run_inventory(repo, source or [], policy, selector, format.value)


def _engine_errors(func):
    """Run an engine call: bad input is exit 2; a refusal, a git failure or a forge's
    (pull-request delivery, after its retries) exit 1: the next run goes on from there."""
    from rollout.delivery.forge import ForgeError
    from rollout.errors import InvalidInput, Refused
    from rollout.git.repo import GitError

    try:
        return func()
    except InvalidInput as err:
        _fail(err.problems)
    except Refused as err:
        print(f"rollout: {err}", file=sys.stderr)
        raise typer.Exit(1) from None
    except (GitError, ForgeError) as err:
        print(f"rollout: {err}", file=sys.stderr)
        raise typer.Exit(1) from None


def _print_outcome(outcome, fmt: str, verb: str) -> None:
    if fmt == "json":
        import json

        print(json.dumps(outcome.as_dict(), indent=2))
        return
    from rollout.render.words import count

    for change in outcome.changes:
        if change.diff:
            print(change.diff, end="")
        what = "late join, " if change.late else ""
        commit = f" {change.commit[:12]}" if change.commit else " (dry run)"
        said = f"proposed ({verb})" if change.proposal else verb
        print(f"{said} wave {change.number} {change.name}: {what}{count(len(change.clusters), 'cluster')}, "
              f"{count(len(change.files), 'file')}{commit}")
        if change.proposal:
            print(f"  {change.proposal['ref']}: {change.proposal['url']} "
                  f"(branch {change.proposal['branch']})")
    for note in outcome.notes:
        print(note)
    if outcome.changes and not any(c.diff for c in outcome.changes):
        print("proposed: merging the pull request publishes it" if outcome.proposed else
              "pushed" if outcome.pushed else "committed locally (not pushed)")


PushOption = Annotated[
    Optional[bool],
    typer.Option("--push/--no-push", help="Push the commit (default: when the branch has an upstream)."),
]


class Delivery(str, Enum):
    push = "push"
    pull_request = "pull-request"


class DemoExample(str, Enum):
    fleet_config = "fleet-config"
    rancher_fleet = "rancher-fleet"


DeliveryOption = Annotated[
    Optional[Delivery],
    typer.Option("--delivery", help="Override the policy's spec.delivery.mode: push, or pull-request (docs/delivery.md)."),
]


def _mode(delivery: Optional[Delivery]) -> Optional[str]:
    return delivery.value if delivery is not None else None


@command
def advance(
    policy: PolicyArgument,
    repo: RepoOption = None,
    wave: Annotated[Optional[str], typer.Option("--wave", help="Wave number or name (default: every ready wave).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff; write nothing.")] = False,
    push: PushOption = None,
    message: Annotated[Optional[str], typer.Option("--message", "-m", help="Extra text for the commit body.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Advance although dependencies have not passed or the change "
                                                        "window is shut (recorded in the commit).")] = False,
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = CheckFormat.text,
    delivery: DeliveryOption = None,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Pin the revision into a wave's manifests: one commit per wave, pushed (or proposed
    as a pull request under pull-request delivery)."""
    from rollout.advance import advance as run
    from rollout.workspace import repo_root

    root = repo_root(repo, policy)
    outcome = _engine_errors(lambda: run(root, policy, wave, dry_run, push, message, force, delivery=_mode(delivery)))
    _print_outcome(outcome, format.value, "would advance" if dry_run else "advanced")
    _print_load_warnings(outcome)
    if not dry_run:
        _notify(root, outcome, policy)


@command
def revert(
    policy: PolicyArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why: recorded in the commit.")],
    repo: RepoOption = None,
    wave: Annotated[Optional[str], typer.Option("--wave", help="Wave number or name.")] = None,
    all_waves: Annotated[bool, typer.Option("--all", help="Every advanced wave, newest first.")] = False,
    push: PushOption = None,
    delivery: DeliveryOption = None,
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = CheckFormat.text,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Re-pin a wave's clusters to what they had before its advance commit."""
    from rollout.revert import revert as run
    from rollout.workspace import UsageError, repo_root

    if (wave is None) == (not all_waves):
        raise UsageError("give exactly one of --wave N and --all")
    root = repo_root(repo, policy)
    outcome = _engine_errors(lambda: run(root, policy, wave, all_waves, reason, push, delivery=_mode(delivery)))
    _print_outcome(outcome, format.value, "reverted")
    _print_load_warnings(outcome)
    outcome.reason = reason
    _notify(root, outcome, policy)
    if outcome.stuck:  # a revert that restores nothing while its clusters stay on the revision: not done
        raise typer.Exit(1)


@command
def run(
    policy: PolicyArgument,
    repo: RepoOption = None,
    kubeconfig: Annotated[Optional[str], typer.Option("--kubeconfig", help="Default: $KUBECONFIG or ~/.kube/config (in-cluster works too).")] = None,
    push: PushOption = None,
    delivery: DeliveryOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Keep stepping until complete, failed or --timeout.")] = False,
    timeout: Annotated[str, typer.Option("--timeout", help="With --wait: give up after this long.")] = "6h",
    interval: Annotated[str, typer.Option("--interval", help="With --wait: time between steps.")] = "30s",
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = CheckFormat.text,
    report: Annotated[Optional[str], typer.Option("--report", help="Write the rollout as one self-contained HTML "
                                                  "page to this file after each step (a CI artifact).")] = None,
) -> None:
    """One safe step of the rollout, for CI: judge the gates, revert or halt on failure,
    advance what became ready, push. Exit 0 advanced/waiting/complete, 1 failed."""
    from pathlib import Path

    from rollout.run import run as run_steps
    from rollout.workspace import UsageError, repo_root

    limit, every = _duration("--timeout", timeout), _duration("--interval", interval)
    page = Path(report) if report else None
    if page is not None and (page.is_dir() or not page.parent.is_dir()):  # before anything is written
        raise UsageError(f"--report {report}: " + ("is a folder" if page.is_dir() else "its folder does not exist"))
    root = repo_root(repo, policy)
    code = _engine_errors(lambda: run_steps(root, policy, kubeconfig, push, wait, limit, every, format.value,
                                            _mode(delivery), page))
    raise typer.Exit(code)


@command
def gate(
    policy: PolicyArgument,
    wave: Annotated[str, typer.Option("--wave", help="Wave number or name.")],
    repo: RepoOption = None,
    kubeconfig: Annotated[Optional[str], typer.Option("--kubeconfig", help="Default: $KUBECONFIG or ~/.kube/config (in-cluster works too).")] = None,
    record: Annotated[bool, typer.Option("--record", help="When the wave passed, record it in Git (a verify commit), as rollout run does.")] = False,
    push: PushOption = None,
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = CheckFormat.text,
) -> None:
    """Evaluate a wave's gates now, per cluster and gate: exit 0 passed, 1 failed,
    3 pending or unknown (nothing observable)."""
    import json

    from rollout.clock import clock
    from rollout.observers.ahead import prefetch
    from rollout.observers.kube import Kube
    from rollout.workspace import repo_root

    root = repo_root(repo, policy)
    now, kube = clock(), Kube(kubeconfig)
    prefetch(root, policy, kube)  # the hub's LISTs sent first: it answers while the repo is read

    from rollout.gate_check import evaluate, evaluate_join, preflight
    from rollout.session import wave_ref
    from rollout.status import status as fold_status
    from rollout.step import record_gate

    ws, state = _engine_errors(lambda: fold_status(root, policy, check_files=True))  # one load: files checked too
    _say_unread(state)  # the hub away mid-rollout: the waves out are judged from their advance records
    number = wave_ref(ws.plan, wave).number
    preflight(ws, kube, [number], now)
    verdict = evaluate(ws, state, number, now, kube)
    # its late joins out, each judged on its own (docs/inventory.md, "Late joins"); `run` records them
    out = state.wave(number).joins_out
    joins = [evaluate_join(ws, state, number, j, now, kube) for j in out]
    # the advance each pass recorded judged (None: the wave's) -> its record, as `run` records them
    recorded = _engine_errors(lambda: record_gate(root, policy, state, number, verdict, list(zip(out, joins)), push)) \
        if record else {}
    if format is CheckFormat.json:
        # indented for people; compact in a pipe (the C encoder: 10,000 checks ~10x faster), as plan
        print(json.dumps({**verdict.as_dict(), "recorded": recorded.get(None),
                          "lateJoins": [{**v.as_dict(), "recorded": recorded.get(j.commit)} for j, v in zip(out, joins)]},
                         indent=2 if sys.stdout.isatty() else None))
    else:
        for judged in [verdict, *joins]:
            for check in judged.checks:
                print(f"{check.state:8s} {check.cluster:24s} {check.gate:10s} {check.reason}")
            print(f"wave {judged.number} {judged.name}: {judged.state}: {judged.reason}")
        for join in [None, *(j.commit for j in out)]:
            if join in recorded:
                print(f"recorded the pass{f' of the late join {join[:12]}' if join else ''}: {recorded[join][:12]}")
    states = {v.state for v in [verdict, *joins]}
    raise typer.Exit(1 if "failed" in states else 0 if states == {"passed"} else 3)


class HealthOutput(str, Enum):
    table = "table"
    json = "json"


@command
def health(
    filename: Annotated[Optional[list[str]], typer.Option("--filename", "-f", help="A file of objects (YAML or JSON, "
                                                          "several documents, kind List), a folder of them, or - "
                                                          "for stdin (repeatable).")] = None,
    output: Annotated[HealthOutput, typer.Option("--output", "-o", help="table, or json: a list, one entry per "
                                                 "object.")] = HealthOutput.table,
    revision: Annotated[Optional[str], typer.Option("--revision", help="Judge Argo CD Applications and Flux objects at "
                                                    "this pin (default: the revision each targets).")] = None,
    context: Annotated[Optional[str], typer.Option("--context", help="Live objects: the kubeconfig context (default: "
                                                   "the current one).")] = None,
    kind: Annotated[Optional[str], typer.Option("--kind", help="Live objects: Deployment, sts, pods, ... or "
                                                "PLURAL.VERSION.GROUP.")] = None,
    namespace: Annotated[Optional[str], typer.Option("--namespace", "-n", help="Live objects: the namespace "
                                                     "(default: the context's).")] = None,
    selector: Annotated[Optional[str], typer.Option("--selector", "-l", help="Live objects: a label selector, "
                                                    "e.g. 'app=web'.")] = None,
    kubeconfig: Annotated[Optional[str], typer.Option("--kubeconfig", help="Default: $KUBECONFIG or ~/.kube/config "
                                                      "(in-cluster works too).")] = None,
) -> None:
    """Each object judged as the gates judge it, in kstatus's words (Current, InProgress,
    Failed, Terminating, Unknown), with reason, message and evidence: exit 0 all Current,
    1 any Failed, 3 otherwise (no object, an unreachable cluster)."""
    from rollout import health as run
    from rollout.errors import InvalidInput
    from rollout.render.health import render
    from rollout.session import clock
    from rollout.workspace import UsageError

    live = kind is not None or context is not None or namespace is not None or selector is not None
    if bool(filename) == live:
        raise UsageError("give -f FILE..., or --kind K [--context C] [-n NS] [-l SELECTOR] for live objects")
    if live and kind is None:
        raise UsageError("--kind: which kind of live objects to judge (Deployment, sts, pods, ...)")
    try:
        objects, why = (run.read_files(filename), "") if filename else \
            run.live(kubeconfig, context, kind, namespace, selector)
    except InvalidInput as err:
        _fail(err.problems)
    if objects is None:  # the cluster cannot be reached: nothing judged
        print(f"rollout: {why}", file=sys.stderr)
        raise typer.Exit(3)
    now = clock()
    entries = [run.judge(obj, now, revision) for obj in objects]
    render(entries, output.value)
    raise typer.Exit(run.exit_code(entries))


@command
def approve(
    policy: PolicyArgument,
    wave: Annotated[str, typer.Option("--wave", help="The wave (number or name) that requires approval.")],
    by: Annotated[Optional[str], typer.Option("--by", help="Who approves: recorded in the commit (default: git's "
                                                 "user.name). Under spec.trust the approver is the signer, never --by.")] = None,
    repo: RepoOption = None,
    push: PushOption = None,
    delivery: DeliveryOption = None,
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = CheckFormat.text,
) -> None:
    """Approve a wave marked `approval: required`, so the waves after it may go."""
    from rollout.approve import approve as run
    from rollout.workspace import repo_root

    root = repo_root(repo, policy)
    outcome = _engine_errors(lambda: run(root, policy, wave, by, push, delivery=_mode(delivery)))
    _print_outcome(outcome, format.value, "approved")


@command
def retry(
    policy: PolicyArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why it is retried (the cause fixed): recorded in the commit.")],
    by: Annotated[Optional[str], typer.Option("--by", help="Who retries (default: git's user.name).")] = None,
    repo: RepoOption = None,
    push: PushOption = None,
    delivery: DeliveryOption = None,
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = CheckFormat.text,
) -> None:
    """Start a new epoch of a reverted or halted revision: its waves go out again from the
    first, with their bakes and gates (exit 2 while it is not started, in progress or complete)."""
    from rollout.retry import retry as run
    from rollout.workspace import repo_root

    root = repo_root(repo, policy)
    outcome = _engine_errors(lambda: run(root, policy, reason, by, push, delivery=_mode(delivery)))
    _print_record(outcome, format.value, lambda change: f"retried {outcome.policy} -> {outcome.revision}: "
                  f"{change.name} starts at {change.commit[:12]}")


def _pause_command(action: str, policy: Optional[str], all_policies: bool, by: Optional[str], reason: Optional[str],
                   repo: Optional[str], push: Optional[bool], fmt: str, delivery: Optional[Delivery]) -> None:
    from rollout.pause import record
    from rollout.workspace import UsageError, repo_root

    if (policy is None) == (not all_policies):
        raise UsageError("give exactly one of POLICY and --all")
    root = repo_root(repo, policy)
    outcome = _engine_errors(lambda: record(root, policy, action, by, reason, push, delivery=_mode(delivery)))
    if _print_record(outcome, fmt, lambda change: f"{action}d {'every policy' if change.name == '*' else change.name}: "
                     f"{change.commit[:12]}"):
        _notify(root, outcome, policy)


def _print_record(outcome, fmt: str, line) -> bool:
    """A record command's outcome: JSON, or a `line(change)` per change, the notes and
    where it went. False for JSON (nothing more is said)."""
    if fmt == "json":
        import json

        print(json.dumps(outcome.as_dict(), indent=2))
        return False
    for change in outcome.changes:
        print(line(change))
    for note in outcome.notes:
        print(note)
    if outcome.changes:
        print("pushed" if outcome.pushed else "committed locally (not pushed)")
    return True


def _notify(root, outcome, policy: Optional[str]) -> None:
    """Tell the policy's notification sinks what was committed (after the push)."""
    from rollout.notify.hook import after_record

    after_record(root, outcome, policy)


OptionalPolicy = Annotated[Optional[str], typer.Argument(help="Policy name or path; omit with --all.")]


@command
def pause(
    policy: OptionalPolicy = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why: recorded in the commit.")] = None,
    all_policies: Annotated[bool, typer.Option("--all", help="Emergency stop: every policy in the repo, one commit.")] = False,
    by: Annotated[Optional[str], typer.Option("--by", help="Who pauses (default: git's user.name).")] = None,
    repo: RepoOption = None,
    push: PushOption = None,
    delivery: DeliveryOption = None,
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = CheckFormat.text,
) -> None:
    """Stop starting waves (a commit): gates are still judged, failed waves still reverted."""
    _pause_command("pause", policy, all_policies, by, reason, repo, push, format.value, delivery)


@command
def resume(
    policy: OptionalPolicy = None,
    all_policies: Annotated[bool, typer.Option("--all", help="Lift the emergency stop of every policy.")] = False,
    halt: Annotated[bool, typer.Option("--halt", help="Lift the rollout's halt (not a pause): its halted waves are judged afresh. Needs --reason.")] = False,
    by: Annotated[Optional[str], typer.Option("--by", help="Who resumes (default: git's user.name).")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why (optional): recorded in the commit.")] = None,
    repo: RepoOption = None,
    push: PushOption = None,
    delivery: DeliveryOption = None,
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = CheckFormat.text,
) -> None:
    """Lift a pause (a commit); `git revert` of the pause commit does the same. With
    `--halt`, lift a halt instead (onFailure: halt, or a gate blind past its deadline)."""
    if halt:
        _lift_halt(policy, all_policies, by, reason, repo, push, format.value, delivery)
        return
    _pause_command("resume", policy, all_policies, by, reason, repo, push, format.value, delivery)


def _lift_halt(policy: Optional[str], all_policies: bool, by: Optional[str], reason: Optional[str],
               repo: Optional[str], push: Optional[bool], fmt: str, delivery: Optional[Delivery]) -> None:
    from rollout.halt import lift
    from rollout.workspace import UsageError, repo_root

    if policy is None or all_policies:
        raise UsageError("--halt lifts one policy's halt: give POLICY, not --all")
    root = repo_root(repo, policy)
    outcome = _engine_errors(lambda: lift(root, policy, reason, by, push, delivery=_mode(delivery)))
    _print_record(outcome, fmt, lambda change: f"lifted the halt at wave {change.number} {change.name}: "
                  f"{change.commit[:12]} (judged afresh by the next run)")


class AuditFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


@command
def audit(
    policy: PolicyArgument,
    repo: RepoOption = None,
    format: Annotated[AuditFormat, typer.Option("--format", "-f")] = AuditFormat.text,
) -> None:
    """Every action of every rollout of the policy: when, what, who (the verified signer, else
    the unverified author), whether it counted, and its evidence (docs/security.md)."""
    from rollout.audit import audit as run, render
    from rollout.workspace import repo_root

    root = repo_root(repo, policy)
    print(render(_engine_errors(lambda: run(root, policy)), format.value))


@command
def status(
    policy: PolicyArgument,
    repo: RepoOption = None,
    format: Annotated[StatusFormat, typer.Option("--format", "-f", help="markdown and mermaid: the DAG coloured by status; html: one self-contained page.")] = StatusFormat.table,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Where the rollout is: per wave pending, advanced, passed, failed or reverted."""
    from rollout.status import status_and_hold as run
    from rollout.render.status import render, status_warnings
    from rollout.workspace import repo_root

    root = repo_root(repo, policy)
    if format is StatusFormat.html:  # one self-contained page (rollout/render/html.py)
        from rollout.render.html import render as render_html
        from rollout.report import status_page

        page = _engine_errors(lambda: status_page(root, policy))
        sys.stdout.write(render_html(page))
        _print_warnings(page.warnings, also_in_output=False)  # in the page, and on stderr as every format says them
        _say_unread(page.state)
        return
    ws, state, hold = _engine_errors(lambda: run(root, policy))  # the hold: change windows and who paused
    render(ws.plan, state, format.value, hold)
    # on stderr, as plan's: a late join splitting a shared field; an empty wave that went out said as it is
    _print_warnings(status_warnings(state, ws.warnings), also_in_output=False)
    _say_unread(state)


def _say_unread(state) -> None:
    """The hub away mid-rollout: said on stderr too, whatever the output's format."""
    from rollout.render.status import unread_line

    if state.partial:
        print(f"rollout: {unread_line(state)}", file=sys.stderr)


@command
def demo(
    no_fault: Annotated[bool, typer.Option("--no-fault", help="The happy path: no degraded cluster.")] = False,
    where: Annotated[Optional[str], typer.Option("--dir", help="Create the demo repo in this folder (default: a new temp dir).")] = None,
    delivery: Annotated[Delivery, typer.Option("--delivery", help="push, or pull-request: main is protected and "
                                               "each wave is a pull request on a simulated GitHub.")] = Delivery.push,
    example: Annotated[DemoExample, typer.Option("--example", help="fleet-config (Argo CD Applications on a hub) or "
                                                 "rancher-fleet (Rancher Fleet GitRepos, judged on the Fleet "
                                                 "manager).")] = DemoExample.fleet_config,
) -> None:
    """Roll out an example fleet (examples/fleet-config, or --example rancher-fleet) against
    the fleet simulator, wave by wave (under a minute; no cluster, no network)."""
    from pathlib import Path

    from rollout.demo import run

    raise typer.Exit(run(fault=not no_fault, where=Path(where) if where else None, delivery=delivery.value,
                         example=example.value))


@command
def simulate(
    repo: Annotated[Optional[str], typer.Option("--repo", help="Repo to follow: a path or URL git can clone (default: this repo).")] = None,
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = 0,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    kubeconfig_out: Annotated[Optional[str], typer.Option("--kubeconfig-out", help="Where to write the kubeconfig.")] = None,
    sync_delay: Annotated[Optional[str], typer.Option("--sync-delay", help="New commit -> sync start, and the sync's length (2s).")] = None,
    health_delay: Annotated[Optional[str], typer.Option("--health-delay", help="Synced -> healthy (2s).")] = None,
    poll: Annotated[Optional[str], typer.Option("--poll", help="How often to fetch the repo (2s).")] = None,
    fault: Annotated[Optional[list[str]], typer.Option("--fault", help="CLUSTER:degraded@REV | CLUSTER:sync-failed@REV | "
                                                                       "CLUSTER:errors=0.2@REV | CLUSTER:unreachable[@30s-90s]")] = None,
    scenario: Annotated[Optional[str], typer.Option("--scenario", help="YAML file: syncDelay, healthDelay, poll, faults.")] = None,
    branch: Annotated[Optional[str], typer.Option("--branch", help="Branch to follow (default: the remote's default branch).")] = None,
    scm: Annotated[Optional[str], typer.Option("--scm", help="Serve a forge too: github | gitlab (pull requests merged "
                                                              "into --repo, a local bare repo).")] = None,
    protect: Annotated[bool, typer.Option("--protect", help="Branch protection: a pre-receive hook in --repo refuses "
                                                            "pushes to the followed branch (merges still land).")] = False,
    required_check: Annotated[Optional[list[str]], typer.Option("--required-check", help="A commit status that must be "
                                                                "success on a pull request's head before it merges (--scm).")] = None,
    sign_merges: Annotated[Optional[str], typer.Option("--sign-merges", help="An ssh private key file: the forge signs "
                                                       "the commits it makes (merges, squashes, rebases) with it, as "
                                                       "GitHub signs with its own key (--scm).")] = None,
    hub: Annotated[Optional[str], typer.Option("--hub", help="A Fleet file: its clusters served on context hub as "
                                               "ClusterProfiles, ManagedClusters, Cluster API and Fleet Clusters and "
                                               "Argo CD cluster Secrets (live inventory sources; CLUSTER:down faults).")] = None,
) -> None:
    """Serve a simulated fleet (Argo CD and Flux objects over the Kubernetes API) that
    follows the repo's pinned revisions; prints `ready URL KUBECONFIG` when serving (with
    --scm, then the forge's CI variables: GITHUB_API_URL=... GITHUB_REPOSITORY=...)."""
    import asyncio
    import signal
    from pathlib import Path

    from rollout.simulator.faults import load_scenario_located, parse_fault, unknown_clusters
    from rollout.simulator.forge import attach, options_problem
    from rollout.simulator.server import Simulator, SimulatorError, serve, state_dir
    from rollout.simulator.status import Timing
    from rollout.workspace import UsageError, repo_root

    try:
        settings, located = load_scenario_located(scenario) if scenario else ({}, [])
    except ValueError as err:  # every problem, each as file:line: field: message
        print(str(err), file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    try:
        located += [(f"--fault {spec!r}", parse_fault(spec)) for spec in fault or []]

    except ValueError as err:
        raise UsageError(str(err)) from None

    def pick(name: str, value: Optional[str], key: str) -> float:  # the flag, else the scenario, else 2s
        return _duration(name, value) if value is not None else settings.get(key, 2.0)

    timing = Timing(sync=pick("--sync-delay", sync_delay, "syncDelay"),
                    health=pick("--health-delay", health_delay, "healthDelay"))
    every = pick("--poll", poll, "poll")
    source = repo if repo is not None else str(repo_root(None).resolve())
    if problem := options_problem(scm, protect, required_check or [], repo, sign_merges):
        raise UsageError(problem)
    sim = Simulator(source, timing, [f for _, f in located], poll=every, branch=branch)
    if hub is None and any(f.kind == "down" for _, f in located):
        raise UsageError("a CLUSTER:down fault acts on the hub's inventory objects: give --hub")
    if hub is not None:
        from rollout.simulator.hub import Hub

        try:
            sim.hub = Hub.from_file(hub, [f for _, f in located])
        except (ValueError, OSError) as err:
            raise UsageError(f"--hub {hub}: {err}") from None
    try:
        sim.refresh()
    except SimulatorError as err:
        raise UsageError(str(err)) from None
    if problems := unknown_clusters(located, sim.clusters):
        sim.close()
        for problem in problems:
            print(problem, file=sys.stderr)
        raise typer.Exit(EXIT_INVALID)
    forge_env = attach(sim, scm, protect, tuple(required_check or ()),  # the CI variables, given the URL
                       Path(sign_merges).resolve() if sign_merges else None)
    own_dir = None if kubeconfig_out else state_dir()  # never inside the repo: it would block advance
    out = Path(kubeconfig_out).resolve() if kubeconfig_out else own_dir / "kubeconfig"

    def ready(url: str, clusters: int, objects: int) -> None:
        for problem in sim.problems:
            print(f"warning: {problem}", file=sys.stderr)
        pairs = "".join(f" {k}={v}" for k, v in forge_env(url).items())
        print(f"ready {url} kubeconfig={out} clusters={clusters} objects={objects}{pairs}", flush=True)

    async def main_loop() -> None:
        task = asyncio.ensure_future(serve(sim, host, port, out, ready))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    try:
        asyncio.run(main_loop())
    except OSError as err:
        raise UsageError(f"cannot serve on {host}:{port}: {err.strerror}") from None
    finally:
        sim.close()
        if own_dir is not None:
            import shutil

            shutil.rmtree(own_dir, ignore_errors=True)
    print("stopped", flush=True)


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


def only(argv: list[str]) -> typer.Typer:
    """The app holding only the command `argv` names: typer makes a click command of every
    registered one on each start (~15 ms for all of them) and a run uses one. The group,
    its callback and the command are the same objects, so the command's parsing, help and
    errors are too (tests/test_cli.py compares them). Without a known command first (no
    arguments, an option, a mistyped name) it is the whole app, whose help lists them all
    and whose `No such command` suggests the nearest."""
    import copy

    if not argv or argv[0].startswith("-"):
        return app
    chosen = [info for info in app.registered_commands
              if (info.name or typer.main.get_command_name(info.callback.__name__)) == argv[0]]
    if len(chosen) != 1:
        return app
    one = copy.copy(app)
    one.registered_commands = chosen
    return one


def main() -> None:
    """Console entry point: bad input is exit 2 with one line per problem; a bug is one
    line and exit 1 (ROLLOUT_DEBUG=1 shows the traceback)."""
    pydantic_plugins.skip()
    try:
        only(sys.argv[1:])()  # click's standalone mode: usage errors exit 2, typer.Exit exits with its code
    except KeyboardInterrupt:
        print("rollout: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - the last line of defence
        from rollout.crash import one_line, scrubbed_traceback  # never the message: it may quote a secret

        if os.environ.get("ROLLOUT_DEBUG"):
            print(scrubbed_traceback(err), end="", file=sys.stderr)
        print(one_line(err), file=sys.stderr)
        sys.exit(1)
