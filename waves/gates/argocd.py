"""Argo CD gate: the cluster's Application is Synced to the pinned revision and Healthy.

The gate's configuration and its verdict, a pure function of one Application object (as
the shell fetched it), the pinned revision and the time. The rules, in docs/gates.md:
only positive evidence fails a cluster; status of an older revision is never judged.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field, field_validator

from waves.durations import Duration
from waves.gates.verdict import Verdict, parse_time, seconds_since
from waves.model_config import STRICT
from waves.templates import check_template


class ArgoCDGateConfig(BaseModel):
    model_config = STRICT

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

    TEMPLATES: ClassVar[tuple[str, ...]] = ("context", "application")  # filled in per cluster: waves/gates/__init__.py

    @field_validator(*TEMPLATES)
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)


class ArgoCDGate(BaseModel):
    model_config = STRICT

    argocd: ArgoCDGateConfig


ERROR_CONDITIONS = ("ComparisonError", "InvalidSpecError", "SyncError")
# A ComparisonError that says the hub cannot reach the cluster is about the observer's
# path, not the change: pending, and failed only at progressDeadline.
_UNREACHABLE = ("failed to connect", "connection refused", "i/o timeout", "dial tcp", "context deadline exceeded",
                "no route to host", "tls handshake", "connection reset", "server is currently unable")


def judge(application: dict, revision: str, sources: list[int] | None = None, now: float | None = None,
          settle: float = 10.0, fields: dict[tuple, object] | None = None,
          commits: frozenset[str] | set[str] | None = None) -> Verdict:
    """An Application's verdict for the pinned `revision`.

    What "compared at the pin" means, in one of three ways:
    - the pin is the Application's `targetRevision` (the default);
    - `fields`: the pin is another field of the Application's source, {path within the
      source: the value written} (an image pin: `("kustomize", "images", 0)`);
    - `commits`: the pin lives in files the Application's source reads, not in the
      Application: the SHAs of the wave's advance commit and every later one; compared at
      the pin means `status.sync.revision(s)` among them.
    `sources`: the indexes of `spec.sources` the rollout pinned (None: single source, or
    not known: then the sources that show the pin). `now`: unix time of the observation
    (default: the Application's `reconciledAt`)."""
    status = application.get("status") or {}
    sync = status.get("sync") or {}
    pin = _Pin(revision, fields or {("targetRevision",): revision}, commits, explicit=fields is not None)
    pinned, why = _pinned_sources(application, pin, sources)
    if pinned is None:
        return Verdict(state="pending", reason=why)
    behind = pin.compared_behind(sync, pinned)
    if behind:
        return Verdict(state="pending", reason=behind)
    now = now if now is not None else parse_time(status.get("reconciledAt"))

    operation = status.get("operationState") or {}
    phase = operation.get("phase")
    for_pin = pin.operation_for(operation, sync, pinned)
    if phase in ("Running", "Terminating"):  # for the pin or not: nothing to judge until it ends
        what = f"sync of {revision}" if for_pin else "a sync"
        return Verdict(state="pending", reason=f"{what} {phase.lower()}: {operation.get('message', '')}".rstrip(": "))
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


def _get(node, path: tuple):
    for step in path:
        if isinstance(node, dict) and isinstance(step, str):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return None
    return node


def _pick(items, indexes: list[int]) -> list:
    items = items if isinstance(items, list) else []
    return [items[i] if i < len(items) else None for i in indexes]


class _Pin:
    """What the pinned revision looks like in an Application's status."""

    def __init__(self, revision: str, fields: dict, commits, explicit: bool):
        self.revision, self.fields, self.commits, self.explicit = revision, fields, commits, explicit

    def source_at_pin(self, source) -> bool:
        return isinstance(source, dict) and all(_get(source, path) == value for path, value in self.fields.items())

    def _shas(self, record: dict, pinned: list[int]) -> list:
        """The commit SHAs a sync status or sync result names for the pinned sources."""
        return _pick(record.get("revisions"), pinned) if pinned else [record.get("revision")]

    def compared_behind(self, sync: dict, pinned: list[int]) -> str:
        """Why the compared state is not (yet) the pin's; empty when it is."""
        if self.commits is not None:
            shas = self._shas(sync, pinned)
            if shas and all(s in self.commits for s in shas):
                return ""
            shown = ", ".join(str(s)[:12] for s in shas if s) or "nothing yet"
            return f"compared at commit {shown}: not yet the {self.revision} advance or later"
        compared = sync.get("comparedTo") or {}
        targets = _pick(compared.get("sources"), pinned) if pinned else [compared.get("source")]
        if all(self.source_at_pin(t) for t in targets):
            return ""
        where = f"source{'s' if len(pinned) > 1 else ''} {', '.join(map(str, pinned))} " if pinned else ""
        if self.explicit:
            return f"{where}not compared with the pinned {'/'.join(map(str, next(iter(self.fields))))} yet"
        shown = ", ".join(sorted({str(t.get("targetRevision")) for t in targets if isinstance(t, dict)
                                  and t.get("targetRevision") and t.get("targetRevision") != self.revision}))
        return f"{where}compared to {shown or 'nothing yet'}, not {self.revision} yet"

    def operation_for(self, operation: dict, sync: dict, pinned: list[int]) -> bool:
        """Whether the last operation synced (or is syncing) the pin."""
        if not operation:
            return False
        result = operation.get("syncResult") or {}
        requested = (operation.get("operation") or {}).get("sync") or {}
        if self.commits is not None:
            return any(shas and all(s in self.commits for s in shas)
                       for shas in (self._shas(result, pinned), self._shas(requested, pinned)))
        results = _pick(result.get("sources"), pinned) if pinned else [result.get("source")]
        if all(self.source_at_pin(r) for r in results):
            return True
        if self.explicit:
            return False  # the source's commit does not change with a pin inside the Application
        # An operation requested by SHA: it is for the pin when it asked for the SHAs compared now.
        wanted = {self.revision} | set(filter(None, [sync.get("revision")])) | set(sync.get("revisions") or [])
        asked = [a for a in self._shas(requested, pinned) if a] if pinned and requested.get("revisions") else \
            [a for a in [requested.get("revision"), *(requested.get("revisions") or [])] if a]
        return bool(asked) and all(a in wanted for a in asked)


def _pinned_sources(application: dict, pin: _Pin, sources: list[int] | None) -> tuple[list[int] | None, str]:
    """The indexes of spec.sources to judge ([] for a single-source Application), or
    (None, why) when the Application does not show the pin yet."""
    spec_sources = (application.get("spec") or {}).get("sources")
    if not spec_sources:
        return [], ""
    if sources is not None:
        return list(sources), ""
    if pin.commits is not None:
        revisions = ((application.get("status") or {}).get("sync") or {}).get("revisions") or []
        at_pin = [i for i, sha in enumerate(revisions) if sha in pin.commits]
    else:
        at_pin = [i for i, s in enumerate(spec_sources) if pin.source_at_pin(s)]
    if not at_pin:
        return None, f"no source of the Application shows {pin.revision} yet"
    return at_pin, ""
