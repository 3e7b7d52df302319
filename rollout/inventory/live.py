"""What the live sources share: an object the hub listed as an inventory entry (name from
metadata.name, labels from metadata.labels), its API server when every address the object
gives is one server, and properties (ClusterProfile) or claims (OCM) read as labels.

The rule for properties and claims (docs/inventory.md): one named N with value V reads as
the label `N: V` when N is a valid label key and V a valid label value, unless the object's
own metadata.labels has the key N (the label the cluster manager set wins). Others (a name
a label key cannot be, a value longer than 63 characters) are not labels.
"""

from __future__ import annotations

from waves.problems import Problem
from waves.selectors import label_key_problem, label_value_problem
from rollout.inventory.entries import Entry, SourceResult, describe, kind_of, mapping
from rollout.targeting.urls import server_key


def entry(listed, obj: dict, result: SourceResult, down: str | None, server: str | None = None,
          extra_labels: dict[str, str] | None = None, name: str | None = None) -> Entry | None:
    """The entry of one listed object (None, with a problem, when it has no name)."""
    metadata = mapping(obj.get("metadata"))
    name = name if name is not None else metadata.get("name")
    if not isinstance(name, str) or not name:
        result.problems.append(problem(listed, obj, ("metadata", "name"), "has no name"))
        return None
    labels = metadata.get("labels") or {}
    if not isinstance(labels, dict):
        result.problems.append(problem(listed, obj, ("metadata", "labels"), f"expected a mapping, got {kind_of(labels)}"))
        labels = {}
    labels = dict(labels)
    for key, value in (extra_labels or {}).items():
        labels.setdefault(key, value)
    return Entry(name, listed.origin, 0, (), labels, ("metadata", "labels"), server, down=down, live=True,
                 ref=(listed, obj))


def problem(listed, obj: dict, loc: tuple, message: str) -> Problem:
    return Problem(message, loc, describe(listed, obj), extra={"live": True})


def as_labels(named: object) -> dict[str, str]:
    """Properties or claims ([{name, value}]) that can be labels, as labels (the rule above)."""
    out: dict[str, str] = {}
    for item in named if isinstance(named, list) else ():
        item = mapping(item)
        key, value = item.get("name"), item.get("value")
        if isinstance(key, str) and isinstance(value, str) and not label_key_problem(key) \
                and not label_value_problem(value):
            out.setdefault(key, value)
    return out


def one_server(urls: list[object]) -> str | None:
    """The API server when every address given names one server (compared normalised);
    none given, or two different ones (a proxy and the cluster itself): None."""
    given = [u for u in urls if isinstance(u, str) and u.strip()]
    if len(given) > 1 and len({server_key(u) for u in given}) != 1:
        return None
    return given[0] if given else None
