"""Health gates a wave must pass: one module per gate, each a pydantic model keyed by the
gate's registered name (`- argocd: {...}`, `- flux: {...}`, `- prometheus: {...}`, `- kstatus: {...}`,
`- fleet: {...}`). A gate's module is imported when a policy names it (waves/registry.py):
planning never loads kstatus's rules for a policy without a kstatus gate."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel

from waves.registry import LazyUnion, Registry

GATES = Registry({
    "argocd": "waves.gates.argocd:ArgoCDGate",
    "flux": "waves.gates.flux:FluxGate",
    "prometheus": "waves.gates.prometheus:PrometheusGate",
    "kstatus": "waves.gates.kstatus:KStatusGate",
    "fleet": "waves.gates.fleet:FleetGate",
})


def gate_name(value: object) -> str | None:
    """The gate a value is: the one key of a mapping, or a gate model's one field."""
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value))
    if isinstance(value, BaseModel) and type(value).__module__ in GATES.modules():
        return next(iter(type(value).model_fields))
    return None


def gate_problems(spec) -> list:
    """Each gate's own checks of the policy (a gate module's `gate_problems(spec)`), for the
    gates the policy uses; `spec` is a PolicySpec. The others' would find nothing."""
    used = {gate_name(g) for gates in (spec.gates, *(w.gates or () for w in spec.waves)) for g in gates}
    problems = []
    for name in GATES:
        check = getattr(GATES.module(name), "gate_problems", None) if name in used else None
        if check is not None:
            problems += check(spec)
    return problems


GateSpec = Annotated[BaseModel, LazyUnion(
    GATES, gate_name, custom_error_type="unknown_gate",
    custom_error_message=f"a gate is a mapping with one key: {', '.join(GATES)}")]

__all__ = ["GATES", "GateSpec", "gate_name", "gate_problems"]
