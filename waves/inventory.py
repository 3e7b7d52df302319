"""Clusters as the planner sees them, and the Fleet file format (kind Fleet)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator


@dataclass(frozen=True)
class Cluster:
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    server: str | None = None
    sources: tuple[str, ...] = ()  # inventory files that named this cluster


class FleetCluster(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    server: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        # Cluster names become file names and git commit text: keep them DNS-like.
        import re

        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name):
            raise ValueError(f"{name!r} is not a cluster name (lower-case letters, digits, '-', '.')")
        return name


class FleetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apiVersion: str
    kind: str
    metadata: dict = Field(default_factory=dict)
    clusters: list[FleetCluster]
