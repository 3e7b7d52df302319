"""Live inventory sources: one paginated LIST per source on a hub (`limit`/`continue`), the
source's `selector` sent to the API server, through the kubeconfig and contexts the gates
use (rollout/observers/kube.py: `--kubeconfig`, $KUBECONFIG, in-cluster).

What can go wrong is said, never guessed around: the hub unreachable, our credentials
refused (401/403), the kind not served (404: the CRD is not installed) each come back as
one line naming the context and the source (`Listed.error`), and the caller decides what
that means (before a rollout starts: exit 2, nothing written; during one: judge and revert
from the records, advance nothing: docs/inventory.md).

The hub client is injected (`connect`, kept in rollout/hubs.py), not imported here: the CLI owns
the kubeconfig flag.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from waves.inventory import hub_origin

PAGE = 500  # objects per LIST page: kubectl's default chunk size
TIMEOUT = 30  # seconds for one page
ARGOCD_SECRET_TYPE = "argocd.argoproj.io/secret-type=cluster"


@dataclass(frozen=True)
class Kind:
    group: str  # "" for the core group
    versions: tuple[str, ...]  # tried in order: a 404 for one means the hub does not serve it
    plural: str
    kind: str
    namespaced: bool = True

    def api(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version


KINDS = {
    "clusterProfiles": Kind("multicluster.x-k8s.io", ("v1alpha1",), "clusterprofiles", "ClusterProfile"),
    "managedClusters": Kind("cluster.open-cluster-management.io", ("v1",), "managedclusters", "ManagedCluster",
                            namespaced=False),
    # v1beta2 (Cluster API 1.11+) first; a hub of an older release serves v1beta1 only
    "clusterAPI": Kind("cluster.x-k8s.io", ("v1beta2", "v1beta1"), "clusters", "Cluster"),
    "fleetClusters": Kind("fleet.cattle.io", ("v1alpha1",), "clusters", "Cluster"),
    "argocdClusterSecrets": Kind("", ("v1",), "secrets", "Secret"),
}


@dataclass
class Listed:
    """What one live source's LIST gave: the objects, or why there are none."""

    source: str  # the policy's key: clusterProfiles, managedClusters, ...
    context: str | None
    namespace: str | None
    selector: str | None
    items: list[dict] | None = None
    error: str | None = None  # one line: the hub could not be read (see `refused`, `missing`)
    refused: bool = False  # 401/403
    missing: bool = False  # 404: the kind is not served (CRD not installed)
    version: str | None = None  # the API version that answered
    pages: int = 0
    count: int = 0
    entries: list = field(default_factory=list)  # the entries read from it (inventory/__init__.py)
    rows: list = field(default_factory=list)  # (name, server, labels, down) of each entry: what `digest` is of
    _digest: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """`clusterProfiles (context hub, namespace fleet-system)`: how messages and records name it."""
        where = [f"context {self.context or '(current)'}"]
        if self.namespace:
            where.append(f"namespace {self.namespace}")
        if self.selector:
            where.append(f"selector {self.selector}")
        return f"{self.source} ({', '.join(where)})"

    @property
    def digest(self) -> str:
        """Of what the entries read from it say (`digest` below), worked out when asked: an
        advance records it, a `plan` never reads it (~25 ms at 10,000 clusters)."""
        if self._digest is None:
            self._digest = digest([[name, server, sorted(labels.items()), down] for name, server, labels, down in self.rows])
        return self._digest

    @property
    def origin(self) -> str:
        """What a cluster's `sources` lists for this source: `hub:clusterProfiles@hub/fleet-system`."""
        return hub_origin(self.source, self.context, self.namespace)


class KubeLister:
    """Pages of a LIST through the kubeconfig the gates use (a rollout.observers.kube.Kube)."""

    def __init__(self, kube, page_size: int = PAGE):
        self.kube, self.page_size = kube, page_size

    def check_context(self, context: str | None, who: str) -> None:
        self.kube.check_context(context, who)  # not in the kubeconfig: SetupError, exit 2

    def page(self, kind: Kind, version: str, context: str | None, namespace: str | None, selector: str | None,
             token: str | None) -> dict:
        """One page (raises the client's ApiException for an error answer)."""
        return parse(self.raw(kind, version, context, namespace, selector, token))

    def raw(self, kind: Kind, version: str, context: str | None, namespace: str | None, selector: str | None,
            token: str | None) -> bytes:
        """One page as the API server sent it (the next is fetched while this one is parsed)."""
        from rollout.observers.kube import get_raw

        query: list[tuple[str, object]] = [("limit", self.page_size)]
        if selector:
            query.append(("labelSelector", selector))
        if token:
            query.append(("continue", token))
        return get_raw(self.kube.api_client(context), path(kind, version, namespace), query, TIMEOUT)


