"""Kubernetes label selectors: `matchLabels` + `matchExpressions`, and the string form
(`env=prod,region in (eu-west,us-east),!canary`) that kubectl accepts.

Semantics are Kubernetes' own: all requirements must hold (AND); an empty selector
matches everything; `NotIn` and `DoesNotExist` match clusters that lack the label.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# Kubernetes label syntax (apimachinery validation.IsQualifiedName / IsValidLabelValue).
_NAME = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)"
_PREFIX = r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)"
LABEL_KEY = re.compile(rf"({_PREFIX}/)?{_NAME}")
LABEL_VALUE = re.compile(rf"{_NAME}?")


@lru_cache(maxsize=65536)  # fleets repeat a few keys and values thousands of times
def label_key_problem(key: object) -> str | None:
    if not isinstance(key, str):
        return f"label key {key!r} must be text"
    prefix, _, name = key.rpartition("/")
    if not LABEL_KEY.fullmatch(key) or len(name) > 63 or len(prefix) > 253:
        return f"{key!r} is not a valid label key"
    return None


@lru_cache(maxsize=65536)
def label_value_problem(value: object) -> str | None:
    """Why `value` cannot be a label value, or None. Non-text values come from YAML
    reading an unquoted `1.20`, `true` or `no` as a number or boolean."""
    if isinstance(value, bool):
        return f"YAML reads this value as the boolean {str(value).lower()}; quote it to mean the text"
    if isinstance(value, (int, float)):
        return f"YAML reads this value as the number {value!r}; quote it to mean the text"
    if value is None:
        return "YAML reads this value as null; write a text value or quote it"
    if not isinstance(value, str):
        return f"YAML reads this value as a {type(value).__name__}; quote it to mean the text"
    if len(value) > 63 or not LABEL_VALUE.fullmatch(value):
        return f"{value!r} is not a valid label value (at most 63 of A-Z a-z 0-9 - _ .)"
    return None


def _checked(problem_of):
    def check(value: str) -> str:
        if problem := problem_of(value):
            raise ValueError(problem)
        return value

    return AfterValidator(check)


# Non-text input fails as a string type error, which the shell words as "quote it".
LabelKey = Annotated[str, _checked(label_key_problem)]
LabelValue = Annotated[str, _checked(label_value_problem)]

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]


class Requirement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: LabelKey
    operator: Operator
    values: tuple[LabelValue, ...] = ()

    @model_validator(mode="after")
    def _arity(self) -> "Requirement":
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self

    def matches(self, labels: dict[str, str]) -> bool:
        op = self.operator
        if op == "In":
            return labels.get(self.key) in self.values
        if op == "NotIn":
            return labels.get(self.key) not in self.values
        if op == "Exists":
            return self.key in labels
        return self.key not in labels

    def __str__(self) -> str:
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        op = "in" if self.operator == "In" else "notin"
        return f"{self.key} {op} ({','.join(self.values)})"


class LabelSelector(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    matchLabels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    matchExpressions: tuple[Requirement, ...] = ()

    def requirements(self) -> list[Requirement]:
        exact = [Requirement(key=k, operator="In", values=(v,)) for k, v in self.matchLabels.items()]
        return exact + list(self.matchExpressions)

    def matches(self, labels: dict[str, str]) -> bool:
        for key, value in self.matchLabels.items():
            if labels.get(key) != value:
                return False
        return all(req.matches(labels) for req in self.matchExpressions)

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self.matchLabels.items()]
        parts += [str(r) for r in self.matchExpressions]
        return ",".join(parts) or "(all)"


_TOKEN = re.compile(r"\s*(?:(?P<paren>[(),])|(?P<op>==|!=|=)|(?P<bang>!)|(?P<word>[^\s(),=!]+))")


def parse_selector(text: str) -> LabelSelector:
    """Parse kubectl's selector syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
    `a notin (x)`, `a`, `!a`, joined by commas. Raises ValueError with the reason."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot read selector {text!r} at {text[pos:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1

    labels: dict[str, str] = {}
    exprs: list[dict] = []
    i = 0

    def take(kind: str, what: str) -> str:
        nonlocal i
        if i >= len(tokens) or tokens[i][0] != kind:
            got = tokens[i][1] if i < len(tokens) else "the end"
            raise ValueError(f"selector {text!r}: expected {what}, got {got!r}")
        i += 1
        return tokens[i - 1][1]

    while i < len(tokens):
        if tokens[i][0] == "bang":
            i += 1
            exprs.append({"key": take("word", "a label key"), "operator": "DoesNotExist"})
        else:
            key = take("word", "a label key")
            nxt = tokens[i] if i < len(tokens) else ("end", "")
            if nxt[0] == "op":
                i += 1
                value = tokens[i][1] if i < len(tokens) and tokens[i][0] == "word" else ""
                if value:
                    i += 1
                if nxt[1] == "!=":
                    exprs.append({"key": key, "operator": "NotIn", "values": [value]})
                elif key in labels and labels[key] != value:
                    exprs.append({"key": key, "operator": "In", "values": [value]})
                else:
                    labels[key] = value
            elif nxt[0] == "word" and nxt[1] in ("in", "notin"):
                i += 1
                take("paren", "(")
                if tokens[i - 1][1] != "(":
                    raise ValueError(f"selector {text!r}: expected ( after {nxt[1]}")
                values: list[str] = []
                while i < len(tokens) and tokens[i] != ("paren", ")"):
                    if tokens[i] == ("paren", ","):
                        i += 1
                        continue
                    values.append(take("word", "a value"))
                take("paren", ")")
                exprs.append({"key": key, "operator": "In" if nxt[1] == "in" else "NotIn", "values": values})
            else:
                exprs.append({"key": key, "operator": "Exists"})
        if i < len(tokens):
            if tokens[i] != ("paren", ","):
                raise ValueError(f"selector {text!r}: expected ',' before {tokens[i][1]!r}")
            i += 1
    return LabelSelector.model_validate({"matchLabels": labels, "matchExpressions": exprs})
