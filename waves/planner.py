"""From a policy and an inventory to a plan: which clusters get the change in which wave,
in what order, after what.

Rules (docs/policy.md): each in-scope cluster belongs to the first wave, in file order,
whose selector matches it (no selector: every cluster not yet claimed). `groupBy` makes
one wave per label value, `maxClusters` splits a wave into sequential batches. A wave
that claims no cluster is planned all the same, empty, under its own name: it keeps its
place, so that no wave's number depends on whether an earlier one is empty (it passes
once what it waits for has: waves/state.py). Waves are numbered 1..N in a topological
order whose ties break by file order, then group value, then batch index; clusters
inside a wave are sorted by name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple

from waves.dag import find_cycle, lexicographical_topological_sort, transitive_reduction
from waves.gates import gate_problems, label_problems
from waves.inventory import Cluster
from waves.policy import RolloutPolicy, WaveSpec, resolve_count
from waves.problems import Problem, ProblemError
from waves.templates import EmptyLabel, MissingLabel, labels_used, render, render_path
from waves.windows import resolve as resolve_windows

ABSENT = None  # the "value" of a label a cluster does not have, for isolateBy


class PinTarget(NamedTuple):
    """Where one cluster's revision is written. One per cluster and pin: a named tuple is
    made (and unpickled, for status) in ~half a frozen dataclass's time, in 88 bytes
    instead of 112: ~30 ms and ~2 MB less at 100,000 clusters."""

    preset: str
    file: str
    field: str
    pin_index: int


@dataclass(frozen=True)
class SharedPin:
    """One pinned field that several clusters of a wave share: written once, for all."""

    file: str
    field: str
    clusters: tuple[str, ...]


@dataclass
class Wave:
    number: int
    name: str
    spec_index: int  # which spec.waves[] entry it came from
    group: str | None  # the groupBy value
    batch: int | None  # 1-based batch index when maxClusters split the wave
    clusters: list[str]
    after: list[int] = field(default_factory=list)
    bake_seconds: int = 0
    gates: tuple = ()
    approval: str | None = None
    windows: tuple = ()  # change windows, time zones filled in (waves/windows.py)
    shared: tuple[SharedPin, ...] = ()  # fields several of its clusters pin together

    @property
    def empty(self) -> bool:
        """A policy wave that claims no cluster: planned, numbered, never advanced."""
        return not self.clusters


@dataclass
class Plan:
    policy: str
    revision: str
    targets: list[Cluster]
    waves: list[Wave]
    pins: dict[str, list[PinTarget]]  # cluster name -> where its revision is written
    wave_of: dict[str, int]  # cluster name -> wave number
    warnings: list[Problem] = field(default_factory=list)
    # Availability (waves/availability.py) decides only what a wave pins, never what it is
    # made of: the unavailable clusters stay in their waves; spec.unavailable says what a
    # wave's advance does with them (waves/state.py: pinnable).
    down: dict[str, str] = field(default_factory=dict)  # cluster name -> why it is unavailable
    unavailable: str = "skip"  # spec.unavailable: skip | wait | include
    # Set when the plan was made from advance records alone (waves/recorded.py): why the
    # inventory could not be read. Such a plan holds only the waves that went out.
    partial: str | None = None
    # Clusters that pin one field but that the plan cannot keep in one wave and batch:
    # errors for what writes (validate, advance, plan), reported by what only reads or
    # reverts (status, revert), which must work when an inventory change made them.
    conflicts: list[Problem] = field(default_factory=list)

    def wave(self, ref: int | str) -> Wave:
        for wave in self.waves:
            if wave.number == ref or wave.name == ref:
                return wave
        raise KeyError(ref)


@dataclass
class _Part:
    """One wave of the plan before numbering."""

    spec_index: int
    name: str
    group: str | None
    batch: int | None
    clusters: list[Cluster]
    deps: set[str] = field(default_factory=set)  # names of parts it waits for

    @property
    def sort_key(self) -> tuple:
        return (self.spec_index, self.group or "", self.batch or 0)


def make_plan(policy: RolloutPolicy, inventory: list[Cluster]) -> Plan:
    """Plan the rollout; raises ProblemError carrying every error found."""
    spec = policy.spec
    errors: list[Problem] = []
    warnings: list[Problem] = []

    clusters = sorted(inventory, key=attrgetter("name"))
    if spec.targets is None:
        targets = clusters
    else:
        in_scope = _per_labels(spec.targets.matches)
        targets = [c for c in clusters if in_scope(c.labels)]
    if not targets:
        errors.append(Problem(f"no cluster of the {len(clusters)} in the inventory is in scope", ("spec", "targets")))
        raise ProblemError(errors)

    # Claim: first wave in file order whose selector matches.
    members: list[list[Cluster]] = [[] for _ in spec.waves]
    claimed: dict[int, tuple[dict, int | None]] = {}  # as _per_labels, inlined: 100,000 calls fewer
    for cluster in targets:
        labels = cluster.labels
        found = claimed.get(id(labels))
        if found is None:
            found = claimed[id(labels)] = (labels, next((index for index, wave in enumerate(spec.waves)
                                                         if wave.selector is None or wave.selector.matches(labels)), None))
        index = found[1]
        if index is not None:
            members[index].append(cluster)
        else:
            errors.append(
                Problem(
                    f"cluster {cluster.name} is in scope but no wave's selector matches it "
                    f"(labels: {_labels(cluster)})",
                    ("spec", "waves"),
                )
            )

    names = [w.name for w in spec.waves]
    for index, name in enumerate(names):
        if name in names[:index]:
            errors.append(Problem(f"wave name {name!r} is used twice", ("spec", "waves", index, "name")))

    pins = _pins(policy, targets, errors)
    units = _units(policy, targets, pins)
    unit_of = _joined(units)
    conflicts: list[Problem] = []  # shared fields the plan cannot keep together (below)

    parts_of: dict[str, list[_Part]] = {}
    for index, wave in enumerate(spec.waves):
        if not members[index]:
            warnings.append(
                Problem(f"wave {wave.name} claims no cluster", ("spec", "waves", index), severity="warning")
            )
        # an empty wave is one part, empty, under its own name: it keeps its number
        parts_of[wave.name] = _expand(index, wave, members[index], errors, unit_of, conflicts) or [_Part(index, wave.name, None, None, [])]

    _link(spec.waves, parts_of, errors)
    errors += gate_problems(spec)
    if errors:
        raise ProblemError(conflicts + errors + warnings)

    parts = [part for wave in spec.waves for part in parts_of[wave.name]]
    order = _number(parts)
    number_of = {part.name: n for n, part in enumerate(order, start=1)}

    waves: list[Wave] = []
    for n, part in enumerate(order, start=1):
        wave_spec = spec.waves[part.spec_index]
        waves.append(
            Wave(
                number=n,
                name=part.name,
                spec_index=part.spec_index,
                group=part.group,
                batch=part.batch,
                clusters=[c.name for c in part.clusters],
                after=sorted(number_of[d] for d in part.deps),
                bake_seconds=wave_spec.bake,
                gates=wave_spec.gates if wave_spec.gates is not None else spec.gates,
                approval=wave_spec.approval,
                windows=_windows(spec, part, errors),
            )
        )

    _check_constraints(policy, order, errors)
    errors += label_problems(spec, waves, targets)
    wave_of = {name: wave.number for wave in waves for name in wave.clusters}
    _shared(units, wave_of, waves, conflicts)
    if errors:
        raise ProblemError(conflicts + errors + warnings)  # no plan at all: the conflicts are errors too
    down = {c.name: c.down for c in targets if c.down}
    return Plan(policy.metadata.name, spec.revision, targets, waves, pins, wave_of, warnings, down=down,
                unavailable=spec.unavailable, conflicts=conflicts)


def _per_labels(decide):
    """`decide(labels)` worked out once per distinct label mapping: the clusters of a
    fleet share one mapping per distinct set of labels (rollout/inventory), ~24 for
    100,000 clusters. Keyed by identity, within one plan: each mapping is kept in the
    table (so no id is reused meanwhile), and none changes while a plan is made. Mappings
    not shared are decided one by one, as before."""
    table: dict[int, tuple[dict, object]] = {}

    def decided(labels: dict):
        found = table.get(id(labels))
        if found is None:
            found = table[id(labels)] = (labels, decide(labels))
        return found[1]

    return decided


def _windows(spec, part: _Part, errors: list[Problem]) -> tuple:
    own = spec.waves[part.spec_index].windows
    loc = ("spec", "waves", part.spec_index, "windows") if own is not None else ("spec", "windows")
    windows = own if own is not None else spec.windows
    # only a time zone template reads the clusters (a wave of 34,000: no list made for nothing)
    filled = [(c.name, c.labels) for c in part.clusters] if any("{" in w.timeZone for w in windows) else []
    windows, problems = resolve_windows(windows, filled, loc)
    errors += [p for p in problems if p.message not in {e.message for e in errors}]
    return windows


def _labels(cluster: Cluster) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(cluster.labels.items())) or "none"


def _expand(index: int, wave: WaveSpec, clusters: list[Cluster], errors: list[Problem],
            unit_of: dict[str, object] | None = None, conflicts: list[Problem] | None = None) -> list[_Part]:
    """groupBy then maxClusters: one part per (group, batch)."""
    groups: dict[str | None, list[Cluster]] = {}
    if wave.groupBy is None:
        if clusters:
            groups[None] = clusters
    else:
        by_value: dict[str, list[Cluster]] = defaultdict(list)
        group_by = wave.groupBy
        for cluster in clusters:
            value = cluster.labels.get(group_by)
            if value is None:
                errors.append(
                    Problem(
                        f"wave {wave.name} groups by label {wave.groupBy!r} but cluster {cluster.name} has no such label",
                        ("spec", "waves", index, "groupBy"),
                    )
                )
                continue
            by_value[value].append(cluster)
        groups = {value: by_value[value] for value in sorted(by_value)}

    parts: list[_Part] = []
    for value, members in groups.items():
        base = wave.name if value is None else f"{wave.name}-{value}"
        size = len(members) if wave.maxClusters is None else resolve_count(wave.maxClusters, len(members))
        batches = _batches(members, size, unit_of or {}, wave, index, conflicts if conflicts is not None else errors)
        if len(batches) == 1:
            parts.append(_Part(index, base, value, None, batches[0]))
            continue
        for number, batch in enumerate(batches, start=1):
            part = _Part(index, f"{base}/{number}", value, number, batch)
            if number > 1:
                part.deps.add(parts[-1].name)  # batches of one wave go one after another
            parts.append(part)
    return parts


def _batches(members: list[Cluster], size: int, unit_of: dict[str, tuple], wave: WaveSpec, index: int,
             errors: list[Problem]) -> list[list[Cluster]]:
    """Batches of at most `size` clusters, in order; clusters that pin one field together
    stay in one batch (a batch cannot move half of a shared field)."""
    if not unit_of:
        return [members[i : i + size] for i in range(0, len(members), size)]
    groups: dict[object, list[Cluster]] = {}
    for cluster in members:
        groups.setdefault(unit_of.get(cluster.name, cluster.name), []).append(cluster)
    batches: list[list[Cluster]] = []
    current: list[Cluster] = []
    for group in groups.values():
        if len(group) > size:
            errors.append(Problem(
                f"wave {wave.name}: clusters {', '.join(c.name for c in group)} pin one field, which moves them all "
                f"at once, more than maxClusters allows ({size}): raise maxClusters, or give each cluster its own field",
                ("spec", "waves", index, "maxClusters")))
        if current and len(current) + len(group) > size:
            batches.append(current)
            current = []
        current.extend(group)
    return batches + ([current] if current else [])


def _link(specs: tuple[WaveSpec, ...], parts_of: dict[str, list[_Part]], errors: list[Problem]) -> None:
    """Turn each wave's `after` (default: the previous wave) into dependencies between parts.

    A reference may name a policy wave (meaning all its parts) or one part
    (`region-eu-west`, `production/2`). A wave that claims nobody is one empty part,
    which passes once what it waits for has: waiting for it means waiting for that."""
    part_names = {part.name: part for parts in parts_of.values() for part in parts}
    spec_index = {spec.name: i for i, spec in enumerate(specs)}

    declared: dict[str, list[str]] = {}
    for index, spec in enumerate(specs):
        if spec.after is None:
            declared[spec.name] = [specs[index - 1].name] if index > 0 else []
            continue
        refs = []
        for pos, ref in enumerate(spec.after):
            if ref in spec_index or ref in part_names:
                refs.append(ref)
            else:
                known = ", ".join(s.name for s in specs)
                errors.append(
                    Problem(f"unknown wave {ref!r} (waves: {known})", ("spec", "waves", index, "after", pos))
                )
        declared[spec.name] = refs

    cycle = _find_cycle(declared, specs, part_names, parts_of)
    if cycle:
        where = spec_index[cycle[0]]
        errors.append(
            Problem(
                "dependency cycle: " + " -> ".join(cycle + [cycle[0]]),
                ("spec", "waves", where, "after"),
            )
        )
        return

    resolved: dict[str, set[str]] = {}

    def targets_of(ref: str) -> set[str]:
        """Part names that waiting for `ref` means waiting for."""
        if ref in spec_index:
            return {p.name for p in parts_of[ref]}
        return {ref}

    def deps_of(spec_name: str) -> set[str]:
        if spec_name not in resolved:
            resolved[spec_name] = set()  # cycles were ruled out above
            resolved[spec_name] = set().union(*(targets_of(r) for r in declared[spec_name])) if declared[spec_name] else set()
        return resolved[spec_name]

    for spec in specs:
        deps = deps_of(spec.name)
        for part in parts_of[spec.name]:
            if part.batch in (None, 1):
                part.deps |= deps
    for part in part_names.values():
        if part.name in part.deps:
            errors.append(Problem(f"wave {part.name} waits for itself", ("spec", "waves", part.spec_index, "after")))


def _find_cycle(declared, specs, part_names, parts_of) -> list[str] | None:
    """A cycle among policy waves, as wave names, or None."""
    edges = []
    for name, refs in declared.items():
        for ref in refs:
            owner = ref if ref in parts_of else next(
                (s for s, parts in parts_of.items() if any(p.name == ref for p in parts)), None
            )
            if owner is not None:
                edges.append((owner, name))
    return find_cycle([s.name for s in specs], edges)


def _number(parts: list[_Part]) -> list[_Part]:
    """Topological order, ties broken by (file order, group value, batch index); the
    `after` each part keeps is the transitive reduction, so `production/2` lists
    `production/1` and not also everything `production/1` waited for."""
    by_name = {p.name: p for p in parts}
    edges = [(dep, p.name) for p in parts for dep in sorted(p.deps)]
    order = [by_name[n] for n in lexicographical_topological_sort(list(by_name), edges, lambda n: by_name[n].sort_key)]
    reduced = transitive_reduction(list(by_name), edges)
    for part in parts:
        part.deps = reduced[part.name]
    return order


def _check_constraints(policy: RolloutPolicy, order: list[_Part], errors: list[Problem]) -> None:
    constraints = policy.spec.constraints
    for part in order:
        index = part.spec_index
        if constraints.maxWaveSize is not None and len(part.clusters) > constraints.maxWaveSize:
            errors.append(
                Problem(
                    f"wave {part.name} has {len(part.clusters)} clusters, more than maxWaveSize "
                    f"{constraints.maxWaveSize}: split it with maxClusters or groupBy",
                    ("spec", "constraints", "maxWaveSize"),
                    extra={"wave": index},
                )
            )
        for key in constraints.isolateBy:
            if len({cluster.labels.get(key, ABSENT) for cluster in part.clusters}) <= 1:
                continue  # the usual wave: one value; which clusters hold which is worked out only when mixed
            values: dict[str | None, list[str]] = defaultdict(list)
            for cluster in part.clusters:
                values[cluster.labels.get(key, ABSENT)].append(cluster.name)
            if len(values) > 1:
                shown = "; ".join(
                    f"{key}={v if v is not ABSENT else '(absent)'}: {', '.join(names[:3])}"
                    + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                    for v, names in sorted(values.items(), key=lambda kv: (kv[0] is not ABSENT, kv[0] or ""))
                )
                errors.append(
                    Problem(
                        f"wave {part.name} mixes values of isolated label {key!r} ({shown})",
                        ("spec", "waves", index),
                    )
                )


def pins_of(policy: RolloutPolicy, targets: list[Cluster]) -> dict[str, list[PinTarget]]:
    """Where each cluster's revision is written (a cluster whose labels a template needs
    and lacks gets the pins it can: the planner refuses such a cluster up front)."""
    return _pins(policy, targets, [])


def mark_shared(policy: RolloutPolicy, targets: list[Cluster], pins: dict[str, list[PinTarget]],
                waves: list[Wave]) -> None:
    """Each wave's `shared` fields, as `plan` sets them, for a plan made otherwise (from
    the advance records: waves/recorded.py); fields across waves are not this one's to refuse."""
    _shared(_units(policy, targets, pins), {c: w.number for w in waves for c in w.clusters}, waves, [])


