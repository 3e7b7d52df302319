"""What every gate's verdict is made of: a state and a reason, and the time arithmetic
the verdicts share (Kubernetes writes RFC 3339 timestamps)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from waves.model_config import FROZEN


class Verdict(BaseModel):
    model_config = FROZEN

    state: str  # passed | pending | failed
    reason: str
    value: float | None = None  # a metric gate's value, kept in the evidence


def parse_time(timestamp) -> float | None:
    """Unix seconds of an RFC 3339 timestamp (`2026-11-25T06:00:00Z`), None if absent or not one."""
    if not timestamp or not isinstance(timestamp, str):
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def seconds_since(timestamp, now: float | None) -> float | None:
    then = parse_time(timestamp)
    return None if then is None or now is None else now - then
