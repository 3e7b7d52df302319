"""Which of a Rancher Fleet bundle's `targetCustomizations` apply to a cluster, as Fleet
decides it (rancher/fleet internal/cmd/controller/target/matcher: bundlematch.go and
clustermatcher.go; target/builder.go for `doNotDeploy`), so that a value written into a
`fleet.yaml` is known to take effect on the clusters it is written for, and on no other.

Fleet's rules: a target matches when every criterion it sets holds (`clusterName`: the
cluster's name, or its `management.cattle.io/cluster-display-name` label;
`clusterSelector`: a label selector on the cluster's labels; `clusterGroup`,
`clusterGroupSelector`: its cluster groups); a target that sets none matches nothing.
With `targetCustomizationMode` unset or `FirstMatch` the first matching target is the
cluster's; with `AllMatches` every matching one applies, in order, a later one winning
for a value both set. A matching target with `doNotDeploy: true` keeps the bundle off
the cluster altogether.

Cluster groups are objects on the Fleet manager, not in the repository: a verdict that
depends on one is not guessed, it is refused. The labels are the inventory's, which must
be Fleet's own Cluster labels. Pure: data in, a verdict out."""

from __future__ import annotations

from pydantic import ValidationError

from waves.selectors import LabelSelector

DISPLAY_NAME = "management.cattle.io/cluster-display-name"
MODES = ("", "FirstMatch", "AllMatches")  # fleet.cattle.io/v1alpha1 BundleSpec.TargetCustomizationMode


class Blind(Exception):
    """What a verdict would need that the repository does not hold."""


def check(doc: dict, path: list, cluster: str, labels: dict[str, str]) -> str | None:
    """Why writing `path` of this fleet.yaml does not take effect on this cluster; None
    when it does. `path` is the resolved path of the pin in the document."""
    try:
        targets, all_matches = _targets(doc)
        skipped = _do_not_deploy(targets, cluster, labels)
        if skipped is not None:
            return f"target {_name(targets[skipped], skipped)} has doNotDeploy: true and selects cluster {cluster}: " \
                   "Fleet deploys nothing there, so the value would not reach it"
        applied = _applied(targets, all_matches, cluster, labels)
    except Blind as why:
        return str(why)
    version = _ignored_version(doc, path)
    if version is not None:
        return version
    if _in_target(path):
        index, name = path[1], _name(targets[path[1]], path[1])
        if index not in applied:
            if applied and not all_matches:
                first = applied[0]
                return (f"Fleet gives cluster {cluster} target {_name(targets[first], first)}, the first that selects "
                        f"it ({_criteria(targets[first])}), not target {name}: the value would not reach it")
            return (f"target {name} does not select cluster {cluster} ({_criteria(targets[index])}; the cluster's "
                    f"labels: {labels_text(labels)}): the value would not reach it")
        later = [j for j in applied if j > index and _sets(targets[j], path[2:])]
        where = f"after target {name} (targetCustomizationMode: AllMatches)"
    else:
        later = [j for j in applied if _sets(targets[j], path)]
        where = "in the bundle, and a target's value wins over it"
    if later:
        return (f"target {_name(targets[later[0]], later[0])} also selects cluster {cluster} and sets the same value "
                f"{where}: the value would not take effect there")
    return None


def reaches(doc: dict, path: list, cluster: str, labels: dict[str, str]) -> bool | str:
    """Does writing `path` change what Fleet deploys to this cluster? A string: it cannot
    be told (why). A value outside the targets reaches every cluster the bundle deploys
    to that no applied target overrides: which clusters the GitRepo deploys the bundle
    to is not in this file, so every cluster is counted."""
    try:
        targets, all_matches = _targets(doc)
        if _do_not_deploy(targets, cluster, labels) is not None:
            return False
        applied = _applied(targets, all_matches, cluster, labels)
    except Blind as why:
        return str(why)
    if _in_target(path):
        index = path[1]
        return index in applied and not any(j > index and _sets(targets[j], path[2:]) for j in applied)
    return not any(_sets(targets[j], path) for j in applied)


def gitrepo_reaches(gitrepo: dict, cluster: str, labels: dict[str, str]) -> bool | str:
    """Does Fleet deploy this GitRepo's bundles to the cluster? Its `spec.targets` are
    matched as a bundle's (any match deploys, a matching `doNotDeploy` keeps it off); a
    GitRepo without targets goes to the `default` cluster group, which lives on the
    manager (a string: why it cannot be told), except in `fleet-local`, Fleet's
    namespace for the manager's own cluster."""
    spec = gitrepo.get("spec") if isinstance(gitrepo.get("spec"), dict) else {}
    targets = spec.get("targets")
    if not targets:
        namespace = (gitrepo.get("metadata") or {}).get("namespace") if isinstance(gitrepo.get("metadata"), dict) else None
        if namespace == "fleet-local":
            return True
        return "has no targets, so Fleet sends it to the default cluster group, which is kept on the Fleet manager"
    if not isinstance(targets, list):
        return "has targets that are not a list"
    try:
        if _do_not_deploy(targets, cluster, labels) is not None:
            return False
    except Blind as why:
        return str(why)
    blind = None
    for j, target in enumerate(targets):
        verdict = _matches(target, cluster, labels)
        if verdict is True:
            return True
        if isinstance(verdict, str) and blind is None:
            blind = f"target {_name(target, j)} {verdict}"
    return blind if blind is not None else False


