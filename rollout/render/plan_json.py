"""The plan as JSON, for machines and CI."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _text  # json.dumps' own string encoder (C)


def plan_dict(plan, warnings=(), targets: bool = True) -> dict:
    from rollout.render.problems import problem_json

    return {
        "policy": plan.policy,
        "revision": plan.revision,
        "targets": [_target(plan, c) for c in plan.targets] if targets else [],
        "waves": [
            {
                "number": w.number,
                "name": w.name,
                "clusters": w.clusters,
                "empty": w.empty,  # claims no cluster: never advanced, passes once what it waits for has
                "after": w.after,
                "bakeSeconds": w.bake_seconds,
                "gates": [g.model_dump(mode="json", exclude_none=True) for g in w.gates],
                "approval": w.approval,
                "windows": [x.model_dump(mode="json") for x in w.windows],  # time zones filled in
                # fields several of its clusters pin together: written once, moving all of them
                "shared": [{"file": s.file, "field": s.field, "clusters": list(s.clusters)} for s in w.shared],
                # down by their live source's condition: what spec.unavailable does with them (docs/inventory.md)
                "unavailable": [{"cluster": c, "reason": plan.down[c]} for c in w.clusters if c in plan.down],
            }
            for w in plan.waves
        ],
        "warnings": [problem_json(p) for p in warnings],
    }


def _target(plan, c) -> dict:
    return {
        "name": c.name,
        "server": c.server,
        "labels": dict(sorted(c.labels.items())),
        "wave": plan.wave_of[c.name],
        "pins": [{"preset": t.preset, "file": t.file, "field": t.field} for t in plan.pins[c.name]],
    }


def render(plan, warnings=(), pretty: bool = True) -> str:
    """Indented for people; compact (C encoder, ~10x faster on 10,000 clusters) for pipes."""
    import io

    out = io.StringIO()
    write(out, plan, warnings, pretty)
    return out.getvalue()


_CHUNK = 2000  # targets rendered at a time


def write(out, plan, warnings=(), pretty: bool = True) -> None:
    """`render`'s text written to `out`. Compact, the targets are written a few thousand at
    a time: a 100,000-cluster plan never holds its whole document as dicts and as one
    string at once (~150 MB less at the peak; the text is the same, byte for byte)."""
    from rollout.yamlfile import bulk

    with bulk():
        if pretty:
            out.write(json.dumps(plan_dict(plan, warnings), indent=2))
            return
        head, sep, tail = json.dumps(plan_dict(plan, warnings, targets=False)).partition('"targets": []')
        out.write(head + '"targets": [')
        targets, labels = plan.targets, {}
        for start in range(0, len(targets), _CHUNK):
            out.write(("" if start == 0 else ", ") + ", ".join(_target_json(plan, c, labels)
                                                              for c in targets[start:start + _CHUNK]))
        out.write("]" + tail)


def _target_json(plan, cluster, labels: dict) -> str:
    """json.dumps(_target(plan, cluster)), written out: ~2x faster on 100,000 clusters. The
    labels' text is made once per distinct label set (`labels`: a cache); anything but
    text, None or an int falls back on json.dumps (tests/test_fleet_scale.py: the same)."""
    key = tuple(cluster.labels.items())
    text = labels.get(key)
    if text is None:
        text = labels[key] = json.dumps(dict(sorted(cluster.labels.items())))
    pins = []
    for t in plan.pins[cluster.name]:
        if type(t.preset) is not str or type(t.file) is not str or type(t.field) is not str:
            return json.dumps(_target(plan, cluster))
        pins.append(f'{{"preset": {_text(t.preset)}, "file": {_text(t.file)}, "field": {_text(t.field)}}}')
    name, server, wave = cluster.name, cluster.server, plan.wave_of[cluster.name]
    if type(name) is not str or (server is not None and type(server) is not str) or type(wave) is not int:
        return json.dumps(_target(plan, cluster))
    return (f'{{"name": {_text(name)}, "server": {"null" if server is None else _text(server)}, "labels": {text}, '
            f'"wave": {wave}, "pins": [{", ".join(pins)}]}}')
