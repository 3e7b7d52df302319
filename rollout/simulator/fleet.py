"""The fleet the simulator serves, learned from the repo itself: every policy under
`rollouts/` names clusters (its inventory) and, through its pins, the object that
deploys each of them, with the revision pinned there now.

  argocd-application           the pinned Application, on the hub (context `hub`)
  argocd-applicationset-list   the Application the list generator makes for the cluster
  flux-helmrelease             the pinned HelmRelease, on the cluster's own context
  flux-kustomization-var       the pinned Kustomization, on the cluster's own context
  kubernetes-image             also the pinned Deployment, StatefulSet or DaemonSet itself,
                               on the cluster's own context, rolling out the pinned image
  fleet-gitrepo                Rancher Fleet on the context `fleet-manager`: the pinned
                               GitRepo, its Bundle, the cluster's BundleDeployment
                               (rollout/simulator/rancher.py)
  any other preset             the GitRepo a `fleet` gate's `gitRepo` template names (it
                               reads the pinned file: it follows the branch), with its
                               Bundle and BundleDeployments; else the Application an
                               `argocd` gate's `application` template names, when the repo
                               holds it (it compares commits); else a Flux Kustomization
                               `apps` in flux-system on the cluster
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from rollout.manifests.document import parse_manifest
from rollout.manifests.edit import PinError, find_document
from rollout.simulator import rancher
from rollout.simulator.status import WORKLOADS, SimObject
from rollout.yamlfile import YamlError, read_text

Key = tuple[str, str, str, str, str]  # context, group, plural, namespace, name

KINDS = {
    "Application": ("argoproj.io", "v1alpha1", "applications"),
    "HelmRelease": ("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
    "Kustomization": ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations"),
}


@dataclass
class Learned:
    objects: dict[Key, SimObject] = field(default_factory=dict)
    clusters: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> labels
    problems: list[str] = field(default_factory=list)


def key_of(obj: SimObject) -> Key:
    return (obj.context, obj.group, obj.plural, obj.namespace, obj.name)


def learn(repo: Path, commit: str, now: float, hub=None) -> Learned:
    """`hub`: where a policy's live inventory sources are listed (the simulator's own hub)."""
    from rollout.render.problems import problem_line
    from rollout.workspace import load_workspace

    learned = Learned()
    parsed: dict[str, object] = {}
    applications: dict[str, dict] | None = None  # name -> Application document, read when needed
    gitrepos: dict[str, dict] | None = None  # name -> Fleet GitRepo document, read when needed
    for path in sorted((repo / "rollouts").glob("*.y*ml")):
        ws = load_workspace(repo, str(path), hub=hub)
        if ws.plan is None:
            learned.problems += [problem_line(p) for p in ws.errors]
            continue
        policy = ws.loaded.policy
        templates = _gate_applications(policy)
        if templates and applications is None:
            applications = _applications(repo)
        fleet_gates = _fleet_gates(policy)
        if fleet_gates and gitrepos is None:
            gitrepos = _documents(repo, "GitRepo")
        for cluster in ws.plan.targets:
            learned.clusters[cluster.name] = cluster.labels
            for target in ws.plan.pins[cluster.name]:
                pin = policy.spec.pin[target.pin_index]
                if target.file not in parsed:
                    try:
                        parsed[target.file] = parse_manifest(read_text(repo / target.file), target.file)
                    except YamlError as err:
                        parsed[target.file] = err
                located = parsed[target.file]
                try:
                    if isinstance(located, YamlError):
                        raise PinError(located.message, located.line)
                    doc = located.documents[find_document(located, pin, cluster.name, cluster.labels)]
                    value = _get(doc, pin.locate(doc, cluster.name, cluster.labels))
                except (PinError, ValueError, KeyError, IndexError, TypeError) as err:
                    learned.problems.append(f"{target.file}: cluster {cluster.name}: {err}")
                    continue
                home = _fleet_workspace(fleet_gates, cluster)
                if pin.preset == "fleet-gitrepo":
                    for served in rancher.objects(doc, cluster.name, _fleet_cluster(fleet_gates, cluster.name,
                                                                                   cluster.labels),
                                                  str(value), "revision", commit, now, home):
                        learned.objects[key_of(served)] = served
                    continue
                reading = _reading_gitrepo(fleet_gates, gitrepos or {}, target.file, cluster.name, cluster.labels)
                if reading is not None:  # a Fleet GitRepo reads the pinned file: it follows the branch
                    for served in rancher.objects(reading, cluster.name, _fleet_cluster(fleet_gates, cluster.name,
                                                                                       cluster.labels),
                                                  str(value), "branch", commit, now, home):
                        learned.objects[key_of(served)] = served
                    continue
                obj = _object(pin, doc, cluster.name, str(value), commit, now)
                if obj.kind == "Kustomization" and obj.name == "apps":  # any other preset
                    obj = _reading_application(templates, applications or {}, cluster.name, cluster.labels, str(value),
                                               commit, now) or obj
                learned.objects[key_of(obj)] = obj
                if pin.preset == "kubernetes-image" and doc.get("kind") in WORKLOADS:
                    served = _workload(doc, cluster.name, str(value), tuple(pin.locate(doc, cluster.name)), commit, now)
                    learned.objects[key_of(served)] = served
    return learned


def _gate_applications(policy) -> list[str]:
    """The `application` templates of the policy's Argo CD gates."""
    gates = list(policy.spec.gates) + [g for w in policy.spec.waves for g in (w.gates or ())]
    return [g.argocd.application for g in gates if getattr(g, "argocd", None) is not None and g.argocd.application]