def _pins(policy: RolloutPolicy, targets: list[Cluster], errors: list[Problem]) -> dict[str, list[PinTarget]]:
    pins: dict[str, list[PinTarget]] = {}
    specs = policy.spec.pin
    fields = [pin.field_path() for pin in specs]
    templated = ["{" in f for f in fields]
    named_only = [not labels_used(pin.files) for pin in specs]  # `apps/{cluster}.yaml`: one str.replace
    # `name: "{labels.app}-platform"`: the document to edit; a label missing there is a missing label
    # too (the editor found no document by it: an internal error at validate and advance)
    by_label = [pin.name is not None and bool(labels_used(pin.name)) for pin in specs]
    if all(named_only) and not any(templated) and not any(by_label):  # no label used: nothing can be missing
        if len(specs) == 1:  # the usual policy: no list comprehension run per cluster
            preset, files, pinned = specs[0].preset, specs[0].files, fields[0]
            return {c.name: [PinTarget(preset, files.replace("{cluster}", c.name), pinned, 0)] for c in targets}
        plain = [(pin.preset, pin.files, fields[index], index) for index, pin in enumerate(specs)]
        return {c.name: [PinTarget(preset, files.replace("{cluster}", c.name), pinned, index)
                         for preset, files, pinned, index in plain] for c in targets}
    for cluster in targets:
        out = []
        for index, pin in enumerate(specs):
            path = None  # still None in `except`: the path template raised, not the field's
            try:
                path = pin.files.replace("{cluster}", cluster.name) if named_only[index] else \
                    render_path(pin.files, cluster.name, cluster.labels)
                pinned = pin.field_for(cluster.name, cluster.labels) if templated[index] else fields[index]
                if by_label[index]:
                    render(pin.name, cluster.name, cluster.labels)  # an empty label leaves a name: the editor's to find
            except EmptyLabel as empty:
                errors.append(Problem(
                    f"cluster {cluster.name} has an empty label {empty.key!r}, which makes the template "
                    + (f"{pin.files!r} the path {empty.path!r}: not a file in the repository" if path is None else
                       f"{fields[index]!r} a field with an empty key")
                    + " (give the label a value, or leave it out of the template)",
                    ("spec", "pin", index, "files" if path is None else "field")))
                continue
            except MissingLabel as missing:
                used = "{labels." + missing.key + "}"
                template, key = next(((t, k) for t, k in ((pin.files, "files"), (fields[index], "field"),
                                                          (pin.name or "", "name")) if used in t), (fields[index], "field"))
                errors.append(
                    Problem(
                        f"cluster {cluster.name} has no label {missing.key!r}, which the template {template!r} uses",
                        ("spec", "pin", index, key),
                    )
                )
                continue
            out.append(PinTarget(pin.preset, path, pinned, index))
        pins[cluster.name] = out
    return pins


