"""What a bug looks like to the user: one line, or with ROLLOUT_DEBUG=1 the traceback,
and in neither case any value.

An exception's message may quote the data it choked on (`could not convert string to
float: '<token>'`), and that data may be a credential from a cluster Secret or a
kubeconfig. So the message is never printed: the user sees the exception's type and
where it was raised (file, line, function and the source line of each frame: our code,
not their data), which is what a bug report needs.
"""

from __future__ import annotations

import traceback


def one_line(err: BaseException) -> str:
    frame = _frames(err)[-1:] or [None]
    where = f" at {_short(frame[0].filename)}:{frame[0].lineno}" if frame[0] else ""
    return f"rollout: internal error: {type(err).__name__}{where} (a bug; ROLLOUT_DEBUG=1 shows where, without values)"


def scrubbed_traceback(err: BaseException) -> str:
    """The traceback of `err` and the exceptions it chained, messages left out."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    lines: list[str] = []
    for exc in reversed(chain):
        if lines:
            lines.append("\nwhich led to:\n")
        lines.append("Traceback (most recent call last; values left out):\n")
        for frame in _frames(exc):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n')
            if frame.line:
                lines.append(f"    {frame.line.strip()}\n")
        lines.append(f"{type(exc).__module__}.{type(exc).__qualname__} (message left out: it may quote secrets)\n")
    return "".join(lines)


def _frames(err: BaseException) -> list[traceback.FrameSummary]:
    return list(traceback.extract_tb(err.__traceback__)) if err.__traceback__ else []


def _short(path: str) -> str:
    marker = "/rollout/" if "/rollout/" in path else "/waves/" if "/waves/" in path else None
    return path[path.rindex(marker) + 1:] if marker else path
