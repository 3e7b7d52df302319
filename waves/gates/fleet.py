"""Rancher Fleet gate: per cluster, the BundleDeployments of the GitRepo that deploys the
pin are of the pin, applied by the cluster's agent and Ready.

The gate's configuration and its verdict, a pure function of what the shell fetched from
the Fleet manager: the GitRepo, its Bundles and the cluster's BundleDeployments
(rancher/fleet pkg/apis/fleet.cattle.io/v1alpha1: gitrepo_types.go, bundle_types.go,
bundledeployment_types.go), the pin and the time. The chain Fleet keeps, and what each
link must show (docs/gates.md, "The fleet gate"):

1. The GitRepo is at the pin. A `fleet-gitrepo` pin is the GitRepo's own `spec.revision`
   (or `spec.branch`): the live spec holds it, Fleet processed that spec
   (`status.observedGeneration`), polled it without error (`GitPolling`) and resolved it
   to `status.commit`. A pin in files the GitRepo reads (a `fleet.yaml`): `status.commit`
   is the wave's advance commit or a later one (as the Argo CD gate compares commits).
   The git job for that commit failing (`Stalled=True`) is a failure; still running
   (`Reconciling=True`), pending.
2. Fleet built the bundles of that commit: each Bundle's `fleet.cattle.io/commit` label
   is the commit and its `status.observedGeneration` its generation; each of the
   cluster's BundleDeployments carries the same label (Fleet copies the Bundle's labels).
3. The cluster's agent deployed it, by Fleet's own rule (internal/cmd/controller/summary
   `GetDeploymentState`): `status.appliedDeploymentID` against `spec.deploymentID`
   (`ErrApplied` when `Deployed=False`, else `WaitApplied`), `status.ready`
   (`NotReady`, with `status.nonReadyStatus`), `spec.stagedDeploymentID` (`OutOfSync`),
   `status.nonModified` (`Modified`, with `status.modifiedStatus`); then `Monitored`.

Only positive evidence fails: `ErrApplied`, and `NotReady` with a resource whose
summary is an error (a Deployment past its progress deadline), once it lasted `settle`
(never counted from before the wave's advance). A cluster with no BundleDeployment of
the GitRepo, or a GitRepo not on the manager, is `unknown`: nothing to judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, Field, field_validator

from waves.durations import Duration
from waves.gates.verdict import Verdict, parse_time
from waves.inventory import hub_namespaces
from waves.model_config import STRICT
from waves.problems import Problem
from waves.templates import check_template

GROUP, VERSION = "fleet.cattle.io", "v1alpha1"
COMMIT_LABEL = "fleet.cattle.io/commit"  # gitrepo_types.go CommitLabel: `fleet apply --commit` sets it
REPO_LABEL = "fleet.cattle.io/repo-name"
BUNDLE_LABEL = "fleet.cattle.io/bundle-name"
BUNDLE_NAMESPACE_LABEL = "fleet.cattle.io/bundle-namespace"
CLUSTER_LABEL = "fleet.cattle.io/cluster"
CLUSTER_NAMESPACE_LABEL = "fleet.cattle.io/cluster-namespace"

# bundle_types.go BundleState
READY, NOT_READY, WAIT_APPLIED, ERR_APPLIED, OUT_OF_SYNC, MODIFIED = (
    "Ready", "NotReady", "WaitApplied", "ErrApplied", "OutOfSync", "Modified")


class FleetGateConfig(BaseModel):
    model_config = STRICT

    context: str | None = Field(
        default=None, description="kubeconfig context of the Fleet manager (a template; default: the current one).")
    namespace: str = Field(
        default="fleet-default", description="The Fleet workspace: namespace of the GitRepos (a template); a pinned "
        "GitRepo's own metadata.namespace wins.")
    gitRepo: str | None = Field(
        default=None, description="GitRepo name, a template such as 'apps-{labels.env}' (default: metadata.name of the "
        "pinned GitRepo). Needed when the pin is in files a GitRepo reads (a fleet.yaml).")
    cluster: str = Field(
        default="{cluster}", description="The cluster's name in Fleet (label fleet.cattle.io/cluster on its "
        "BundleDeployments), a template; default: the inventory's name.")
    clusterNamespace: str | None = Field(
        default=None, description="The workspace of the cluster's Fleet Cluster (label "
        "fleet.cattle.io/cluster-namespace on its BundleDeployments), a template; default: the namespace a "
        "fleetClusters inventory source listed it in, else the GitRepo's. Set it where a BundleNamespaceMapping "
        "deploys the GitRepo's bundles to clusters of other workspaces.")
    settle: Duration = Field(
        default=30, description="How long ErrApplied, or a resource in error, must last (since the wave's advance at "
        "the earliest) before it counts as a failure.")

    TEMPLATES: ClassVar[tuple[str, ...]] = ("context", "namespace", "gitRepo", "cluster", "clusterNamespace")

    @field_validator(*TEMPLATES)
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)


class FleetGate(BaseModel):
    model_config = STRICT

    fleet: FleetGateConfig


def gate_problems(spec) -> list[Problem]:
    """A fleet gate must know its GitRepo: the pinned one (`fleet-gitrepo`), or `gitRepo`.
    Without either, no cluster could ever be judged. `spec` is a PolicySpec."""
    if any(p.preset == "fleet-gitrepo" for p in spec.pin):
        return []
    places = [(("spec", "gates"), spec.gates)]
    places += [(("spec", "waves", i, "gates"), w.gates) for i, w in enumerate(spec.waves) if w.gates is not None]
    return [Problem("a fleet gate needs gitRepo (the GitRepo that reads the pinned files, e.g. gitRepo: guestbook) "
                    "when no pin is a fleet-gitrepo pin", (*loc, index, "fleet", "gitRepo"))
            for loc, gates in places for index, gate in enumerate(gates)
            if getattr(gate, "fleet", None) is not None and gate.fleet.gitRepo is None]


# --- Fleet's own words ------------------------------------------------------------------------


def _metadata(obj: dict) -> dict:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def labels_of(obj: dict) -> dict:
    return {str(k): str(v) for k, v in _dict(_metadata(obj).get("labels")).items()}


def conditions(status: dict) -> dict[str, dict]:
    """wrangler genericcondition.GenericCondition by type."""
    return {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}


def _since(condition: dict) -> float | None:
    return parse_time(condition.get("lastTransitionTime")) or parse_time(condition.get("lastUpdateTime"))


def deployment_state(bd: dict) -> str:
    """internal/cmd/controller/summary GetDeploymentState, rule for rule (Go's empty
    string for an absent ID, false for an absent bool)."""
    spec, status = _dict(bd.get("spec")), _dict(bd.get("status"))
    if (status.get("appliedDeploymentID") or "") != (spec.get("deploymentID") or ""):
        if (conditions(status).get("Deployed") or {}).get("status") == "False":
            return ERR_APPLIED
        return WAIT_APPLIED
    if status.get("ready") is not True:
        return NOT_READY
    if (spec.get("deploymentID") or "") != (spec.get("stagedDeploymentID") or ""):
        return OUT_OF_SYNC
    if status.get("nonModified") is not True:
        return MODIFIED
    return READY


def resource_name(entry: dict) -> str:
    """bundledeployment_types.go `name`: `deployment.apps shop/web`, `service.v1 shop/web`."""
    kind, api_version = str(entry.get("kind") or "").lower(), str(entry.get("apiVersion") or "")
    namespace, name = entry.get("namespace") or "", entry.get("name") or ""
    where = f"{namespace}/{name}" if namespace else name
    return f"{kind} {where}" if not api_version else f"{kind}.{api_version.split('/', 1)[0]} {where}"


def summary_string(summary: dict) -> str:
    """wrangler summary.Summary.String(), as Fleet prints it (its `error]` included)."""
    transitioning, error = summary.get("transitioning") is True, summary.get("error") is True
    if not transitioning and not error:
        return str(summary.get("state") or "")
    words = "[progressing" if transitioning else ""
    words = (words + ",error]" if words else "error]") if error else words + "]"
    messages = [str(m) for m in summary.get("message") or []]
    return f"{words} {', '.join(messages)}" if messages else words


def non_ready_string(entry: dict) -> str:
    """NonReadyStatus.String()."""
    return f"{resource_name(entry)} {summary_string(_dict(entry.get('summary')))}"


def modified_string(entry: dict) -> str:
    """ModifiedStatus.String(): `missing` (json for Create), `extra` (Delete), or the patch."""
    if entry.get("missing") is True:
        return f"{resource_name(entry)} missing"
    if entry.get("delete") is True:
        return f"{resource_name(entry)} extra"
    return f"{resource_name(entry)} modified {entry.get('patch') or ''}".rstrip()


def deployments_by_cluster(deployments: list[dict], gitrepo: str, namespace: str) -> dict[tuple[str, str], list[dict]]:
    """A GitRepo's BundleDeployments by the cluster they deploy to, (its workspace, its
    name), found the way Fleet links them (target.go BundleDeploymentLabels; gitrepo_status.go
    lists them by repo-name and bundle-namespace): a cluster's name is unique in its
    workspace only, which is the GitRepo's unless a BundleNamespaceMapping (target/mapping.go)
    sends the bundles to another's clusters. One pass: a GitRepo may reach thousands."""
    out: dict[tuple[str, str], list[dict]] = {}
    for bd in deployments:
        labels = labels_of(bd)
        if labels.get(REPO_LABEL) == gitrepo and labels.get(BUNDLE_NAMESPACE_LABEL) == namespace \
                and CLUSTER_LABEL in labels:
            out.setdefault((labels.get(CLUSTER_NAMESPACE_LABEL, namespace), labels[CLUSTER_LABEL]), []).append(bd)
    return out


