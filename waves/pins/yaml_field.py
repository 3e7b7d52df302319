"""Any scalar, by an explicit path: `spec.foo.bar`, `items[name=x].tag`, `args[0]`, with
`{cluster}` and `{labels.<key>}` filled in per cluster (`targetCustomizations[name=
{labels.env}].helm.values.image`: one Fleet bundle, one target per wave)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator

from waves.pins.base import PinBase, format_steps, resolve
from waves.templates import EmptyLabel, check_template, labels_used, render

# A key may hold placeholders, whose text (`{labels.env}`) is taken whole: a label's
# value is filled in after the path is split, so `eu.west` stays one key.
_KEY = r"(?:[^.\[\]={}]|\{[^{}]*\})+"
_STEP = re.compile(rf"(?P<key>{_KEY})|\[(?P<index>\d+)\]|\[(?P<mkey>{_KEY})=(?P<mval>[^\]]*)\]")

PathStep = str | int | tuple[str, str]  # mapping key, list index, or list entry chosen by key=value


def parse_field_path(path: str) -> list[PathStep]:
    """`items[name=x].tag` -> ["items", ("name", "x"), "tag"]; raises ValueError."""
    return list(_parsed(path))  # a copy: callers extend it


@functools.lru_cache(maxsize=1024)  # one policy's few paths, read for each of thousands of clusters
def _parsed(path: str) -> tuple[PathStep, ...]:
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
    return tuple(steps)


def render_steps(steps: list[PathStep], cluster: str, labels: Mapping[str, str]) -> list[PathStep]:
    """Fill in each step's placeholders (raises MissingLabel; EmptyLabel where an empty
    label value leaves a key empty: `create: true` would add a key named "")."""
    out: list[PathStep] = []
    for step in steps:
        if isinstance(step, str):
            key = render(step, cluster, labels)
            if not key:
                raise EmptyLabel(next((k for k in labels_used(step) if labels.get(k) == ""), ""), "")
            out.append(key)
        elif isinstance(step, tuple):
            out.append((render(step[0], cluster, labels), render(step[1], cluster, labels)))
        else:
            out.append(step)
    return out


class YamlFieldPin(PinBase):
    preset: Literal["yaml-field"]
    field: str = Field(description="Path to the scalar: spec.foo.bar, items[name=x].tag, args[0]; "
                       "a template with {cluster} and {labels.<key>} (in keys and in [key=value] choices).")
    kind: str | None = Field(default=None, description="Only documents of this kind.")
    create: bool = Field(default=False, description="Add the field where it is missing, with every missing "
                         "mapping on its path. Without it a missing key is refused (it is most likely a typo).")

    @field_validator("field")
    @classmethod
    def _field(cls, field: str) -> str:
        check_template(field)
        parse_field_path(field)
        return field

    def field_path(self) -> str:
        return self.field

    def field_for(self, cluster: str, labels: Mapping[str, str]) -> str:
        return format_steps(render_steps(parse_field_path(self.field), cluster, labels)) if "{" in self.field else self.field

    def creates(self) -> str | None:
        return "tail" if self.create else None

    def is_kind(self, doc: dict) -> bool:
        return self.kind is None or doc.get("kind") == self.kind

    def describe_kind(self) -> str:
        return self.kind or "document"

    def steps(self, doc: dict, cluster: str) -> list:
        return parse_field_path(self.field)

    def locate(self, doc: dict, cluster: str, labels: Mapping[str, str] | None = None) -> list[str | int]:
        steps = parse_field_path(self.field)
        if "{" in self.field:
            steps = render_steps(steps, cluster, labels or {})
        return resolve(doc, steps, tail=self.create)
