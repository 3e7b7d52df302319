"""A followed source whose kustomization graph is broken: a reference that leaves the
repository, names no file, or closes a cycle. kustomize would fail on it; refusing it
here says which cluster and which line, before anything is pinned. A broken shared base
is one problem, naming the first cluster that reaches it and how many more do."""

from __future__ import annotations

from dataclasses import replace


def check(ctx) -> list:
    found_by: dict[object, tuple] = {}  # key -> (finding, clusters reaching it)
    for source in ctx.followed():
        for found in source.reach.problems:
            key = found.key or (found.file, found.doc, found.loc, found.message)
            first, clusters = found_by.setdefault(key, (found, []))
            if source.cluster not in clusters:
                clusters.append(source.cluster)
    problems = []
    for found, clusters in found_by.values():
        more = f" (and {len(clusters) - 1} more)" if len(clusters) > 1 else ""
        problem = ctx.problem(clusters[0], found.file, found.doc, found.loc,
                              f"the source of cluster {clusters[0]}{more}: {found.message}")
        if found.line is not None:
            problem = replace(problem, line=found.line)
        problems.append(problem)
    return problems
