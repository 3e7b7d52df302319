"""The simulator's hub (`rollout simulate --hub FLEET-FILE`): the clusters of a Fleet file
served as the live inventory sources see them on context `hub` (docs/simulator.md):

  ClusterProfile  multicluster.x-k8s.io/v1alpha1      namespace fleet-system
  ManagedCluster  cluster.open-cluster-management.io/v1  cluster-scoped
  Cluster         cluster.x-k8s.io/v1beta2 and v1beta1   namespace clusters
  Cluster         fleet.cattle.io/v1alpha1            namespace fleet-default
  Secret          v1 (Argo CD cluster Secrets)         namespace argocd

Field for field as upstream writes them (the fixtures in tests/fixtures/inventory name the
Go types). A cluster that is `down` (the `CLUSTER:down[@30s-90s]` fault, or the test knob
`POST /_sim/hub`) shows each source's own sign of it; one that is `absent` is not listed
at all (a cluster not joined yet). LISTs page with `limit`/`continue` as an API server does.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

NAMESPACES = {"clusterprofiles": "fleet-system", "clusters.cluster.x-k8s.io": "clusters",
              "clusters.fleet.cattle.io": "fleet-default", "secrets": "argocd"}
MANAGER = "rollout-simulator"


def secret_token(cluster: str) -> str:
    """The bearer token in a served Argo CD cluster Secret's `config`: never to be printed."""
    return f"sim-bearer-{cluster}-do-not-print"


def secret_data(name: str, server: str | None) -> dict[str, str]:
    """A served Argo CD cluster Secret's `data` (base64, as a LIST returns it)."""
    config = json.dumps({"bearerToken": secret_token(name), "tlsClientConfig": {"insecure": False}})
    data = {"name": name, "server": server or f"https://{name}.simulator.invalid", "config": config}
    return {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}


