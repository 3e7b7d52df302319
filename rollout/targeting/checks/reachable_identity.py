"""`identity.reachable` (default true): every `cluster-identity` generator reachable from
a cluster's source must match `identity.require` for that cluster. The cluster's own
identity file is checked by `identity.files` already; this finds the others: an
Application pointed at another cluster's folder, an overlay that pulls in another
cluster's. The problem sits on the line that links them and names the cluster whose
identity it is, when one cluster's labels match it."""

from __future__ import annotations

import fnmatch

from waves.problems import POLICY
from waves.templates import EMPTY, EmptyLabel, MissingLabel, render_path, render_pattern

from rollout.targeting import normal_path


def mismatches(require: dict[str, str], literals: dict[str, str], cluster) -> list[str]:
    """What in `literals` contradicts `cluster` ("KEY=value, expected pattern"). A key
    the generator does not set is no contradiction: an overlay may add it."""
    out = []
    for key, template in require.items():
        if key not in literals:
            continue
        try:
            pattern = render_pattern(template, cluster.name, cluster.labels)
        except EmptyLabel as empty:  # `{labels.region}*` is `*`: it would accept anything
            out.append(f"{key}={literals[key]}, but the cluster's label {empty.key!r} is empty: {template} would "
                       "match any value")
            continue
        except MissingLabel as missing:
            out.append(f"{key}={literals[key]}, but the cluster has no label {missing.key!r}")
            continue
        if not fnmatch.fnmatchcase(literals[key], pattern):
            out.append(f"{key}={literals[key]}, expected {pattern or EMPTY}")
    return out


def owner(ctx, literals: dict[str, str], cluster) -> str | None:
    """The one other cluster whose identity this is (every required literal it sets
    matches), if there is exactly one."""
    require = ctx.identity.require
    if not any(k in literals for k in require):
        return None
    names = [c.name for c in ctx.clusters.values() if c.name != cluster.name and not mismatches(require, literals, c)]
    return names[0] if len(names) == 1 else None


def live(generator, reach, by_file: dict) -> dict[str, str]:
    """The literals of `generator` that reach the cluster: an including kustomization's
    own cluster-identity generator with `behavior: replace` overrides all of them, with
    `behavior: merge` the keys it sets (a base with placeholder values is no mismatch)."""
    literals = dict(generator.literals)
    for link in reach.chain(generator.file)[:-1]:  # the kustomizations that include it
        for over in by_file.get(link.target, []):
            if over.behavior == "replace":
                return {}
            if over.behavior == "merge":
                for key in over.literals:
                    literals.pop(key, None)
    return literals


def check(ctx) -> list:
    identity = ctx.identity
    if identity is None or not identity.reachable or not identity.require:
        return []
    problems = []
    if identity.files is None:  # no file of its own: some generator must be reachable, and name it
        sources_of: dict[str, list] = {}
        for source in ctx.followed():
            sources_of.setdefault(source.cluster, []).append(source)
        for name, sources in sources_of.items():
            if not any(s.reach.generators for s in sources):
                first = sources[0]
                problems.append(ctx.problem(name, first.file or POLICY, first.doc, first.loc,
                                            f"cluster {name}: no cluster-identity generator is reachable from its "
                                            f"source {first.path}: identity.require has nothing to check"))
    for source in ctx.followed():
        cluster = ctx.clusters[source.cluster]
        own = None
        if identity.files:
            try:
                own = normal_path(render_path(identity.files, cluster.name, cluster.labels))
            except MissingLabel:
                pass  # reported by the identity.files check (an empty label too: EmptyLabel)
        by_file: dict[str, list] = {}
        for generator in source.reach.generators:
            by_file.setdefault(generator.file, []).append(generator)
        for generator in source.reach.generators:
            if generator.file == own:
                continue
            wrong = mismatches(identity.require, live(generator, source.reach, by_file), cluster)
            if not wrong:
                continue
            other = owner(ctx, generator.literals, cluster)
            link = ctx.crossing(source.reach, generator.file, other)
            names = f"names cluster {other} ({wrong[0].split(',')[0]})" if other else f"has {wrong[0]}"
            problems.append(ctx.at_link(
                cluster.name, link,
                f"cluster {cluster.name}: {link.ref} brings in {generator.file}, whose cluster-identity {names}: "
                f"refusing to pin cluster {cluster.name} with another cluster's configuration"))
    return problems

