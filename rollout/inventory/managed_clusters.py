"""`managedClusters: {context, selector}`: Open Cluster Management ManagedClusters
(cluster.open-cluster-management.io/v1, cluster-scoped, open-cluster-management-io/api).

The cluster is metadata.name; its labels metadata.labels, then status.clusterClaims read as
labels (rollout/inventory/live.py's rule); its API server spec.managedClusterClientConfigs[].url
when they all name one server. Available: ManagedClusterConditionAvailable True; False,
Unknown or absent is down (OCM's own `unavailable` and `unreachable` taints).
"""

from __future__ import annotations

from waves.availability import managed_cluster
from rollout.inventory.entries import SourceResult, mapping
from rollout.inventory.live import as_labels, entry, one_server


def read_live(listed) -> SourceResult:
    result = SourceResult()
    for obj in listed.items:
        spec, status = mapping(obj.get("spec")), mapping(obj.get("status"))
        configs = spec.get("managedClusterClientConfigs")
        urls = [mapping(c).get("url") for c in configs] if isinstance(configs, list) else []
        made = entry(listed, obj, result, managed_cluster(obj), one_server(urls), as_labels(status.get("clusterClaims")))
        if made is not None:
            result.entries.append(made)
    return result
