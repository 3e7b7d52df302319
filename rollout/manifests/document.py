"""Manifests parsed for editing: the positions of every node and the document as plain
data whose scalars are all text, built in one pass over libyaml's event stream.

Editing needs no type resolution (a preset compares `kind`, names and keys as text), so
this skips PyYAML's resolver and constructor, which cost ~5x the parse itself on a
10,000-file wave (docs/performance.md). The nodes are PyYAML's own node classes, so
`Located` (line lookup) and the editor work on them unchanged.

A leading UTF-8 byte-order mark is not part of the YAML: it is dropped before parsing, so
every mark's `index` counts characters of the text *after* it (libyaml skips a leading
BOM without counting it, PyYAML's pure-Python reader counts it: stripping it first makes
both agree). The editor puts the mark back (rollout/manifests/edit.py).
"""


from __future__ import annotations

from pathlib import Path

from rollout.yamlfile import Located, YamlError, read_text

_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
BOM = "\ufeff"


class Manifest(Located):
    """`Located` plus what editing needs: whether the file starts with a BOM. Anchored
    nodes carry `.anchor` (the name) and `.alias_lines` (1-based lines of each `*name`
    that reuses them), so the editor can refuse a scalar that is written in one place
    but read in several."""

    bom: bool = False


def read_manifest(path: Path) -> str:
    """The file's text exactly, a leading byte-order mark included (`read_text` drops
    it, which is right for reading but would lose it on the write back). Raises
    YamlError as `read_text` does."""
    try:
        data = path.read_bytes()
    except OSError:
        return read_text(path)  # raises the one error message for this
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return read_text(path)


def parse_manifest(text: str, path: str = "") -> Manifest:
    """Raises YamlError for broken YAML; duplicate keys are listed in `.problems`."""
    import yaml
    from yaml.events import (
        AliasEvent,
        DocumentStartEvent,
        MappingEndEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceEndEvent,
        SequenceStartEvent,
    )
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    documents: list = []
    nodes: list = []
    problems: list[tuple[int, str]] = []
    anchors: dict[str, tuple] = {}
    # Each open collection: [node, data, pending key node, pending key data]
    stack: list[list] = []

    def add(node, data) -> None:
        if not stack:
            if data is not None:
                nodes.append(node)
                documents.append(data)
            return
        top = stack[-1]
        if isinstance(top[1], list):
            top[0].value.append(node)
            top[1].append(data)
        elif top[2] is None:
            top[2], top[3] = node, data
        else:
            key_node, key = top[2], top[3]
            if not isinstance(key, str):
                key = str(key)
            if key in top[1]:
                problems.append((key_node.start_mark.line + 1, f"duplicate key {key!r}"))
            top[1][key] = data
            top[0].value.append((key_node, node))
            top[2] = top[3] = None

    bom = text.startswith(BOM)
    if bom:
        text = text[len(BOM):]
    try:
        for event in yaml.parse(text, Loader=loader):
            kind = type(event)
            if kind is ScalarEvent:
                node = ScalarNode("tag:yaml.org,2002:str", event.value, event.start_mark, event.end_mark, event.style)
                data = None if not event.style and event.value in _NULLS else event.value
                if event.anchor or event.tag:
                    node.props = True  # its span starts at `&anchor` / `!tag`, before the value
                    node.explicit_tag = event.tag
                if event.anchor:
                    node.anchor, node.alias_lines = event.anchor, []
                    anchors[event.anchor] = (node, data)
                add(node, data)
            elif kind is MappingStartEvent:
                node = MappingNode("tag:yaml.org,2002:map", [], event.start_mark, None, event.flow_style)
                stack.append([node, {}, None, None, event.anchor])
            elif kind is SequenceStartEvent:
                node = SequenceNode("tag:yaml.org,2002:seq", [], event.start_mark, None, event.flow_style)
                stack.append([node, [], None, None, event.anchor])
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                node, data, _, _, anchor = stack.pop()
                node.end_mark = event.end_mark
                if anchor:
                    node.anchor, node.alias_lines = anchor, []
                    anchors[anchor] = (node, data)
                add(node, data)
            elif kind is AliasEvent:
                if event.anchor not in anchors:
                    raise YamlError(path, event.start_mark.line + 1, f"unknown alias *{event.anchor}")
                anchors[event.anchor][0].alias_lines.append(event.start_mark.line + 1)
                add(*anchors[event.anchor])
            elif kind is DocumentStartEvent:
                anchors.clear()  # an anchor is local to its document
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise YamlError(path, mark.line + 1 if mark else None, ": ".join(p for p in (err.context, err.problem) if p)) from None
    except yaml.YAMLError as err:
        raise YamlError(path, None, str(err).splitlines()[0]) from None
    manifest = Manifest(path, documents, nodes, problems)
    manifest.bom = bom
    return manifest
