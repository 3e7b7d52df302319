"""Kubernetes label selectors: `matchLabels` + `matchExpressions`, and the string form
(`env=prod,region in (eu-west,us-east),!canary`) that kubectl accepts.

Semantics are Kubernetes' own: all requirements must hold (AND); an empty selector
matches everything; `NotIn` and `DoesNotExist` match clusters that lack the label.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from waves.model_config import STRICT

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
    model_config = STRICT

    key: LabelKey
    operator: Operator
    values: tuple[LabelValue, ...] = ()

    @field_validator("operator", mode="before")
    @classmethod
    def _no_gt_lt(cls, value):
        if value in ("Gt", "Lt"):
            raise ValueError(f"operator {value} is not supported for cluster selection "
                             "(Kubernetes allows Gt and Lt only in node affinity)")
        return value

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
    model_config = STRICT

    matchLabels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    matchExpressions: tuple[Requirement, ...] = ()

    def requirements(self) -> list[Requirement]:
        exact = [Requirement(key=k, operator="In", values=(v,)) for k, v in self.matchLabels.items()]
        return exact + list(self.matchExpressions)

    def matches(self, labels: dict[str, str]) -> bool:
        for key, value in self.matchLabels.items():
            if labels.get(key) != value:
                return False
        # once per cluster and wave: no generator for the (usual) empty list
        return not self.matchExpressions or all(req.matches(labels) for req in self.matchExpressions)

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self.matchLabels.items()]
        parts += [str(r) for r in self.matchExpressions]
        return ",".join(parts) or "(all)"


# apimachinery's lexer (pkg/labels/selector.go): these characters end an identifier and
# form the operators; everything else up to whitespace is one identifier.
_SPECIAL = "=!(),<>"
_WHITESPACE = " \t\r\n"
_SYMBOLS = {")", ",", "!", "==", "=", ">", "<", "!=", "("}
_KEYWORDS = {"in", "notin"}
_END = ("end", "")


def _lex(text: str) -> list[tuple[str, str]]:
    """(kind, literal) tokens: kind is `id`, a keyword (`in`, `notin`), a symbol, or `end`."""
    tokens, pos = [], 0
    while True:
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        if pos == len(text):
            tokens.append(_END)
            return tokens
        if text[pos] in _SPECIAL:
            # the longest run of special characters that is still an operator
            end = pos + 1
            while end < len(text) and text[end] in _SPECIAL and text[pos:end + 1] in _SYMBOLS:
                end += 1
            if text[pos:end] not in _SYMBOLS:
                raise ValueError(f"unexpected {text[pos:end]!r}")
            tokens.append((text[pos:end], text[pos:end]))
            pos = end
        else:
            end = pos
            while end < len(text) and text[end] not in _SPECIAL and text[end] not in _WHITESPACE:
                end += 1
            word = text[pos:end]
            tokens.append((word if word in _KEYWORDS else "id", word))
            pos = end


class _Parser:
    """A transcription of apimachinery's recursive-descent selector parser, so a string
    means here what it means to kubectl and to an API server's `labelSelector`."""

    def __init__(self, text: str):
        self.tokens = _lex(text)
        self.at = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        kind, literal = self.tokens[self.at]
        return ("id" if values and kind in _KEYWORDS else kind), literal

    def take(self, values: bool = True) -> tuple[str, str]:
        token = self.peek(values)
        self.at += 1
        return token

    def parse(self) -> list[tuple[str, str, tuple[str, ...]]]:
        requirements = []
        while True:
            kind, literal = self.peek()
            if kind == "end":
                return requirements
            if kind not in ("id", "!"):
                raise ValueError(f"found {_shown(literal)}, expected: !, identifier, or end of string")
            requirements.append(self.requirement())
            kind, literal = self.take()
            if kind == "end":
                return requirements
            if kind != ",":
                raise ValueError(f"found {_shown(literal)}, expected: ',' or end of string")
            if self.peek()[0] not in ("id", "!"):
                raise ValueError(f"found {_shown(self.peek()[1])}, expected: identifier after ','")

    def requirement(self) -> tuple[str, str, tuple[str, ...]]:
        kind, key = self.take()
        operator = None
        if kind == "!":
            operator = "!"
            kind, key = self.take()
        if kind != "id":
            raise ValueError(f"found {_shown(key)}, expected: identifier")
        if problem := label_key_problem(key):
            raise ValueError(problem)
        if operator == "!":
            return key, "!", ()
        if self.peek()[0] in ("end", ","):
            return key, "exists", ()
        operator, literal = self.take(values=False)
        if operator in ("in", "notin"):
            values = self.value_set()
        elif operator in ("=", "==", "!=", ">", "<"):
            values = self.exact_value()
        else:
            raise ValueError(f"found {_shown(literal)}, expected: '=', '!=', '==', 'in', 'notin'")
        return key, operator, tuple(sorted(values))

    def value_set(self) -> set[str]:
        kind, literal = self.take()
        if kind != "(":
            raise ValueError(f"found {_shown(literal)}, expected: '('")
        kind, literal = self.peek()
        if kind == ")":  # `()` is the set {""}
            self.take()
            return {""}
        if kind not in ("id", ","):
            raise ValueError(f"found {_shown(literal)}, expected: ',', ')' or identifier")
        values: set[str] = set()
        while True:  # empty items between commas are the empty value
            kind, literal = self.take()
            if kind == "id":
                values.add(literal)
                nxt, shown = self.peek()
                if nxt == ")":
                    break
                if nxt != ",":
                    raise ValueError(f"found {_shown(shown)}, expected: ',' or ')'")
            elif kind == ",":
                if not values:
                    values.add("")
                if self.peek()[0] in (")", ","):
                    values.add("")
                if self.peek()[0] == ")":
                    break
            else:
                raise ValueError(f"found {_shown(literal)}, expected: ',' or identifier")
        self.take()  # the `)`
        return values

    def exact_value(self) -> set[str]:
        if self.peek()[0] in ("end", ","):  # `x=` is the empty value
            return {""}
        kind, literal = self.take()
        if kind != "id":
            raise ValueError(f"found {_shown(literal)}, expected: identifier")
        return {literal}


