"""The plan of a rollout's waves that went out, from their advance records alone: what a
step judges and reverts while a live inventory source (the hub) cannot be read
(docs/inventory.md). Pure: the shell reads the events and the clusters the records name.

Each wave that has an advance in the rollout's epoch is planned with the clusters its
advances pinned, under the number and name they were made with, and the gates, bake and
approval of the `spec.waves` entry it is a part of (by name: `region-eu-west` of a
`groupBy` wave, `production/2` of a batched one). Nothing else is planned: no wave can
start from it, and it is `partial`, so nothing reads "complete" from it.
"""

from __future__ import annotations

import re
from dataclasses import replace

from waves.inventory import Cluster
from waves.planner import Plan, Wave, mark_shared, pins_of
from waves.policy import RolloutPolicy
from waves.problems import Problem
from waves.state import ADVANCE, Event, epoch_of


def spec_index(policy: RolloutPolicy, name: str) -> int | None:
    """The `spec.waves` entry a planned wave's name comes from; None when no entry, or
    more than one, could have made it."""
    base = re.sub(r"/\d+$", "", name)
    batched = base != name
    found = []
    for index, spec in enumerate(policy.spec.waves):
        if batched and spec.maxClusters is None:
            continue
        if base == spec.name and spec.groupBy is None:
            found.append(index)
        elif spec.groupBy is not None and base.startswith(spec.name + "-") and len(base) > len(spec.name) + 1:
            found.append(index)
    return found[0] if len(found) == 1 else None


def recorded_plan(policy: RolloutPolicy, events: list[Event], clusters: dict[str, Cluster], why: str) -> Plan:
    """`events`: the policy's, oldest first; `clusters`: what is known of each pinned
    cluster (its labels: read from files still, or recorded with the advance). `why`:
    what cannot be read (the plan's `partial`)."""
    name, revision = policy.metadata.name, policy.spec.revision
    epoch = epoch_of(events, name, revision)
    pinned: dict[str, list[str]] = {}
    numbers: dict[str, int] = {}
    for event in events:
        if event.policy == name and event.revision == revision and event.epoch == epoch and event.action == ADVANCE:
            members = pinned.setdefault(event.wave, [])
            members += [c for c in event.clusters if c not in members]
            if event.number is not None:
                numbers.setdefault(event.wave, event.number)
    waves, untold = [], []
    told = {}
    for wave_name in pinned:
        index = spec_index(policy, wave_name)
        if index is None:  # its gates and bake cannot be told: not judged (never passed by default)
            untold.append(Problem(f"wave {wave_name}: no single spec.waves entry makes it: not judged while the "
                                  "inventory cannot be read", ("spec", "waves"), severity="warning"))
            continue
        told[wave_name] = index
    number_of = _numbers(list(told), numbers, untold)
    for wave_name, index in told.items():
        members = pinned[wave_name]
        spec = policy.spec.waves[index]
        waves.append(Wave(
            number=number_of[wave_name], name=wave_name, spec_index=index, group=None, batch=None,
            clusters=sorted(members), bake_seconds=spec.bake,
            gates=spec.gates if spec.gates is not None else policy.spec.gates, approval=spec.approval))
    targets = [clusters[c] for c in sorted({c for w in waves for c in w.clusters if c in clusters})]
    wave_of = {c: w.number for w in waves for c in w.clusters}
    pins = pins_of(policy, targets)
    mark_shared(policy, targets, pins, waves)  # the fields a late join's revert cannot split
    return Plan(name, revision, targets, waves, pins, wave_of, untold,
                unavailable=policy.spec.unavailable, partial=why)


def _numbers(names: list[str], recorded: dict[str, int], warnings: list[Problem]) -> dict[str, int]:
    """Each wave's number: the one its first advance recorded (`Rollout-Wave`), which is
    what a person saw in the plan then. Two waves can have recorded the same number (the
    plan changed between their advances: a `groupBy` group appeared, shifting the waves
    after it), and an older record none: those get numbers no recorded wave has, in the
    order they first went out, and a warning says so. Every number is then one wave's, so
    no lookup by number (a verdict, `--wave 3`) can take one wave for another."""
    claims: dict[int, list[str]] = {}
    for name in names:
        if recorded.get(name) is not None:
            claims.setdefault(recorded[name], []).append(name)
    fresh = max(recorded.values(), default=0)
    out = {}
    for name in names:
        number = recorded.get(name)
        if number is not None and len(claims[number]) == 1:
            out[name] = number
        else:
            fresh += 1
            out[name] = fresh
    for number, sharing in claims.items():
        if len(sharing) > 1:
            warnings.append(Problem(
                f"waves {', '.join(sharing)} were each advanced as wave {number} (the plan changed between their "
                f"advances): numbered {', '.join(str(out[n]) for n in sharing)} while the inventory cannot be read; "
                "name them (--wave NAME)", ("spec", "waves"), severity="warning"))
    return out


def with_waves_out(plan: Plan, policy: RolloutPolicy, events: list[Event]) -> Plan:
    """`plan` (made from the inventory now), with each wave that went out in the rollout's
    epoch and that it no longer has added back: every cluster of a `groupBy` group or of a
    batch left the inventory since, and the planner makes no such wave any more. Without
    it, its records would belong to no wave: never judged, and what waits for it would go
    on (a false pass). Each is planned empty (its clusters are what its advances pinned:
    waves/state.py judges those), numbered after the plan's waves, with the gates, bake and
    approval of its `spec.waves` entry, and what waits for that entry waits for it. The
    plan itself when nothing is missing."""
    name, revision = policy.metadata.name, policy.spec.revision
    epoch = epoch_of(events, name, revision)
    planned = {w.name for w in plan.waves}
    missing = list(dict.fromkeys(e.wave for e in events if e.action == ADVANCE and e.policy == name
                                 and e.revision == revision and e.epoch == epoch and e.wave not in planned))
    if not missing:
        return plan
    waves, added, warnings = list(plan.waves), [], list(plan.warnings)
    number = max((w.number for w in waves), default=0)
    for wave_name in missing:
        index = spec_index(policy, wave_name)
        if index is None:  # its gates cannot be told; the plan's warning says it is not judged
            warnings.append(Problem(f"wave {wave_name} went out and no single spec.waves entry makes it now: "
                                    "not judged", ("spec", "waves"), severity="warning"))
            continue
        spec = policy.spec.waves[index]
        number += 1
        batch = re.search(r"/(\d+)$", wave_name)
        added.append(Wave(number=number, name=wave_name, spec_index=index, group=None,
                          batch=int(batch.group(1)) if batch else None, clusters=[], bake_seconds=spec.bake,
                          gates=spec.gates if spec.gates is not None else policy.spec.gates, approval=spec.approval))
    specs = policy.spec.waves
    for i, wave in enumerate(waves):
        spec = specs[wave.spec_index]  # what it waits for: `after` (entries or parts), else the entry before it
        after = spec.after if spec.after is not None else [specs[wave.spec_index - 1].name] if wave.spec_index else []
        # and every wave of the same entry waits for its batches planned back: the planner
        # renumbers (or un-batches) what is left of an entry, so "a later batch" is not knowable
        waits = [a.number for a in added if specs[a.spec_index].name in after or a.name in after
                 or (a.spec_index == wave.spec_index and a.batch is not None)]
        if waits:
            waves[i] = replace(wave, after=sorted(set(wave.after) | set(waits)))
    return replace(plan, waves=waves + added, warnings=warnings)
