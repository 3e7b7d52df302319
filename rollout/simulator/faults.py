"""Fault specs from the command line: `CLUSTER:degraded@REVISION`,
`CLUSTER:sync-failed@REVISION`, `CLUSTER:errors=0.2@REVISION`,
`CLUSTER:unreachable` (optionally `@30s-90s`: a window after start)."""

from __future__ import annotations

import re

from waves.durations import parse_duration
from rollout.simulator.status import Fault

_SPEC = re.compile(r"(?P<cluster>[a-z0-9][-a-z0-9.]*):(?P<kind>degraded|sync-failed|unreachable|errors=(?P<rate>[0-9.]+))"
                   r"(?:@(?P<at>\S+))?")


def parse_fault(spec: str) -> Fault:
    match = _SPEC.fullmatch(spec.strip())
    if not match:
        raise ValueError(f"--fault {spec!r}: use CLUSTER:degraded@REV, CLUSTER:sync-failed@REV, "
                         "CLUSTER:errors=0.2@REV or CLUSTER:unreachable[@30s-90s]")
    kind, at = match["kind"], match["at"]
    if kind.startswith("errors="):
        rate = float(match["rate"])
        if not 0 <= rate <= 1:
            raise ValueError(f"--fault {spec!r}: the error rate is a fraction from 0 to 1")
        return Fault(match["cluster"], "errors", at, error_rate=rate)
    if kind == "unreachable":
        window = None
        if at:
            start, sep, end = at.partition("-")
            if not sep:
                raise ValueError(f"--fault {spec!r}: an unreachable window is START-END, e.g. 30s-90s")
            window = (float(parse_duration(start)), float(parse_duration(end)))
        return Fault(match["cluster"], "unreachable", None, window=window)
    if not at:
        raise ValueError(f"--fault {spec!r}: say at which revision, e.g. {match['cluster']}:{kind}@v1.4.2")
    return Fault(match["cluster"], kind, at)
