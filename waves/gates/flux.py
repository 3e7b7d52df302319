"""Flux gate: the cluster's Kustomization or HelmRelease is Ready at the pinned revision
for its current generation.

The verdict follows kstatus (the conditions Flux writes: Ready, Stalled, Reconciling, and
observedGeneration) and reads the revision formats Flux really writes
(waves/gates/revisions.py). Only positive evidence about the pinned revision fails."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

from waves.gates.revisions import matches
from waves.gates.verdict import Verdict
from waves.model_config import STRICT
from waves.templates import check_template


class FluxGateConfig(BaseModel):
    model_config = STRICT

    context: str | None = Field(
        default=None, description="kubeconfig context of the cluster's API, usually '{cluster}'."
    )
    kind: Literal["Kustomization", "HelmRelease"] = "Kustomization"
    namespace: str = "flux-system"
    name: str = Field(description="Object name (a template).")

    TEMPLATES: ClassVar[tuple[str, ...]] = ("context", "name")  # filled in per cluster: waves/gates/__init__.py

    @field_validator(*TEMPLATES)
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)


class FluxGate(BaseModel):
    model_config = STRICT

    flux: FluxGateConfig


def applied_revision(obj: dict) -> str | None:
    """The revision a Kustomization or HelmRelease last applied: `lastAppliedRevision`,
    else the newest `history` entry (helm-controller v2 keeps only that), else the
    attempted revision when Ready=True for the current generation (Flux shows that one
    as applied too)."""
    status = obj.get("status") or {}
    applied = status.get("lastAppliedRevision")
    if applied:
        return str(applied)
    history = status.get("history") or []
    if history and isinstance(history[0], dict):
        entry = history[0]
        applied = entry.get("chartVersion") or entry.get("revision")
        if applied and entry.get("status", "deployed") in ("deployed", "superseded"):
            return str(applied)
    attempted = status.get("lastAttemptedRevision")
    ready = _conditions(status).get("Ready") or {}
    if attempted and ready.get("status") == "True" and _current(obj):
        return str(attempted)
    return None


def _conditions(status: dict) -> dict[str, dict]:
    return {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}


def _current(obj: dict) -> bool:
    """The controller has processed the current spec. kustomize-controller moves
    `status.observedGeneration` only on success; its conditions carry the generation they
    were written for, so a failure about the current spec counts at once."""
    generation = (obj.get("metadata") or {}).get("generation")
    status = obj.get("status") or {}
    if generation is None or status.get("observedGeneration") == generation:
        return True
    conditions = _conditions(status)
    return any((conditions.get(kind) or {}).get("observedGeneration") == generation for kind in ("Ready", "Stalled"))


def judge(obj: dict, revision: str) -> Verdict:
    """Passed when Ready=True for the current generation and the applied revision is what
    the pin asked for. A status for an older generation is never judged: pending."""
    metadata, status = obj.get("metadata") or {}, obj.get("status") or {}
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    if not _current(obj):
        return Verdict(state="pending", reason=f"observedGeneration {observed} behind generation {generation}")
    conditions = _conditions(status)
    ready, stalled, reconciling = (conditions.get(k) or {} for k in ("Ready", "Stalled", "Reconciling"))
    if stalled.get("status") == "True":
        return Verdict(state="failed", reason=f"Stalled ({stalled.get('reason', '')}): {stalled.get('message', '')}")
    if reconciling.get("status") == "True":
        return Verdict(state="pending", reason=f"reconciling: {reconciling.get('message') or reconciling.get('reason', '')}")
    attempted = status.get("lastAttemptedRevision")
    if ready.get("status") == "False":
        if attempted and not matches(revision, attempted):
            return Verdict(state="pending", reason=f"not ready at {attempted}, an earlier revision; {revision} not attempted yet")
        return Verdict(state="failed", reason=f"{ready.get('reason', 'not ready')}: {ready.get('message', '')}".strip())
    if ready.get("status") != "True":
        return Verdict(state="pending", reason=f"Ready {ready.get('status', 'Unknown')}: {ready.get('reason', '')}".strip())
    applied = applied_revision(obj)
    if applied is None or not matches(revision, applied):
        return Verdict(state="pending", reason=f"applied {applied or 'nothing'}, not {revision} yet")
    return Verdict(state="passed", reason=f"Ready at {applied}" + ("" if applied == revision else f" ({revision})"))
