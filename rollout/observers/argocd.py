"""Argo CD gate: the Applications on the hub, one LIST per (context, namespace), judged
by waves/gates/argocd.py. The Application judged for a cluster is the gate's
`application` template, else the pinned Application itself (metadata.name), whose pinned
`spec.sources[]` entries are the ones that must be compared at the revision."""

from __future__ import annotations

from rollout.observers import Check, Context
from waves.templates import MissingLabel, render


def _contexts(ctx: Context, config, clusters) -> dict[str, str | None]:
    out = {}
    for cluster in clusters:
        try:
            out[cluster] = render(config.context, cluster, ctx.labels[cluster]) if config.context else None
        except MissingLabel:
            out[cluster] = None
    return out


def preflight(ctx: Context, config, clusters) -> None:
    for context in dict.fromkeys(_contexts(ctx, config, clusters).values()):
        ctx.kube.check_context(context, "gate argocd")


def probe(ctx: Context, config, clusters, others) -> bool:
    """Whether the gate's observer works elsewhere: a context of other clusters, not one of
    the wave's own, answers (a lone hub that is down answers nowhere)."""
    own = set(_contexts(ctx, config, clusters).values())
    elsewhere = [c for c in _contexts(ctx, config, others).values() if c not in own]
    return ctx.kube.any_answers(elsewhere, "argoproj.io", "v1alpha1", config.namespace, "applications")


def observe(ctx: Context, config, clusters) -> list[Check]:
    from waves.gates.argocd import judge

    contexts = _contexts(ctx, config, clusters)
    targets = _pinned_applications(ctx, config, clusters)
    listed = ctx.kube.list_many([(contexts[c], config.namespace) for c in clusters],
                                "argoproj.io", "v1alpha1", "applications")
    revision = ctx.ws.plan.revision
    checks = []
    for cluster in clusters:
        items, why = listed[(contexts[cluster], config.namespace)]
        name, sources = targets.get(cluster, (None, None))
        if items is None:
            checks.append(Check(cluster, "argocd", "pending", why, observed=False))
        elif name is None or name not in items:
            checks.append(Check(cluster, "argocd", "pending", f"no Application {name or '(unknown name)'} in {config.namespace}"))
        else:
            verdict = judge(items[name], revision, sources=sources, now=ctx.now, settle=config.settle)
            checks.append(Check(cluster, "argocd", verdict.state, f"{name}: {verdict.reason}"))
    return checks


def _pinned_applications(ctx: Context, config, clusters) -> dict[str, tuple[str | None, list[int] | None]]:
    """cluster -> (name of the Application to judge, indexes of its pinned sources or None)."""
    from rollout.manifests.edit import find_document
    from waves.pins import argocd_application

    source_indexes = getattr(argocd_application, "pinned_source_indexes", None)
    policy, members = ctx.ws.loaded.policy, set(clusters)
    pinned: dict[str, tuple[str | None, list[int] | None]] = {}
    for target in ctx.ws.inspection.targets if ctx.ws.inspection else []:
        pin = policy.spec.pin[target.pin_index]
        if target.cluster not in members or pin.preset != "argocd-application" or target.located is None:
            continue
        doc = target.located.documents[find_document(target.located, pin, target.cluster, ctx.labels[target.cluster])]
        pinned[target.cluster] = ((doc.get("metadata") or {}).get("name"),
                                  source_indexes(pin, doc) if source_indexes else None)
    out = {}
    for cluster in clusters:
        name, sources = pinned.get(cluster, (None, None))
        if config.application:
            try:
                wanted = render(config.application, cluster, ctx.labels[cluster])
            except MissingLabel:
                wanted = None
            name, sources = wanted, sources if wanted == name else None
        out[cluster] = (name, sources)
    return out
