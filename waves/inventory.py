"""Clusters as the planner sees them: a name, labels, and where they were found."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cluster:
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    server: str | None = None
    sources: tuple[str, ...] = ()  # inventory files that named this cluster
