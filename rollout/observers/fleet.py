"""Rancher Fleet gate: on the Fleet manager's context, the GitRepos (one LIST per context
and workspace), their Bundles (one LIST per workspace, those with a GitRepo) and the
BundleDeployments of each GitRepo judged (one cluster-wide LIST per GitRepo, by the
labels Fleet puts on them: repo-name and bundle-namespace), on the bounded pool; each
cluster's BundleDeployments picked by its `fleet.cattle.io/cluster` label and judged by
waves/gates/fleet.py.

Which GitRepo, and what "at the pin" means for a cluster (as the Argo CD observer does):
the pinned GitRepo itself (`fleet-gitrepo`: its spec field must hold the pin), or the
gate's `gitRepo` (a pin in files it reads: its commit must be the wave's advance or
later)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rollout.observers import Check, Context, SetupError, nowhere
from rollout.observers.kube import MAX_PARALLEL
from waves.gates.fleet import BUNDLE_NAMESPACE_LABEL, GROUP, REPO_LABEL, VERSION, listed_workspace
from waves.gates.kstatus import Kind
from waves.templates import MissingLabel, render

WHO = "gate fleet"
BUNDLES = Kind("Bundle", GROUP, VERSION, "bundles")
DEPLOYMENTS = Kind("BundleDeployment", GROUP, VERSION, "bundledeployments", namespaced=False)


@dataclass(frozen=True)
class Where:
    context: str | None
    namespace: str  # the GitRepo's workspace
    gitrepo: str | None  # None: neither a pinned GitRepo nor the gate's gitRepo names one
    cluster: str  # the cluster's name in Fleet
    field: str | None  # fleet-gitrepo: the pinned spec field; None: the pin is in files it reads
    cluster_namespace: str | None = None  # the cluster's workspace when not the GitRepo's (BundleNamespaceMapping)


def _where(ctx: Context, config, clusters) -> dict[str, Where | None]:
    """cluster -> where its evidence is; None when a label a template needs is missing."""
    pinned = _pinned_gitrepos(ctx, clusters)
    # no clusterNamespace: the workspace a fleetClusters inventory source listed the cluster in
    listed = {} if config.clusterNamespace else {c.name: c.sources for c in ctx.ws.plan.targets}
    out: dict[str, Where | None] = {}
    for cluster in clusters:
        labels = ctx.labels[cluster]
        try:
            context = render(config.context, cluster, labels) if config.context else None
            namespace = render(config.namespace, cluster, labels)
            fleet_cluster = render(config.cluster, cluster, labels)
            wanted = render(config.gitRepo, cluster, labels) if config.gitRepo else None
            workspace = render(config.clusterNamespace, cluster, labels) if config.clusterNamespace else \
                listed_workspace(listed.get(cluster, ()))
        except MissingLabel:
            out[cluster] = None
            continue
        if "" in (context, namespace, fleet_cluster, wanted, workspace):  # emptied by a label: no guess at where to look
            out[cluster] = None
            continue
        name, doc_namespace, field = pinned.get(cluster, (None, None, None))
        if wanted is not None and wanted != name:  # another GitRepo: it reads the pinned files
            name, doc_namespace, field = wanted, None, None
        out[cluster] = Where(context, doc_namespace or namespace, name, fleet_cluster, field, workspace)
    return out


def _pinned_gitrepos(ctx: Context, clusters) -> dict[str, tuple[str | None, str | None, str]]:
    """cluster -> (metadata.name, metadata.namespace, pinned field) of its pinned GitRepo."""
    from rollout.manifests.edit import PinError, find_document

    policy, members, out = ctx.ws.loaded.policy, set(clusters), {}
    for target in ctx.ws.inspection.targets if ctx.ws.inspection else []:
        pin = policy.spec.pin[target.pin_index]
        if pin.preset != "fleet-gitrepo" or target.cluster not in members or target.located is None:
            continue
        try:
            doc = target.located.documents[find_document(target.located, pin, target.cluster,
                                                         ctx.labels[target.cluster])]
        except PinError:
            continue  # validate refuses it; the cluster is judged as having no GitRepo
        metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        out[target.cluster] = (metadata.get("name"), metadata.get("namespace"), pin.field)
    return out


def preflight(ctx: Context, config, clusters, reach: bool = False) -> None:
    wheres = [w for w in _where(ctx, config, clusters).values() if w is not None]
    places = sorted({(w.context, w.namespace) for w in wheres}, key=str)
    for context in dict.fromkeys(c for c, _ in places):
        ctx.kube.check_context(context, WHO)
    if not reach:
        return
    for context, namespace in places:
        ctx.kube.check_access(context, GROUP, VERSION, namespace, "gitrepos", WHO)
    # BundleDeployments live in the clusters' own namespaces: a role bound in the workspace
    # alone reads the GitRepos but not them. One GitRepo's, per place, before the wave goes.
    for (context, namespace), gitrepo in {(w.context, w.namespace): w.gitrepo for w in wheres if w.gitrepo}.items():
        items, why = ctx.kube.list_kind(context, DEPLOYMENTS, "", f"{REPO_LABEL}={gitrepo},"
                                        f"{BUNDLE_NAMESPACE_LABEL}={namespace}")
        if items is None and ctx.kube.refused(context):
            raise SetupError(f"{WHO}: {why}: fix the kubeconfig's user or RBAC (BundleDeployments are in the "
                             "clusters' namespaces, cluster-<workspace>-<cluster>-<hash>)")


def probe(ctx: Context, config, clusters, others) -> bool:
    """Whether the gate's observer works elsewhere: a manager context of other clusters,
    not one of the wave's own, answers (one manager that is down answers nowhere)."""
    own = {w.context for w in _where(ctx, config, clusters).values() if w is not None}
    elsewhere = [w for w in _where(ctx, config, others).values() if w is not None and w.context not in own]
    return ctx.kube.any_answers([w.context for w in elsewhere], GROUP, VERSION,
                                elsewhere[0].namespace if elsewhere else "fleet-default", "gitrepos")


