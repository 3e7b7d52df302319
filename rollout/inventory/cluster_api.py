"""`clusterAPI`: Cluster API `Cluster` objects (cluster.x-k8s.io, kubernetes-sigs/cluster-api):
a glob of manifests in the repo, or `{context, namespace, selector}` on the management
cluster. Name and labels from metadata; server from spec.controlPlaneEndpoint when set.
Live, available: phase Provisioned and the Ready (v1beta1) / Available (v1beta2) condition
True (waves/availability.py)."""

from __future__ import annotations

from pathlib import Path

from waves.availability import cluster_api
from rollout.inventory.entries import Entry, SourceResult, kind_of, mapping
from rollout.inventory.files import documents_in
from rollout.inventory.live import entry, problem


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
        server, bad = endpoint(doc)
        if bad:
            result.problem(file, doc_index, ("spec", "controlPlaneEndpoint"), bad)
        labels = metadata.get("labels") or {}
        if not isinstance(labels, dict):
            result.problem(file, doc_index, ("metadata", "labels"), f"expected a mapping, got {kind_of(labels)}")
            labels = {}
        result.entries.append(Entry(name, file, doc_index, (), labels, ("metadata", "labels"), server))
    return result


def read_live(listed) -> SourceResult:
    result = SourceResult()
    for obj in listed.items:
        server, bad = endpoint(obj)
        if bad:
            result.problems.append(problem(listed, obj, ("spec", "controlPlaneEndpoint"), bad))
        made = entry(listed, obj, result, cluster_api(obj), server)
        if made is not None:
            result.entries.append(made)
    return result


def endpoint(doc: dict) -> tuple[str | None, str | None]:
    """(server, problem) of spec.controlPlaneEndpoint; an empty host (the zero value a
    Cluster still provisioning shows) is no server yet."""
    found = mapping(mapping(doc.get("spec")).get("controlPlaneEndpoint"))
    host, port = found.get("host"), found.get("port", 6443)
    if host is None or host == "":
        return None, None
    if not isinstance(host, str) or isinstance(port, bool) or not isinstance(port, (int, str)):
        return None, "expected host (text) and port (a number)"
    return f"https://{host}:{port or 6443}", None
