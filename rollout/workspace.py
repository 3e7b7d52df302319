"""Where the repo is, and everything `plan` and `validate` read from it, as one step:
policy -> inventory -> plan -> checks against the files. Nothing here writes."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from waves.problems import Problem, ProblemError
from rollout.policy_file import LoadedPolicy, PolicyNotFound, find_policy, load_policy


class UsageError(Exception):
    """Bad command-line input: one line to the user, exit 2."""


def repo_root(repo: str | None, policy_ref: str | None = None) -> Path:
    """`--repo`; else the repo a policy path lives in (`<root>/rollouts/x.yaml`); else the
    nearest directory from the working directory upward (not above the git top level)
    that holds `rollouts/`; else the git top level; else the working directory."""
    if repo is not None:
        path = Path(repo)
        if not path.is_dir():
            raise UsageError(f"--repo {repo}: no such directory")
        return path
    if policy_ref is not None:
        as_path = Path(policy_ref)
        if as_path.is_file() and as_path.resolve().parent.name == "rollouts":
            return _shortest(as_path.resolve().parent.parent)
    here = Path.cwd()
    if (here / "rollouts").is_dir():  # run from the repo's root, as CI does: no git process to find it
        return _shortest(here)
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        top = ""
    for folder in (here, *here.parents):
        if (folder / "rollouts").is_dir():
            return _shortest(folder)
        if top and folder == Path(top):
            break
    return _shortest(Path(top)) if top else Path(".")


ROOT_RULE = "--repo, else the nearest directory upward holding rollouts/, else the git top level"


def _shortest(path: Path) -> Path:
    """Relative to the working directory when that is shorter: messages stay readable."""
    try:
        rel = path.relative_to(Path.cwd())
        return rel if str(rel) != "." else Path(".")
    except ValueError:
        return path


@dataclass
class Workspace:
    repo: Path
    loaded: LoadedPolicy | None = None
    clusters: list = field(default_factory=list)
    plan: object | None = None  # waves.planner.Plan
    problems: list[Problem] = field(default_factory=list)
    inspection: object | None = None  # rollout.safety.Inspection (or rollout.reuse.StandIn), when files were checked
    plan_key: str | None = None  # what the plan was made from (rollout/reuse.py), when reusing
    pinned: dict | None = None  # cluster -> what its pinned files say (rollout/reuse.py), once asked
    listed: list = field(default_factory=list)  # live sources' rollout.inventory.hub.Listed (docs/inventory.md)
    degraded: str | None = None  # the inventory could not be read: the plan holds the waves out, from records

    @property
    def hub_down(self) -> list[Problem]:
        """The live sources that could not be read (the hub unreachable, refusing, lacking the kind)."""
        return [p for p in self.problems if p.extra.get("hub") is not None]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


def load_workspace(repo: Path, policy_ref: str, check_files: bool = False, reuse=None,
                   strict: bool = True, hub=None, files_by_git: bool = False) -> Workspace:
    """Read and check everything; problems are collected, never raised. `check_files`
    adds the checks on the pinned files themselves (rollout/safety.py): `validate` and
    `advance` need them, `plan` does not. `reuse` (a rollout.git.repo.Git): the plan and
    the checks' verdict kept in its git dir for the very same inputs are taken, and what
    is worked out is kept (rollout/reuse.py); never for a policy with a live inventory
    source (`InventorySource.live`), which depends on what the hub lists now, not only on
    files. `strict` False: clusters sharing a field that the plan cannot keep in one wave
    (`Plan.conflicts`), and pinned files that do not exist, are warnings, not errors, for
    what must work whatever the inventory and the files became (`status`, `revert`). `hub`: where live inventory sources are listed (default:
    rollout.hubs.connect's). `files_by_git` (with `reuse`, a kept plan): git's listing of the
    pinned files, which the caller reads next for what they say (rollout/reuse.py), stands
    for `check_pin_files` when it shows every one tracked as a file and unmodified."""
    from rollout.yamlfile import bulk

    with bulk():  # tens of thousands of live objects: no cyclic GC passes meanwhile
        return _load_workspace(repo, policy_ref, check_files, reuse, strict, hub, files_by_git)


def _load_workspace(repo: Path, policy_ref: str, check_files: bool, reuse=None, strict: bool = True,
                    hub=None, files_by_git: bool = False) -> Workspace:
    ws = Workspace(repo)
    try:
        path = find_policy(repo, policy_ref)
    except PolicyNotFound as err:
        ws.problems.append(Problem(f"{err}; the repo root used is {repo.resolve()} ({ROOT_RULE})", (), ""))
        return ws
    ws.loaded = loaded = (_kept_policy(reuse, path) if reuse is not None else None) or load_policy(path)
    ws.problems += loaded.problems
    if loaded.policy is None:
        return ws
    policy = loaded.policy
    if policy.metadata.name != path.stem:
        ws.problems.append(
            loaded.locate(
                Problem(
                    f"policy is named {policy.metadata.name!r} but its file is {path.name}",
                    ("metadata", "name"), str(path), severity="warning",
                )
            )
        )

    if policy.spec.trust is not None:
        ws.problems += [loaded.locate(replace(p, source=str(path)) if p.source == "" else p)
                        for p in _trust_problems(repo, policy.spec)]

    sources = [(source.kind, source.path if source.path is not None else source.hub) for source in policy.spec.inventory]
    if any(source.live for source in policy.spec.inventory):
        reuse = None  # a live LIST is never reused: the hub may list another fleet now
    kept = None
    if reuse is not None:
        from rollout import reuse as reused

        ws.plan_key = reused.plan_key(repo, loaded, sources)
        kept = reused.planned(reuse, ws, ws.plan_key)
    if kept is not None:
        ws.clusters, inventory_problems, ws.plan, planning = kept
    else:
        ws.clusters, inventory_problems, ws.plan, planning = _plan(repo, policy, sources, hub, ws.listed)
    for problem in inventory_problems:
        ws.problems.append(_source_problem(repo, loaded, policy, problem) or _in_repo(repo, problem))
    if any(p.is_error for p in inventory_problems):
        return ws
    ws.problems += [_policy_problem(loaded, p) for p in planning]
    if ws.plan is not None and ws.plan.conflicts:
        ws.problems += [_policy_problem(loaded, p if strict else replace(p, severity="warning"))
                        for p in ws.plan.conflicts]
    if ws.plan is not None and kept is None and reuse is not None and not any(p.is_error for p in planning):
        reused.keep_plan(reuse, ws, ws.plan_key, inventory_problems, planning)
    if ws.plan is not None:
        # not strict (status, revert): a pinned file deleted since is said, not a stop: an urgent
        # revert must still take the wave's other clusters back (the deleted one is off the revision)
        vouched = files_by_git and kept is not None and reused.files_tracked(reuse, ws)
        ws.problems += [_policy_problem(loaded, p if strict else replace(p, severity="warning"))
                        for p in ([] if vouched else check_pin_files(repo, ws.plan))]
        if check_files and not any(p.is_error for p in ws.problems):
            from rollout.safety import inspect

            def inspected():
                return inspect(repo, policy, ws.plan, inventory=ws.clusters)

            ws.inspection = inspected() if reuse is None else \
                reused.checked(reuse, ws, inspected, lambda p: located(ws, p))
            ws.problems += [located(ws, p) for p in ws.inspection.problems]
        if any(p.is_error for p in ws.problems):
            ws.plan = None
    return ws


def _kept_policy(git, path: Path) -> LoadedPolicy | None:
    """The policy as validated from this same text by this same code before (rollout/reuse.py)."""
    from rollout import reuse as reused
    from rollout.yamlfile import YamlError, read_text

    try:
        text = read_text(path)
    except (OSError, YamlError):
        return None  # load_policy says what is wrong
    policy = reused.kept_policy(git, path, text)
    return LoadedPolicy.kept(path, text, policy) if policy is not None else None


def _plan(repo: Path, policy, sources: list[tuple[str, object]], hub=None,
          listed: list | None = None) -> tuple[list, list[Problem], object, list[Problem]]:
    """(clusters, inventory problems, the plan or None, planning problems): the inventory
    read (live sources through `hub`, what each listed appended to `listed`) and planned."""
    from waves.planner import make_plan

    from rollout.inventory import load_inventory

    clusters, inventory_problems = load_inventory(repo, sources, hub, listed if listed is not None else [])
    if any(p.is_error for p in inventory_problems):
        return clusters, inventory_problems, None, []
    try:
        plan = make_plan(policy, clusters)
        return clusters, inventory_problems, plan, plan.warnings
    except ProblemError as err:
        return clusters, inventory_problems, None, err.problems


def _trust_problems(repo: Path, spec) -> list[Problem]:
    """spec.trust must name a readable allowed signers file whose principals include every
    approver: a rule that can never be met is a set-up error (exit 2), not a stuck rollout.
    A squash or rebase merge makes commits no allowed signer signed: a warning."""
    from waves.trust import FORGE_IDENTITIES, allowed_signers, first_principals

    trust = spec.trust
    warnings = []
    if spec.delivery.mode == "pull-request" and spec.delivery.mergeMethod != "merge" and not trust.forges:
        warnings.append(Problem(f"mergeMethod {spec.delivery.mergeMethod} under spec.trust: the forge makes new commits "
                                "that no allowed signer signed, so their advances would not count; use mergeMethod: "
                                "merge, or list the forge's key (spec.trust.forges, docs/security.md)",
                                ("spec", "delivery", "mergeMethod"), "", severity="warning"))
    file = repo / trust.allowedSigners
    links = [(path, ("spec", "trust", key)) for key, path in (("allowedSigners", trust.allowedSigners),
                                                               ("openpgpKeys", trust.openpgpKeys)) if path]
    for path, loc in links:
        if (repo / path).is_symlink():
            return warnings + [Problem(f"{path} is a symlink: spec.trust's files must be files of the repository "
                                       "itself (a link's own history is what git keeps)", loc, "")]
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as err:
        why = "no such file" if isinstance(err, FileNotFoundError) else str(err)
        return warnings + [Problem(f"{trust.allowedSigners}: {why} (git's ssh allowed_signers format, in the repo)",
                                   ("spec", "trust", "allowedSigners"), "")]
    if trust.openpgpKeys and not (repo / trust.openpgpKeys).is_file():
        warnings.append(Problem(f"{trust.openpgpKeys}: no such file (ASCII-armoured OpenPGP public keys, in the repo)",
                                ("spec", "trust", "openpgpKeys"), ""))
    principals, bad = allowed_signers(text)
    problems = [Problem(message, (), str(file), line=line) for line, message in bad]
    # a warning: removing a revoked signer's key must be enough to stop them, at once
    problems += [Problem(f"{approver} is no principal of {trust.allowedSigners}: their approvals cannot count",
                         ("spec", "trust", "approvers", index), "", severity="warning")
                 for index, approver in enumerate(trust.approvers)
                 if approver not in principals and not approver.startswith(FORGE_IDENTITIES)]
    firsts = first_principals(text)
    problems += [Problem(f"{approver} is not the first principal of its line in {trust.allowedSigners}: git names a "
                         "signer by the first one, so their approvals cannot count; give them a line of their own",
                         ("spec", "trust", "approvers", index), "", severity="warning")
                 for index, approver in enumerate(trust.approvers) if approver in principals and approver not in firsts]
    return warnings + problems


def located(ws: Workspace, problem: Problem) -> Problem:
    """A problem from a check on files: in the policy, or in a repo file."""
    from waves.problems import POLICY

    if problem.source == POLICY:
        return _policy_problem(ws.loaded, problem)
    return _in_repo(ws.repo, problem)


def _source_problem(repo: Path, loaded: LoadedPolicy, policy, problem: Problem) -> Problem | None:
    """A problem with an inventory source as a whole (no such file, no file matches the
    glob) is located at the source in the policy: `spec.inventory[0].fleet`."""
    from dataclasses import replace

    if problem.line is not None:
        return None
    if problem.extra.get("hub") is not None:  # a live source that could not be listed: at its place in the policy
        index = problem.extra["source"]
        return loaded.locate(replace(problem, loc=("spec", "inventory", index, policy.spec.inventory[index].kind),
                                     source=str(loaded.path)))
    if problem.extra.get("live"):  # an object on the hub: named by the problem itself
        return problem
    for index, source in enumerate(policy.spec.inventory):
        if source.path is not None and source.path == problem.source and not (repo / source.path).is_file():
            located = replace(problem, message=f"{source.path}: {problem.message}" if source.path not in problem.message
                              else problem.message, loc=("spec", "inventory", index, source.kind), source=str(loaded.path))
            return loaded.locate(located)
    return None


def _in_repo(repo: Path, problem: Problem) -> Problem:
    from dataclasses import replace

    line = problem.line
    if line is None and problem.source and (repo / problem.source).is_file():
        line = 1  # the file as a whole is wrong (empty, binary, no such document): its first line
    return replace(problem, source=str(repo / problem.source) if problem.source else str(repo), line=line)


def _policy_problem(loaded: LoadedPolicy, problem: Problem) -> Problem:
    from dataclasses import replace

    return loaded.locate(replace(problem, source=str(loaded.path)))


def _ancestors(folder: str) -> list[str]:
    """`a/b/c` -> [a/b/c, a/b, a]: the folder and the folders above it, in the repo."""
    out = []
    while folder:
        out.append(folder)
        folder = folder.rpartition("/")[0]
    return out


def _folder_links(repo: Path, folders: set[str]) -> set[str]:
    """The pinned files' folders and the folders above them that are symbolic links, each
    told by its parent's listing (one per distinct parent: `apps/{cluster}/values.yaml`
    lists the repo's top and `apps`, not one lstat per folder)."""
    import os

    wanted: dict[str, set[str]] = {}  # parent -> the names in it on a pinned file's path
    seen: set[str] = set()
    for folder in folders:
        while folder and folder not in seen:
            seen.add(folder)
            parent, _, name = folder.rpartition("/")
            wanted.setdefault(parent, set()).add(name)
            folder = parent
    found: set[str] = set()
    for parent, names in wanted.items():
        prefix = parent + "/" if parent else ""
        try:
            with os.scandir(repo / parent) as listing:
                found.update(prefix + e.name for e in listing if e.name in names and e.is_symlink())
        except OSError:
            pass  # no such folder: the files in it are missing
    return found


def folder_link(repo: Path, file: str) -> str | None:
    """The outermost folder on `file`'s path that is a symbolic link in the work tree, or None."""
    folder = file.rpartition("/")[0]
    links = _folder_links(repo, {folder})
    return next((f for f in _ancestors(folder)[::-1] if f in links), None)


def first_few(items, shown: int = 3) -> str:
    """`a, b, c and 7 more`: a list said on one line of a sane length, whatever the fleet's size."""
    items = list(items)
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")


def pinned_under(files: dict[str, list[str]]) -> str:
    """`6 pinned files (a.yaml, b.yaml, c.yaml and 3 more; the pins for clusters a, b, c and 3
    more)`: the pinned files below a folder's link (file -> its clusters), the first few named."""
    from rollout.render.words import count

    names = sorted(files)
    clusters = list(dict.fromkeys(c for f in names for c in files[f]))
    whose = (f"the pin for cluster {clusters[0]}" if len(clusters) == 1 else
             f"the pins for clusters {first_few(clusters)}")
    return f"{count(len(names), 'pinned file')} ({first_few(names)}; {whose})"


def check_pin_files(repo: Path, plan) -> list[Problem]:
    """Every pin must point at a file that exists and is a file, not a symbolic link (its
    edit would be written as the link's target: git keeps the mode), in folders that are
    no symbolic links either (git keeps the link: a pin written through it commits, in the
    link's place, a folder of the pinned files alone, every other file of the folder gone
    from the branch): a plan that cannot be carried out is wrong. A folder's link is one
    problem naming the link, however many pinned files lie below it."""
    import os
    from itertools import repeat
    from operator import itemgetter

    files = [target.file for targets in plan.pins.values() for target in targets]
    # One directory listing per folder, not one stat per file; the folders found in C
    # (100,000 pins: ~25 ms instead of ~85): `folder/name` is there when the folder's
    # listing has `name` as a file, as an lstat would say; links are set apart.
    present: set[str] = set()
    links: set[str] = set()
    folders = set(map(itemgetter(0), map(str.rpartition, files, repeat("/"))))
    for folder in folders:
        prefix = folder + "/" if folder else ""
        try:
            with os.scandir(repo / folder) as listing:
                for entry in listing:
                    if entry.is_file(follow_symlinks=False):
                        present.add(prefix + entry.name)
                    elif entry.is_symlink():
                        links.add(prefix + entry.name)
        except OSError:
            pass  # no such folder (or not one): its files are missing
    folder_links = _folder_links(repo, folders)
    if not folder_links and present.issuperset(files):
        return []
    problems = []
    missing: dict[tuple[int, str], list[str]] = {}
    linked: dict[tuple[int, str], list[str]] = {}
    through: dict[str, dict[str, list[str]]] = {}  # link -> pinned file under it -> its clusters
    through_pin: dict[str, int] = {}  # link -> the first pin entry with a file under it
    link_above: dict[str, str | None] = {}  # folder -> the outermost link on its path
    for cluster, targets in plan.pins.items():
        for target in targets:
            folder = target.file.rpartition("/")[0]
            above = link_above.get(folder, "")
            if above == "":
                above = link_above[folder] = next((f for f in _ancestors(folder)[::-1] if f in folder_links), None)
            if above is not None:
                through.setdefault(above, {}).setdefault(target.file, []).append(cluster)
                through_pin[above] = min(through_pin.get(above, target.pin_index), target.pin_index)
            elif target.file in links:
                linked.setdefault((target.pin_index, target.file), []).append(cluster)
            elif target.file not in present:
                missing.setdefault((target.pin_index, target.file), []).append(cluster)
    for link, files in sorted(through.items()):  # one line per link, not per file: a fleet may be 10,000 below one
        problems.append(Problem(
            f"{repo / link}: a symbolic link (to {os.readlink(repo / link)}), not a folder, holding "
            f"{pinned_under(files)}: git keeps the link, and a pin written through it would put a folder of the "
            "pinned files alone in its place; pin the files in the folder it points to",
            ("spec", "pin", through_pin[link], "files")))
    many_linked, many_missing = _per_pin(linked), _per_pin(missing)
    collapsed = {("linked", i) for i, _ in many_linked} | {("missing", i) for i, _ in many_missing}
    for index, group in many_linked:  # many: one line for the pin entry, not one per file
        problems.append(Problem(
            f"{repo}: {pinned_under(group)}: symbolic links, not files: a pin is written into a file; pin the files "
            "they point to", ("spec", "pin", index, "files")))
    for (index, file), clusters in sorted(linked.items()):
        if ("linked", index) not in collapsed:
            problems.append(Problem(
                f"{repo / file}: a symbolic link (to {os.readlink(repo / file)}), not a file (the pin for cluster "
                f"{', '.join(clusters)}): a pin is written into a file; pin the file it points to",
                ("spec", "pin", index, "files")))
    for index, group in many_missing:  # a folder deleted: one line, not 10,000
        problems.append(Problem(f"{repo}: {pinned_under(group)}: files not found", ("spec", "pin", index, "files")))
    for (index, file), clusters in sorted(missing.items()):
        if ("missing", index) not in collapsed:
            problems.append(
                Problem(
                    f"{repo / file}: file not found (the pin for cluster {', '.join(clusters)})",
                    ("spec", "pin", index, "files"),
                )
            )
    return problems


ONE_BY_ONE = 10  # pinned files missing (or links) for one pin entry said one line each; more: one line for all


def _per_pin(found: dict[tuple[int, str], list[str]]) -> list[tuple[int, dict[str, list[str]]]]:
    """(pin index, file -> its clusters) of each pin entry with more than ONE_BY_ONE such files."""
    groups: dict[int, dict[str, list[str]]] = {}
    for (index, file), clusters in found.items():
        groups.setdefault(index, {})[file] = clusters
    return [(index, group) for index, group in sorted(groups.items()) if len(group) > ONE_BY_ONE]
