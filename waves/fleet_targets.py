"""Which of a Rancher Fleet bundle's `targetCustomizations` a cluster gets, as Fleet
decides it (rancher/fleet internal/cmd/controller/target/matcher: bundlematch.go and
clustermatcher.go), so that a pin written into one target is known to reach the cluster
it is written for, and no other.

Fleet's rules: a target matches when every criterion it sets holds (`clusterName`: the
cluster's name, or its `management.cattle.io/cluster-display-name` label;
`clusterSelector`: a label selector on the cluster's labels; `clusterGroup`,
`clusterGroupSelector`: its cluster groups); a target that sets none matches nothing.
By default the first matching target is the cluster's; with `targetCustomizationMode:
allMatches` every matching one applies, in order, a later one winning for a value both set.

Cluster groups are objects on the Fleet manager, not in the repository: a target that
needs them cannot be judged here, and a pin whose verdict depends on one is refused,
never guessed. Pure: data in, a verdict out."""

from __future__ import annotations

from pydantic import ValidationError

from waves.selectors import LabelSelector

DISPLAY_NAME = "management.cattle.io/cluster-display-name"


def check(doc: dict, index: int, rest: list, cluster: str, labels: dict[str, str]) -> str | None:
    """Why writing `rest` (the path inside target `index`) does not reach exactly this
    cluster as Fleet would apply it; None when it does."""
    targets = doc.get("targetCustomizations")
    if not isinstance(targets, list) or not 0 <= index < len(targets):
        return None
    mode = doc.get("targetCustomizationMode")
    all_matches = isinstance(mode, str) and mode.lower() == "allmatches"
    if mode not in (None, "", "firstMatch") and not all_matches:
        return f"targetCustomizationMode {mode!r} is not one rollout knows: it cannot tell which target Fleet applies"
    name = _name(targets[index], index)
    verdicts = [_matches(t, cluster, labels) for t in targets]
    if not all_matches:
        for j, verdict in enumerate(verdicts):
            if isinstance(verdict, str):
                return _blind(targets[j], j, verdict, cluster)
            if verdict:
                if j == index:
                    return None
                return (f"Fleet gives cluster {cluster} target {_name(targets[j], j)}, the first that selects it "
                        f"({_criteria(targets[j])}), not target {name}: the value would not reach it")
        return _not_selected(targets[index], name, cluster, labels)
    if isinstance(verdicts[index], str):
        return _blind(targets[index], index, verdicts[index], cluster)
    if not verdicts[index]:
        return _not_selected(targets[index], name, cluster, labels)
    for j in range(index + 1, len(targets)):
        if not _sets(targets[j], rest) or verdicts[j] is False:
            continue
        if isinstance(verdicts[j], str):
            return _blind(targets[j], j, verdicts[j], cluster)
        return (f"target {_name(targets[j], j)} also selects cluster {cluster} and sets the same value after "
                f"target {name} (targetCustomizationMode: allMatches): the value would not take effect")
    return None


def _blind(target: object, index: int, why: str, cluster: str) -> str:
    return (f"target {_name(target, index)} {why}: rollout cannot tell whether Fleet gives cluster {cluster} that "
            "target; select clusters by clusterName or clusterSelector in the targets before and at the pinned one")


def _not_selected(target: object, name: str, cluster: str, labels: dict[str, str]) -> str:
    return (f"target {name} does not select cluster {cluster} ({_criteria(target)}; the cluster's labels: "
            f"{_shown(labels)}): the value would not reach it")


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


def _shown(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"
