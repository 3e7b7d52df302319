"""Manifests parsed for editing: the positions of every node and the document as plain
data whose scalars are all text, built in one pass over libyaml's event stream.

Editing needs no type resolution (a preset compares `kind`, names and keys as text), so
this skips PyYAML's resolver and constructor, which cost ~5x the parse itself on a
10,000-file wave (docs/performance.md). The nodes are PyYAML's own node classes, so
`Located` (line lookup) and the editor work on them unchanged.
"""

from __future__ import annotations

from rollout.yamlfile import Located, YamlError

_NULLS = frozenset(("", "~", "null", "Null", "NULL"))


def parse_manifest(text: str, path: str = "") -> Located:
    """Raises YamlError for broken YAML; duplicate keys are listed in `.problems`."""
    import yaml
    from yaml.events import (
        AliasEvent,
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

    try:
        for event in yaml.parse(text, Loader=loader):
            kind = type(event)
            if kind is ScalarEvent:
                node = ScalarNode("tag:yaml.org,2002:str", event.value, event.start_mark, event.end_mark, event.style)
                data = None if not event.style and event.value in _NULLS else event.value
                if event.anchor:
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
                    anchors[anchor] = (node, data)
                add(node, data)
            elif kind is AliasEvent:
                if event.anchor not in anchors:
                    raise YamlError(path, event.start_mark.line + 1, f"unknown alias *{event.anchor}")
                add(*anchors[event.anchor])
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise YamlError(path, mark.line + 1 if mark else None, ": ".join(p for p in (err.context, err.problem) if p)) from None
    except yaml.YAMLError as err:
        raise YamlError(path, None, str(err).splitlines()[0]) from None
    return Located(path, documents, nodes, problems)
