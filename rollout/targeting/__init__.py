"""Targeting safety: what a cluster's pinned source deploys must be that cluster's own.

`check()` finds where each pinned document's configuration comes from (rollout/targeting/
sources.py), follows the ones in this repository through the kustomization graph
(graph.py), and runs every registered check (checks/, one module each) on the result.
Problems name the cluster and sit on the line that links it to the wrong configuration.
docs/git-engine.md ("Targeting safety") explains each check.
"""

from __future__ import annotations

import posixpath
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from waves.problems import POLICY, Problem
from waves.templates import MissingLabel, render_path


@dataclass(frozen=True)
class Source:
    """One source of one cluster's pinned document: followed (`reach` set) or not (`reason`)."""

    cluster: str
    file: str | None  # the pinned file; None for a cluster folder from identity.sourcePath
    doc: int
    kind: str
    repo_url: str | None
    path: str | None
    loc: tuple
    reach: object | None = None  # graph.Reach
    reason: str | None = None

    @property
    def followed(self) -> bool:
        return self.reach is not None

    @property
    def root(self) -> str:
        return normal_path(self.path or ".")

    def as_dict(self) -> dict:
        out = {"cluster": self.cluster, "file": self.file, "kind": self.kind, "repoURL": self.repo_url,
               "path": self.path}
        if self.reach is not None:
            out["files"] = len(self.reach.files)
        else:
            out["reason"] = self.reason
        return out


@dataclass
class Context:
    """What every check sees."""

    repo: Path
    policy: object  # waves.policy.RolloutPolicy
    clusters: dict  # every inventory cluster by name (waves.inventory.Cluster)
    wanted: list  # the clusters being checked
    pins: dict[str, list]  # cluster -> its PinTargets (waves.planner)
    sources: list[Source]
    files: object  # files.RepoFiles
    _owners: dict[str, str] | None = None

    @property
    def identity(self):
        return self.policy.spec.identity

    def followed(self) -> list[Source]:
        return [s for s in self.sources if s.followed]

    def owners(self) -> dict[str, str]:
        """Folder -> the one cluster it belongs to: from identity.sourcePath, the folder
        of identity.files, else a folder named after the cluster that its followed source
        deploys. A folder that two clusters claim is shared, and belongs to neither."""
        if self._owners is None:
            templates = []
            if self.identity is not None:
                if self.identity.sourcePath:
                    templates.append(self.identity.sourcePath)
                if self.identity.files and "{" in posixpath.dirname(self.identity.files):
                    templates.append(posixpath.dirname(self.identity.files))
            claims: dict[str, set[str]] = {}
            for template in templates:
                for cluster in self.clusters.values():
                    try:
                        folder = normal_path(render_path(template, cluster.name, cluster.labels))
                    except MissingLabel:  # or empty (EmptyLabel): `clusters/` is no one cluster's folder
                        continue
                    claims.setdefault(folder, set()).add(cluster.name)
            owners = {folder: next(iter(names)) for folder, names in claims.items() if len(names) == 1}
            deployed: dict[str, set[str]] = {}  # weaker: never overrides what the policy states
            for source in self.followed():
                # `clusters/prod-eu-west` for prod-eu-west, not `apps/monitoring` that one
                # cluster happens to deploy directly and others include as a base
                if source.cluster in source.root.split("/") and source.root not in claims:
                    deployed.setdefault(source.root, set()).add(source.cluster)
            owners |= {folder: next(iter(names)) for folder, names in deployed.items() if len(names) == 1}
            self._owners = owners
        return self._owners

    def owner_of(self, path: str) -> tuple[str, str] | None:
        """(cluster, its folder) when `path` is inside a folder that belongs to one cluster."""
        owners = self.owners()
        probe = normal_path(path)
        while True:
            if probe in owners:
                return owners[probe], probe
            if probe in (".", "") or "/" not in probe:
                return None
            probe = posixpath.dirname(probe)

    def crossing(self, reach, file: str, other: str | None):
        """The link by which a source entered `other`'s folder on its way to `file`
        (the line to fix), else the link that reached `file` itself."""
        chain = reach.chain(file)
        if other is not None:
            for link in chain:
                found = self.owner_of(link.target)
                if found and found[0] == other:
                    return link
        return chain[-1]

    def problem(self, cluster: str, file: str, doc: int, loc: tuple, message: str) -> Problem:
        if file == POLICY:
            return Problem(message, loc, POLICY, extra={"cluster": cluster})
        return Problem(message, loc, file, line=self.files.line(file, loc, doc), extra={"cluster": cluster})

    def at_link(self, cluster: str, link, message: str) -> Problem:
        return self.problem(cluster, link.file, link.doc, link.loc, message)


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"followed": [s.as_dict() for s in self.sources if s.followed],
                "notFollowed": [s.as_dict() for s in self.sources if not s.followed]}


