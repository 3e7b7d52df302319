"""A cluster's source reaches a file that the rollout pins for another cluster: the
first cluster would take the other's revision, in the other's wave. Needs no identity
configuration at all."""

from __future__ import annotations


def check(ctx) -> list:
    pinned: dict[str, set[str]] = {}
    for name, targets in ctx.pins.items():
        for target in targets:
            pinned.setdefault(target.file, set()).add(name)
    problems = []
    for source in ctx.followed():
        for file in source.reach.files:
            owners = pinned.get(file, set())
            if not owners or source.cluster in owners:
                continue  # an ApplicationSet list, or its own pin
            other = sorted(owners)[0]
            link = ctx.crossing(source.reach, file, other)
            problems.append(ctx.at_link(
                source.cluster, link,
                f"cluster {source.cluster}: {link.ref} brings in {file}, the file pinned for cluster {other}: "
                f"cluster {source.cluster} would take {other}'s revision in {other}'s wave"))
    return problems
