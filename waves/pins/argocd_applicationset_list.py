"""Argo CD ApplicationSet list generator: a field of the element whose cluster key names
the cluster (`spec.generators[].list.elements[cluster=<name>].targetRevision`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase


class ArgoCDApplicationSetListPin(PinBase):
    KIND: ClassVar[str] = "argoproj.io/ApplicationSet"

    preset: Literal["argocd-applicationset-list"]
    clusterKey: str = Field(default="cluster", description="Element key whose value is the cluster name.")
    field: str = Field(default="targetRevision", description="Element key that holds the revision.")

    def field_path(self) -> str:
        return f"spec.generators[].list.elements[{self.clusterKey}={{cluster}}].{self.field}"