def _units(policy: RolloutPolicy, targets: list[Cluster], pins: dict[str, list[PinTarget]]) -> dict[tuple, list[str]]:
    """Clusters that pin one field together (a Fleet bundle's `prod` target for prod-1 and
    prod-2): the same file, document and field, as far as the policy alone can tell.
    Only groups of two or more; the file check finds the rest (two spellings of one
    field) once the files are read (rollout/safety.py)."""
    specs = policy.spec.pin
    # A file named after the cluster alone (`apps/{cluster}.yaml`) is no other cluster's:
    # cluster names differ, so do the paths (the name is all that varies)
    own = [pin.PER_CLUSTER or ("{cluster}" in pin.files and not labels_used(pin.files)) for pin in specs]
    if all(own):
        return {}
    by_name = {c.name: c for c in targets}
    groups: dict[tuple, list[str]] = {}
    for name, targets_of in pins.items():
        for target in targets_of:
            if own[target.pin_index]:
                continue
            pin = specs[target.pin_index]
            try:
                doc = render(pin.name, name, by_name[name].labels) if pin.name else None
            except MissingLabel:
                continue  # the file check names the missing label
            groups.setdefault((target.pin_index, target.file, doc, target.field), []).append(name)
    return {key: names for key, names in groups.items() if len(names) > 1}


