"""What every inventory source yields: a cluster as one file describes it."""

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