@dataclass
class Hub:
    clusters: dict[str, tuple[dict[str, str], str | None]] = field(default_factory=dict)  # name -> (labels, server)
    down: dict[str, str] = field(default_factory=dict)  # name -> reason (the test knob)
    absent: set[str] = field(default_factory=set)  # not listed (yet)
    expire: int = 0  # the next this many `continue` tokens are too old (410 Expired): the test knob
    faults: list = field(default_factory=list)  # `down` Faults, with windows after `started`
    started: float = field(default_factory=time.time)
    manager_url: str = "https://fleet-manager.example.com"  # what Fleet's status.apiServerURL names: the hub
    _cache: dict = field(default_factory=dict)

    @classmethod
    def from_file(cls, path, faults=()) -> "Hub":
        """A Fleet file (rollout/v1alpha1 kind Fleet); raises ValueError naming file and line."""
        from pathlib import Path

        from rollout.inventory import fleet
        from rollout.render.problems import problem_line

        file = Path(path).resolve()
        result = fleet.read(file.parent, file.name)
        if result.problems:
            raise ValueError("; ".join(problem_line(p) for p in result.problems))
        hub = cls({e.name: ({str(k): str(v) for k, v in e.labels.items()}, e.server) for e in result.entries})
        hub.faults = [f for f in faults if f.kind == "down"]
        return hub

    def is_down(self, name: str, now: float) -> str | None:
        if name in self.down:
            return self.down[name]
        if name in self._faulted(now):
            return "the simulator's down fault"
        return None

    def _faulted(self, now: float) -> set[str]:
        return {f.cluster for f in self.faults if f.applies(None, now - self.started)}

    def encoded(self, served: list, selector, limit, token, body: bytes | None = None) -> bytes | None:
        """A page's JSON, kept while the list it was cut from is the one served (`body`: keep it)."""
        pages = self._cache.setdefault("pages", {})
        if pages.get("of") is not served:
            pages.clear()
            pages["of"] = served
        key = (selector, limit, token)
        if body is not None:
            pages[key] = body
        return pages.get(key)

    def set(self, down: dict[str, str] | None = None, absent: list[str] | None = None, expire: int | None = None) -> None:
        """The test knob: which clusters are down (name -> reason), which not listed, and how
        many of the next `continue` tokens are too old, as when the API server compacted
        what a paginated LIST began from."""
        if down is not None:
            self.down = dict(down)
        if absent is not None:
            self.absent = set(absent)
        if expire is not None:
            self.expire = int(expire)
        self._cache.clear()

    def expired(self) -> bool:
        """Whether this `continue` token is one of those too old (the knob counts it)."""
        if self.expire <= 0:
            return False
        self.expire -= 1
        return True

    # --- the objects ---------------------------------------------------------------------
    def items(self, group: str, version: str, plural: str, namespace: str | None, now: float) -> list[dict] | None:
        """The objects of a LIST; None: this hub does not serve the kind (404)."""
        key = _kind(group, plural)
        if key is None or (group == "cluster.x-k8s.io" and version not in ("v1beta1", "v1beta2")):
            return None
        if key == "managedclusters":
            if namespace is not None:
                return None
        elif namespace != NAMESPACES[key]:
            return []
        if "names" not in self._cache:  # 10,000 clusters: sorted once, not per page
            self._cache["names"] = sorted(self.clusters)
        names = [n for n in self._cache["names"] if n not in self.absent] if self.absent else self._cache["names"]
        down = tuple(sorted(set(self.down) | self._faulted(now)))  # what a page shows moves with these only
        state = (key, version, down, tuple(sorted(self.absent)), int(now // 30))
        if self._cache.get(key + version, (None,))[0] != state:
            render = {"clusterprofiles": self._profile, "managedclusters": self._managed,
                      "clusters.cluster.x-k8s.io": self._capi, "clusters.fleet.cattle.io": self._fleet,
                      "secrets": self._secret}[key]
            self._cache[key + version] = (state, [render(n, version, now) for n in names])
        return self._cache[key + version][1]

    def _meta(self, name: str, namespace: str | None, labels: dict[str, str], index: int = 0) -> dict:
        meta = {"name": name, "labels": labels, "uid": f"sim-hub-{name}", "resourceVersion": "1",
                "generation": 1, "creationTimestamp": "2025-01-06T09:00:00Z"}
        if namespace:
            meta["namespace"] = namespace
        return meta

    def _profile(self, name: str, version: str, now: float) -> dict:
        labels, server = self.clusters[name]
        down = self.is_down(name, now)
        status = {"conditions": [_condition("ControlPlaneHealthy", down is None, "Healthy" if down is None
                                            else "Unhealthy", down or "the control plane is healthy", now)],
                  "version": {"kubernetes": "v1.31.0"},
                  "properties": [{"name": "clusterset.k8s.io", "value": "default"}]}
        if server:
            status["accessProviders"] = [{"name": MANAGER, "cluster": {"server": server}}]
        return {"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ClusterProfile",
                "metadata": self._meta(name, "fleet-system", {"x-k8s.io/cluster-manager": MANAGER, **labels}),
                "spec": {"displayName": name, "clusterManager": {"name": MANAGER}}, "status": status}

    def _managed(self, name: str, version: str, now: float) -> dict:
        labels, server = self.clusters[name]
        down = self.is_down(name, now)
        available = _condition("ManagedClusterConditionAvailable", None if down else True,
                               "ManagedClusterLeaseUpdateStopped" if down else "ManagedClusterAvailable",
                               f"Registration agent stopped updating its lease ({down})." if down
                               else "Managed cluster is available", now)
        spec = {"hubAcceptsClient": True, "leaseDurationSeconds": 60}
        if server:
            spec["managedClusterClientConfigs"] = [{"url": server, "caBundle": base64.b64encode(b"sim-ca").decode()}]
        return {"apiVersion": "cluster.open-cluster-management.io/v1", "kind": "ManagedCluster",
                "metadata": self._meta(name, None, {"cluster.open-cluster-management.io/clusterset": "default", **labels}),
                "spec": spec,
                "status": {"conditions": [
                    _condition("HubAcceptedManagedCluster", True, "HubClusterAdminAccepted", "Accepted by hub cluster admin", now),
                    _condition("ManagedClusterJoined", True, "ManagedClusterJoined", "Managed cluster joined", now),
                    available],
                    "clusterClaims": [{"name": "id.k8s.io", "value": f"sim-{name}"},
                                      {"name": "kubeversion.open-cluster-management.io", "value": "v1.31.0"}],
                    "version": {"kubernetes": "v1.31.0"}}}

    def _capi(self, name: str, version: str, now: float) -> dict:
        labels, server = self.clusters[name]
        down = self.is_down(name, now)
        endpoint = {"host": "", "port": 0}
        if server:
            parts = urlsplit(server)
            endpoint = {"host": parts.hostname or "", "port": parts.port or 443}
        kind = "Available" if version == "v1beta2" else "Ready"
        status = {"phase": "Provisioned", "conditions": [_condition(kind, down is None, "NotAvailable" if down
                                                                    else "Available", down or "", now)]}
        if version == "v1beta1":
            status["infrastructureReady"] = status["controlPlaneReady"] = True
        return {"apiVersion": f"cluster.x-k8s.io/{version}", "kind": "Cluster",
                "metadata": self._meta(name, "clusters", {"cluster.x-k8s.io/cluster-name": name, **labels}),
                "spec": {"controlPlaneEndpoint": endpoint, "paused": False}, "status": status}

    def _fleet(self, name: str, version: str, now: float) -> dict:
        labels, _ = self.clusters[name]
        down = self.is_down(name, now)
        seen = now - (7200 if down else 20)  # an offline agent stopped checking in two hours ago
        return {"apiVersion": "fleet.cattle.io/v1alpha1", "kind": "Cluster",
                "metadata": self._meta(name, "fleet-default", {"management.cattle.io/cluster-display-name": name,
                                                               **labels}),
                "spec": {"kubeConfigSecret": f"{name}-kubeconfig", "clientID": f"sim-{name}"},
                "status": {"namespace": f"cluster-fleet-default-{name}", "apiServerURL": self.manager_url,
                           "agent": {"lastSeen": _time(seen), "namespace": "cattle-fleet-system"},
                           "display": {"readyBundles": "1/1", "state": "Ready"},
                           "conditions": [{"type": "Ready", "status": "True"}]}}

    def _secret(self, name: str, version: str, now: float) -> dict:
        labels, server = self.clusters[name]
        return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": self._meta(name, "argocd", {"argocd.argoproj.io/secret-type": "cluster", **labels}),
                "data": secret_data(name, server)}


def _kind(group: str, plural: str) -> str | None:
    return {("multicluster.x-k8s.io", "clusterprofiles"): "clusterprofiles",
            ("cluster.open-cluster-management.io", "managedclusters"): "managedclusters",
            ("cluster.x-k8s.io", "clusters"): "clusters.cluster.x-k8s.io",
            ("fleet.cattle.io", "clusters"): "clusters.fleet.cattle.io",
            ("", "secrets"): "secrets"}.get((group, plural))


def serves(group: str, plural: str) -> bool:
    """Whether the kind is one of the hub's (a simulator without --hub answers 404 for it)."""
    return _kind(group, plural) is not None


def _time(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(kind: str, ok: bool | None, reason: str, message: str, now: float) -> dict:
    status = "Unknown" if ok is None else "True" if ok else "False"
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": _time(now - 60), "observedGeneration": 1}


def page(items: list[dict], limit: str | None, token: str | None, version: int) -> tuple[list[dict], dict]:
    """One page of a LIST, as an API server pages (`limit`, `continue`): the items and the
    list's metadata. Raises ValueError for a token this server did not give."""
    start = 0
    if token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["start"])
        except (ValueError, KeyError, TypeError):
            raise ValueError("continue token is not valid") from None
    size = int(limit) if limit and int(limit) > 0 else len(items) or 1
    chunk = items[start:start + size]
    meta: dict = {"resourceVersion": str(version)}
    if start + size < len(items):
        meta["continue"] = base64.urlsafe_b64encode(json.dumps({"start": start + size}).encode()).decode()
        meta["remainingItemCount"] = len(items) - start - size
    return chunk, meta


class Lister:
    """The simulator reading its own hub in-process (when it learns the fleet from a policy
    with live sources): what rollout.inventory.hub.KubeLister reads over HTTP."""

    def __init__(self, hub: Hub | None):
        self.hub = hub

    def check_context(self, context, who) -> None:
        return None

    def page(self, kind, version, context, namespace, selector, token) -> dict:
        from kubernetes.client.exceptions import ApiException

        from waves.selectors import parse_selector

        items = self.hub.items(kind.group, version, kind.plural, namespace, time.time()) if self.hub else []
        if items is None:
            raise ApiException(status=404, reason="Not Found")
        wanted = parse_selector(selector) if selector else None
        items = [i for i in items if wanted is None or wanted.matches(i["metadata"].get("labels") or {})]
        return {"items": items, "metadata": {}}
