"""Flux gate: the cluster's Kustomization or HelmRelease, on the context the gate
renders for it (usually the cluster's own), one LIST per (context, namespace) on a
bounded pool; judged by waves/gates/flux.py."""

from __future__ import annotations

from rollout.observers import Check, Context, nowhere
from waves.templates import MissingLabel, render

KINDS = {"Kustomization": ("kustomizations", "kustomize.toolkit.fluxcd.io", "v1"),
         "HelmRelease": ("helmreleases", "helm.toolkit.fluxcd.io", "v2")}


def _where(ctx: Context, config, cluster) -> tuple[str | None, str] | None:
    try:
        context = render(config.context, cluster, ctx.labels[cluster]) if config.context else None
        name = render(config.name, cluster, ctx.labels[cluster])
    except MissingLabel:
        return None
    return None if context == "" or not name else (context, name)  # "": the current context, not the cluster's


def preflight(ctx: Context, config, clusters, reach: bool = False) -> None:
    contexts = {where[0] for where in (_where(ctx, config, c) for c in clusters) if where is not None}
    plural, group, version = KINDS[config.kind]
    for context in sorted(contexts, key=str):
        ctx.kube.check_context(context, f"gate flux ({config.kind})")
    for context in sorted(contexts, key=str) if reach else ():
        ctx.kube.check_access(context, group, version, config.namespace, plural, f"gate flux ({config.kind})")


def probe(ctx: Context, config, clusters, others) -> bool:
    """Whether the gate's observer works elsewhere: another cluster's context answers."""
    own = {w[0] for w in (_where(ctx, config, c) for c in clusters) if w is not None}
    elsewhere = [w[0] for w in (_where(ctx, config, c) for c in others) if w is not None and w[0] not in own]
    plural, group, version = KINDS[config.kind]
    return ctx.kube.any_answers(elsewhere, group, version, config.namespace, plural)


def observe(ctx: Context, config, clusters) -> list[Check]:
    from waves.gates.flux import judge

    plural, group, version = KINDS[config.kind]
    where = {c: _where(ctx, config, c) for c in clusters}
    listed = ctx.kube.list_many([(w[0], config.namespace) for w in where.values() if w is not None],
                                group, version, plural)
    checks = []
    for cluster in clusters:
        if where[cluster] is None:
            checks.append(nowhere(cluster, "flux", "context/name"))  # a set-up error, no evidence either way
            continue
        context, name = where[cluster]
        items, why = listed[(context, config.namespace)]
        if items is None:
            checks.append(Check(cluster, "flux", "pending", why, observed=False, refused=ctx.kube.refused(context)))
        elif name not in items:
            checks.append(Check(cluster, "flux", "pending", f"no {config.kind} {name} in {config.namespace}"))
        else:
            verdict = judge(items[name], ctx.ws.plan.revision)
            checks.append(Check(cluster, "flux", verdict.state, f"{config.kind} {name}: {verdict.reason}"))
    return checks
