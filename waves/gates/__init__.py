"""Health gates a wave must pass: one module per gate, each a pydantic model keyed by the
gate's registered name (`- argocd: {...}`, `- flux: {...}`, `- prometheus: {...}`, `- kstatus: {...}`,
`- fleet: {...}`)."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Discriminator, Tag

from waves.gates.argocd import ArgoCDGate
from waves.gates.fleet import FleetGate
from waves.gates.flux import FluxGate
from waves.gates.kstatus import KStatusGate
from waves.gates.prometheus import PrometheusGate

GATES = {"argocd": ArgoCDGate, "flux": FluxGate, "prometheus": PrometheusGate, "kstatus": KStatusGate,
         "fleet": FleetGate}


def _gate_name(value: object) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value))
    if isinstance(value, tuple(GATES.values())):
        return next(iter(type(value).model_fields))
    return None


GateSpec = Annotated[
    Union[tuple(Annotated[model, Tag(name)] for name, model in GATES.items())],  # type: ignore[misc]
    Discriminator(
        _gate_name,
        custom_error_type="unknown_gate",
        custom_error_message=f"a gate is a mapping with one key: {', '.join(GATES)}",
    ),
]

__all__ = ["GATES", "GateSpec"]