def listed_workspace(sources: tuple[str, ...]) -> str | None:
    """The workspace of the Fleet Cluster the inventory read a cluster from (a `fleetClusters`
    source lists a workspace's Clusters), when that is one; None otherwise (a file, or two
    workspaces' Clusters of one name merged): the gate's default for `clusterNamespace`,
    so a cluster of another workspace than the GitRepo's (a BundleNamespaceMapping) is
    looked for where it is, never taken for the GitRepo workspace's cluster of that name."""
    found = hub_namespaces(sources, "fleetClusters")
    return next(iter(found)) if len(found) == 1 else None


def workspaces_of(found: dict[tuple[str, str], list[dict]]) -> dict[str, list[str]]:
    """Cluster name -> the workspaces a GitRepo's BundleDeployments name for it (`found`:
    deployments_by_cluster), once per GitRepo, not once per cluster looked for."""
    out: dict[str, list[str]] = {}
    for workspace, name in found:
        out.setdefault(name, []).append(workspace)
    return out


def mapped_elsewhere(workspaces: dict[str, list[str]], cluster_namespace: str, cluster: str) -> str:
    """What to add to "no BundleDeployment for the cluster" when the GitRepo has some for a
    cluster of that name in other workspaces (`workspaces`: workspaces_of): a
    BundleNamespaceMapping, which the gate follows once told the cluster's workspace."""
    others = sorted(workspaces.get(cluster, ()))
    return (f"; the GitRepo has BundleDeployments for a cluster {cluster} of workspace {', '.join(others)} (a "
            "BundleNamespaceMapping?): set the fleet gate's clusterNamespace") \
        if others and cluster_namespace not in others else ""


