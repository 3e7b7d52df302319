"""Argo CD gate: the cluster's Application is Synced to the pinned revision and Healthy.

The gate's configuration and its verdict, a pure function of one Application object (as
the shell fetched it), the pinned revision and the time. The rules, in docs/gates.md:
only positive evidence fails a cluster; status of an older revision is never judged.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from waves.durations import Duration
from waves.gates.verdict import Verdict, parse_time, seconds_since
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

    settle: Duration = Field(
        default=10,
        description="How long a Degraded/Missing health or an error condition must persist after the "
        "pinned revision's sync before it counts as a failure.",
    )

    @field_validator("context", "application")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)


class ArgoCDGate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    argocd: ArgoCDGateConfig


ERROR_CONDITIONS = ("ComparisonError", "InvalidSpecError", "SyncError")
# A ComparisonError that says the hub cannot reach the cluster is about the observer's
# path, not the change: pending, and failed only at progressDeadline.
_UNREACHABLE = ("failed to connect", "connection refused", "i/o timeout", "dial tcp", "context deadline exceeded",
                "no route to host", "tls handshake", "connection reset", "server is currently unable")


def judge(application: dict, revision: str, sources: list[int] | None = None, now: float | None = None,
          settle: float = 10.0) -> Verdict:
    """An Application's verdict for the pinned `revision`.

    `sources`: the indexes of `spec.sources` the rollout pinned (None: single source, or
    not known: then every source whose live spec is at the pin). `now`: unix time of the
    observation (default: the Application's `reconciledAt`)."""
    status = application.get("status") or {}
    sync = status.get("sync") or {}
    compared = sync.get("comparedTo") or {}
    pinned, why = _pinned_sources(application, revision, sources)
    if pinned is None:
        return Verdict(state="pending", reason=why)
    if pinned:
        targets = [((compared.get("sources") or [])[i:i + 1] or [{}])[0].get("targetRevision") for i in pinned]
    else:
        targets = [(compared.get("source") or {}).get("targetRevision")]
    if any(t != revision for t in targets):
        shown = ", ".join(sorted({str(t) for t in targets if t and t != revision})) or "nothing yet"
        where = f"source{'s' if len(pinned) > 1 else ''} {', '.join(map(str, pinned))} " if pinned else ""
        return Verdict(state="pending", reason=f"{where}compared to {shown}, not {revision} yet")
    now = now if now is not None else parse_time(status.get("reconciledAt"))

    operation = status.get("operationState") or {}
    phase = operation.get("phase")
    for_pin = _operation_for_pin(operation, sync, revision, pinned)
    if for_pin and phase in ("Running", "Terminating"):
        return Verdict(state="pending", reason=f"sync of {revision} {phase.lower()}: {operation.get('message', '')}".rstrip(": "))
    if for_pin and phase in ("Failed", "Error"):
        return Verdict(state="failed", reason=f"sync of {revision} {phase.lower()}: {operation.get('message', '')}".rstrip(": "))

    for condition in status.get("conditions") or []:
        if not isinstance(condition, dict) or condition.get("type") not in ERROR_CONDITIONS:
            continue
        message = str(condition.get("message", "")).strip()
        if condition["type"] == "ComparisonError" and any(m in message.lower() for m in _UNREACHABLE):
            return Verdict(state="pending", reason=f"Argo CD cannot reach the cluster: {message}")
        age = seconds_since(condition.get("lastTransitionTime"), now)
        if age is not None and age < settle:
            return Verdict(state="pending", reason=f"{condition['type']} for {age:.0f}s (settling): {message}")
        return Verdict(state="failed", reason=f"{condition['type']}: {message}")

    health = status.get("health") or {}
    health_status = health.get("status") or "Unknown"
    finished = operation.get("finishedAt") if for_pin and phase == "Succeeded" else None
    if finished is not None:
        reassessed = seconds_since(finished, parse_time(status.get("reconciledAt")))
        if reassessed is None or reassessed < 0:
            return Verdict(state="pending", reason=f"health not reassessed since the sync of {revision} finished")
    elif sync.get("status") != "Synced" and health_status != "Healthy":
        # Neither synced to the pin nor after an operation for it: this health is the
        # previous revision's (perhaps the very breakage the pin fixes). Not evidence.
        return Verdict(state="pending", reason=f"sync {sync.get('status', 'Unknown')}: health {health_status} is not "
                       f"yet of {revision}")
    if health_status in ("Degraded", "Missing"):
        since = health.get("lastTransitionTime") or finished
        age = seconds_since(since, now) if since else None
        if age is not None and age < settle:
            return Verdict(state="pending", reason=f"health {health_status} for {age:.0f}s (settling)")
        message = f": {health['message']}" if health.get("message") else ""
        return Verdict(state="failed", reason=f"health {health_status} at {revision}{message}")
    if health_status == "Suspended":
        return Verdict(state="pending", reason="health Suspended (a paused Rollout or suspended resource): waiting")
    if sync.get("status") != "Synced":
        return Verdict(state="pending", reason=f"sync {sync.get('status', 'Unknown')} at {revision}")
    if health_status != "Healthy":
        return Verdict(state="pending", reason=f"health {health_status}")
    return Verdict(state="passed", reason=f"Synced to {revision} and Healthy")


def _pinned_sources(application: dict, revision: str, sources: list[int] | None) -> tuple[list[int] | None, str]:
    """The indexes of spec.sources to judge ([] for a single-source Application), or
    (None, why) when the live spec does not show the pin yet."""
    spec_sources = (application.get("spec") or {}).get("sources")
    if not spec_sources:
        return [], ""
    if sources is not None:
        return list(sources), ""
    at_pin = [i for i, s in enumerate(spec_sources) if isinstance(s, dict) and s.get("targetRevision") == revision]
    if not at_pin:
        return None, f"no source of the Application's live spec is at {revision} yet"
    return at_pin, ""


def _operation_for_pin(operation: dict, sync: dict, revision: str, pinned: list[int]) -> bool:
    """Whether the last operation synced (or is syncing) the pinned revision."""
    if not operation:
        return False
    result = operation.get("syncResult") or {}
    if pinned:
        result_sources = result.get("sources") or []
        if result_sources and all(i < len(result_sources) and (result_sources[i] or {}).get("targetRevision") == revision
                                  for i in pinned):
            return True
    elif (result.get("source") or {}).get("targetRevision") == revision:
        return True
    requested = (operation.get("operation") or {}).get("sync") or {}
    wanted = {revision} | set(filter(None, [sync.get("revision")])) | set(sync.get("revisions") or [])
    asked = [requested.get("revision")] + list(requested.get("revisions") or [])
    if pinned and requested.get("revisions"):
        asked = [requested["revisions"][i] for i in pinned if i < len(requested["revisions"])]
    asked = [a for a in asked if a]
    return bool(asked) and all(a in wanted for a in asked)


