"""What a source deploys: its folder, followed through the kustomization graph.

From a root folder (an Application's `source.path`, a Flux Kustomization's `spec.path`, a
Fleet GitRepo path), every file kustomize would read is reached: `resources`, `bases`,
`components`, patch files (`patches[].path`, `patchesStrategicMerge`,
`patchesJson6902[].path`), generator files (`configMapGenerator` / `secretGenerator`
`files` and `envs`), `replacements[].path`, `crds`, `configurations`, `generators`,
`transformers`, `validators`, `openapi.path` and `helmCharts[].valuesFile`. Field names
are kustomize's own (kubernetes-sigs/kustomize, api/types/kustomization.go). A folder
without a kustomization file is deployed as plain manifests (Argo CD's directory
source; Flux generates a kustomization for it).

A reference that leaves the repository, names nothing, or closes a cycle is a problem
of its own: kustomize would fail on it, or worse, a controller would deploy something
nobody reviewed. Remote references (`github.com/org/repo//path?ref=...`) to another
repository are not followed; those that point back into this one are.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from rollout.targeting.files import RepoFiles
from rollout.yamlfile import YamlError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
IDENTITY = "cluster-identity"

# Entries that name a file or a kustomization folder, by where they are in a kustomization.
_FOLDER_OR_FILE = ("resources", "bases", "components", "generators", "transformers", "validators")
_FILE_LISTS = ("patchesStrategicMerge", "crds", "configurations")
_PATH_LISTS = ("patches", "patchesJson6902", "replacements")
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|[a-z0-9-]+(?:\.[a-z0-9-]+)+/)", re.IGNORECASE)


@dataclass(frozen=True)
class Link:
    """`file` (a kustomization, or the pinned manifest for a root) names `target` at
    `loc` in document `doc`, written as `ref`."""

    file: str
    doc: int
    loc: tuple
    ref: str
    target: str


@dataclass(frozen=True)
class Generator:
    """A `cluster-identity` ConfigMap (generated or plain), with its literal values."""

    file: str
    doc: int
    loc: tuple
    literals: dict[str, str]
    behavior: str = "create"  # kustomize's: an overlay's `merge` / `replace` overrides what it includes


@dataclass(frozen=True)
class GraphProblem:
    file: str
    doc: int
    loc: tuple
    message: str
    line: int | None = None  # when known without a parse with positions (broken YAML)
    key: object = None  # what makes two findings one problem (a cycle, whichever edge closed it)


@dataclass
class Reach:
    """Everything one root deploys: each file with the link that first reached it."""

    root: Link
    files: dict[str, Link] = field(default_factory=dict)
    generators: list[Generator] = field(default_factory=list)
    problems: list[GraphProblem] = field(default_factory=list)

    def chain(self, file: str) -> list[Link]:
        """The links from the root to `file`, root first."""
        out, seen = [], set()
        link = self.files.get(file)
        while link is not None and link.target not in seen:
            seen.add(link.target)
            out.append(link)
            link = self.files.get(link.file) if link is not self.root else None
        return out[::-1]


class Graph:
    """Kustomization edges and identity generators, computed once per file per run."""

    def __init__(self, files: RepoFiles, ours: frozenset[str] = frozenset()):
        self.files = files
        self.ours = ours  # repo_key()s of this repository: remote bases that point back here are followed
        self._edges: dict[str, tuple[list[Link], list[GraphProblem]]] = {}
        self._generators: dict[str, list[Generator]] = {}

    def walk(self, root: Link, recurse: bool = False, extras: tuple = ()) -> Reach:
        """Follow `root.target` (a folder, or a kustomization file's folder), and the
        `extras` the source itself adds (sources.Extra: Argo CD's kustomize components
        and Helm value files)."""
        reach = self._walk_root(root, recurse)
        for extra in extras:
            link, problem = self.resolve(root.file, root.doc, extra.loc, extra.ref, extra.target, extra.folder)
            if problem is not None:
                reach.problems.append(problem)
            elif link.target not in reach.files:
                if posixpath.basename(link.target) in KUSTOMIZATION_FILES:
                    reach.files[link.target] = link
                    self._walk(reach, link.target)
                else:
                    self._reached(reach, link)
        return reach

    def _walk_root(self, root: Link, recurse: bool) -> Reach:
        reach = Reach(root)
        folder = root.target
        if folder is None:  # no folder of this repository: only the extras
            return reach
        if not self.files.inside(folder):
            reach.problems.append(GraphProblem(root.file, root.doc, root.loc, f"{root.ref}: outside the repository"))
            return reach
        if not self.files.is_dir(folder):
            what = "is a file, not a folder" if self.files.is_file(folder) else "no such folder in the repository"
            reach.problems.append(GraphProblem(root.file, root.doc, root.loc, f"{root.ref}: {what}"))
            return reach
        kustomization = kustomization_in(self.files, folder)
        if kustomization is None:
            for file in self._plain_manifests(folder, recurse):
                self._reached(reach, Link(root.file, root.doc, root.loc, root.ref, file))
            return reach
        reach.files[kustomization] = Link(root.file, root.doc, root.loc, root.ref, kustomization)
        self._walk(reach, kustomization)
        return reach

    def _walk(self, reach: Reach, start: str) -> None:
        """Depth first, without recursion (no depth limit): an edge back to a
        kustomization on the current path is a cycle; one reached before is a diamond."""
        path, on_path = [start], {start}
        pending = [iter(self._enter(reach, start))]
        while pending:
            link = next(pending[-1], None)
            if link is None:
                pending.pop()
                on_path.discard(path.pop())
                continue
            if link.target in on_path:
                loop = path[path.index(link.target):]
                shown = loop + [link.target]
                if len(shown) > 8:  # one line, however long the loop
                    shown = shown[:4] + [f"... {len(shown) - 7} more"] + shown[-3:]
                reach.problems.append(GraphProblem(link.file, link.doc, link.loc,
                                                   f"{link.ref}: a cycle: {' -> '.join(shown)}", key=frozenset(loop)))
            elif link.target in reach.files:
                continue
            elif posixpath.basename(link.target) in KUSTOMIZATION_FILES:
                reach.files[link.target] = link
                path.append(link.target)
                on_path.add(link.target)
                pending.append(iter(self._enter(reach, link.target)))
            else:
                self._reached(reach, link)

    def _enter(self, reach: Reach, kustomization: str) -> list[Link]:
        edges, problems = self.edges(kustomization)
        reach.problems += problems
        reach.generators += self.generators(kustomization)
        return edges

    def _reached(self, reach: Reach, link: Link) -> None:
        if link.target not in reach.files:
            reach.files[link.target] = link
            reach.generators += self.generators(link.target)

    def _plain_manifests(self, folder: str, recurse: bool) -> list[str]:
        out = []
        for name in self.files.listing(folder):
            path = posixpath.join(folder, name) if folder != "." else name
            if name.endswith(MANIFEST_SUFFIXES) and self.files.is_file(path):
                out.append(path)
            elif recurse and not name.startswith(".") and self.files.is_dir(path):
                out += self._plain_manifests(path, recurse)
        return out

    # --- one kustomization's edges ----------------------------------------------------

    def edges(self, kustomization: str) -> tuple[list[Link], list[GraphProblem]]:
        if kustomization not in self._edges:
            self._edges[kustomization] = self._read_edges(kustomization)
        return self._edges[kustomization]

    def _read_edges(self, kustomization: str) -> tuple[list[Link], list[GraphProblem]]:
        docs = self.files.documents(kustomization)
        if isinstance(docs, YamlError):
            return [], [GraphProblem(kustomization, 0, (), docs.message, docs.line)]
        if not docs or not isinstance(docs[0], dict):
            return [], []
        folder = posixpath.dirname(kustomization) or "."
        links, problems = [], []
        for key in _FOLDER_OR_FILE + _FILE_LISTS + _PATH_LISTS + ("configMapGenerator", "secretGenerator", "helmCharts"):
            if docs[0].get(key) is not None and not isinstance(docs[0][key], list):
                problems.append(GraphProblem(kustomization, 0, (key,), "must be a list, as kustomize reads it"))
        for loc, ref, folders_too in _references(docs[0]):
            link, problem = self._resolve(kustomization, folder, loc, ref, folders_too)
            if link is not None:
                links.append(link)
            if problem is not None:
                problems.append(problem)
        return links, problems

    def _resolve(self, kustomization: str, folder: str, loc: tuple, ref: str, folders_too: bool):
        target = posixpath.normpath(posixpath.join(folder, ref))
        if ref.startswith("/"):
            return None, GraphProblem(kustomization, 0, loc, f"{ref}: outside the repository")
        local = self.files.inside(target) and (self.files.is_file(target) or self.files.is_dir(target))
        if folders_too and not local and _REMOTE.match(ref):
            return self._remote(kustomization, loc, ref)
        return self.resolve(kustomization, 0, loc, ref, target, folders_too)

    def resolve(self, file: str, doc: int, loc: tuple, ref: str, target: str, folders_too: bool):
        """(link, None) to the file, or to the kustomization of the folder, `target` names;
        else (None, the problem)."""
        if not self.files.inside(target):
            return None, GraphProblem(file, doc, loc, f"{ref}: outside the repository")
        if self.files.is_file(target):
            return Link(file, doc, loc, ref, target), None
        if self.files.is_dir(target):
            if not folders_too:
                return None, GraphProblem(file, doc, loc, f"{ref}: a folder, where a file is needed")
            inner = kustomization_in(self.files, target)
            if inner is None:
                return None, GraphProblem(file, doc, loc, f"{ref}: the folder has no kustomization.yaml")
            return Link(file, doc, loc, ref, inner), None
        return None, GraphProblem(file, doc, loc, f"{ref}: no such file or folder")

    def _remote(self, kustomization: str, loc: tuple, ref: str):
        """A remote base: another repository's files are not followed; this one's are
        (else `https://.../fleet-config//clusters/prod-us-east` would slip past every check)."""
        from rollout.targeting.urls import repo_key, split_remote

        split = split_remote(ref)
        if split is None or repo_key(split[0]) not in self.ours:
            return None, None
        target = posixpath.normpath(split[1])
        if not self.files.inside(target):
            return None, GraphProblem(kustomization, 0, loc, f"{ref}: outside the repository")
        inner = kustomization_in(self.files, target) if self.files.is_dir(target) else None
        if inner is None:
            return None, GraphProblem(kustomization, 0, loc, f"{ref}: no folder with a kustomization.yaml at "
                                                            f"{target} in this repository")
        return Link(kustomization, 0, loc, ref, inner), None

    # --- cluster-identity generators ------------------------------------------------

    def generators(self, file: str) -> list[Generator]:
        if file not in self._generators:
            self._generators[file] = self._read_generators(file)
        return self._generators[file]

    def _read_generators(self, file: str) -> list[Generator]:
        text = self.files.text(file)
        if isinstance(text, YamlError) or IDENTITY not in text:  # cheap: most files never name it
            return []
        docs = self.files.documents(file)
        if isinstance(docs, YamlError):
            return []
        out = []
        kustomization = posixpath.basename(file) in KUSTOMIZATION_FILES
        for d, doc in enumerate(docs):
            if not isinstance(doc, dict):
                continue
            if kustomization:
                for g, generator in enumerate(_list(doc.get("configMapGenerator"))):
                    if isinstance(generator, dict) and generator.get("name") == IDENTITY:
                        behavior = generator.get("behavior") if generator.get("behavior") in ("merge", "replace") \
                            else "create"
                        out.append(Generator(file, d, ("configMapGenerator", g), self._literals(file, generator),
                                             behavior))
            elif doc.get("kind") == "ConfigMap" and isinstance(doc.get("metadata"), dict) \
                    and doc["metadata"].get("name") == IDENTITY and isinstance(doc.get("data"), dict):
                out.append(Generator(file, d, ("data",), {str(k): str(v) for k, v in doc["data"].items()}))
        return out

    def _literals(self, file: str, generator: dict) -> dict[str, str]:
        literals: dict[str, str] = {}
        folder = posixpath.dirname(file) or "."
        envs = _list(generator.get("envs")) + ([generator["env"]] if isinstance(generator.get("env"), str) else [])
        for env in envs:  # KEY=VALUE lines; literals below win, as in kustomize
            path = posixpath.normpath(posixpath.join(folder, str(env)))
            text = self.files.text(path) if self.files.inside(path) else None  # outside: a problem of its own
            if isinstance(text, str):
                for line in text.splitlines():
                    key, sep, value = line.strip().partition("=")
                    if sep and key and not key.startswith("#"):
                        literals[key] = value
        for literal in _list(generator.get("literals")):
            key, _, value = str(literal).partition("=")
            literals[key] = value.strip().strip("\"'") if value[:1] in "\"'" else value
        return literals


def kustomization_in(files: RepoFiles, folder: str) -> str | None:
    names = files.listing(folder)
    for name in KUSTOMIZATION_FILES:
        if name in names:
            return posixpath.join(folder, name) if folder != "." else name
    return None


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _inline(ref: str) -> bool:
    """Inline YAML (a patch or a generator config written in place) is not a path."""
    text = ref.strip()
    return "\n" in text or text.startswith("{") or text.startswith("apiVersion:") or ": " in text


def _references(doc: dict):
    """(loc, ref, may name a folder) for every file a kustomization names."""
    for key in _FOLDER_OR_FILE:
        for i, ref in enumerate(_list(doc.get(key))):
            if isinstance(ref, str) and not _inline(ref):
                yield (key, i), ref, True
    for key in _FILE_LISTS:
        for i, ref in enumerate(_list(doc.get(key))):
            if isinstance(ref, str) and not _inline(ref):
                yield (key, i), ref, False
    for key in _PATH_LISTS:
        for i, item in enumerate(_list(doc.get(key))):
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                yield (key, i, "path"), item["path"], False
    for key in ("configMapGenerator", "secretGenerator"):
        for g, generator in enumerate(_list(doc.get(key))):
            if not isinstance(generator, dict):
                continue
            for f, entry in enumerate(_list(generator.get("files"))):
                if isinstance(entry, str):  # `key=path` or `path`
                    yield (key, g, "files", f), entry.partition("=")[2] or entry, False
            for e, entry in enumerate(_list(generator.get("envs"))):
                if isinstance(entry, str):
                    yield (key, g, "envs", e), entry, False
            if isinstance(generator.get("env"), str):
                yield (key, g, "env"), generator["env"], False
    openapi = doc.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        yield ("openapi", "path"), openapi["path"], False
    for i, chart in enumerate(_list(doc.get("helmCharts"))):
        if isinstance(chart, dict) and isinstance(chart.get("valuesFile"), str):
            yield ("helmCharts", i, "valuesFile"), chart["valuesFile"], False