def _applications(repo: Path) -> dict[str, dict]:
    """Every Argo CD Application document in the repo, by name (files that mention it)."""
    return _documents(repo, "Application")


def _documents(repo: Path, kind: str) -> dict[str, dict]:
    """Every document of `kind` in the repo, by name (files that mention it)."""
    found = {}
    for file in repo.rglob("*.y*ml"):
        if ".git" in file.parts:
            continue
        try:
            text = read_text(file)
            if f"kind: {kind}" not in text:
                continue
            documents = parse_manifest(text, str(file)).documents
        except (YamlError, OSError):
            continue
        for doc in documents:
            if isinstance(doc, dict) and doc.get("kind") == kind:
                found[str((doc.get("metadata") or {}).get("name"))] = doc
    return found


def _fleet_gates(policy) -> list:
    """The configurations of the policy's fleet gates."""
    gates = list(policy.spec.gates) + [g for w in policy.spec.waves for g in (w.gates or ())]
    return [g.fleet for g in gates if getattr(g, "fleet", None) is not None]


def _fleet_cluster(gates: list, cluster: str, labels: dict) -> str:
    """The cluster's name in Fleet, as the first fleet gate names it."""
    from waves.templates import MissingLabel, render

    try:
        return render(gates[0].cluster, cluster, labels) if gates else cluster
    except MissingLabel:
        return cluster


def _fleet_workspace(gates: list, cluster) -> str | None:
    """The cluster's workspace when the first fleet gate names one (clusterNamespace), else
    the one a fleetClusters source listed it in: the simulated Fleet deploys the GitRepo's
    bundles there, as a BundleNamespaceMapping has it."""
    from waves.gates.fleet import listed_workspace
    from waves.templates import MissingLabel, render

    if not gates or not gates[0].clusterNamespace:
        return listed_workspace(cluster.sources)
    try:
        return render(gates[0].clusterNamespace, cluster.name, cluster.labels)
    except MissingLabel:
        return None


def _reading_gitrepo(gates: list, gitrepos: dict, file: str, cluster: str, labels: dict) -> dict | None:
    """The GitRepo a fleet gate's `gitRepo` names for the cluster (the repo's own document,
    else one that follows this repo's branch from the pinned file's folder)."""
    from waves.templates import MissingLabel, render

    for gate in gates:
        if gate.gitRepo is None:
            continue
        try:
            name, namespace = render(gate.gitRepo, cluster, labels), render(gate.namespace, cluster, labels)
        except MissingLabel:
            continue
        doc = gitrepos.get(name)
        if doc is not None:
            return doc
        folder = str(Path(file).parent)
        return {"metadata": {"name": name, "namespace": namespace},
                "spec": {"repo": "https://git.example/fleet.git", "branch": "main",
                         "paths": [] if folder == "." else [folder]}}
    return None


