"""A rollout whose live inventory cannot be read (the hub unreachable, refusing, lacking
the kind) after it started: its waves that went out are judged and reverted from their
advance records, and nothing advances (docs/inventory.md, "When the hub cannot be read").

The clusters of each wave out are the ones its advances pinned (`Rollout-Clusters`); their
labels are read from the sources that still answer (files), else from what the advance
recorded of them (rollout/inventory/record.py). Before the rollout started there is
nothing to judge: the hub that cannot be read is exit 2, as for `plan` and `validate`.
"""

from __future__ import annotations

from dataclasses import replace

from waves.recorded import recorded_plan
from waves.state import ADVANCE, epoch_of
from rollout.git.history import history_refs, read_events
from rollout.workspace import Workspace


def degrade(git, remote: str | None, ws: Workspace, check_files: bool) -> Workspace | None:
    """The workspace of the waves out, from their records; None when the rollout has not
    started (then the hub's problem stands: exit 2)."""
    policy = ws.loaded.policy
    name, revision = policy.metadata.name, policy.spec.revision
    events = read_events(git, history_refs(git, remote), name, arrivals_for=revision)
    epoch = epoch_of(events, name, revision)
    advances = [e for e in events if e.action == ADVANCE and e.policy == name and e.revision == revision
                and e.epoch == epoch]
    if not advances:
        return None
    known = {c.name: c for c in ws.clusters}  # what the sources that answered still say
    for cluster in recorded_clusters(git, [e.commit for e in advances]).values():
        known.setdefault(cluster.name, cluster)
    why = "; ".join(p.message for p in ws.hub_down)
    plan = recorded_plan(policy, events, known, why)
    out = Workspace(ws.repo, ws.loaded, list(known.values()), plan, problems=list(plan.warnings),
                    listed=ws.listed, degraded=why)
    if check_files:  # the pinned files, for the gates that read them; checked when the waves went out
        from rollout.safety import inspect

        inspected = inspect(ws.repo, policy, plan, inventory=list(known.values()))
        out.inspection = replace(inspected, problems=[])
    return out


def recorded_clusters(git, commits: list[str]) -> dict:
    """name -> Cluster, as the advance commits recorded them (the latest record wins)."""
    from rollout.inventory import record  # the inventory's readers: only once the hub is away (status: ~5 ms)

    if not commits:
        return {}
    out = {}
    text = git.run("show", "-s", "--format=%B%x1e", *commits, "--")
    for message in text.split("\x1e"):
        out.update(record.clusters_in(message))
    return out
