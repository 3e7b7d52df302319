"""`fleetClusters: {context, namespace, selector, agentCheckinInterval}`: Rancher Fleet
Clusters (fleet.cattle.io/v1alpha1, rancher/fleet) on the Fleet manager.

The cluster is metadata.name, its labels metadata.labels (what Fleet's own cluster
selectors match). No API server: status.apiServerURL is the URL the cluster's agent uses
to reach the *manager* (upstream), not the cluster's own; it names the hub, so it would
make every cluster the same one. Available: the agent checked in (status.agent.lastSeen)
within three agentCheckinInterval, as Fleet's cluster monitor judges an offline cluster.
"""

from __future__ import annotations

import time

from waves.availability import fleet_cluster
from rollout.inventory.entries import SourceResult
from rollout.inventory.live import entry


def read_live(listed, interval: float, now: float | None = None) -> SourceResult:
    result = SourceResult()
    now = time.time() if now is None else now  # the hub's timestamps are real time: never ROLLOUT_NOW
    for obj in listed.items:
        made = entry(listed, obj, result, fleet_cluster(obj, now, interval))
        if made is not None:
            result.entries.append(made)
    return result
