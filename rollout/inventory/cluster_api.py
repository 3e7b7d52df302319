"""`clusterAPI: GLOB`: Cluster API `Cluster` manifests (name and labels from metadata;
server from spec.controlPlaneEndpoint when set)."""

from __future__ import annotations

from pathlib import Path

from rollout.inventory.entries import Entry, SourceResult
from rollout.inventory.files import documents_in


def read(repo: Path, pattern: str) -> SourceResult:
    result = SourceResult()
    for file, doc_index, doc in documents_in(repo, pattern, result):
        if doc.get("kind") != "Cluster" or not str(doc.get("apiVersion", "")).startswith("cluster.x-k8s.io/"):
            continue
        metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        name = metadata.get("name")
        if not isinstance(name, str):
            result.problem(file, doc_index, ("metadata", "name"), "Cluster has no metadata.name")
            continue
        endpoint = (doc.get("spec") or {}).get("controlPlaneEndpoint") or {}
        server = None
        if isinstance(endpoint, dict) and endpoint.get("host"):
            server = f"https://{endpoint['host']}:{endpoint.get('port', 6443)}"
        labels = metadata.get("labels") or {}
        result.entries.append(Entry(name, file, doc_index, (), labels, ("metadata", "labels"), server))
    return result