def path(kind: Kind, version: str, namespace: str | None) -> str:
    """The LIST's URL path (`api_path`)."""
    from rollout.observers.kube import api_path  # imported with the client: a fleet of files needs neither

    return api_path(kind.group, version, namespace if kind.namespaced else None, kind.plural)


def parse(raw: bytes) -> dict:
    """A page as data: orjson (20 pages of 500 ClusterProfiles, 8.7 MB: ~30 ms, json ~48). Not
    JSON raises ValueError (orjson.JSONDecodeError is one), as json's does. Imported here: the
    inventory package imports this module, and a fleet of files has no use for it."""
    import orjson

    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("not a list")
    return data


_CONTINUE = re.compile(rb'"continue"\s*:\s*"([^"\\]*)"')


def _guess_continue(raw: bytes) -> str | None:
    """The list's continue token as it likely reads in the raw page: in ListMeta, before the
    items (typed lists) or after them (custom objects' keys sorted). A guess, only to fetch
    the next page while this one is parsed: the parsed token decides."""
    for part in (raw[:2048], raw[-2048:]):
        found = _CONTINUE.findall(part)
        if len(found) == 1:
            return found[0].decode()
    return None


def fetch(lister, source: str, spec) -> Listed:
    """One live source, every page of it. `spec` is its waves.policy.HubSource."""
    kind = KINDS[source]
    selector = spec.label_selector()
    sent = ",".join(s for s in ((ARGOCD_SECRET_TYPE if source == "argocdClusterSecrets" else None), selector) if s)
    listed = Listed(source, spec.context, spec.namespace if kind.namespaced else None, selector)
    lister.check_context(spec.context, f"inventory {source}")
    for version in kind.versions:
        _list(lister, kind, version, listed, sent or None)
        if not listed.missing:
            break
        if version != kind.versions[-1]:
            listed.missing, listed.error = False, None
    return listed


def _list(lister, kind: Kind, version: str, listed: Listed, selector: str | None, again: bool = True) -> None:
    from kubernetes.client.exceptions import ApiException

    where = f"{listed.label}: {kind.plural}.{kind.api(version)}"
    items: list[dict] = []
    listed.pages = 0
    try:
        for page in _pages(lister, kind, version, listed, selector):
            listed.pages += 1
            items += [item for item in page.get("items") or [] if isinstance(item, dict)]
    except ApiException as err:
        if err.status == 410 and again:  # the continue token expired mid-way: list again from the start, once
            return _list(lister, kind, version, listed, selector, again=False)
        listed.refused = err.status in (401, 403)
        listed.missing = err.status == 404
        listed.error = (f"{where}: the API server refused our credentials (HTTP {err.status} {err.reason}): "
                        "fix the kubeconfig's user or RBAC" if listed.refused else
                        f"{where}: the API server does not serve it (HTTP 404): is the CRD installed?" if listed.missing
                        else f"{where}: HTTP {err.status} {err.reason}" + _message(err))
        return
    except ValueError:  # not JSON: whatever answered is no API server
        listed.error = f"{where}: the answer is not a Kubernetes list"
        return
    except Exception as err:  # noqa: BLE001 - any failure to connect: the hub cannot be read
        listed.error = f"{where}: cannot reach the hub ({type(err).__name__})"
        return
    for item in items:
        item.setdefault("apiVersion", kind.api(version))
        item.setdefault("kind", kind.kind)
    listed.items, listed.version = items, version


def _pages(lister, kind: Kind, version: str, listed: Listed, selector: str | None):
    """Every page, in order, following `continue`. With a lister that gives raw pages, the
    next page is asked for (on one worker thread) while this one is parsed, when its token
    can be read off the raw bytes; a guess the parsed page contradicts is dropped."""
    args = (kind, version, listed.context, listed.namespace, selector)
    if not hasattr(lister, "raw"):
        token = None
        while True:
            page = lister.page(*args, token)
            yield page
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(lister.raw, *args, None)
        while True:
            raw = pending.result()
            guess = _guess_continue(raw)
            ahead = pool.submit(lister.raw, *args, guess) if guess else None
            page = parse(raw)
            token = (page.get("metadata") or {}).get("continue")
            yield page
            if not token:
                return
            if token != guess:
                if ahead is not None:
                    ahead.exception()  # the wrong guess's answer, whatever it is, is dropped
                ahead = pool.submit(lister.raw, *args, token)
            pending = ahead


def _message(err) -> str:
    """The Status message of an error answer (a 400 for a selector the API server refuses);
    never the body of a Secret (an error answer carries none)."""
    try:
        message = json.loads(err.body).get("message")
    except (TypeError, ValueError, AttributeError):
        return ""
    return f": {' '.join(str(message).split())[:200]}" if message else ""


def digest(rows: list) -> str:
    """sha256 of what the tool read from a source (name, server, labels, availability of
    each cluster, sorted): two advances whose digests agree were planned from the same hub."""
    text = json.dumps(sorted(rows), separators=(",", ":"), sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
