"""What every pin preset shares: which files (a per-cluster template), which document in
them (its kind, and `metadata.name` where a file holds several), and how the path to the
pinned field is resolved in a parsed document.

Presets are pure: given a document as plain data, they say whether it is theirs and
where its field is. Editing the bytes is the shell's job (rollout/manifests/).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, Field, field_validator

from waves.model_config import STRICT
from waves.templates import check_template, render

# A resolved path: mapping keys and list indices. Before resolution a step may also be
# (key, value): the list entry whose `key` is `value`.
Step = str | int | tuple[str, str]


class PinTargetError(ValueError):
    """The document is the right one but the field cannot be pinned; says why. `at`: the
    path (in the document) the reason points at, for the line of the message."""

    def __init__(self, message: str, at: list | None = None):
        super().__init__(message)
        self.at = at


class PinBase(BaseModel):
    model_config = STRICT

    files: str = Field(
        description="Path of the manifest to edit, relative to the repo root; "
        "a template with {cluster} and {labels.<key>}."
    )
    name: str | None = Field(
        default=None,
        description="metadata.name of the document to edit when a file holds several "
        "of this kind (a template).",
    )

    # The documents a preset edits: API group (apiVersion before the '/') and kind.
    GROUP: ClassVar[str] = ""
    KIND: ClassVar[str] = ""
    # True where the field is chosen by the cluster's name inside the document (a list
    # generator's element): clusters pinning one file then never share a field.
    PER_CLUSTER: ClassVar[bool] = False

    @field_validator("files", "name")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.strip():
                raise ValueError("must not be empty")
            check_template(value)
        return value

    @field_validator("files")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"{value!r} must be a path inside the repository")
        parts = value.split("/")
        if any(part in ("", ".") for part in parts):
            # git stores paths as written: `./values.yaml` would commit a tree entry named
            # `.`, and `a//b` another spelling of one file, escaping the shared-field check
            plain = "/".join(part for part in parts if part not in ("", "."))
            raise ValueError(f"{value!r} must be a plain path inside the repository, without ./, // or a trailing "
                             f"/: {plain!r}")
        return value

    def field_path(self) -> str:
        """The pinned field, for people reading a plan."""
        raise NotImplementedError

    def field_for(self, cluster: str, labels: Mapping[str, str]) -> str:
        """The pinned field for one cluster (a templated field filled in). Raises
        MissingLabel when the template names a label the cluster lacks."""
        return self.field_path()

    def creates(self) -> str | None:
        """What the editor may add when the document lacks it: "leaf" (the field's own
        key, which upstream lets be absent: a HelmRelease without `version`), "tail"
        (every missing key of the path, mappings included: `create: true`), or None
        (nothing: a missing key is most likely a typo, refused with the keys that are
        there). Presets with a fixed, upstream-defined field may add its leaf."""
        return "leaf"

    def absent_hint(self) -> str:
        """What to do when the field is absent and `creates()` is None."""
        return "a missing key is added only where the pin says `create: true`"

    def steps(self, doc: dict, cluster: str) -> list[Step]:
        """The path to the pinned field in a matching document, before resolution."""
        raise NotImplementedError

    def read(self, scalar: str | None) -> str | None:
        """The pinned value inside the field's text: the whole text for most presets, a
        part of it for some (the tag in `name=image:tag`). Raises PinTargetError."""
        return scalar

    def write(self, scalar: str | None, value: str | None) -> str | None:
        """The field's new text with the pinned part set to `value` (`scalar`: the text
        now, None when the field is absent). `value` None: the part is to be absent (a
        revert of a pin that added it); None back means remove the field itself.
        Raises PinTargetError."""
        return value

    def check_revision(self, revision: str) -> None:
        """Refuse a revision this field cannot hold (a digest pin needs a digest). Checked
        on the policy's revision before any write, not on reverts, which restore what was
        there. Raises PinTargetError."""

    def describe_kind(self) -> str:
        return f"{self.GROUP}/{self.KIND}" if self.GROUP else self.KIND or "document"

    def is_kind(self, doc: dict) -> bool:
        api = doc.get("apiVersion")
        return doc.get("kind") == self.KIND and isinstance(api, str) and api.split("/")[0] == self.GROUP

    def matches(self, doc: object, cluster: str, labels: dict[str, str]) -> bool:
        """Is this document the one to edit for `cluster`?"""
        if not isinstance(doc, dict) or not self.is_kind(doc):
            return False
        if self.name is None:
            return True
        metadata = doc.get("metadata")
        return isinstance(metadata, dict) and metadata.get("name") == render(self.name, cluster, labels)

    def explain_choice(self, documents: list, chosen: list[int], cluster: str,
                       labels: dict[str, str]) -> tuple[str, int | None, list | None] | None:
        """Why no document of the file, or several (`chosen`: the indices that match), is
        the one to edit, when the preset can say more than a count: (message, the index
        of the document and the path in it that the message points at, for its line).
        None: the editor's own words."""
        return None

    def locate(self, doc: dict, cluster: str, labels: Mapping[str, str] | None = None) -> list[str | int]:
        """Resolve `steps` against the document: list entries chosen by key=value become
        indices. The last key may be absent, and with `creates() == "tail"` every key
        after the last one there (the editor decides whether it may add them); anything
        else missing raises PinTargetError naming what, and the keys that are there."""
        return resolve(doc, self.steps(doc, cluster), tail=self.creates() == "tail")


