"""Argo CD gate: the cluster's Application is Synced to the pinned revision and Healthy.

This module holds the gate's configuration; its verdict (issue: health gates) is judged
from the Application objects the shell fetches."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from waves.templates import check_template


class ArgoCDGateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    context: str | None = Field(
        default=None, description="kubeconfig context of the Argo CD hub (default: current; in-cluster works)."
    )
    namespace: str = Field(default="argocd", description="Namespace of the Applications.")
    application: str | None = Field(
        default=None,
        description="Application name, a template such as '{cluster}-platform' "
        "(default: metadata.name of the pinned Application).",
    )

    @field_validator("context", "application")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)


class ArgoCDGate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    argocd: ArgoCDGateConfig
