"""Clusters as the planner sees them: a name, labels, and where they were found."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cluster:
    name: str
    # One mapping shared by every cluster with the same labels (rollout/inventory: ~24 for
    # 100,000 clusters; the planner decides per mapping): never changed in place.
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    server: str | None = None
    sources: tuple[str, ...] = ()  # inventory files (or hub sources: `hub:clusterProfiles@hub/ns`) that named it
    # Why it is unavailable, by its source's own condition (waves/availability.py); None: up.
    # It decides only what a wave pins, never what it judges (waves/state.py).
    down: str | None = None


def hub_origin(source: str, context: str | None, namespace: str | None) -> str:
    """What a cluster's `sources` lists for a live source: `hub:clusterProfiles@hub/fleet-system`
    (the kind's policy key, the context, the namespace of a namespaced kind)."""
    return f"hub:{source}@{context or '(current)'}" + (f"/{namespace}" if namespace else "")


def hub_namespaces(sources: tuple[str, ...], source: str) -> set[str]:
    """The namespaces the live source `source` (a namespaced kind: its origin ends in
    `/<namespace>`, which holds no `/`) listed a cluster in, from its `sources`."""
    prefix = f"hub:{source}@"
    return {s.rpartition("/")[2] for s in sources if s.startswith(prefix) and "/" in s[len(prefix):]}
