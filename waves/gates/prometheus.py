"""Prometheus gate: a PromQL query per cluster, held within bounds over the bake window.

The verdict on Prometheus's answer is pure: every series must be a finite number within
bounds. NaN (0/0, e.g. a ratio with no traffic) and ±Inf never pass; an empty result is
"no data" (pending); a value past a bound is failed."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, Field, field_validator, model_validator

from waves.gates.verdict import Verdict
from waves.model_config import STRICT
from waves.templates import check_template, labels_used, render


class PrometheusGateConfig(BaseModel):
    model_config = STRICT

    url: str = Field(description="Base URL of the Prometheus HTTP API.")
    query: str = Field(description="PromQL with {cluster} and {labels.<key>} placeholders.")
    max: float | None = Field(default=None, description="Fail when the value rises above this.")
    min: float | None = Field(default=None, description="Fail when the value falls below this.")

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url

    TEMPLATES: ClassVar[tuple[str, ...]] = ("query",)  # {cluster} and {labels.<key>} filled in per cluster
    # `cluster=""` matches the series without the label: an empty label where it empties a matcher's value
    NO_EMPTY_LABELS: ClassVar[dict] = {"query": lambda template, cluster, labels: emptied(template, cluster, labels)}

    @field_validator("query")
    @classmethod
    def _query(cls, query: str) -> str:
        # PromQL uses braces for label matchers; only {cluster} and {labels.x} are ours.
        for name in re.findall(r"\{(cluster|labels\.[^{}\s]+)\}", query):
            check_template("{" + name + "}")
        return query

    @model_validator(mode="after")
    def _bounds(self) -> "PrometheusGateConfig":
        if self.max is None and self.min is None:
            raise ValueError("give max, min or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


# a PromQL string literal (double or single quotes with escapes, or backticks raw) and the
# label matcher's operator before one
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_OPERATOR = re.compile(r"(=~|!~|!=|=)\s*$")


def emptied(template: str, cluster: str, labels: Mapping[str, str]) -> tuple[str, str] | None:
    """(the label, why) when an empty label makes the query select what it should not: a
    label matcher's value left empty (`team="{labels.team}"` is `team=""`: the series
    *without* a team label, any cluster's; `!=""`: any with one), a regular expression
    left matching the empty string (`=~"{labels.team}.*"`), or a placeholder outside a
    string (a metric's name, a number: another query). None when every empty label
    leaves its string something else (`job="api{labels.suffix}"` is `job="api"`)."""
    empty = {key for key in labels_used(template) if labels.get(key) == ""}
    if not empty:
        return None
    inside = []
    for literal in _STRING.finditer(template):
        keys = [key for key in labels_used(literal.group()) if key in empty]
        if not keys:
            continue
        inside.append(literal.span())
        value = render(literal.group()[1:-1], cluster, labels)
        operator = _OPERATOR.search(template, 0, literal.start())
        op = operator.group(1) if operator else ""
        if value == "":
            if not op:
                return keys[0], "an empty value there leaves a string of the query empty"
            return keys[0], (f"an empty value there leaves the matcher {op}\"\": it selects "
                             + ("the series without that label" if op in ("=", "=~") else "every series with that label")
                             + ", any cluster's")
        if op in ("=~", "!~"):
            try:
                vacuous = re.fullmatch(value, "") is not None
            except re.error:
                vacuous = True  # cannot tell: not judged on a guess
            if vacuous:
                return keys[0], (f"an empty value there leaves the regular expression {value!r}, which matches the "
                                 "empty string: it selects " + ("the series without that label, any cluster's"
                                                                if op == "=~" else "none of the series"))
    for key in sorted(empty):  # a placeholder outside every string: what the query asks changes
        at = [m.start() for m in re.finditer(re.escape("{labels." + key + "}"), template)]
        if any(not any(start <= a < end for start, end in inside) for a in at):
            return key, "an empty value there, outside a label matcher's string, changes what the query asks"
    return None


class PrometheusGate(BaseModel):
    model_config = STRICT

    prometheus: PrometheusGateConfig


def judge(answer: dict, config: PrometheusGateConfig, seconds: int) -> Verdict:
    """The verdict on one instant-query answer (`/api/v1/query` JSON) over the last `seconds`."""
    if answer.get("status") == "error":
        return Verdict(state="pending", reason=f"query failed: {answer.get('error', '')}")
    result = (answer.get("data") or {}).get("result") or []
    if not result:
        return Verdict(state="pending", reason="no data yet")
    values = []
    for series in result:
        try:
            values.append(float(series["value"][1]))
        except (KeyError, IndexError, TypeError, ValueError):
            return Verdict(state="pending", reason=f"unreadable answer: {str(series)[:80]}")
    window = f"over the last {seconds}s"
    too_high = [v for v in values if config.max is not None and v > config.max]  # +Inf included
    too_low = [v for v in values if config.min is not None and v < config.min]  # -Inf included
    if too_high:
        return Verdict(state="failed", reason=f"{max(too_high):.4g} > max {config.max:g} {window}", value=max(too_high))
    if too_low:
        return Verdict(state="failed", reason=f"{min(too_low):.4g} < min {config.min:g} {window}", value=min(too_low))
    odd = [v for v in values if not math.isfinite(v)]
    if odd:
        return Verdict(state="pending", reason=f"{odd[0]} {window}: not a number to judge (NaN is 0/0, e.g. no "
                       "traffic); never passes")
    worst = max(values) if config.max is not None else min(values)
    return Verdict(state="passed", reason=f"{worst:.4g} within bounds {window}", value=worst)
