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


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: str  # passed | pending | failed
    reason: str


def applied_revision(obj: dict) -> str | None:
    """The revision a Kustomization or HelmRelease last applied, without its `@sha1:...`."""
    status = obj.get("status") or {}
    applied = status.get("lastAppliedRevision")
    if applied is None:
        history = status.get("history") or []
        applied = history[0].get("chartVersion") if history and isinstance(history[0], dict) else None
    return None if applied is None else str(applied).split("@", 1)[0]


def judge(obj: dict, revision: str) -> Verdict:
    """Passed when Ready=True for the current generation and the applied revision is the
    pinned one. A status for an older generation is never judged: pending."""
    metadata, status = obj.get("metadata") or {}, obj.get("status") or {}
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    if generation is not None and observed != generation:
        return Verdict(state="pending", reason=f"observedGeneration {observed} behind generation {generation}")
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    ready, stalled = conditions.get("Ready") or {}, conditions.get("Stalled") or {}
    if stalled.get("status") == "True":
        return Verdict(state="failed", reason=f"stalled: {stalled.get('message', '')}".strip())
    if ready.get("status") == "False":
        return Verdict(state="failed", reason=f"{ready.get('reason', 'not ready')}: {ready.get('message', '')}".strip())
    applied = applied_revision(obj)
    if ready.get("status") != "True":
        return Verdict(state="pending", reason=f"Ready {ready.get('status', 'Unknown')}: {ready.get('reason', '')}".strip())
    if applied != revision:
        return Verdict(state="pending", reason=f"applied {applied or 'nothing'}, not {revision} yet")
    return Verdict(state="passed", reason=f"Ready at {revision}")
