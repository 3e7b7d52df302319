"""The fleet inventory: clusters and their labels, read from one or more sources (files in
the repo, or LISTs on a hub: rollout/inventory/hub.py) and merged by cluster name.

Two sources that give one cluster different values for one label (or different servers)
is an error naming both files: conflicting identity is how the wrong cluster gets the
wrong configuration.
"""

from __future__ import annotations

import re
from dataclasses import replace
from operator import attrgetter
from sys import intern
from pathlib import Path

from waves.inventory import Cluster
from waves.problems import Problem
from waves.selectors import label_key_problem, label_value_problem
from rollout.inventory import (argocd_secrets, cluster_api, cluster_profiles, fleet, kustomize_clusters,
                               managed_clusters, rancher_fleet)
from rollout.hubs import client as connected
from rollout.inventory.duplicates import ARGOCD_SECRETS, duplicates
from rollout.inventory.entries import Entry, kind_of
from rollout.targeting.urls import server_key
from rollout.yamlfile import Located, YamlError, read_text, yaml11_only_nontext

READERS = {
    "fleet": fleet.read,
    "argocdClusterSecrets": argocd_secrets.read,
    "clusterAPI": cluster_api.read,
    "kustomizeClusters": kustomize_clusters.read,
}


LIVE_READERS = {
    "clusterProfiles": cluster_profiles.read_live,
    "managedClusters": managed_clusters.read_live,
    "clusterAPI": cluster_api.read_live,
    "argocdClusterSecrets": argocd_secrets.read_live,
    "fleetClusters": lambda listed, spec: rancher_fleet.read_live(listed, spec.agentCheckinInterval),
}


def load_inventory(repo: Path, sources: list[tuple[str, object]], hub=None,
                   listed: list | None = None) -> tuple[list[Cluster], list[Problem]]:
    """`sources` are (kind, path or glob) pairs, or (kind, waves.policy.HubSource) for a
    live source, listed through `hub` (a rollout.observers.kube.Kube; default: the one
    rollout.hubs.connect set). Returns clusters sorted by name and every problem
    found, each located at its file and line; a hub that cannot be read is one problem
    (extra: `hub`, the source's index) naming the context and the source. `listed` gets
    each live source's rollout.inventory.hub.Listed (its digest worked out when asked)."""
    problems: list[Problem] = []
    entries: list[Entry] = []
    read: list[tuple[str, list[Entry]]] = []  # (kind, its entries) per source, in order
    lists = []
    for index, (kind, spec) in enumerate(sources):
        if isinstance(spec, str):
            result = READERS[kind](repo, spec)
        else:
            from rollout.inventory import hub as hubs  # a fleet of files never lists (~2 ms of every plan)

            hub = hub if hub is not None else connected()
            got = hubs.fetch(hub, kind, spec)
            lists.append(got)
            if got.error:
                problems.append(Problem(got.error, (), "", extra={"hub": got, "source": index}))
                continue
            result = LIVE_READERS[kind](got, spec) if kind == "fleetClusters" else LIVE_READERS[kind](got)
            got.entries, got.count = result.entries, len(got.items)
        problems += result.problems
        entries += result.entries
        read.append((kind, result.entries))
    for got in lists:
        got.rows = [(e.name, e.server, e.labels, e.down) for e in got.entries]  # its digest, when a record asks
        got.entries = []
    if listed is not None:
        listed += lists

    parsed = _LocatedFiles(repo)
    suspicious: list[tuple[Entry, str]] = []
    shared: set[int] = set()  # ids of the checked label mappings clusters share (_check_entries)
    problems += _check_entries(entries, suspicious, shared)
    problems += _check_plain(parsed, suspicious)
    problems += duplicates(read, parsed.line_of)

    names = [entry.name for entry in entries]
    if len(set(names)) == len(names):  # the usual inventory: no cluster named twice, nothing to merge
        files: dict[str, tuple[str, ...]] = {}  # one tuple per file, not per cluster
        made = [Cluster(entry.name, entry.labels if id(entry.labels) in shared else _labels(entry.labels, shared),
                        entry.server, files.get(entry.file) or files.setdefault(entry.file, (entry.file,)), entry.down)
                for entry in entries]
        made.sort(key=attrgetter("name"))
        return made, [parsed.locate(p) for p in problems]

    clusters: dict[str, Cluster] = {}
    origin: dict[str, Entry] = {}
    kind_of = None  # id(entry) -> its source kind, when one cluster is named twice
    for entry in entries:
        labels = _labels(entry.labels, shared)
        known = clusters.get(entry.name)
        if known is None:
            clusters[entry.name] = Cluster(entry.name, labels, entry.server, (entry.file,), entry.down)
            origin[entry.name] = entry
            continue
        first = origin[entry.name]
        if first.file == entry.file:
            problems.append(_at(entry, entry.loc, f"cluster {entry.name} is listed twice in this "
                                                  + ("source" if entry.live else "file")))
            continue
        if kind_of is None:
            kind_of = {id(entry): kind for kind, group in read for entry in group}
        if kind_of[id(first)] == kind_of[id(entry)] == ARGOCD_SECRETS:
            continue  # one Argo CD cluster name in two Secrets: duplicates() says so; nothing to merge
        merged = dict(known.labels)
        for key, value in labels.items():
            if key in merged and merged[key] != value:
                problems.append(
                    _at(
                        entry,
                        entry.labels_loc + (key,),
                        f"cluster {entry.name}: label {key}={value} here but {key}={merged[key]} in {_named(first)}",
                    )
                )
            merged[key] = value
        server = known.server
        if entry.server and server and server_key(entry.server) != server_key(server):
            problems.append(
                _at(entry, entry.loc, f"cluster {entry.name}: server {entry.server} here but {server} in {_named(first)}")
            )
        down = "; ".join(d for d in (known.down, entry.down) if d) or None  # down by any source is down
        clusters[entry.name] = Cluster(entry.name, merged, server or entry.server, known.sources + (entry.file,), down)
    return [clusters[name] for name in sorted(clusters)], [parsed.locate(p) for p in problems]


