"""Per-cluster templates in policies: `argocd/apps/{cluster}-platform.yaml`,
`{labels.region}-*`. Only `{cluster}` and `{labels.<key>}` exist; anything else is an
error when the policy is read, not when the template is first used."""

from __future__ import annotations

import re
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class MissingLabel(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def check_template(template: str) -> str:
    """Return `template` unchanged, or raise ValueError naming the bad placeholder."""
    for name in _PLACEHOLDER.findall(template):
        if name != "cluster" and not (name.startswith("labels.") and len(name) > 7):
            raise ValueError(
                f"unknown placeholder {{{name}}} in {template!r}: use {{cluster}} or {{labels.<key>}}"
            )
    stray = _PLACEHOLDER.sub("", template)
    if "{" in stray or "}" in stray:
        raise ValueError(f"unbalanced brace in {template!r}")
    return template


def render(template: str, cluster: str, labels: Mapping[str, str]) -> str:
    """Fill in a checked template; raises MissingLabel when the cluster lacks a label."""

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name == "cluster":
            return cluster
        key = name[len("labels."):]
        if key not in labels:
            raise MissingLabel(key)
        return labels[key]

    return _PLACEHOLDER.sub(fill, template)


def labels_used(template: str) -> list[str]:
    return [n[len("labels."):] for n in _PLACEHOLDER.findall(template) if n.startswith("labels.")]
