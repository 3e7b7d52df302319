"""Find and read a rollout policy; every problem comes back located (`file:line: field`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from waves.problems import Loc, Problem
from rollout.yamlfile import Located, YamlError, quick_mapping, read_text


class PolicyNotFound(Exception):
    pass


def find_policy(repo: Path, ref: str) -> Path:
    """`security-patch` -> `<repo>/rollouts/security-patch.yaml`; a path works too."""
    as_path = Path(ref)
    if as_path.suffix in (".yaml", ".yml") or "/" in ref or as_path.is_file():
        if as_path.is_file():
            return as_path
        raise PolicyNotFound(f"{ref}: file not found")
    for suffix in (".yaml", ".yml"):
        candidate = repo / "rollouts" / f"{ref}{suffix}"
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in (repo / "rollouts").glob("*.y*ml")) if (repo / "rollouts").is_dir() else []
    hint = f" (policies here: {', '.join(known)})" if known else ""
    raise PolicyNotFound(f"{repo / 'rollouts' / (ref + '.yaml')}: no such policy{hint}")


@dataclass
class LoadedPolicy:
    path: Path
    text: str
    located: Located | None
    policy: object | None  # waves.policy.RolloutPolicy when valid
    problems: list[Problem]

    def locate(self, problem: Problem) -> Problem:
        """Give a problem found in this policy its line."""
        if problem.line is not None:
            return problem
        if self.located is None and self.text and self.policy is not None:  # kept, or read by yaml-rs: parsed now
            try:
                self.located = Located.parse(self.path, self.text)
            except YamlError:  # read before, so not expected: the problem stands without its line
                return problem
        if self.located is None:
            return problem
        from dataclasses import replace

        return replace(problem, line=self.located.line(problem.loc) or 1)

    @classmethod
    def kept(cls, path: Path, text: str, policy) -> "LoadedPolicy":
        """A policy validated before from this very text (rollout/reuse.py): no problems;
        its positions are parsed only if a problem needs a line."""
        return cls(path, text, None, policy, [])


def load_policy(path: Path) -> LoadedPolicy:
    from pydantic import ValidationError

    from waves.policy import RolloutPolicy

    src = str(path)
    try:
        text = read_text(path)
    except YamlError as err:
        return LoadedPolicy(path, "", None, None, [Problem(err.message, (), src, line=err.line or 1)])
    quick = quick_mapping(text)
    if quick is not None:  # yaml-rs read it as PyYAML would; a problem is read again below, with lines
        try:
            return LoadedPolicy(path, text, None, RolloutPolicy.model_validate(quick), [])
        except ValidationError:
            pass
    try:
        located = Located.parse(path, text)
    except YamlError as err:
        return LoadedPolicy(path, "", None, None, [Problem(err.message, (), src, line=err.line or 1)])

    problems = [Problem(message, (), src, line=line) for line, message in located.problems]
    if len(located.documents) != 1 or not isinstance(located.documents[0], dict):
        what = "no document" if not located.documents else f"{len(located.documents)} documents"
        if len(located.documents) == 1:
            what = "not a mapping"
        problems.append(Problem(f"a policy file holds one RolloutPolicy mapping, found {what}", (), src, line=1))
        return LoadedPolicy(path, text, located, None, problems)

    data = located.documents[0]
    try:
        policy = RolloutPolicy.model_validate(data)
    except ValidationError as err:
        errors = err.errors(include_url=False)
        for error in errors:
            if error["type"] == "too_short" and _has_inner_error(error["loc"], errors):
                continue  # pydantic also counts the failed items as missing
            loc = _data_loc(data, error["loc"])
            problems.append(
                Problem(_message(error, located.scalar(loc)), loc, src, line=located.line(loc))
            )
        return LoadedPolicy(path, text, located, None, problems)
    if problems:
        return LoadedPolicy(path, text, located, None, problems)
    return LoadedPolicy(path, text, located, policy, [])


def _has_inner_error(loc: tuple, errors: list[dict]) -> bool:
    return any(e["loc"][: len(loc)] == loc and len(e["loc"]) > len(loc) for e in errors)


def _data_loc(data: object, loc: tuple) -> Loc:
    """Pydantic's loc with union tags and other non-data steps dropped, so that it is a
    path the user can find in the file (`spec.pin[0].repoURL`, not
    `spec.pin.0.argocd-application.repoURL`)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
            out.append(part)
        elif isinstance(node, (list, tuple)) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and part not in _union_tags():
            # A missing required field is named although it is not in the data.
            out.append(part)
            node = None
    return tuple(out)


@functools.cache
def _union_tags() -> frozenset[str]:
    """Names pydantic puts in a loc for the member of a union, not for a field."""
    from waves.gates import GATES
    from waves.pins import PRESETS

    return frozenset(PRESETS) | frozenset(GATES) | {"inventory-file", "inventory-hub"}