def deployments_for(deployments: list[dict], gitrepo: str, namespace: str, cluster: str,
                    cluster_namespace: str | None = None) -> list[dict]:
    """The cluster's BundleDeployments of a GitRepo (deployments_by_cluster); the cluster in
    the GitRepo's workspace unless `cluster_namespace` names another."""
    return deployments_by_cluster(deployments, gitrepo, namespace).get((cluster_namespace or namespace, cluster), [])


# --- the verdict --------------------------------------------------------------------------------

_HEX = re.compile(r"[0-9a-fA-F]{7,40}")


@dataclass(frozen=True)
class AtPin:
    """What "the GitRepo is at the pin" means for a cluster: `field` (`revision` or
    `branch`): the pin is that field of the GitRepo's spec; `commits`: the pin is in files
    the GitRepo reads, and these SHAs (the wave's advance commit and every later one on
    the branch) hold it."""

    field: str | None = "revision"
    commits: frozenset[str] | None = None


def _short(commit: str | None) -> str:
    return str(commit)[:12] if commit else "none"


def _gitrepo_at_pin(gitrepo: dict, revision: str, at_pin: AtPin, now: float, settle: float,
                    advanced_at: float | None) -> tuple[str | None, Verdict | None]:
    """(the commit Fleet resolved the pin to, None) or (None, why not yet / failed)."""
    metadata, spec, status = _metadata(gitrepo), _dict(gitrepo.get("spec")), _dict(gitrepo.get("status"))
    name = f"GitRepo {metadata.get('name', '?')}"
    if metadata.get("deletionTimestamp"):
        return None, Verdict(state="pending", reason=f"{name} is being deleted")
    conds = conditions(status)
    commit = str(status.get("commit") or "")
    polling = conds.get("GitPolling") or {}
    polling_error = f": Fleet cannot poll the repository: {polling.get('message', '')}".rstrip(": ") \
        if polling.get("status") == "False" else ""
    if at_pin.commits is not None:
        if commit not in at_pin.commits:
            return None, Verdict(state="pending", reason=f"{name} is at commit {_short(commit)}, not yet the {revision} "
                                 f"advance or later{polling_error}")
    else:
        field = at_pin.field or "revision"
        live = spec.get(field)
        if str(live or "") != revision:
            return None, Verdict(state="pending", reason=f"{name} has spec.{field} {live or 'unset'} on the Fleet "
                                 f"manager, not {revision} yet")
        generation, observed = metadata.get("generation"), status.get("observedGeneration")
        if generation is not None and observed != generation:
            return None, Verdict(state="pending", reason=f"{name}: Fleet has not processed its spec at {revision} yet "
                                 f"(generation {generation}, observed {observed})")
        if polling_error:
            return None, Verdict(state="pending", reason=f"{name} at {revision}{polling_error}")
        if not commit:
            return None, Verdict(state="pending", reason=f"{name}: {revision} not resolved to a commit yet")
        if _HEX.fullmatch(revision) and not commit.lower().startswith(revision.lower()):
            return None, Verdict(state="pending", reason=f"{name} is at commit {_short(commit)}, not {revision} yet")
    stalled, reconciling = conds.get("Stalled") or {}, conds.get("Reconciling") or {}
    if stalled.get("status") == "True":
        words = f"{name}: the git job of commit {_short(commit)} failed: {stalled.get('message') or 'Stalled'}"
        settling = _settling(stalled, now, settle, advanced_at)
        return None, Verdict(state="pending", reason=f"{words}, for {settling:.0f}s (settling)") \
            if settling is not None else Verdict(state="failed", reason=words)
    if reconciling.get("status") == "True":
        return None, Verdict(state="pending", reason=f"{name}: the git job of commit {_short(commit)} is running")
    return commit, None


