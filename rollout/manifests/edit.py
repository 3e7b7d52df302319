"""Pin a value into a manifest's text, byte-exact.

The file is parsed with positions (libyaml's events, rollout/manifests/document.py); the
preset finds its document and the path to the field in plain data; then exactly the
scalar's span is replaced, in its own quoting style. Comments, blank lines, key order,
indentation, `---` markers, CRLF line ends, a leading byte-order mark and the other
documents are untouched, and `git diff` shows one changed line. Where the field is absent,
one `key: value` line is added to its mapping. A load-and-dump round trip would reformat
the file and is much slower (docs/performance.md).

Two refusals keep an edit honest: a scalar that YAML aliases reuse elsewhere (`&a` ...
`*a`) is not edited, since the change would land in every place; and the edited text is
parsed again and must read as the old data with only the pinned field changed.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

from waves.pins.base import PinBase, PinTargetError, format_steps, near
from waves.templates import MissingLabel, render
from rollout.manifests.document import BOM, parse_manifest
from rollout.yamlfile import Located, YamlError


class PinError(Exception):
    """The pin cannot be applied to this file; `line` when known."""

    def __init__(self, message: str, line: int | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.field = field


@dataclass(frozen=True)
class PinResult:
    text: str  # the new text (the same string when nothing changed)
    old: str | None  # the pinned value that was there (the preset's part of the field); None: key absent
    old_raw: str | None  # the scalar exactly as written (quotes included): what a revert restores
    field: str  # the resolved path, e.g. spec.sources[1].targetRevision
    line: int  # where the value is (1-based)
    document: int = 0  # which document of the file
    absent: int | None = None  # where `old` is None: the index in the path of its first missing key


def pin_text(
    text: str,
    pin: PinBase,
    cluster: str,
    labels: dict[str, str],
    value: str | None,
    path: str = "",
    raw: str | None = None,
    located: Located | None = None,
    remove_from: int | None = None,
) -> PinResult:
    """Write `value` into the field `pin` names for `cluster`; `None` removes it (a revert
    of an advance that had to add it): the key, or with `remove_from` (the `absent` of the
    text before that advance) the entry of the first key that was missing then, with the
    mappings the advance made under it. `raw`, when given, is the scalar exactly as it was
    once written (a revert restores quotes too). `located`: `text` already parsed (by
    `parse`). Raises PinError; never returns a text that reads as anything but the
    intended change (checked in place for a single-line value, else parsed again and
    compared)."""
    if located is None:
        located = parse(text, path)
    # Marks index the text after a leading byte-order mark (document.py); it is kept.
    bom = BOM if text.startswith(BOM) else ""
    body = text[len(bom):]
    index, field_path, chain = _find(located, pin, cluster, labels)
    field = format_steps(field_path)
    parent, node = chain[-2], chain[-1]
    newline = "\r\n" if "\r\n" in body else "\n"
    if node is None:  # absent: add its key (and, with create: true, the mappings on the way)
        absent = len(chain) - 2
        if value is None:
            return PinResult(text, None, None, field, parent.start_mark.line + 1, index, absent)
        missing = field_path[absent:]
        _may_add(pin, located.documents[index], field_path, missing, field, parent.start_mark.line + 1)
        _refuse_shared(chain, field)
        value = _written(pin, None, value, field, parent.start_mark.line + 1)
        new_body, line = _insert(body, parent, [str(k) for k in missing], value, newline, field, located.nodes[index])
        _verify(new_body, located, index, field_path, value, field, line, path)
        return PinResult(bom + new_body, None, None, field, line, index, absent)
    line = node.start_mark.line + 1
    start, end = _token_start(body, node), node.end_mark.index
    old_raw = body[start:end]
    _refuse_shared(chain, field)
    from yaml.nodes import MappingNode, ScalarNode

    if value is None and (not isinstance(node, ScalarNode) or _written(pin, node.value, None, field, line) is None):
        k = len(field_path) - 1 if remove_from is None else remove_from
        if not 0 <= k < len(field_path) or not isinstance(field_path[k], str) \
                or not isinstance(chain[k], MappingNode):
            raise PinError(f"cannot remove {format_steps(field_path[:k + 1]) or field}: it is not a key", line, field)
        extra = [format_steps(field_path[:j]) for j in range(k + 1, len(field_path))
                 if isinstance(chain[j], MappingNode) and len(chain[j].value) != 1]
        if extra:  # keys added by hand beside what the advance made stay: not a revert's to drop
            raise PinError(f"cannot remove {format_steps(field_path[:k + 1])}: {extra[0]} holds other keys now; "
                           "remove what the advance added by hand", line, field)
        new_body = _remove(body, chain[k], chain[k + 1], format_steps(field_path[:k + 1]))
        _verify(new_body, located, index, field_path[:k + 1], _REMOVED, field, line, path)
        return PinResult(bom + new_body, _read(pin, node.value, field, line), old_raw, field, line, index)
    if not isinstance(node, ScalarNode):
        raise PinError(f"{field} is not a single value", line, field)
    tag = getattr(node, "explicit_tag", None)
    if tag not in (None, "!", "tag:yaml.org,2002:str"):
        raise PinError(f"{field} has the explicit tag {tag}, so it is not text: remove the tag to pin it", line, field)
    full = node.value
    old = _read(pin, full, field, line)
    value = _written(pin, full, value, field, line)  # from here on: the field's whole new text
    if full == value and _reads_as_text(node) and (raw is None or raw == old_raw):
        return PinResult(text, old, old_raw, field, line, index)
    flow = bool(parent.flow_style)
    if raw is not None and _raw_reads_as(raw, value, flow):
        replacement = raw
    else:
        replacement = _render(value, node.style, field, line, flow)
    new_body = body[:start] + replacement + body[end:]
    if not _replaced_in_place(body, end, old_raw, full, replacement, value, flow):
        _verify(new_body, located, index, field_path, value, field, line, path)
    return PinResult(bom + new_body, old, old_raw, field, line, index)


def read_pin(text: str, pin: PinBase, cluster: str, labels: dict[str, str], path: str = "",
             located: Located | None = None) -> PinResult:
    """What the field `pin` names for `cluster` holds now, writing nothing: `old` None when
    it is absent (also where the preset would refuse to add it: a revert reads the text
    before an advance, whatever that advance was allowed to do). Raises PinError."""
    if located is None:
        located = parse(text, path)
    index, field_path, chain = _find(located, pin, cluster, labels)
    field, node = format_steps(field_path), chain[-1]
    if node is None:
        return PinResult(text, None, None, field, chain[-2].start_mark.line + 1, index, len(chain) - 2)
    from yaml.nodes import ScalarNode

    line = node.start_mark.line + 1
    if not isinstance(node, ScalarNode):
        raise PinError(f"{field} is not a single value", line, field)
    body = text[len(BOM):] if text.startswith(BOM) else text
    return PinResult(text, _read(pin, node.value, field, line), body[_token_start(body, node):node.end_mark.index],
                     field, line, index)


def _find(located: Located, pin: PinBase, cluster: str, labels: dict[str, str]) -> tuple[int, list, list]:
    """The document, the resolved path and the nodes along it (the last None when the
    field is absent)."""
    index = find_document(located, pin, cluster, labels)
    doc, root = located.documents[index], located.nodes[index]
    try:
        field_path = pin.locate(doc, cluster, labels)
    except PinTargetError as err:
        line = located.line(tuple(err.at), index) if err.at else None
        raise PinError(str(err), line or root.start_mark.line + 1, _field_name(pin, cluster, labels)) from None
    return index, field_path, _walk(root, field_path)


def _field_name(pin: PinBase, cluster: str, labels: dict[str, str]) -> str:
    try:
        return pin.field_for(cluster, labels)
    except MissingLabel:
        return pin.field_path()


def _may_add(pin: PinBase, doc: dict, field_path: list, missing: list, field: str, line: int) -> None:
    """No silent creation: a key the document lacks is added only where the preset knows
    the field may be absent, or the policy says `create: true`, and then not when it is
    a near miss of a key there (`hlm` beside `helm`: a typo, which Fleet or Helm would
    ignore while the wave passed)."""
    creates = pin.creates()
    if creates == "leaf":
        return
    parent = doc
    for step in field_path[:len(field_path) - len(missing)]:
        parent = parent[step]
    where = format_steps(field_path[:len(field_path) - len(missing)]) or "the document"
    key = str(missing[0])
    if creates is None:
        raise PinError(f"{where} has no key {key}{near(parent, key)}: {pin.absent_hint()}", line, field)
    close = difflib.get_close_matches(key, [str(k) for k in parent], n=1, cutoff=0.8)
    if close:
        raise PinError(f"{where} has no key {key} but has `{close[0]}`: create: true adds no key that is a near "
                       f"miss of one there (a typo would be written and change nothing); if {key} is meant, "
                       "add it by hand once", line, field)


_AFTER_BLOCK = re.compile(r"[ \t]*(?:#[^\r\n]*)?(?:\r?\n|$)")
_AFTER_FLOW = re.compile(r"[ \t]*[,\]}]")


def _replaced_in_place(body: str, end: int, old_raw: str, old: str, replacement: str, value: str, flow: bool) -> bool:
    """The cheap proof for the common edit, one single-line scalar token for another:
    the old span reads as the old scalar (so the offsets are right), the replacement
    reads as the new value in the same context, and what follows the token on its line
    ends a token either way (a comment, the line end, or in flow `,` `]` `}`). Then the
    rest of the file reads as before. Anything else is parsed again in full (`_verify`);
    the property test (tests/test_pin_roundtrip.py) checks both against another reader.
    Parsing every edited Application again would add ~1.8 s to a 10,000-file wave
    (~0.18 ms each); these checks are cached per value and cost next to nothing."""
    if "\n" in old_raw or "\n" in replacement:
        return False
    after = _AFTER_FLOW if flow else _AFTER_BLOCK
    return bool(after.match(body, end)) and _raw_reads_as(old_raw, old, flow) and _raw_reads_as(replacement, value, flow)


def _token_start(body: str, node) -> int:
    """Where the scalar's own text starts: after its `&anchor` and `!tag` properties."""
    index = node.start_mark.index
    if not getattr(node, "props", False):
        return index
    while True:
        match = _PROPERTY.match(body, index)
        if not match.group(0) or body[index] not in "&!":
            return index
        index = match.end()