def _list_all(ctx: Context, wheres: list[Where]) -> tuple[dict, dict, dict]:
    """(GitRepos by (context, namespace), Bundles by (context, namespace), BundleDeployments
    by (context, namespace, GitRepo)), each LIST once, in parallel (bounded)."""
    places = list(dict.fromkeys((w.context, w.namespace) for w in wheres))
    repos = list(dict.fromkeys((w.context, w.namespace, w.gitrepo) for w in wheres if w.gitrepo))
    ctx.kube.connect(c for c, _ in places)
    jobs = [("gitrepos", p, lambda p=p: ctx.kube.list(p[0], GROUP, VERSION, p[1], "gitrepos")) for p in places]
    jobs += [("bundles", p, lambda p=p: ctx.kube.list_kind(p[0], BUNDLES, p[1], REPO_LABEL)) for p in places]
    jobs += [("deployments", r, lambda r=r: ctx.kube.list_kind(
        r[0], DEPLOYMENTS, "", f"{REPO_LABEL}={r[2]},{BUNDLE_NAMESPACE_LABEL}={r[1]}")) for r in repos]
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL, len(jobs)))) as pool:
        results = list(pool.map(lambda job: job[2](), jobs))
    out: dict[str, dict] = {"gitrepos": {}, "bundles": {}, "deployments": {}}
    for (what, key, _), result in zip(jobs, results):
        out[what][key] = result
    return out["gitrepos"], out["bundles"], out["deployments"]


def observe(ctx: Context, config, clusters) -> list[Check]:
    from waves.gates.fleet import AtPin, deployments_by_cluster, judge, labels_of, mapped_elsewhere, workspaces_of

    where = _where(ctx, config, clusters)
    gitrepos, bundles, deployments = _list_all(ctx, [w for w in where.values() if w is not None])
    advanced_at = ctx.now - ctx.window if ctx.advance_commit else None
    by_cluster = {key: deployments_by_cluster(items, key[2], key[1]) if items is not None else {}
                  for key, (items, _) in deployments.items()}
    of_repo: dict[tuple, list[dict]] = {}
    for key, (items, _) in bundles.items():
        for bundle in items or ():
            of_repo.setdefault((*key, labels_of(bundle).get(REPO_LABEL)), []).append(bundle)
    checks, named = [], {}
    for cluster in clusters:
        w = where[cluster]
        if w is None:
            checks.append(nowhere(cluster, "fleet", "context/namespace/gitRepo/cluster/clusterNamespace"))
            continue
        listed = [gitrepos[(w.context, w.namespace)], bundles[(w.context, w.namespace)]]
        if w.gitrepo:
            listed.append(deployments[(w.context, w.namespace, w.gitrepo)])
        unreachable = next((why for items, why in listed if items is None), None)
        if unreachable is not None:
            checks.append(Check(cluster, "fleet", "pending", unreachable, observed=False,
                                refused=ctx.kube.refused(w.context)))
            continue
        if w.gitrepo is None:
            checks.append(Check(cluster, "fleet", "unknown", "no GitRepo to judge: the pin is no fleet-gitrepo pin "
                                "and the gate names no gitRepo"))
            continue
        gitrepo = listed[0][0].get(w.gitrepo)
        if gitrepo is None:
            checks.append(Check(cluster, "fleet", "unknown", f"no GitRepo {w.gitrepo} in {w.namespace} on the Fleet "
                                "manager: nothing to judge"))
            continue
        at_pin = AtPin(field=w.field) if w.field else AtPin(field=None, commits=ctx.commits_since_advance())
        mine = of_repo.get((w.context, w.namespace, w.gitrepo), [])
        key = (w.context, w.namespace, w.gitrepo)
        deployed = by_cluster[key].get((w.cluster_namespace or w.namespace, w.cluster), [])
        verdict = judge(gitrepo, deployed, ctx.ws.plan.revision, ctx.now, config.settle, at_pin, mine, advanced_at,
                        w.cluster)
        reason = verdict.reason
        if not deployed:  # in another workspace? (the workspaces by name: once per GitRepo, when one is needed)
            if key not in named:
                named[key] = workspaces_of(by_cluster[key])
            reason += mapped_elsewhere(named[key], w.cluster_namespace or w.namespace, w.cluster)
        checks.append(Check(cluster, "fleet", verdict.state, reason))
    return checks