def _reading_application(templates, applications, cluster: str, labels: dict, value: str, commit: str, now: float):
    """The Application a gate names for the cluster, when it is in the repo: it reads the
    pinned file, so a new pin is a new commit for it to compare."""
    from waves.templates import MissingLabel, render

    for template in templates:
        try:
            name = render(template, cluster, labels)
        except MissingLabel:
            continue
        doc = applications.get(name)
        if doc is not None:
            metadata = doc.get("metadata") or {}
            group, version, plural = KINDS["Application"]
            return SimObject(cluster, "hub", group, version, "Application", plural, metadata.get("namespace") or "argocd",
                             name, value, commit, now, spec=doc.get("spec") or {},
                             labels={k: str(v) for k, v in (metadata.get("labels") or {}).items()}, pins_revision=False)
    return None


def _workload(doc: dict, cluster: str, image: str, path: tuple, commit: str, now: float) -> SimObject:
    """The workload a `kubernetes-image` pin edits, on the cluster's own context, as the
    GitOps controller applies it (its status: rollout/simulator/status.py `workload`)."""
    metadata = doc.get("metadata") or {}
    group, _, version = str(doc.get("apiVersion")).rpartition("/")
    return SimObject(cluster, cluster, group, version, doc["kind"], doc["kind"].lower() + "s",
                     metadata.get("namespace") or "default", metadata.get("name", "workload"), image, commit, now,
                     spec=doc.get("spec") or {}, labels={k: str(v) for k, v in (metadata.get("labels") or {}).items()},
                     image_path=path)


def _get(doc, path):
    for step in path:
        doc = doc[step]
    return doc


def _object(pin, doc: dict, cluster: str, value: str, commit: str, now: float) -> SimObject:
    metadata = doc.get("metadata") or {}
    if pin.preset == "argocd-application":
        kind, context, spec = "Application", "hub", doc.get("spec") or {}
        name, namespace = metadata.get("name", f"{cluster}-app"), metadata.get("namespace") or "argocd"
        labels = metadata.get("labels") or {}
    elif pin.preset == "argocd-applicationset-list":
        element = next(e for g in doc["spec"]["generators"] for e in ((g.get("list") or {}).get("elements") or [])
                       if e.get(pin.clusterKey) == cluster)
        template = _fill(doc["spec"].get("template") or {}, element)
        kind, context, spec = "Application", "hub", template.get("spec") or {}
        tmeta = template.get("metadata") or {}
        name = tmeta.get("name") or f"{cluster}-{metadata.get('name', 'appset')}"
        namespace, labels = metadata.get("namespace") or "argocd", tmeta.get("labels") or {}
        spec = {**spec, "source": {**(spec.get("source") or {}), "targetRevision": value}}
    elif pin.preset in ("flux-helmrelease", "flux-kustomization-var"):
        kind = "HelmRelease" if pin.preset == "flux-helmrelease" else "Kustomization"
        context, spec = cluster, doc.get("spec") or {}
        name, namespace = metadata.get("name", kind.lower()), metadata.get("namespace") or "flux-system"
        labels = metadata.get("labels") or {}
    else:
        kind, context, spec, name, namespace, labels = "Kustomization", cluster, {"path": "./"}, "apps", "flux-system", {}
    group, version, plural = KINDS[kind]
    return SimObject(cluster, context, group, version, kind, plural, namespace, name, value, commit, now,
                     spec=spec, labels={k: str(v) for k, v in labels.items()})


def _fill(node, values: dict):
    """ApplicationSet templates: `{{key}}` / `{{ .key }}` from the list element."""
    if isinstance(node, str):
        return re.sub(r"\{\{\s*\.?([A-Za-z0-9_.-]+)\s*\}\}", lambda m: str(values.get(m.group(1), m.group(0))), node)
    if isinstance(node, dict):
        return {k: _fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, values) for v in node]
    return node


def merge(old: dict[Key, SimObject], new: dict[Key, SimObject], now: float, version: int) -> tuple[dict[Key, SimObject], int]:
    """The objects after a new commit: a changed revision starts the controllers'
    timeline again (and keeps the previous revision for the stale-status window)."""
    merged = {}
    for key, obj in new.items():
        before = old.get(key)
        if before is None:
            version += 1
            obj.resource_version = version
            merged[key] = obj
        elif before.desired != obj.desired:
            version += 1
            obj.previous, obj.previous_commit = before.desired, before.commit
            obj.changed_at, obj.generation, obj.resource_version = now, before.generation + 1, version
            merged[key] = obj
        else:
            merged[key] = before
    return merged, version
