"""Problems as one line each: `file:line: field: what is wrong`."""

from __future__ import annotations

from waves.problems import Problem, format_loc


def problem_line(problem: Problem) -> str:
    where = problem.source or ""
    if problem.line is not None:
        where = f"{where}:{problem.line}"
    parts = [where] if where else []
    field = format_loc(problem.loc)
    if field:
        parts.append(field)
    message = problem.message if problem.is_error else f"warning: {problem.message}"
    return printable(": ".join(parts + [message]))


def printable(text: str) -> str:
    """Control characters from the input (a key with ESC, NEL or a record separator)
    escaped: one problem stays one line, and a terminal is never sent escape codes."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def problem_json(problem: Problem) -> dict:
    return {
        "file": problem.source or None,
        "line": problem.line,
        "field": format_loc(problem.loc) or None,
        "severity": problem.severity,
        "message": problem.message,
    }
