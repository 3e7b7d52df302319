"""`clusterAPI: GLOB`: Cluster API `Cluster` manifests (name and labels from metadata;
server from spec.controlPlaneEndpoint when set)."""

from __future__ import annotations

from pathlib import Path

from rollout.inventory.entries import Entry, SourceResult, kind_of, mapping
from rollout.inventory.files import documents_in


def read(repo: Path, pattern: str) -> SourceResult:
    result = SourceResult()
    for file, doc_index, doc in documents_in(repo, pattern, result):
        if doc.get("kind") != "Cluster" or not str(doc.get("apiVersion", "")).startswith("cluster.x-k8s.io/"):
            continue
        metadata = mapping(doc.get("metadata"))
        name = metadata.get("name")
        if not isinstance(name, str):
            result.problem(file, doc_index, ("metadata", "name"), "Cluster has no metadata.name")
            continue
        endpoint = mapping(mapping(doc.get("spec")).get("controlPlaneEndpoint"))
        server = None
        host, port = endpoint.get("host"), endpoint.get("port", 6443)
        if host is not None:
            if not isinstance(host, str) or isinstance(port, bool) or not isinstance(port, (int, str)):
                result.problem(file, doc_index, ("spec", "controlPlaneEndpoint"),
                               "expected host (text) and port (a number)")
            else:
                server = f"https://{host}:{port}"
        labels = metadata.get("labels") or {}
        if not isinstance(labels, dict):
            result.problem(file, doc_index, ("metadata", "labels"), f"expected a mapping, got {kind_of(labels)}")
            labels = {}
        result.entries.append(Entry(name, file, doc_index, (), labels, ("metadata", "labels"), server))
    return result
