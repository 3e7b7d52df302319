"""Rancher Fleet as the simulator serves it, on the context `fleet-manager`: per GitRepo
that deploys a pin, the GitRepo and its Bundle in the workspace, and per cluster its
BundleDeployment in the cluster's namespace `cluster-<workspace>-<cluster>-<hash>`, with
the labels Fleet links them by (rancher/fleet internal/cmd/controller/target/target.go
BundleDeploymentLabels) and the status its controllers and agents write
(pkg/apis/fleet.cattle.io/v1alpha1: gitrepo_types.go, bundle_types.go,
bundledeployment_types.go).

Two ways a pin reaches Fleet, as waves/gates/fleet.py judges them:
  revision  a `fleet-gitrepo` pin: each pinned GitRepo's `spec.revision`; Fleet resolves
            it to a commit of the repository it names (here a SHA made from the URL and
            the revision: the simulator has no such repository)
  branch    a pin in files a GitRepo reads (the fleet gate's `gitRepo`): the GitRepo
            follows this repo's branch, its `status.commit` the commits pushed

The timeline after a change (the GitRepo and Bundle without jitter; each cluster's
BundleDeployment with the usual jitter, so never ahead of its GitRepo):
  [0, sync)          the GitRepo's new spec not yet processed (revision: observedGeneration
                     behind) or the new commit not yet fetched; everything of the old one
  [sync, 2*sync)     status.commit the new one, its git job running (Reconciling, GitUpdating);
                     BundleDeployments relabelled with the new spec: WaitApplied
  [2*sync, +health)  job done, Bundle of the new commit; applied, the Deployment rolling: NotReady
  after              Ready; `degraded`: NotReady with the Deployment past its progress
                     deadline (an error); `sync-failed`: ErrApplied (Deployed=False)
"""

from __future__ import annotations

import hashlib

from rollout.simulator.status import SimObject, Timing, _jitter, _time, phase
from waves.gates.fleet import non_ready_string

CONTEXT = "fleet-manager"
GROUP, VERSION = "fleet.cattle.io", "v1alpha1"
WORKSPACE = "fleet-default"


def resolved(url: str, revision: str) -> str:
    """The commit Fleet would resolve `revision` of `url` to: a stable fake SHA."""
    return hashlib.sha1(f"{url}@{revision}".encode()).hexdigest()


def cluster_namespace(workspace: str, cluster: str) -> str:
    """`cluster-fleet-default-prod-1-1a3d67d0a899`: where Fleet puts a cluster's BundleDeployments."""
    return f"cluster-{workspace}-{cluster}-{hashlib.sha256(f'{workspace}/{cluster}'.encode()).hexdigest()[:12]}"


def bundle_name(gitrepo: str, path: str | None) -> str:
    """`<gitrepo>-<path>` with slashes as dashes (Fleet's bundle names); the GitRepo's
    own name for the repository root."""
    path = (path or "").strip("/").replace("/", "-").replace("_", "-").lower()
    return f"{gitrepo}-{path}" if path and path != "." else gitrepo


def _deployment_id(bundle: str, value: str) -> str:
    """manifest ID and options hash, as Fleet writes spec.deploymentID."""
    return f"s-{hashlib.sha256(f'{bundle}/{value}'.encode()).hexdigest()[:13]}:" \
           f"{hashlib.sha256(value.encode()).hexdigest()}"


