"""`clusterProfiles: {context, namespace, selector}`: SIG-Multicluster ClusterProfiles
(multicluster.x-k8s.io/v1alpha1, kubernetes-sigs/cluster-inventory-api) on a hub.

The cluster is metadata.name; its labels metadata.labels, then status.properties read as
labels (rollout/inventory/live.py's rule); its API server `cluster.server` of
status.accessProviders and of the older status.credentialProviders (a provider named in
both: the accessProviders one, as the API says), when they all name one server.
Available: the ControlPlaneHealthy condition (waves/availability.py).
"""

from __future__ import annotations

from waves.availability import cluster_profile
from rollout.inventory.entries import SourceResult, mapping
from rollout.inventory.live import as_labels, entry, one_server


def read_live(listed) -> SourceResult:
    result = SourceResult()
    for obj in listed.items:
        status = mapping(obj.get("status"))
        made = entry(listed, obj, result, cluster_profile(obj), server(status), as_labels(status.get("properties")))
        if made is not None:
            result.entries.append(made)
    return result


def server(status: dict) -> str | None:
    providers: dict[object, object] = {}
    for key in ("credentialProviders", "accessProviders"):  # accessProviders win a shared name
        for provider in status.get(key) if isinstance(status.get(key), list) else ():
            provider = mapping(provider)
            providers[provider.get("name")] = mapping(provider.get("cluster")).get("server")
    return one_server(list(providers.values()))