def normal_path(path: str) -> str:
    return posixpath.normpath(path.strip().lstrip("/") or ".")


def check(repo: Path, policy, plan, wanted: list, inventory: list | None = None, documents=None) -> Report:
    """`wanted`: the clusters to check (waves.inventory.Cluster); `inventory`: every
    cluster (default: the plan's); `documents(cluster, pin_index) -> (file, docs, index)`
    gives the pinned document each cluster's pin edits, or None when it has none."""
    from rollout.targeting.checks import CHECKS
    from rollout.targeting.files import RepoFiles
    from rollout.targeting.graph import Graph

    files = RepoFiles(repo)
    clusters = {c.name: c for c in (inventory if inventory is not None else plan.targets)}
    ctx = Context(repo, policy, clusters, wanted, plan.pins, [], files)
    ours, described = _this_repository(ctx)
    ctx.sources = _sources(ctx, Graph(files, frozenset(ours)), documents, ours, described)
    report = Report(sources=ctx.sources)
    seen: set[tuple] = set()
    for name, run in CHECKS.items():
        for problem in run(ctx):
            # One line per place: a link that breaks two rules is shown by the first.
            key = (problem.extra.get("cluster"), problem.source, problem.line, problem.loc)
            if key not in seen:
                seen.add(key)
                report.problems.append(problem)
    return report


def _sources(ctx: Context, graph, documents, ours: set[str], described: str) -> list[Source]:
    from rollout.targeting.graph import Link
    from rollout.targeting.sources import READERS
    from rollout.targeting.urls import repo_key

    out: list[Source] = []
    identity = ctx.identity
    for cluster in ctx.wanted:
        first = len(out)  # this cluster's sources start here
        has_sourceless_pin = False
        done: set[tuple[str, int]] = set()
        for target in ctx.pins.get(cluster.name, []):
            pin = ctx.policy.spec.pin[target.pin_index]
            reader = READERS.get(pin.preset)
            if reader is None:
                has_sourceless_pin = True
                continue
            found = documents(cluster.name, target.pin_index) if documents else None
            if found is None or (found[0], found[2]) in done:
                continue
            file, docs, index = found
            done.add((file, index))
            for ref in reader(docs, index):
                base = Source(cluster.name, file, index, ref.kind, ref.repo_url, ref.path, ref.loc)
                own_extras = [e for e in ref.extras if e.repo_url is not None and repo_key(e.repo_url) in ours]
                if ref.why_not:
                    reason = ref.why_not
                elif ref.path is None and own_extras:  # a chart elsewhere, values from this repository
                    root = Link(file, index, ref.loc, ref.repo_url or "", None)
                    out.append(_replace(base, reach=graph.walk(root, False, tuple(own_extras))))
                    continue
                elif ref.repo_url is None:
                    reason = "no repository URL"
                elif repo_key(ref.repo_url) not in ours:
                    reason = f"{ref.repo_url} is not this repository ({described})"
                else:
                    extras = tuple(e for e in ref.extras if e.repo_url is None or repo_key(e.repo_url) in ours)
                    root = Link(file, index, ref.loc, ref.path, None if ref.path is None else normal_path(ref.path))
                    out.append(_replace(base, reach=graph.walk(root, ref.recurse, extras)))
                    continue
                out.append(_replace(base, reason=reason))
        followed_any = any(s.followed for s in out[first:])
        if identity is not None and identity.sourcePath and has_sourceless_pin and not followed_any:
            try:
                folder = render_path(identity.sourcePath, cluster.name, cluster.labels)
            except MissingLabel:  # an empty label too (EmptyLabel)
                continue  # reported by the sourcePath check
            root = Link(POLICY, 0, ("spec", "identity", "sourcePath"), folder, normal_path(folder))
            out.append(Source(cluster.name, None, 0, "sourcePath", None, folder, root.loc,
                              reach=graph.walk(root, recurse=True)))
    return out


def _replace(source: Source, **changes) -> Source:
    from dataclasses import replace

    return replace(source, **changes)


def _this_repository(ctx: Context) -> tuple[set[str], str]:
    """The normalised URLs that mean this repository, and how they were found."""
    from rollout.targeting.urls import repo_key

    listed = ctx.policy.spec.sourceRepos
    if listed is not None:
        return {repo_key(u) for u in listed}, "spec.sourceRepos"
    origin = origin_url(ctx.repo)
    if origin is None:
        return set(), "no spec.sourceRepos and no origin remote"
    return {repo_key(origin)}, f"the origin remote is {origin}; spec.sourceRepos lists others"


def origin_url(repo: Path) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), "config", "--get", "remote.origin.url"],
                              capture_output=True, text=True, check=False)
    except OSError:
        return None
    url = done.stdout.strip()
    if not url:
        return None
    if "://" not in url and ":" not in url.split("/")[0] and not Path(url).is_absolute():
        url = str((repo / url).resolve())  # git resolves a relative remote from the repo
    return url