_PROPERTY = re.compile(r"(?:[&!]\S*)?(?:[ \t\r\n]+|#[^\r\n]*)*")  # one property, then blanks/comments
_REMOVED = object()


def _read(pin: PinBase, scalar: str | None, field: str, line: int) -> str | None:
    try:
        return pin.read(scalar)
    except PinTargetError as err:
        raise PinError(str(err), line, field) from None


def _written(pin: PinBase, scalar: str | None, value: str | None, field: str, line: int) -> str | None:
    """The field's whole new text; None: remove the field (a revert of an added key)."""
    try:
        return pin.write(scalar, value)
    except PinTargetError as err:
        raise PinError(str(err), line, field) from None


def _verify(new_body: str, located: Located, index: int, field_path: list, value, field: str, line: int,
            path: str) -> None:
    """Parse the edited text again: it must hold exactly the old data with the one field
    changed. A span or quoting mistake is then a refusal, never a corrupted file."""
    try:
        after = parse_manifest(new_body, path).documents
    except YamlError as err:
        raise PinError(f"writing {field} would break the file ({err.message}): refusing", line, field) from None
    expected = list(located.documents)
    expected[index] = _with(expected[index], field_path, value)
    if after != expected:
        raise PinError(f"writing {field} would change other data in this file: refusing", line, field)


