"""Argo CD gate: the Applications on the hub, one LIST per (context, namespace), judged
by waves/gates/argocd.py. The Application judged for a cluster is the gate's
`application` template, else the pinned Application itself (metadata.name), whose pinned
`spec.sources[]` entries are the ones that must be compared at the revision."""

from __future__ import annotations

from rollout.observers import Check, Context, nowhere
from waves.templates import MissingLabel, render


def _contexts(ctx: Context, config, clusters) -> dict[str, str | None]:
    """cluster -> its context (None: the current one, when the gate names none). A cluster
    whose label the template needs is missing or empty is left out, never sent to the
    current context: the plan refuses it (waves/gates/__init__.py), this is the last guard."""
    out = {}
    for cluster in clusters:
        try:
            context = render(config.context, cluster, ctx.labels[cluster]) if config.context else None
        except MissingLabel:
            continue
        if context != "":
            out[cluster] = context
    return out


def preflight(ctx: Context, config, clusters, reach: bool = False) -> None:
    for context in dict.fromkeys(_contexts(ctx, config, clusters).values()):
        ctx.kube.check_context(context, "gate argocd")
        if reach:
            ctx.kube.check_access(context, "argoproj.io", "v1alpha1", config.namespace, "applications", "gate argocd")


NAMESPACE = "argocd"  # waves.gates.argocd.ArgoCDGateConfig's default


def places(config: dict) -> list[tuple]:
    """The LISTs this gate makes whatever the wave's clusters are, from its configuration
    as the policy writes it (not validated: rollout/observers/ahead.py reads it before the
    models are loaded, and only reads an answer sent ahead for the very LIST the validated
    gate makes): its one hub's, when the context names no cluster's label."""
    context, namespace = config.get("context"), config.get("namespace", NAMESPACE)
    if not (context is None or isinstance(context, str) and "{" not in context) or not isinstance(namespace, str):
        return []
    return [(context, "argoproj.io", "v1alpha1", namespace, "applications")]


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
    listed = ctx.kube.list_many([(contexts[c], config.namespace) for c in clusters if c in contexts and targets[c][0] != ""],
                                "argoproj.io", "v1alpha1", "applications")
    revision = ctx.ws.plan.revision
    checks = []
    for cluster in clusters:
        name, at_pin = targets[cluster]
        if cluster not in contexts or name == "":  # a label its template needs missing or empty
            checks.append(nowhere(cluster, "argocd", "context/application"))
            continue
        items, why = listed[(contexts[cluster], config.namespace)]
        if items is None:
            checks.append(Check(cluster, "argocd", "pending", why, observed=False,
                                refused=ctx.kube.refused(contexts[cluster])))
        elif name is None or name not in items:
            checks.append(Check(cluster, "argocd", "pending", f"no Application {name or '(unknown name)'} in {config.namespace}"))
        else:
            if at_pin.get("commits") == "since-advance":
                at_pin = {**at_pin, "commits": ctx.commits_since_advance()}
            verdict = judge(items[name], revision, now=ctx.now, settle=config.settle, **at_pin)
            checks.append(Check(cluster, "argocd", verdict.state, f"{name}: {verdict.reason}"))
    return checks


def _pinned_applications(ctx: Context, config, clusters) -> dict[str, tuple[str | None, dict]]:
    """cluster -> (name of the Application to judge, what "at the pin" means for it, as
    waves.gates.argocd.judge's keywords; the name "" where a label the gate's `application`
    template needs is missing or empty: nowhere to look, never the pinned Application):
    - the pinned Application's targetRevision (argocd-application): its pinned sources;
    - a field of the pinned Application's source (argocd-application-image): that field;
    - any other Application (the gate's `application` template, the pin elsewhere in the
      repo): the commit Argo CD compared must be the wave's advance or a later one.
    What each pinned file says comes from rollout/reuse.py: the files are read once, and
    not at all on a later step when their blobs did not change."""
    from rollout.git.repo import Git
    from rollout.reuse import pinned as pinned_facts

    pinned: dict[str, tuple[str | None, dict]] = {}
    generated = set()  # clusters whose Application an ApplicationSet makes, its targetRevision the pin
    git = Git(ctx.ws.repo) if ctx.ws.plan_key is not None else None
    for cluster, facts in pinned_facts(ctx.ws, git, clusters).items():
        for fact in facts:
            if fact.generated:
                generated.add(cluster)
            elif fact.application is not None:
                pinned[cluster] = fact.application
    out = {}
    for cluster in clusters:
        name, at_pin = pinned.get(cluster, (None, {"commits": "since-advance"}))
        if config.application:
            try:
                wanted = render(config.application, cluster, ctx.labels[cluster])
            except MissingLabel:
                wanted = ""
            if wanted != name:
                name, at_pin = wanted, {} if cluster in generated else {"commits": "since-advance"}
        out[cluster] = (name, at_pin)
    return out

