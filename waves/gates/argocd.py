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


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: str  # passed | pending | failed
    reason: str


def judge(application: dict, revision: str) -> Verdict:
    """An Application's verdict for the pinned `revision`: passed when Synced to that
    revision, Healthy and no operation running or failed. Status left over from an older
    revision is never judged (Argo CD issue #29410): until the controller compares against
    the pinned revision, the verdict is pending."""
    status = application.get("status") or {}
    sync = status.get("sync") or {}
    compared = (sync.get("comparedTo") or {}).get("source") or {}
    sources = (sync.get("comparedTo") or {}).get("sources") or []
    targets = [compared.get("targetRevision")] + [s.get("targetRevision") for s in sources if isinstance(s, dict)]
    if revision not in targets:
        shown = ", ".join(str(t) for t in targets if t) or "nothing yet"
        return Verdict(state="pending", reason=f"compared to {shown}, not {revision} yet")
    operation = status.get("operationState") or {}
    health = (status.get("health") or {}).get("status", "Unknown")
    op_source = (operation.get("syncResult") or {}).get("source") or {}
    current_op = not op_source or op_source.get("targetRevision") in (None, revision)
    if current_op and operation.get("phase") in ("Failed", "Error"):
        return Verdict(state="failed", reason=f"sync {operation['phase'].lower()}: {operation.get('message', '')}".strip())
    if health in ("Degraded", "Missing"):
        return Verdict(state="failed", reason=f"health {health}")
    if operation.get("phase") in ("Running", "Terminating"):
        return Verdict(state="pending", reason="sync running")
    if sync.get("status") != "Synced":
        return Verdict(state="pending", reason=f"sync {sync.get('status', 'Unknown')}")
    if health != "Healthy":
        return Verdict(state="pending", reason=f"health {health}")
    return Verdict(state="passed", reason=f"Synced to {revision} and Healthy")