def _with(data, path: list, value):
    """A copy of `data` (copied along `path` only) with the value at `path` replaced."""
    step, rest = path[0], path[1:]
    copy = dict(data) if isinstance(data, dict) else list(data)
    if not rest and value is _REMOVED:
        del copy[step]
    else:
        copy[step] = value if not rest else _with(data[step] if step in copy or isinstance(data, list) else {}, rest, value)
    return copy


def _refuse_shared(chain: list, field: str) -> None:
    """An anchored node that aliases reuse is written once and read in several places:
    editing it (or a scalar inside it) would change all of them."""
    for node in chain:  # the last is None when the field is absent (to be added)
        aliases = sorted(set(getattr(node, "alias_lines", None) or ()))
        if not aliases:
            continue
        anchor_line = node.start_mark.line + 1
        where = f"line{'s' if len(aliases) > 1 else ''} {', '.join(str(n) for n in aliases)}"
        if isinstance(node, _Alias):
            what = f"{field} is read through an alias of &{node.anchor} (line {anchor_line}): *{node.anchor} at {where}"
        else:
            inside = "is" if node is chain[-1] else "is inside"
            what = f"{field} {inside} &{node.anchor} (line {anchor_line}), which *{node.anchor} also uses at {where}"
        raise PinError(
            f"{what}; pinning it would change every one of them: give this field its own value (no anchor or "
            "alias) to pin it", anchor_line, field)