def _shown(literal: str) -> str:
    return repr(literal) if literal else "end of string"


_OPERATORS = {"=": "In", "==": "In", "in": "In", "!=": "NotIn", "notin": "NotIn", "exists": "Exists",
              "!": "DoesNotExist"}


def parse_requirements(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """apimachinery's `labels.Parse`: [(key, operator, sorted values)] in its operator
    words (`=`, `==`, `!=`, `in`, `notin`, `exists`, `!`, `gt`, `lt`). Raises ValueError
    with a one-line reason."""
    parsed = []
    for key, operator, values in _Parser(text).parse():
        for value in values:
            if problem := label_value_problem(value):
                raise ValueError(f"{key}: {problem}")
        if operator in (">", "<"):
            name = "gt" if operator == ">" else "lt"
            raise ValueError(f"the {name} operator ({operator}) is not supported for cluster selection "
                             "(Kubernetes allows it only in node affinity)")
        parsed.append((key, operator, values))
    return parsed


def parse_selector(text: str) -> LabelSelector:
    """Parse kubectl's selector syntax exactly as Kubernetes does: `a=b`, `a==b`, `a!=b`,
    `a in (x,y)`, `a notin (x)`, `a`, `!a`, joined by commas. Raises ValueError with a
    one-line reason naming the selector."""
    try:
        parsed = parse_requirements(text)
    except ValueError as err:
        raise ValueError(f"selector {text!r}: {err}") from None
    labels: dict[str, str] = {}
    exprs: list[Requirement] = []
    for key, operator, values in parsed:
        if operator in ("=", "==") and labels.get(key, values[0]) == values[0]:
            labels[key] = values[0]
        else:
            exprs.append(Requirement.model_construct(key=key, operator=_OPERATORS[operator], values=values))
    return LabelSelector.model_construct(matchLabels=labels, matchExpressions=tuple(exprs))
