"""`fleet: PATH`: our own inventory file, kind Fleet.

```yaml
apiVersion: rollout/v1alpha1
kind: Fleet
clusters:
  - {name: prod-eu-west, server: https://..., labels: {environment: production}}
```
"""

from __future__ import annotations

from pathlib import Path

from waves.problems import Problem
from rollout.inventory.entries import Entry, SourceResult
from rollout.yamlfile import YamlError, load_documents

_CLUSTER_KEYS = ("name", "server", "labels")
_CLUSTER_KEY_SET = frozenset(_CLUSTER_KEYS)
_FLEET_KEYS = ("apiVersion", "kind", "metadata", "clusters")


def read(repo: Path, pattern: str) -> SourceResult:
    result = SourceResult()
    try:
        docs = load_documents(repo / pattern)
    except YamlError as err:
        result.problems.append(Problem(err.message, (), pattern, line=err.line))
        return result
    if len(docs) != 1 or not isinstance(docs[0], dict):
        result.problem(pattern, 0, (), "a Fleet file holds one mapping with apiVersion rollout/v1alpha1, kind Fleet")
        return result
    doc = docs[0]
    if doc.get("kind") != "Fleet" or doc.get("apiVersion") != "rollout/v1alpha1":
        result.problem(pattern, 0, ("kind",), "expected apiVersion rollout/v1alpha1, kind Fleet")
    for key in doc:
        if key not in _FLEET_KEYS:
            result.problem(pattern, 0, (key,), f"unknown field; allowed here: {', '.join(_FLEET_KEYS)}")
    clusters = doc.get("clusters")
    if not isinstance(clusters, list):
        result.problem(pattern, 0, ("clusters",), "must be a list of clusters")
        return result
    entries = result.entries
    for index, item in enumerate(clusters):
        clusters[index] = None  # the parsed item goes as its entry comes: 100,000 clusters never held twice
        loc = ("clusters", index)
        if type(item) is dict and item.keys() <= _CLUSTER_KEY_SET:  # the usual cluster: checked in a few C calls
            name, server, labels = item.get("name"), item.get("server"), item.get("labels", {})
            if type(name) is str and (server is None or type(server) is str) and type(labels) is dict:
                entries.append(Entry(name, pattern, 0, loc, labels, loc + ("labels",), server))
                continue
        if not isinstance(item, dict):
            result.problem(pattern, 0, loc, "a cluster is a mapping with name, server, labels")
            continue
        for key in item:
            if key not in _CLUSTER_KEYS:
                result.problem(pattern, 0, loc + (key,), f"unknown field; allowed here: {', '.join(_CLUSTER_KEYS)}")
        name, server, labels = item.get("name"), item.get("server"), item.get("labels", {})
        if not isinstance(name, str):
            result.problem(pattern, 0, loc + ("name",), "required text field 'name' is missing")
            continue
        if server is not None and not isinstance(server, str):
            result.problem(pattern, 0, loc + ("server",), "must be text")
            server = None
        if not isinstance(labels, dict):
            result.problem(pattern, 0, loc + ("labels",), "must be a mapping of label keys to values")
            labels = {}
        result.entries.append(Entry(name, pattern, 0, loc, labels, loc + ("labels",), server))
    return result