def refuse_overridden(mapping: object, at: list, field: str, winners: tuple[str, ...], why: str) -> None:
    """A field another one set next to it overrides changes nothing when pinned: refuse,
    naming the winner (`why`: whose rule it is)."""
    if not isinstance(mapping, dict):
        return
    present = [w for w in winners if mapping.get(w) not in (None, "")]
    if present:
        where = format_steps(at)
        raise PinTargetError(
            f"{where}.{present[0]} is set ({mapping[present[0]]}), and {why} it wins over {where}.{field}: "
            f"pinning {field} would change nothing; pin {present[0]} instead, or remove it", at + [present[0]])


def resolve(doc: object, steps: list[Step], tail: bool = False) -> list[str | int]:
    """`tail`: a missing key ends the walk, and the rest of `steps` (keys only) is the
    part to be added; otherwise only the last key may be missing."""
    path: list[str | int] = []
    node = doc
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        where = format_steps(path) or "the document"
        if isinstance(step, tuple):
            key, value = step
            if not isinstance(node, list):
                raise PinTargetError(f"{where} is not a list", list(path))
            found = [i for i, item in enumerate(node) if isinstance(item, dict) and str(item.get(key)) == value]
            if not found:
                raise PinTargetError(f"{where} has no entry with {key}: {value}", list(path))
            if len(found) > 1:
                raise PinTargetError(f"{where} has {len(found)} entries with {key}: {value}", list(path))
            path.append(found[0])
            node = node[found[0]]
        elif isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                raise PinTargetError(f"{where} has no item [{step}]", list(path))
            path.append(step)
            node = node[step]
        else:
            if not isinstance(node, dict):
                raise PinTargetError(f"{where} is not a mapping", list(path))
            path.append(step)
            if step not in node:
                if last:
                    return path  # absent leaf: the editor adds the key, where it may
                if tail:
                    rest = steps[position + 1:]
                    if any(not isinstance(s, str) for s in rest):
                        raise PinTargetError(f"{format_steps(path)} is missing, and a list entry cannot be created: "
                                             "add it by hand once", path[:-1])
                    return path + rest
                raise PinTargetError(f"{format_steps(path)} is missing{near(node, step)}", path[:-1])
            node = node[step]
    if isinstance(node, (dict, list)):
        raise PinTargetError(f"{format_steps(path)} is not a single value", list(path))
    return path


def near(mapping: dict, key: str) -> str:
    """" (did you mean `version`?)" when the mapping has keys close to `key`; else the
    keys it has (a few), so a typo is fixed from the message alone."""
    keys = [str(k) for k in mapping]
    close = difflib.get_close_matches(key, keys, n=3, cutoff=0.6)
    if close:
        return " (did you mean " + " or ".join(f"`{k}`" for k in close) + "?)"
    if not keys:
        return ""
    shown = ", ".join(f"`{k}`" for k in keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
    return f" (its keys: {shown})"


def format_steps(path: list) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif isinstance(step, tuple):
            out += f"[{step[0]}={step[1]}]"
        else:
            out += f".{step}" if out else step
    return out