def is_bundle(doc: object) -> bool:
    return isinstance(doc, dict) and (isinstance(doc.get("targetCustomizations"), list) or "helm" in doc
                                      or "kustomize" in doc or "defaultNamespace" in doc)


def _in_target(path: list) -> bool:
    return len(path) > 2 and path[0] == "targetCustomizations" and isinstance(path[1], int)


def _targets(doc: dict) -> tuple[list, bool]:
    mode = doc.get("targetCustomizationMode")
    if mode is not None and mode not in MODES:
        raise Blind(f"targetCustomizationMode {mode!r} is not one Fleet has ({', '.join(m for m in MODES if m)}): "
                    "rollout cannot tell which target Fleet applies")
    targets = doc.get("targetCustomizations")
    return (targets if isinstance(targets, list) else []), mode == "AllMatches"


def _applied(targets: list, all_matches: bool, cluster: str, labels: dict[str, str]) -> list[int]:
    """The targets that apply, in order; raises Blind where a cluster group decides."""
    applied = []
    for j, target in enumerate(targets):
        verdict = _matches(target, cluster, labels)
        if isinstance(verdict, str):
            raise Blind(f"target {_name(target, j)} {verdict}: rollout cannot tell whether Fleet gives cluster "
                        f"{cluster} that target; select clusters by clusterName or clusterSelector")
        if verdict:
            applied.append(j)
            if not all_matches:
                break
    return applied


def _do_not_deploy(targets: list, cluster: str, labels: dict[str, str]) -> int | None:
    """The first matching target with doNotDeploy (any of them keeps the bundle off)."""
    for j, target in enumerate(targets):
        if isinstance(target, dict) and target.get("doNotDeploy") is True:
            verdict = _matches(target, cluster, labels)
            if isinstance(verdict, str):
                raise Blind(f"target {_name(target, j)} has doNotDeploy and {verdict}: rollout cannot tell whether "
                            f"Fleet deploys to cluster {cluster} at all")
            if verdict:
                return j
    return None


def _ignored_version(doc: dict, path: list) -> str | None:
    """Fleet ignores `helm.version` for a local or tarball chart (rancher/fleet#1923):
    the version is honoured with `helm.repo`, or an `oci://` chart."""
    rest = path[2:] if _in_target(path) else path
    if rest != ["helm", "version"]:
        return None
    helm = doc.get("helm") if isinstance(doc.get("helm"), dict) else {}
    own = doc["targetCustomizations"][path[1]].get("helm") if _in_target(path) else None
    own = own if isinstance(own, dict) else {}
    chart = str(own.get("chart") or helm.get("chart") or "")
    if own.get("repo") or helm.get("repo") or chart.startswith("oci://"):
        return None
    return (f"Fleet ignores helm.version for a local or tarball chart ({chart or 'the bundle folder'}; "
            "rancher/fleet#1923): pin a value the chart reads instead (helm.values...)")


def _matches(target: object, cluster: str, labels: dict[str, str]) -> bool | str:
    """True / False, or why it cannot be told (a cluster group)."""
    if not isinstance(target, dict):
        return False
    for key in ("clusterGroup", "clusterGroupSelector"):
        if target.get(key) not in (None, ""):
            return f"selects by {key}, which is kept on the Fleet manager"
    criteria = []
    name = target.get("clusterName")
    if name not in (None, ""):
        criteria.append(name == cluster or labels.get(DISPLAY_NAME) == name)
    selector = target.get("clusterSelector")
    if selector is not None:
        try:
            criteria.append(LabelSelector.model_validate(selector).matches(labels))
        except ValidationError:
            return "has a clusterSelector that is not a label selector"
    return bool(criteria) and all(criteria)


def _sets(target: object, rest: list) -> bool:
    node = target
    for step in rest:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return False
    return True


def _name(target: object, index: int) -> str:
    name = target.get("name") if isinstance(target, dict) else None
    return f"{name!r}" if name else f"[{index}]"


def _criteria(target: object) -> str:
    if not isinstance(target, dict):
        return "not a mapping"
    shown = []
    if target.get("clusterName") not in (None, ""):
        shown.append(f"clusterName: {target['clusterName']}")
    if target.get("clusterSelector") is not None:
        try:
            shown.append(f"clusterSelector: {LabelSelector.model_validate(target['clusterSelector'])}")
        except ValidationError:
            shown.append("clusterSelector: not a label selector")
    return "; ".join(shown) or "no clusterName or clusterSelector"


def labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"