def _settling(condition: dict, now: float, settle: float, advanced_at: float | None) -> float | None:
    """The age of a failure when it has not lasted `settle` yet (counted from its
    condition's time, never before the wave's advance); None once it has."""
    since = [t for t in (_since(condition), advanced_at) if t is not None]
    age = now - max(since) if since else None
    return age if age is not None and age < settle else None


def _bundle_behind(bundle: dict, expected) -> str:
    metadata, status = _metadata(bundle), _dict(bundle.get("status"))
    name = f"Bundle {metadata.get('name', '?')}"
    commit = labels_of(bundle).get(COMMIT_LABEL)
    if commit not in expected:
        return f"{name} is of commit {_short(commit)}, not yet {_wanted(expected)}"
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    if generation is not None and observed != generation:
        return f"{name}: Fleet has not processed it yet (generation {generation}, observed {observed})"
    return ""


def _wanted(expected) -> str:
    """The commit a Bundle or BundleDeployment must carry, in words."""
    return _short(next(iter(expected))) if len(expected) == 1 else "the advance or later"


def _judge_deployment(bd: dict, expected, now: float, settle: float, advanced_at: float | None
                      ) -> tuple[str, str]:
    """(state, reason) of one BundleDeployment: passed, pending or failed."""
    metadata, spec, status = _metadata(bd), _dict(bd.get("spec")), _dict(bd.get("status"))
    name = f"BundleDeployment {metadata.get('name', '?')}"
    if metadata.get("deletionTimestamp"):
        return "pending", f"{name} is being deleted"
    commit = labels_of(bd).get(COMMIT_LABEL)
    if commit not in expected:
        return "pending", f"{name} is of commit {_short(commit)}, not yet {_wanted(expected)}"
    conds = conditions(status)
    state = deployment_state(bd)
    if state == ERR_APPLIED:
        deployed = conds.get("Deployed") or {}
        words = f"{name}: ErrApplied: {deployed.get('message') or 'the agent failed to deploy it'}"
        settling = _settling(deployed, now, settle, advanced_at)
        return ("pending", f"{words}, for {settling:.0f}s (settling)") if settling is not None else ("failed", words)
    if state == WAIT_APPLIED:
        return "pending", (f"{name}: WaitApplied: the agent has not deployed {spec.get('deploymentID') or 'it'} yet "
                           f"(applied: {status.get('appliedDeploymentID') or 'nothing'})")
    if state == NOT_READY:
        entries = [e for e in status.get("nonReadyStatus") or [] if isinstance(e, dict)]
        errors = [e for e in entries if _dict(e.get("summary")).get("error") is True]
        shown = "; ".join(non_ready_string(e) for e in (errors or entries)[:3]) or \
            ((conds.get("Ready") or {}).get("message") or "not ready")
        more = f" (and {len(errors or entries) - 3} more)" if len(errors or entries) > 3 else ""
        if errors:
            settling = _settling(conds.get("Ready") or {}, now, settle, advanced_at)
            if settling is None:
                return "failed", f"{name}: NotReady: {shown}{more}"
            return "pending", f"{name}: NotReady: {shown}{more}, for {settling:.0f}s (settling)"
        return "pending", f"{name}: NotReady: {shown}{more}"
    if state == OUT_OF_SYNC:
        return "pending", (f"{name}: OutOfSync: deployment {spec.get('stagedDeploymentID') or '?'} is staged, not yet "
                           "deployed (Fleet's rolloutStrategy or a paused bundle holds it)")
    if state == MODIFIED:
        entries = [modified_string(e) for e in status.get("modifiedStatus") or [] if isinstance(e, dict)]
        shown = "; ".join(entries[:3]) or "resources differ from Git"
        return "pending", (f"{name}: Modified: {shown} (the cluster differs from Git: Fleet's diff.comparePatches in "
                           "fleet.yaml ignores fields changed at run time)")
    monitored = conds.get("Monitored") or {}
    if monitored.get("status") == "False":
        return "pending", f"{name}: the agent cannot monitor it: {monitored.get('message', '')}".rstrip(": ")
    return "passed", ""


