"""Per-cluster templates in policies: `argocd/apps/{cluster}-platform.yaml`,
`{labels.region}-*`. Only `{cluster}` and `{labels.<key>}` exist; anything else is an
error when the policy is read, not when the template is first used."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
EMPTY = '""'  # how a value an empty label leaves empty is shown in a message


class MissingLabel(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


class EmptyLabel(MissingLabel):
    """A label a template uses is empty where the value needs it: a path's part
    (`apps/{labels.team}/x.yaml` with `team: ""` is `apps//x.yaml`, which the file system
    reads as another file, `apps/x.yaml`), a glob left all wildcards (render_pattern).
    `path`: the value as filled in. A MissingLabel: whoever skips a cluster that lacks a
    label skips this one too."""

    def __init__(self, key: str, path: str):
        super().__init__(key)
        self.path = path


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


@lru_cache(maxsize=1024)
def _label_keys(template: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n[len("labels."):] for n in _PLACEHOLDER.findall(template) if n.startswith("labels.")))


def render(template: str, cluster: str, labels: Mapping[str, str]) -> str:
    """Fill in a checked template; raises MissingLabel when the cluster lacks a label.
    (str.replace: cluster names and label values cannot hold braces, and it is ~10x
    faster than a regex callback on a 10,000-cluster plan.)"""
    out = template.replace("{cluster}", cluster)
    for key in _label_keys(template):
        if key not in labels:
            raise MissingLabel(key)
        out = out.replace("{labels." + key + "}", labels[key])
    return out


def render_path(template: str, cluster: str, labels: Mapping[str, str]) -> str:
    """A checked path template (a plain path: no empty part) filled in; raises
    MissingLabel, or EmptyLabel when an empty label value leaves an empty part, or one
    that is `.` or `..` (`{labels.tier}.{labels.env}/x.yaml` with both empty is `./x.yaml`:
    `x.yaml` to the file system, a tree entry named `.` to git)."""
    out = render(template, cluster, labels)
    if not out or out.startswith("/") or out.endswith("/") or "//" in out or "/." in "/" + out:
        for part in template.split("/"):  # the label to name: one that leaves its part empty (or dots)
            if "{labels." in part and render(part, cluster, labels) in ("", ".", ".."):  # (written so: the validator's)
                raise EmptyLabel(next((k for k in _label_keys(part) if labels[k] == ""), ""), out)
    return out


def render_pattern(template: str, cluster: str, labels: Mapping[str, str]) -> str:
    """A glob template (identity.require: `{labels.region}-*`) filled in; raises
    MissingLabel, or EmptyLabel when an empty label leaves nothing but wildcards (`*`, `?`)
    of a template that had more (`{labels.region}*` is `*`, `{labels.region}?*` is `?*`:
    any value matches, the check checks nothing). An empty pattern is no wildcard: it
    matches "" alone (`{labels.region}` with `region: ""` wants `REGION=` empty)."""
    out = render(template, cluster, labels)
    if out and out.strip("*?") == "":
        empty = next((k for k in _label_keys(template) if labels[k] == ""), None)
        if empty is not None:  # a template of wildcards alone is the author's: no label left it so
            raise EmptyLabel(empty, out)
    return out


def labels_used(template: str) -> list[str]:
    return list(_label_keys(template))
