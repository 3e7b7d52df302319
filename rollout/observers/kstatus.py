"""kstatus gate: on the context the gate renders for each cluster (usually its own), one
LIST per (context, namespace, kind, selector) on a bounded pool; the objects judged by
waves/gates/kstatus.py (kstatus, then the pin, the evidence and `settle`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from rollout.observers import Check, Context, SetupError, nowhere
from rollout.observers.kube import MAX_PARALLEL
from waves.templates import MissingLabel, render

WHO = "gate kstatus"


def _where(ctx: Context, config, cluster) -> tuple[str | None, str, str | None] | None:
    """(context, namespace, selector) for the cluster; None when a label is missing."""
    labels = ctx.labels[cluster]
    try:
        where = (render(config.context, cluster, labels) if config.context else None,
                 render(config.namespace, cluster, labels),
                 render(config.selector, cluster, labels) if config.selector else None)
    except MissingLabel:
        return None
    return None if "" in where else where  # an empty context is the current one, an empty namespace all


def _selection(config, namespace: str, selector: str | None) -> str:
    kinds = ", ".join(config.kinds)
    return f"{kinds} in {namespace}" + (f" matching {selector}" if selector else "")


def _list_all(ctx: Context, config, keys: list[tuple]) -> dict[tuple, tuple[list | None, str]]:
    """(context, namespace, selector, kind) -> the kube listing, in parallel (bounded)."""
    keys = list(dict.fromkeys(keys))
    ctx.kube.connect(k[0] for k in keys)
    if len(keys) <= 1:
        return {k: ctx.kube.list_kind(k[0], k[3], k[1], k[2]) for k in keys}
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(keys))) as pool:
        return dict(zip(keys, pool.map(lambda k: ctx.kube.list_kind(k[0], k[3], k[1], k[2]), keys)))


def preflight(ctx: Context, config, clusters, reach: bool = False) -> None:
    wheres = {w for w in (_where(ctx, config, c) for c in clusters) if w is not None}
    for context in sorted({w[0] for w in wheres}, key=str):
        ctx.kube.check_context(context, WHO)
    if not reach:
        return
    first = config.resolved_kinds()[0]
    listed = _list_all(ctx, config, [(*w, first) for w in sorted(wheres, key=str)])  # the first refusal, in order
    for (context, *_), (items, why) in listed.items():
        if items is None and ctx.kube.refused(context):
            raise SetupError(f"{WHO}: {why}: fix the kubeconfig's user or RBAC")


def probe(ctx: Context, config, clusters, others) -> bool:
    """Whether the gate's observer works elsewhere: another cluster's context answers."""
    own = {w[0] for w in (_where(ctx, config, c) for c in clusters) if w is not None}
    elsewhere = [w for w in (_where(ctx, config, c) for c in others) if w is not None and w[0] not in own]
    first = config.resolved_kinds()[0]
    probes = list({w[0]: w for w in elsewhere}.values())[:3]
    return any(items is not None for items, _ in _list_all(ctx, config, [(*w, first) for w in probes]).values())


def observe(ctx: Context, config, clusters) -> list[Check]:
    from waves.gates.kstatus import judge

    kinds = config.resolved_kinds()
    where = {c: _where(ctx, config, c) for c in clusters}
    listed = _list_all(ctx, config, [(*w, k) for w in where.values() if w is not None for k in kinds])
    advanced_at = ctx.now - ctx.window if ctx.advance_commit else None
    checks = []
    for cluster in clusters:
        if where[cluster] is None:
            checks.append(nowhere(cluster, "kstatus", "context/namespace/selector"))  # no evidence either way
            continue
        context, namespace, selector = where[cluster]
        results = [listed[(context, namespace, selector, k)] for k in kinds]
        unreachable = next((why for items, why in results if items is None), None)
        if unreachable is not None:
            checks.append(Check(cluster, "kstatus", "pending", unreachable, observed=False,
                                refused=ctx.kube.refused(context)))
            continue
        objects = [obj for items, _ in results for obj in items]
        verdict = judge(objects, ctx.ws.plan.revision, config.revisionFrom, ctx.now, config.settle, advanced_at,
                        what=_selection(config, namespace, selector))
        checks.append(Check(cluster, "kstatus", verdict.state, verdict.reason))
    return checks
