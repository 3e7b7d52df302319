"""Any scalar, by an explicit path: `spec.foo.bar`, `items[name=x].tag`, `args[0]`."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from waves.pins.base import PinBase

_KEY = r"[^.\[\]=]+"
_STEP = re.compile(rf"(?P<key>{_KEY})|\[(?P<index>\d+)\]|\[(?P<mkey>{_KEY})=(?P<mval>[^\]]*)\]")

PathStep = str | int | tuple[str, str]  # mapping key, list index, or list entry chosen by key=value


def parse_field_path(path: str) -> list[PathStep]:
    """`items[name=x].tag` -> ["items", ("name", "x"), "tag"]; raises ValueError."""
    steps: list[PathStep] = []
    pos = 0
    while pos < len(path):
        if steps and path[pos] == ".":
            pos += 1
        match = _STEP.match(path, pos)
        if not match:
            raise ValueError(f"cannot read field path {path!r} at {path[pos:]!r}")
        if match.group("key") is not None:
            steps.append(match.group("key"))
        elif match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append((match.group("mkey"), match.group("mval")))
        pos = match.end()
    if not steps or not isinstance(steps[-1], str) and not isinstance(steps[-1], int):
        raise ValueError(f"field path {path!r} must end at a scalar field")
    return steps


class YamlFieldPin(PinBase):
    preset: Literal["yaml-field"]
    field: str = Field(description="Path to the scalar: spec.foo.bar, items[name=x].tag, args[0].")
    kind: str | None = Field(default=None, description="Only documents of this kind.")

    @field_validator("field")
    @classmethod
    def _field(cls, field: str) -> str:
        parse_field_path(field)
        return field

    def field_path(self) -> str:
        return self.field

    def is_kind(self, doc: dict) -> bool:
        return self.kind is None or doc.get("kind") == self.kind

    def describe_kind(self) -> str:
        return self.kind or "document"

    def steps(self, doc: dict, cluster: str) -> list:
        return parse_field_path(self.field)