def parse(text: str, path: str = "") -> Located:
    try:
        located = parse_manifest(text, path)
    except YamlError as err:
        raise PinError(err.message, err.line) from None
    if located.problems:
        line, message = located.problems[0]
        raise PinError(message, line)
    return located


def find_document(located: Located, pin: PinBase, cluster: str, labels: dict[str, str]) -> int:
    """Index of the one document the pin edits for this cluster; raises PinError."""
    chosen = [i for i, doc in enumerate(located.documents) if pin.matches(doc, cluster, labels)]
    if len(chosen) != 1:
        explained = pin.explain_choice(located.documents, chosen, cluster, labels)
        if explained is not None:
            message, index, at = explained
            line = None
            if index is not None:
                line = (located.line(tuple(at), index) if at else None) or located.nodes[index].start_mark.line + 1
            raise PinError(message, line)
    if not chosen:
        named = f" named {render(pin.name, cluster, labels)}" if pin.name else ""
        kind = pin.describe_kind()
        raise PinError(f"no {kind}{'' if kind == 'document' else ' document'}{named} in this file")
    if len(chosen) > 1:
        raise PinError(f"{len(chosen)} {pin.describe_kind()} documents in this file: set `name:` on the pin to choose one",
                       located.nodes[chosen[1]].start_mark.line + 1)
    return chosen[0]


def _walk(root, path) -> list:
    """The nodes from the root to the field; the last is None when its key is absent."""
    from yaml.nodes import MappingNode

    chain, node = [root], root
    for step in path:
        node = node.node if isinstance(node, _Alias) else node
        if isinstance(node, MappingNode):
            key, node = next(((k, v) for k, v in node.value if getattr(k, "value", None) == step), (None, None))
            if node is not None and node.start_mark.index < key.start_mark.index:
                node = _Alias(node)  # written before its key: reached through `*name`
        else:
            before = node.value[step - 1].end_mark.index if step else node.start_mark.index
            node = node.value[step]
            if node.start_mark.index < before:
                node = _Alias(node)
        chain.append(node)
        if node is None:
            break
    return chain


class _Alias:
    """A node reached through an alias: the anchored node, seen from the `*name`."""

    def __init__(self, node):
        self.node = node

    def __getattr__(self, name):
        return getattr(self.node, name)


@functools.lru_cache(maxsize=256)  # a wave pins one value into thousands of files
def _raw_reads_as(raw: str, value: str, flow: bool = False) -> bool:
    try:
        return Located.parse("", f"v: [{raw}]\n" if flow else f"v: {raw}\n").documents == [{"v": [value] if flow else value}]
    except YamlError:
        return False


def _reads_as_text(node) -> bool:
    """A plain `1.20` holds the text 1.20 but YAML reads a number: re-render it quoted."""
    return bool(node.style) or _plain_safe(node.value)


_PLAIN_UNSAFE_START = set("-?:,[]{}#&*!|>'\"%@`")


_FLOW_INDICATORS = set(",[]{}?")  # `?` too: PyYAML (what many readers use) refuses `{tag: 0?}` and `[0?]`


@functools.lru_cache(maxsize=256)
def _plain_safe(value: str, flow: bool = False) -> bool:
    """Can `value` be written unquoted and still be read back as this exact text by
    YAML 1.1 and 1.2 readers? Inside `{...}` or `[...]` (flow) `,[]{}` end a plain
    scalar, so there they need quotes too."""
    if not value or value != value.strip() or not value.isprintable() or value[0] in _PLAIN_UNSAFE_START:
        return False
    if flow and not _FLOW_INDICATORS.isdisjoint(value):
        return False
    if ": " in value or " #" in value or value.endswith(":"):
        return False
    try:
        located = Located.parse("", f"v: {value}\n")
    except YamlError:
        return False
    return located.documents == [{"v": value}]


