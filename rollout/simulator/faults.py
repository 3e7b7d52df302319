"""Fault specs from the command line: `CLUSTER:degraded@REVISION`,
`CLUSTER:sync-failed@REVISION`, `CLUSTER:comparison-error@REVISION` (Argo CD cannot
generate the manifests of that revision), `CLUSTER:errors=0.2@REVISION`,
`CLUSTER:idle@REVISION` (no traffic: an error ratio is 0/0, NaN),
`CLUSTER:unreachable` (optionally `@30s-90s`: a window after start), `CLUSTER:down`
(optionally `@30s-90s`: the hub's inventory objects show the cluster unavailable, `--hub`)."""

from __future__ import annotations

import re

from waves.durations import parse_duration
from rollout.simulator.status import Fault

_SPEC = re.compile(r"(?P<cluster>[a-z0-9][-a-z0-9.]*):(?P<kind>degraded|sync-failed|comparison-error|idle|unreachable|down"
                   r"|errors=(?P<rate>[0-9.]+))"
                   r"(?:@(?P<at>\S+))?")


def parse_fault(spec: str) -> Fault:
    match = _SPEC.fullmatch(spec.strip())
    if not match:
        raise ValueError(f"--fault {spec!r}: use CLUSTER:degraded@REV, CLUSTER:sync-failed@REV, "
                         "CLUSTER:comparison-error@REV, CLUSTER:errors=0.2@REV, CLUSTER:idle@REV "
                         "CLUSTER:unreachable[@30s-90s] or CLUSTER:down[@30s-90s]")
    kind, at = match["kind"], match["at"]
    if kind.startswith("errors="):
        rate = float(match["rate"])
        if not 0 <= rate <= 1:
            raise ValueError(f"--fault {spec!r}: the error rate is a fraction from 0 to 1")
        return Fault(match["cluster"], "errors", at, error_rate=rate)
    if kind in ("unreachable", "down"):
        window = None
        if at:
            start, sep, end = at.partition("-")
            if not sep:
                raise ValueError(f"--fault {spec!r}: {'an' if kind == 'unreachable' else 'a'} {kind} window is "
                                 "START-END, e.g. 30s-90s")
            window = (float(parse_duration(start)), float(parse_duration(end)))
        return Fault(match["cluster"], kind, None, window=window)
    if not at:
        raise ValueError(f"--fault {spec!r}: say at which revision, e.g. {match['cluster']}:{kind}@v1.4.2")
    return Fault(match["cluster"], kind, at)


SCENARIO_KEYS = ("syncDelay", "healthDelay", "poll", "faults")


def load_scenario(path) -> tuple[dict[str, float], list[Fault]]:
    settings, located = load_scenario_located(path)
    return settings, [fault for _, fault in located]


def unknown_clusters(located: list[tuple[str, Fault]], clusters) -> list[str]:
    """A fault on a cluster the fleet does not have is an error: a typo must not turn a
    failing rehearsal into a passing one. `located` is [(where, fault)]."""
    known = sorted(clusters)
    shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
    return [f"{where}: no cluster {fault.cluster!r} in the fleet (clusters: {shown or 'none'})"
            for where, fault in located if fault.cluster not in clusters]


def load_scenario_located(path) -> tuple[dict[str, float], list[tuple[str, Fault]]]:
    """A scenario file: the same fault specs as `--fault`, and the delays.

        syncDelay: 2s
        healthDelay: 5s
        faults:
          - prod-us-east:degraded@v1.4.2
          - prod-eu-west:unreachable@30s-90s

    Raises ValueError with `file:line: field: what is wrong` (every problem)."""
    from pathlib import Path

    from rollout.yamlfile import Located, YamlError, read_text

    try:
        located = Located.parse(str(path), read_text(Path(path)))
    except YamlError as err:
        raise ValueError(f"{path}:{err.line}: {err.message}") from None
    doc = located.documents[0] if located.documents else {}
    problems = [f"{path}:{line}: {message}" for line, message in located.problems]
    if not isinstance(doc, dict):
        raise ValueError(f"{path}:1: a scenario is a mapping with {', '.join(SCENARIO_KEYS)}")
    settings: dict[str, float] = {}
    faults: list[tuple[str, Fault]] = []
    for key, value in doc.items():
        where = f"{path}:{located.line((key,))}: {key}"
        if key not in SCENARIO_KEYS:
            problems.append(f"{where}: unknown field")
        elif key == "faults":
            if not isinstance(value, list):
                problems.append(f"{where}: a list of fault specs")
                continue
            for index, spec in enumerate(value):
                where = f"{path}:{located.line((key, index))}: faults[{index}]"
                try:
                    faults.append((where, parse_fault(str(spec))))
                except ValueError as err:
                    problems.append(f"{where}: " + str(err).replace(f"--fault {str(spec)!r}: ", ""))
        else:
            try:
                settings[key] = float(parse_duration(value))
            except ValueError as err:
                problems.append(f"{where}: {err}")
    if problems:
        raise ValueError("\n".join(problems))
    return settings, faults