def objects(gitrepo_doc: dict, cluster: str, fleet_cluster: str, value: str, follows: str, repo_commit: str,
            now: float, cluster_workspace: str | None = None) -> list[SimObject]:
    """The GitRepo, its Bundle and the cluster's BundleDeployment for one pinned cluster.
    `follows`: `revision` (the pin is the GitRepo's spec.revision: `value`) or `branch`
    (the pin is in files it reads: the GitRepo tracks this repo's commits).
    `cluster_workspace`: the cluster's own workspace when not the GitRepo's (Fleet deploys
    there under a BundleNamespaceMapping: target/mapping.go)."""
    metadata = gitrepo_doc.get("metadata") if isinstance(gitrepo_doc.get("metadata"), dict) else {}
    spec = dict(gitrepo_doc.get("spec") or {})
    name, workspace = str(metadata.get("name") or "gitrepo"), str(metadata.get("namespace") or WORKSPACE)
    paths = spec.get("paths") if isinstance(spec.get("paths"), list) else []
    bundle = bundle_name(name, paths[0] if paths else None)
    url = str(spec.get("repo") or "")
    if follows == "revision":
        shared = cluster  # one GitRepo per cluster: its timeline is the pin's
        desired, commit = value, resolved(url, value)
    else:
        shared = ""  # one GitRepo for many clusters: it follows the branch, commit by commit
        desired = commit = repo_commit
    app = (str(paths[0]).strip("/").rsplit("/", 1)[-1] if paths else "") or name  # its Deployment and namespace
    info = {"gitrepo": name, "workspace": workspace, "bundle": bundle, "follows": follows, "url": url, "app": app}
    repo_labels = {"fleet.cattle.io/repo-name": name}
    home = cluster_workspace or workspace
    bd_labels = {**repo_labels, "fleet.cattle.io/bundle-name": bundle, "fleet.cattle.io/bundle-namespace": workspace,
                 "fleet.cattle.io/managed": "true", "fleet.cattle.io/cluster-namespace": home,
                 "fleet.cattle.io/cluster": fleet_cluster}
    return [
        SimObject(shared, CONTEXT, GROUP, VERSION, "GitRepo", "gitrepos", workspace, name, desired, commit, now,
                  spec=spec, labels={str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
                  fleet={**info, "jitter": False}),
        SimObject(shared, CONTEXT, GROUP, VERSION, "Bundle", "bundles", workspace, bundle, desired, commit, now,
                  spec={"targets": spec.get("targets") or []}, labels=repo_labels, fleet={**info, "jitter": False}),
        SimObject(cluster, CONTEXT, GROUP, VERSION, "BundleDeployment", "bundledeployments",
                  cluster_namespace(home, fleet_cluster), bundle, value,
                  resolved(url, value) if follows == "revision" else repo_commit, now, labels=bd_labels,
                  fleet=info),
    ]


def _condition(kind: str, status: str, at: float, message: str = "", reason: str = "") -> dict:
    """A wrangler GenericCondition."""
    out = {"type": kind, "status": status, "lastUpdateTime": _time(at)}
    if status == "False" or reason:
        out["lastTransitionTime"] = _time(at)
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def render(obj: SimObject, now: float, timing: Timing, faults: list, unreachable: bool) -> tuple[dict, int, dict, dict]:
    """(spec, metadata.generation, status, labels) of a Fleet object."""
    where = phase(obj, now, timing)
    if obj.kind == "GitRepo":
        return _gitrepo(obj, now, timing, where)
    if obj.kind == "Bundle":
        return _bundle(obj, now, timing, where)
    return _deployment(obj, now, timing, where, faults, unreachable)


def _gitrepo(obj: SimObject, now: float, timing: Timing, where: str) -> tuple[dict, int, dict, dict]:
    revision = obj.fleet["follows"] == "revision"
    generation = obj.generation if revision else 1  # a new commit on the branch is no new spec
    spec = dict(obj.spec)
    if revision:
        spec["revision"] = obj.desired
    stale = where == "stale"
    commit = (obj.previous_commit or obj.commit) if stale else obj.commit
    running = where == "syncing"
    since = obj.changed_at + (timing.sync if running else 2 * timing.sync if not stale else 0)
    status = {
        "commit": commit,
        "observedGeneration": generation - 1 if stale and revision and obj.previous else generation,
        "gitJobStatus": "InProgress" if running else "Current",
        "lastPollingTriggered": _time(now),
        "readyClusters": 1, "desiredReadyClusters": 1,
        "display": {"readyBundleDeployments": "1/1", **({"state": "GitUpdating"} if running else {})},
        "conditions": [
            _condition("Ready", "True", since),
            _condition("GitPolling", "True", obj.changed_at),
            _condition("Reconciling", "True" if running else "False", since),
            _condition("Stalled", "False", since),
            _condition("Accepted", "True", obj.changed_at),
        ],
    }
    return spec, generation, status, dict(obj.labels)


def _bundle(obj: SimObject, now: float, timing: Timing, where: str) -> tuple[dict, int, dict, dict]:
    built = where in ("synced", "healthy")  # the git job of the new commit done
    commit = obj.commit if built else (obj.previous_commit or obj.commit)
    generation = obj.generation if obj.fleet["follows"] == "revision" else 1
    status = {"observedGeneration": generation, "summary": {"ready": 1, "desiredReady": 1},
              "display": {"readyClusters": "1/1"}, "conditions": [_condition("Ready", "True", obj.changed_at)]}
    return obj.spec, generation, status, {**obj.labels, "fleet.cattle.io/commit": commit}


def _deployment(obj: SimObject, now: float, timing: Timing, where: str, faults: list, unreachable: bool
                ) -> tuple[dict, int, dict, dict]:
    fault = next((f for f in faults if f.kind in ("degraded", "sync-failed") and f.applies(obj.desired)), None)
    bundle = obj.fleet["bundle"]
    old_value = obj.previous if obj.previous is not None else obj.desired
    new_id, old_id = _deployment_id(bundle, obj.desired), _deployment_id(bundle, old_value)
    stale = where == "stale"
    commit = (obj.previous_commit or obj.commit) if stale else obj.commit
    deployment_id = old_id if stale else new_id
    applied_at = obj.changed_at + 2 * timing.sync * _jitter(obj, timing)
    healthy_at = obj.changed_at + (2 * timing.sync + timing.health) * _jitter(obj, timing)
    applied, ready = deployment_id, True
    conditions = [_condition("Installed", "True", obj.changed_at), _condition("Deployed", "True", obj.changed_at)]
    status: dict = {}
    if where == "syncing" or (unreachable and not stale):  # the agent has not picked it up yet
        applied = old_id
    elif not stale and fault is not None and fault.kind == "sync-failed":
        applied, ready = old_id, False
        conditions[1] = _condition("Deployed", "False", applied_at, reason="Error",
                                   message=f"failed to upgrade release: simulated failure at {obj.desired}")
    elif where == "synced" or (where == "healthy" and fault is not None):
        ready = False
        error = where == "healthy"  # degraded: the new ReplicaSet timed out
        app = obj.fleet["app"]
        summary = {"state": "error", "error": True, "message": [f'ReplicaSet "{app}-7c9d8f6b5" has timed out '
                                                                "progressing."]} if error else \
            {"state": "in-progress", "transitioning": True,
             "message": ["Deployment does not have minimum availability."]}
        entry = {"uid": hashlib.sha1(f"{obj.namespace}/{bundle}".encode()).hexdigest(), "kind": "Deployment",
                 "apiVersion": "apps/v1", "namespace": app, "name": app, "summary": summary}
        status["nonReadyStatus"] = [entry]
    app = obj.fleet["app"]
    spec = {"deploymentID": deployment_id, "stagedDeploymentID": deployment_id,
            "options": {"defaultNamespace": app}, "stagedOptions": {"defaultNamespace": app}}
    if status.get("nonReadyStatus"):
        error = status["nonReadyStatus"][0]["summary"].get("error")
        conditions.append(_condition("Ready", "False", healthy_at if error else applied_at, reason="Error",
                                     message=non_ready_string(status["nonReadyStatus"][0])))
    else:
        conditions.append(_condition("Ready", "True" if ready else "False", obj.changed_at))
    conditions.append(_condition("Monitored", "True", obj.changed_at))
    status.update({"appliedDeploymentID": applied, "release": f"{app}/{obj.name}:{obj.generation}",
                   "ready": ready and applied == deployment_id, "nonModified": True,
                   "display": {"deployed": "Yes", "monitored": "Yes"}, "conditions": conditions})
    return spec, obj.generation, status, {**obj.labels, "fleet.cattle.io/commit": commit}