def _labels(labels: dict, shared: set[int]) -> dict:
    """A cluster's labels: the checked mapping it shares with every cluster of the same
    labels (_check_entries), else its text labels (each other label is a problem of its own)."""
    if id(labels) in shared:
        return labels
    try:  # one copy of each label key and value, not one per cluster
        return {intern(k): intern(v) for k, v in labels.items()}
    except TypeError:  # not all text
        return {k: v for k, v in labels.items() if isinstance(v, str) and isinstance(k, str)}


def _at(entry: Entry, loc: tuple, message: str) -> Problem:
    if entry.live:
        return Problem(message, loc, entry.what, extra={"live": True})
    return Problem(message, loc, entry.file, extra={"doc": entry.doc})


def _named(entry: Entry) -> str:
    """Where an entry came from, in a message about another: its file or its hub object."""
    return entry.what if entry.live else entry.file


_CLUSTER_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_SUSPICIOUS = object()  # text that YAML 1.1 readers take for a boolean or a number: _check_plain looks closer


def _check_entries(entries: list[Entry], suspicious: list, shared: set[int]) -> list[Problem]:
    """Every entry's name and labels checked, in order. A fleet of 100,000 clusters has a
    few dozen distinct label mappings: each all-text mapping is checked once, and its
    entries then share one interned copy of it (`entry.labels` is replaced by it; its id
    goes into `shared`): ~20 MB less at 100,000 clusters, and a plan that decides per
    distinct mapping (waves/planner.py)."""
    problems: list[Problem] = []
    checked: dict = {}  # (label key, type, value) -> its problem, _SUSPICIOUS or None
    verdicts: dict[tuple, tuple[dict, list]] = {}  # an all-text mapping's items -> (the copy, its findings)
    names_ok = _all_names([entry.name for entry in entries])
    for entry in entries:
        if not names_ok:
            problems += _name_problems(entry)
        labels = entry.labels
        try:
            items = tuple(labels.items())
            verdict = verdicts.get(items)
        except TypeError:  # a list or a mapping as a value: checked on its own, below
            items, verdict = None, None
        if verdict is None:
            findings = _label_findings(labels, checked)
            # only text: equal items are then the same labels (True == 1, but not "1")
            if items is not None and all(type(k) is str and type(v) is str for k, v in items):
                copy = {intern(k): intern(v) for k, v in items}
                shared.add(id(copy))
                verdict = verdicts[items] = (copy, findings)
            else:
                verdict = (labels, findings)
        entry.labels = verdict[0]
        for key, found in verdict[1]:
            if found is _SUSPICIOUS:
                if not entry.live:  # a hub's JSON labels are text as typed
                    suspicious.append((entry, key))
            else:
                problems.append(_at(entry, entry.labels_loc + (key,), found))
    return problems


def _label_findings(labels: dict, checked: dict) -> list[tuple[object, object]]:
    """[(label key, its problem's message or _SUSPICIOUS)] of one mapping, in order."""
    findings = []
    for key, value in labels.items():
        if isinstance(value, (list, dict, set)):  # the label checks below are cached: hashing comes first
            findings.append((key, f"expected text, got {kind_of(value)}"))
            continue
        pair = (key, type(value), value)  # the type too: True == 1, but they are different problems
        found = checked.get(pair, checked)
        if found is checked:
            problem = label_key_problem(key) or label_value_problem(value)
            found = checked[pair] = problem or (_SUSPICIOUS if yaml11_only_nontext(value) else None)
        if found is _SUSPICIOUS:
            findings.append((key, _SUSPICIOUS))
        elif found:
            findings.append((key, f"label {key}: {found}"))
    return findings