def _joined(units: dict[tuple, list[str]]) -> dict[str, str]:
    """cluster -> the unit it moves with: units that share a cluster are one (union-find),
    so a cluster pinning two shared fields keeps both groups together."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent.setdefault(name, name) != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for names in units.values():
        first = root(names[0])
        for name in names[1:]:
            other = root(name)
            if other != first:
                parent[other] = first
    return {name: root(name) for name in parent}


def _shared(units: dict[tuple, list[str]], wave_of: dict[str, int], waves: list[Wave],
            errors: list[Problem]) -> None:
    """A shared field moves all its clusters at once: they must be in one wave (then in
    one isolation group too, as every wave is), which shows them as one unit."""
    shared: dict[int, list[SharedPin]] = {}
    by_number = {w.number: w for w in waves}  # a recorded plan's numbers are not places (waves/recorded.py)
    for (index, file, _doc, pinned), names in units.items():
        numbers = sorted({wave_of[n] for n in names if n in wave_of})
        if len(numbers) == 1:
            shared.setdefault(numbers[0], []).append(SharedPin(file, pinned, tuple(names)))
            continue
        if len(numbers) > 1:
            where = "; ".join(f"wave {by_number[n].name}: {', '.join(x for x in names if wave_of.get(x) == n)}"
                              for n in numbers)
            errors.append(Problem(
                f"clusters {', '.join(names)} pin one field ({file}: {pinned}), which moves them all at once, but "
                f"the plan puts them in different waves ({where}): put them in one wave, or give each cluster its "
                "own field", ("spec", "pin", index)))
    for number, pins in shared.items():
        by_number[number].shared = tuple(pins)
