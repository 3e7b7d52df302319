"""`identity.sourcePath`: each cluster's followed source must deploy that folder, e.g.
`clusters/{cluster}`. The rule for fleets without cluster-identity generators: an EU
Application whose path is `clusters/prod-us-east` is refused. When a pinned document has
several sources from this repository, one of them must be the folder."""

from __future__ import annotations

from dataclasses import replace

from waves.problems import POLICY
from waves.templates import EmptyLabel, MissingLabel, render_path

from rollout.targeting import normal_path


def check(ctx) -> list:
    identity = ctx.identity
    if identity is None or not identity.sourcePath:
        return []
    problems, wants = [], {}
    for cluster in ctx.wanted:
        try:
            wants[cluster.name] = normal_path(render_path(identity.sourcePath, cluster.name, cluster.labels))
        except EmptyLabel as empty:  # `clusters/{labels.site}` would be `clusters/`: the folder of every cluster
            problems.append(ctx.problem(cluster.name, POLICY, 0, ("spec", "identity", "sourcePath"),
                                        f"cluster {cluster.name} has an empty label {empty.key!r}, which makes "
                                        f"identity.sourcePath the folder {empty.path!r}"))
        except MissingLabel as missing:
            problems.append(ctx.problem(cluster.name, POLICY, 0, ("spec", "identity", "sourcePath"),
                                        f"cluster {cluster.name} has no label {missing.key!r} for identity.sourcePath"))
    followed = {s.cluster for s in ctx.followed()}
    unchecked = [c.name for c in ctx.wanted if c.name in wants and c.name not in followed]
    if unchecked:  # a rule that checks nothing should say so, once
        problems.append(replace(ctx.problem(unchecked[0], POLICY, 0, ("spec", "identity", "sourcePath"),
            f"identity.sourcePath checks nothing for {len(unchecked)} cluster(s) ({', '.join(unchecked[:3])}"
            f"{', ...' if len(unchecked) > 3 else ''}): no source of theirs is followed "
            "(`rollout validate --format json` says why)"), severity="warning"))
    by_document: dict[tuple, list] = {}
    for source in ctx.followed():
        if source.file is not None and source.path is not None:  # a chart's values alone have no path
            by_document.setdefault((source.cluster, source.file, source.doc), []).append(source)
    for (name, file, doc), sources in by_document.items():
        want = wants.get(name)
        if want is None or any(s.root == want for s in sources):
            continue
        first = sources[0]
        owner = ctx.owner_of(first.root)
        whose = f", the folder of cluster {owner[0]}" if owner and owner[0] != name else ""
        problems.append(ctx.problem(
            name, file, doc, first.loc,
            f"{first.kind} for cluster {name} deploys {first.path}{whose}, but identity.sourcePath says "
            f"{want}: refusing to pin the wrong cluster"))
    return problems
