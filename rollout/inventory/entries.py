"""What every inventory source yields: a cluster as one file (or one object on a hub)
describes it."""

from __future__ import annotations

from dataclasses import dataclass, field

from waves.problems import Loc, Problem


@dataclass(slots=True)  # one per cluster: 100,000 of them at once, without a __dict__ each
class Entry:
    name: str
    file: str  # repo-relative path
    doc: int  # document index in the file
    loc: Loc  # path to the cluster inside that document
    labels: dict = field(default_factory=dict)  # raw, checked later
    labels_loc: Loc = ()
    server: str | None = None
    down: str | None = None  # why the cluster is unavailable, by its source's condition (live sources)
    live: bool = False  # listed from a hub: `file` is the source's origin (hub.Listed.origin)
    ref: tuple | None = None  # a live entry's (Listed, object): named only when a problem needs it

    @property
    def what(self) -> str:
        """A live entry's object and source: `ClusterProfile fleet-system/prod-eu-1 in clusterProfiles (...)`."""
        return describe(*self.ref) if self.ref else self.file


def describe(listed, obj: dict) -> str:
    """`ClusterProfile fleet-system/prod-eu-1 in clusterProfiles (context hub, namespace fleet-system)`."""
    metadata = mapping(obj.get("metadata"))
    name = f"{metadata['namespace']}/{metadata.get('name')}" if metadata.get("namespace") else str(metadata.get("name"))
    return f"{obj.get('kind') or 'object'} {name} in {listed.label}"


def kind_of(value: object) -> str:
    """How a YAML value reads to a person: `expected text, got a list`."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {dict: "a mapping", list: "a list", set: "a set", str: "text", type(None): "null"}.get(type(value), type(value).__name__)


def mapping(value: object) -> dict:
    """`value` when it is a mapping, else an empty one (the caller reports the problem)."""
    return value if isinstance(value, dict) else {}


@dataclass
class SourceResult:
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, file: str, doc: int, loc: Loc, message: str) -> None:
        self.problems.append(Problem(message, loc, file, extra={"doc": doc}))