def _render(value: str, style: str | None, field: str, line: int, flow: bool = False) -> str:
    if style in ("|", ">"):
        raise PinError(f"{field} is a block scalar ({style}); write the revision as a plain or quoted value", line, field)
    if style == "'" and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    if style in ("'", '"') or not _plain_safe(value, flow):
        return _double_quoted(value)
    return value


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def _double_quoted(value: str) -> str:
    """A YAML double-quoted scalar: YAML's own escapes (JSON's would write a character
    beyond U+FFFF as a surrogate pair, which YAML rejects)."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _insert(text: str, mapping, keys: list[str], value: str, newline: str, field: str, root=None) -> tuple[str, int]:
    """Add `key: value` to a mapping (`keys`: more than one with create: true, each a
    mapping holding the next): first in a flow mapping, as its own lines (at the mapping's
    indentation, before its first key) in a block mapping. Returns the text and the line
    of the value."""
    from yaml.nodes import MappingNode

    if not isinstance(mapping, MappingNode):
        raise PinError(f"cannot add {field}: its parent is not a mapping")
    rendered = _render(value, None, field, mapping.start_mark.line + 1, bool(mapping.flow_style))
    if mapping.flow_style:
        brace = mapping.start_mark.index
        separator = ", " if mapping.value else ""
        entry = "".join(f"{k}: {{" for k in keys[:-1]) + f"{keys[-1]}: {rendered}" + "}" * (len(keys) - 1)
        return text[: brace + 1] + entry + separator + text[brace + 1 :], mapping.start_mark.line + 1
    if not mapping.value:
        raise PinError(f"cannot add {field}: its mapping is empty")
    first_key = mapping.value[0][0]
    column = first_key.start_mark.column
    step = _indent_step(root if root is not None else mapping)
    lines = [" " * (column + i * step) + f"{k}:" for i, k in enumerate(keys[:-1])]
    lines.append(" " * (column + (len(keys) - 1) * step) + f"{keys[-1]}: {rendered}")
    entry = newline.join(lines)
    line_start = text.rfind("\n", 0, first_key.start_mark.index) + 1
    if text[line_start : first_key.start_mark.index].strip() == "":
        return text[:line_start] + entry + newline + text[line_start:], first_key.start_mark.line + len(keys)
    # The first key shares its line with a "- " list marker: add after that line.
    first_value = mapping.value[0][1]
    if first_value.start_mark.line != first_key.start_mark.line or first_value.end_mark.line != first_key.start_mark.line:
        raise PinError(f"cannot add {field} here without reformatting: add the key by hand once")
    match = re.compile(r"\r?\n").search(text, first_value.end_mark.index)
    at = match.start() if match else len(text)
    return text[:at] + newline + entry + text[at:], first_key.start_mark.line + 1 + len(keys)


def _indent_step(root) -> int:
    """How far this document indents a block mapping inside a block mapping: the first
    such pair found, else 2."""
    from yaml.nodes import MappingNode, SequenceNode

    todo = [root]
    while todo:
        node = todo.pop(0)
        if isinstance(node, MappingNode) and not node.flow_style:
            for key, value in node.value:
                if isinstance(value, MappingNode) and not value.flow_style and value.value:
                    inner = value.value[0][0].start_mark.column - key.start_mark.column
                    if inner > 0:
                        return inner
                todo.append(value)
        elif isinstance(node, SequenceNode):
            todo.extend(node.value)
    return 2


def _remove(text: str, mapping, node, field: str) -> str:
    """Undo `_insert`: drop the `key: value` entry (its whole lines in a block mapping)."""
    from yaml.nodes import MappingNode

    if not isinstance(mapping, MappingNode):
        raise PinError(f"cannot remove {field}: it is a list item, not a key", node.start_mark.line + 1, field)
    key_node = next(k for k, v in mapping.value if v is node)
    if mapping.flow_style:
        end = node.end_mark.index
        rest = re.compile(r", ?").match(text, end)  # what _insert wrote after the entry, no more
        return text[: key_node.start_mark.index] + text[rest.end() if rest else end :]
    last = _last_end(node)
    line_start = text.rfind("\n", 0, key_node.start_mark.index) + 1
    line_end = text.find("\n", last)
    line_end = len(text) if line_end < 0 else line_end + 1
    # A comment after a scalar is someone's and stays (refused); lines of a removed block
    # are all the advance's, whatever was written inside them since
    after = node.end_mark.index if last == node.end_mark.index else line_end
    if text[line_start : key_node.start_mark.index].strip() or "#" in text[after : line_end]:
        raise PinError(f"cannot remove {field} without touching other text: remove it by hand", key_node.start_mark.line + 1)
    return text[:line_start] + text[line_end:]


def _last_end(node) -> int:
    """Where a node's own text ends: a block collection's end mark is where the next
    token starts (often the next line), so its last scalar's end is taken."""
    from yaml.nodes import MappingNode, SequenceNode

    while not getattr(node, "flow_style", False) and isinstance(node, (MappingNode, SequenceNode)) and node.value:
        node = node.value[-1][1] if isinstance(node, MappingNode) else node.value[-1]
    return node.end_mark.index
