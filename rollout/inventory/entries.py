"""What every inventory source yields: a cluster as one file describes it."""

from __future__ import annotations

from dataclasses import dataclass, field

from waves.problems import Loc, Problem


@dataclass
class Entry:
    name: str
    file: str  # repo-relative path
    doc: int  # document index in the file
    loc: Loc  # path to the cluster inside that document
    labels: dict = field(default_factory=dict)  # raw, checked later
    labels_loc: Loc = ()
    server: str | None = None


@dataclass
class SourceResult:
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, file: str, doc: int, loc: Loc, message: str) -> None:
        self.problems.append(Problem(message, loc, file, extra={"doc": doc}))