def judge(gitrepo: dict | None, deployments: list[dict], revision: str, now: float, settle: float = 30.0,
          at_pin: AtPin = AtPin(), bundles: list[dict] = (), advanced_at: float | None = None,
          cluster: str = "the cluster") -> Verdict:
    """A cluster's verdict from the GitRepo, its Bundles and the cluster's
    BundleDeployments of it. Order: failed before pending before unknown."""
    if gitrepo is None:
        return Verdict(state="unknown", reason="the GitRepo is not on the Fleet manager: nothing to judge")
    name = _metadata(gitrepo).get("name", "?")
    commit, verdict = _gitrepo_at_pin(gitrepo, revision, at_pin, now, settle, advanced_at)
    if verdict is not None:
        return verdict
    expected = at_pin.commits if at_pin.commits is not None else frozenset({commit})
    if not deployments:
        return Verdict(state="unknown", reason=f"no BundleDeployment of GitRepo {name} for cluster {cluster} on the "
                       "Fleet manager: nothing to judge (is `cluster` its name in Fleet?)")
    deployed = {labels_of(bd).get(BUNDLE_LABEL) for bd in deployments}
    judged = {"failed": [], "pending": []}
    for bundle in sorted(bundles, key=lambda b: str(_metadata(b).get("name"))):
        if _metadata(bundle).get("name") in deployed:
            behind = _bundle_behind(bundle, expected)
            if behind:
                judged["pending"].append(behind)
    for bd in sorted(deployments, key=lambda b: str(_metadata(b).get("name"))):
        state, reason = _judge_deployment(bd, expected, now, settle, advanced_at)
        if state != "passed":
            judged[state].append(reason)
    for state in ("failed", "pending"):
        reasons = judged[state]
        if reasons:
            more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
            return Verdict(state=state, reason=reasons[0] + more)
    count = len(deployments)
    return Verdict(state="passed", reason=f"GitRepo {name} at {_short(commit)}: {count} BundleDeployment"
                   f"{'s' if count != 1 else ''} Ready" + ("" if at_pin.commits is not None else f" ({revision})"))
