"""The plan as JSON, for machines and CI."""

from __future__ import annotations

import json


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
        targets = plan.targets
        for start in range(0, len(targets), _CHUNK):
            chunk = json.dumps([_target(plan, c) for c in targets[start:start + _CHUNK]])
            out.write(chunk[1:-1] if start == 0 else ", " + chunk[1:-1])
        out.write("]" + tail)
