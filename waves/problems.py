"""Problems found in user input, located by a path into the document they came from.

The core knows *where* in a document a problem is (a `loc` path such as
`("spec", "waves", 2, "after", 0)`); the shell, which read the file, turns that into
`file:line`. Everything is collected, never raised one at a time, so a user sees all
problems in one run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Loc = tuple[str | int, ...]

POLICY = "policy"  # `source` of problems found in the policy file itself


@dataclass(frozen=True)
class Problem:
    message: str
    loc: Loc = ()
    source: str = POLICY  # "policy", or the path of an inventory file
    severity: str = "error"  # "error" | "warning"
    line: int | None = None  # filled in by the shell when it can
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def format_loc(loc: Loc) -> str:
    """`("spec", "waves", 2, "after", 0)` -> `spec.waves[2].after[0]`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


class ProblemError(Exception):
    """Raised by a pure step that cannot go on; carries every problem found so far."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def few(names: list[str], shown: int = 5) -> str:
    """`a, b, c, d, e and 7 more`: a message names a fleet's clusters, not all 10,000."""
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
