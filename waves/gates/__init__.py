"""Health gates a wave must pass: one module per gate, each a pydantic model keyed by the
gate's registered name (`- argocd: {...}`, `- flux: {...}`, `- prometheus: {...}`, `- kstatus: {...}`,
`- fleet: {...}`). A gate's module is imported when a policy names it (waves/registry.py):
planning never loads kstatus's rules for a policy without a kstatus gate."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel

from waves.problems import Problem, few
from waves.registry import LazyUnion, Registry
from waves.templates import MissingLabel, labels_used, render

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


def label_problems(spec, waves, clusters) -> list:
    """Each wave's gates' templates filled in for each of its clusters (`context:
    "{labels.kubeContext}"`, `application: "{labels.team}-app"`): a label a cluster lacks,
    or an empty one that leaves a value empty, is an error when the plan is made. Judged,
    the gate could only guess where to look: an empty or missing context is the
    kubeconfig's current one, another cluster's. `clusters`: the plan's (waves.inventory.Cluster)."""
    found: dict[tuple, list[str]] = {}  # (loc, gate, field, template, key, why: None missing, "" empty) -> clusters
    labels_of = None
    for wave in waves:
        own = spec.waves[wave.spec_index].gates is not None
        for index, gate in enumerate(wave.gates):
            name = gate_name(gate)
            config = getattr(gate, name)
            for field in getattr(type(config), "TEMPLATES", ()):
                template = getattr(config, field)
                if not isinstance(template, str) or "{labels." not in template:
                    continue  # {cluster} alone is never missing nor empty
                loc = (("spec", "waves", wave.spec_index, "gates") if own else ("spec", "gates")) + (index, name, field)
                labels_of = labels_of or {c.name: c.labels for c in clusters}  # only for a policy that needs it
                # a gate's own rule for an empty label a value is not left empty by (a PromQL matcher `team=""`
                # selects the series *without* the label: any cluster's): (label, why) or None
                strict = getattr(type(config), "NO_EMPTY_LABELS", {}).get(field)
                for cluster in wave.clusters:
                    labels = labels_of[cluster]
                    try:
                        value = render(template, cluster, labels)
                    except MissingLabel as missing:
                        found.setdefault((loc, name, field, template, missing.key, None), []).append(cluster)
                        continue
                    empty = next((k for k in labels_used(template) if labels[k] == ""), None)
                    if empty is None:
                        continue
                    if not value:
                        found.setdefault((loc, name, field, template, empty, ""), []).append(cluster)
                    elif strict is not None:
                        why = strict(template, cluster, labels)
                        if why is not None:  # keyed by why, not the value: one line for a fleet, not one per cluster
                            found.setdefault((loc, name, field, template, *why), []).append(cluster)
    problems = []
    for (loc, name, field, template, key, why), clusters in found.items():
        who = f"cluster {clusters[0]} has" if len(clusters) == 1 else f"clusters {few(clusters)} have"
        them = "it" if len(clusters) == 1 else "them"
        if why is None:
            what = f"no label {key!r}, which the {name} gate's {field} {template!r} uses: the gate would not know " \
                   f"where to look for {them}"
        elif not why:
            what = f"an empty label {key!r}, which leaves the {name} gate's {field} {template!r} empty: the gate " \
                   f"would not know where to look for {them}"
        else:
            what = f"an empty label {key!r}, which the {name} gate's {field} {template!r} uses: {why}"
        problems.append(Problem(f"{who} {what}", loc))
    return problems


GateSpec = Annotated[BaseModel, LazyUnion(
    GATES, gate_name, custom_error_type="unknown_gate",
    custom_error_message=f"a gate is a mapping with one key: {', '.join(GATES)}")]

__all__ = ["GATES", "GateSpec", "gate_name", "gate_problems", "label_problems"]
