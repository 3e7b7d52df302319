"""A cluster's source reaches into a folder that belongs to another cluster (its
`identity.sourcePath`, or the folder of its `identity.files`): a resource, base,
component, patch or generator file from there is another cluster's configuration.
Refused on the line that crosses over, naming both clusters."""

from __future__ import annotations


def check(ctx) -> list:
    if not ctx.owners():
        return []
    problems = []
    for source in ctx.followed():
        reported = set()
        for file in source.reach.files:
            found = ctx.owner_of(file)
            if found is None or found[0] == source.cluster:
                continue
            other, folder = found
            link = ctx.crossing(source.reach, file, other)
            if (link.file, link.loc) in reported:
                continue
            reported.add((link.file, link.loc))
            problems.append(ctx.at_link(
                source.cluster, link,
                f"cluster {source.cluster}: {link.ref} brings in {file} from {folder}, cluster {other}'s folder: "
                f"refusing to pin cluster {source.cluster} with another cluster's configuration"))
    return problems