def _message(error: dict, scalar) -> str:
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        allowed = allowed_keys(error["loc"][:-1])
        return "unknown field" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
    if kind == "missing":
        return "required field is missing"
    if kind in ("string_type",) and scalar is not None and scalar.plain and not isinstance(given, (dict, list)):
        return (
            f"YAML reads {scalar.raw} as {_yaml_type(given)}, not text; "
            f"quote it to mean the text: \"{scalar.raw}\""
        )
    if kind in _EXPECTED and isinstance(given, (dict, list)) or kind in ("dict_type", "model_type", "list_type"):
        return f"expected {_EXPECTED.get(kind, 'a mapping')}, got {_kind_of(given)}"
    if kind == "union_tag_invalid":
        from waves.pins import PRESETS

        ctx = error.get("ctx", {})
        return f"unknown preset {ctx.get('tag')!r} (presets: {', '.join(PRESETS)})"
    if kind == "union_tag_not_found":
        return "required field 'preset' is missing"
    if kind == "literal_error":
        return f"{given!r} is not allowed: {error['msg'].replace('Input should be', 'use')}"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message


def allowed_keys(loc: tuple) -> list[str]:
    """The keys the policy's model at pydantic's `loc` accepts, in the order the model
    declares them (by their YAML names); [] when the walk finds no single model there.
    The walk follows fields, list items, mapping values and the members of unions: a
    union's member by its tag (`argocd-application` in `spec.pin.0.argocd-application`,
    `argocd` in `spec.gates.0.argocd.argocd`)."""
    from pydantic import BaseModel

    from waves.policy import RolloutPolicy

    found = [RolloutPolicy]
    for part in loc:
        found = [child for tp in found for child in _step(tp, part)]
    models = {t for tp in found for t, _ in _members(tp) if isinstance(t, type) and issubclass(t, BaseModel)}
    if len(models) != 1:
        return []
    (model,) = models
    fields = model.model_fields.items()  # its tag first (`preset: ...`), then in the model's order
    return [field.alias or name for name, field in sorted(fields, key=lambda item: len(_literal(item[1])) != 1)]


def _members(tp) -> list[tuple[object, frozenset[str]]]:
    """(type, its tags) for each member of `tp`: Annotated unwrapped, unions opened, a
    member's tags those of `Tag(...)` or of a `discriminator` field's Literal."""
    import types
    import typing

    from pydantic import Tag
    from pydantic.fields import FieldInfo

    from waves.registry import LazyUnion

    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(tp)
        lazy = [m for m in meta if isinstance(m, LazyUnion)]
        if lazy:  # the presets' and gates' union, its members imported (an error's path)
            return _members(lazy[0].eager())
        tags = frozenset(m.tag for m in meta if isinstance(m, Tag))
        fields = [m.discriminator for m in meta if isinstance(m, FieldInfo) and isinstance(m.discriminator, str)]
        out = []
        for member, own in _members(inner):
            named = {v for f in fields for v in _literal(getattr(member, "model_fields", {}).get(f))}
            out.append((member, own | tags | frozenset(named)))
        return out
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(tp) for m in _members(arg)]
    return [(tp, frozenset())]


def _literal(field) -> tuple:
    import typing

    if field is None or typing.get_origin(field.annotation) is not typing.Literal:
        return ()
    return typing.get_args(field.annotation)


def _step(tp, part) -> list:
    """The types one step of a pydantic loc leads to from `tp`."""
    import typing

    from pydantic import BaseModel

    members = _members(tp)
    if isinstance(part, str) and len(members) > 1:
        tagged = [t for t, tags in members if part in tags]
        if tagged:
            return tagged
    out = []
    for t, _ in members:
        origin, args = typing.get_origin(t), typing.get_args(t)
        if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(part, str):
            out += [f.annotation for name, f in t.model_fields.items() if part in (name, f.alias)]
        elif origin in (list, set, frozenset) and isinstance(part, int) and args:
            out.append(args[0])
        elif origin is tuple and isinstance(part, int) and args:
            out.append(args[0] if len(args) == 2 and args[1] is Ellipsis else args[min(part, len(args) - 1)])
        elif origin is dict and isinstance(part, str) and len(args) == 2:
            out.append(args[1])
    return out


_EXPECTED = {"string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
             "float_type": "a number", "bool_type": "true or false", "list_type": "a list", "dict_type": "a mapping",
             "model_type": "a mapping", "literal_error": "one of the allowed words", "string_pattern_mismatch": "text"}


def _kind_of(value: object) -> str:
    from rollout.inventory.entries import kind_of

    return kind_of(value)


def _yaml_type(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"
