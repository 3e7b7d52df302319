"""Durations as users write them in policies: `30s`, `10m`, `1h`, `1h30m`, `2d`."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
PATTERN = r"^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"


def parse_duration(text: str) -> int:
    """Seconds in `text`; units must come in d, h, m, s order, each at most once."""
    if not isinstance(text, str):
        raise ValueError(f"a duration is text such as 30m or 1h30m, not {text!r}")
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration: use 30s, 10m, 1h, 1h30m or 2d")
    return sum(int(v) * u for v, u in zip(match.groups(), _UNITS.values()) if v)


def format_duration(seconds: int) -> str:
    """The shortest policy spelling of `seconds` (`5400` -> `1h30m`); `0s` for zero."""
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# A duration field of a policy model: written `30m`, held as seconds, shown `30m` again.
Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": PATTERN, "examples": ["30m", "1h30m", "2d"]}),
]
