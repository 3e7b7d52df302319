"""Flux gate: the cluster's Kustomization or HelmRelease is Ready at the pinned revision
for its current generation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from waves.templates import check_template


class FluxGateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    context: str | None = Field(
        default=None, description="kubeconfig context of the cluster's API, usually '{cluster}'."
    )
    kind: Literal["Kustomization", "HelmRelease"] = "Kustomization"
    namespace: str = "flux-system"
    name: str = Field(description="Object name (a template).")

    @field_validator("context", "name")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)


class FluxGate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    flux: FluxGateConfig