_ALL_NAMES = re.compile(r"(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?\n)*+[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?")


def _all_names(names: list[str]) -> bool:
    """True when every one is a cluster name, in one regex pass; False tells nothing."""
    try:
        joined = "\n".join(names)
    except TypeError:
        return False
    return (bool(names) and joined.count("\n") == len(names) - 1 and max(map(len, names)) <= 253
            and _ALL_NAMES.fullmatch(joined) is not None)


def _name_problems(entry: Entry) -> list[Problem]:
    if _CLUSTER_NAME.fullmatch(entry.name) and len(entry.name) <= 253:
        return []
    return [_at(entry, entry.loc + ("name",) if entry.loc else entry.loc,
                f"{entry.name!r} is not a cluster name (lower-case letters, digits, '-', '.')")]


def _check_plain(parsed: "_LocatedFiles", suspicious: list[tuple[Entry, str]]) -> list[Problem]:
    """`region: no` is text to YAML 1.2 (and yaml-rs) but the boolean false to YAML 1.1
    readers such as Kubernetes: unquoted, it is an error; quoted, it is fine. yaml-rs
    does not say which, so look at the text: when every occurrence of `key: value` is
    quoted, and there are as many as there are such labels, they are all quoted (a
    correctly quoted `country: "no"` in a 10,000-cluster file then costs ~1 ms instead
    of a re-parse with positions, ~0.4 s); anything else is settled by that re-parse."""
    problems = []
    groups: dict[tuple[str, str, str], list[Entry]] = {}
    for entry, key in suspicious:
        groups.setdefault((entry.file, key, entry.labels[key]), []).append(entry)
    for (file, key, value), entries in groups.items():
        text = parsed.text(file)
        if text is not None:
            plain, quoted = _occurrences(text, key, value)
            if plain == 0 and quoted >= len(entries):
                continue
        located = parsed.get(file)
        for entry in entries:
            scalar = located.scalar(entry.labels_loc + (key,), entry.doc) if located else None
            if scalar is None or scalar.plain:
                problems.append(
                    _at(entry, entry.labels_loc + (key,),
                        f"label {key}: YAML 1.1 readers (Kubernetes, Argo CD) read {value} as a boolean or number, "
                        f"not text; quote it: \"{value}\"")
                )
    return problems


def _occurrences(text: str, key: str, value: str) -> tuple[int, int]:
    """(plain, quoted) occurrences of `key: value` outside comments, in block or flow style."""
    import re

    pattern = re.compile(
        r"""(?:^|[\s{,])["']?""" + re.escape(key) + r"""["']?[ \t]*:[ \t]+(["']?)""" + re.escape(value)
        + r"""\1(?=[ \t]*(?:#.*)?$|[ \t]*[,}])""",
        re.MULTILINE,
    )
    plain = quoted = 0
    for match in pattern.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if text[line_start : match.start() + 1].lstrip().startswith("#"):
            continue
        if match.group(1):
            quoted += 1
        else:
            plain += 1
    return plain, quoted


class _LocatedFiles:
    """Files parsed with positions, each at most once, only when a problem needs a line."""

    def __init__(self, repo: Path):
        self.repo = repo
        self.cache: dict[str, Located | None] = {}
        self.texts: dict[str, str | None] = {}

    def text(self, file: str) -> str | None:
        if file not in self.texts:
            try:
                self.texts[file] = read_text(self.repo / file)
            except YamlError:
                self.texts[file] = None
        return self.texts[file]

    def get(self, file: str) -> Located | None:
        if file not in self.cache:
            text = self.text(file)
            try:
                self.cache[file] = None if text is None else Located.parse(file, text)
            except YamlError:
                self.cache[file] = None
        return self.cache[file]

    def line_of(self, entry: Entry, loc: tuple) -> int | None:
        if entry.live:
            return None
        located = self.get(entry.file)
        return located.line(loc, entry.doc) if located else None

    def locate(self, problem: Problem) -> Problem:
        if problem.line is None and problem.source and not problem.extra.get("live") \
                and not problem.extra.get("hub") and (self.repo / problem.source).is_file():
            located = self.get(problem.source)
            line = located.line(problem.loc, problem.extra.get("doc", 0)) if located is not None else None
            # Nothing better (an empty or unreadable file, a wrong kind of document): line 1.
            problem = replace(problem, line=line or 1)
        return problem
