"""Evaluating a wave's health gates now: the effects around the pure verdicts in
waves/gates/. One LIST per kubeconfig context, namespace and kind (never one GET per
cluster); Prometheus is asked for the worst value over the wave's window so far
(`max_over_time`/`min_over_time`), so no state lives outside Git.

A cluster that cannot be reached is pending, never passing; past `progressDeadline`
(counted from the wave's advance commit) anything not passed has failed.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from waves.policy import resolve_count
from waves.templates import MissingLabel, render


@dataclass
class Check:
    cluster: str
    gate: str
    state: str  # passed | pending | failed
    reason: str


@dataclass
class WaveVerdict:
    number: int
    name: str
    state: str
    reason: str
    checks: list[Check] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"wave": self.number, "name": self.name, "state": self.state, "reason": self.reason,
                "checks": [c.__dict__ for c in self.checks]}


def evaluate(ws, state, number: int, now: int, kubeconfig: str | None = None) -> WaveVerdict:
    plan, policy = ws.plan, ws.loaded.policy
    wave, ws_state = plan.wave(number), state.wave(number)
    if ws_state.status in ("pending", "reverted"):
        return WaveVerdict(number, wave.name, "pending" if ws_state.status == "pending" else "failed",
                           f"wave is {ws_state.status}")
    labels = {c.name: c.labels for c in plan.targets}
    checks: list[Check] = []
    for gate in wave.gates:
        kind = next(iter(type(gate).model_fields))
        config = getattr(gate, kind)
        if kind == "argocd":
            checks += _argocd(ws, wave, config, labels, kubeconfig)
        elif kind == "flux":
            checks += _flux(wave, config, labels, plan.revision, kubeconfig)
        else:
            checks += _prometheus(wave, config, labels, now - (ws_state.advanced_at or now))
    deadline = policy.spec.progressDeadline
    if deadline is not None and ws_state.advanced_at is not None and now - ws_state.advanced_at > deadline:
        for check in checks:
            if check.state == "pending":
                check.state, check.reason = "failed", f"not passed within progressDeadline: {check.reason}"
    failed_clusters = sorted({c.cluster for c in checks if c.state == "failed"})
    allowed = resolve_count(policy.spec.maxFailures, len(wave.clusters))
    if len(failed_clusters) > allowed:
        first = next(c for c in checks if c.state == "failed")
        return WaveVerdict(number, wave.name, "failed",
                           f"{len(failed_clusters)} of {len(wave.clusters)} clusters failed "
                           f"(maxFailures {allowed}); {first.cluster}: {first.gate}: {first.reason}", checks)
    pending = [c for c in checks if c.state == "pending" and c.cluster not in failed_clusters]
    if pending:
        return WaveVerdict(number, wave.name, "pending", f"{pending[0].cluster}: {pending[0].gate}: {pending[0].reason}",
                           checks)
    if ws_state.bake_remaining > 0:
        return WaveVerdict(number, wave.name, "pending", f"baking, {ws_state.bake_remaining}s left", checks)
    return WaveVerdict(number, wave.name, "passed", "every gate passed and the bake has elapsed", checks)


_KUBECONFIGS: dict[str, tuple[dict, str]] = {}


def _kubeconfig(path: str | None) -> tuple[dict, str] | None:
    """The kubeconfig as data, parsed once (yaml-rs): the client's own loader re-reads it
    with pure-Python YAML for every client, ~0.7 s a time for a 1,000-context fleet."""
    import os

    from rollout.yamlfile import YamlError, load_documents

    if path is None:
        env = os.environ.get("KUBECONFIG", "")
        if ":" in env:
            return None  # several files to merge: leave it to the client
        path = env or os.path.expanduser("~/.kube/config")
    if path not in _KUBECONFIGS:
        try:
            docs = load_documents(Path(path))
        except YamlError:
            return None
        _KUBECONFIGS[path] = (docs[0] if docs else {}, str(Path(path).resolve().parent))
    return _KUBECONFIGS[path]


def _client(context: str | None, kubeconfig: str | None):
    from kubernetes import client, config

    if context is None and kubeconfig is None:
        try:
            config.load_incluster_config()
            return client.CustomObjectsApi()
        except config.ConfigException:
            pass
    parsed = _kubeconfig(kubeconfig)
    if parsed is None:
        api = config.new_client_from_config(config_file=kubeconfig, context=context)
    else:
        configuration = client.Configuration()
        config.kube_config.KubeConfigLoader(config_dict=parsed[0], active_context=context,
                                            config_base_path=parsed[1]).load_and_set(configuration)
        api = client.ApiClient(configuration=configuration)
    api.configuration.retries = False
    return client.CustomObjectsApi(api)


def _list(context, kubeconfig, group, version, namespace, plural) -> tuple[dict[str, dict] | None, str]:
    """name -> object, or (None, why) when the API cannot be reached."""
    try:
        listed = _client(context, kubeconfig).list_namespaced_custom_object(
            group, version, namespace, plural, _request_timeout=10)
    except Exception as err:  # noqa: BLE001 - any failure to reach the cluster is "pending"
        return None, f"cannot reach the {context or 'current'} context: {type(err).__name__}"
    return {item["metadata"]["name"]: item for item in listed.get("items", [])}, ""


def _argocd(ws, wave, config, labels, kubeconfig) -> list[Check]:
    from waves.gates.argocd import judge

    names = _application_names(ws, wave, config, labels)
    listed: dict[tuple, tuple] = {}
    checks = []
    for cluster in wave.clusters:
        context = render(config.context, cluster, labels[cluster]) if config.context else None
        key = (context, config.namespace)
        if key not in listed:
            listed[key] = _list(context, kubeconfig, "argoproj.io", "v1alpha1", config.namespace, "applications")
        items, why = listed[key]
        name = names.get(cluster)
        if items is None:
            checks.append(Check(cluster, "argocd", "pending", why))
        elif name is None or name not in items:
            checks.append(Check(cluster, "argocd", "pending", f"no Application {name or '(unknown name)'} in {config.namespace}"))
        else:
            verdict = judge(items[name], ws.plan.revision)
            checks.append(Check(cluster, "argocd", verdict.state, f"{name}: {verdict.reason}"))
    return checks


def _application_names(ws, wave, config, labels) -> dict[str, str]:
    """The gate's `application` template, else metadata.name of the pinned Application."""
    if config.application:
        return {c: render(config.application, c, labels[c]) for c in wave.clusters}
    names = {}
    policy = ws.loaded.policy
    members = set(wave.clusters)
    for target in ws.inspection.targets if ws.inspection else []:
        if target.cluster in members and policy.spec.pin[target.pin_index].preset == "argocd-application" \
                and target.located is not None:
            from rollout.manifests.edit import find_document

            doc = target.located.documents[find_document(target.located, policy.spec.pin[target.pin_index],
                                                          target.cluster, labels[target.cluster])]
            names[target.cluster] = (doc.get("metadata") or {}).get("name")
    return names


def _flux(wave, config, labels, revision, kubeconfig) -> list[Check]:
    from waves.gates.flux import judge

    plural, group, version = {"Kustomization": ("kustomizations", "kustomize.toolkit.fluxcd.io", "v1"),
                              "HelmRelease": ("helmreleases", "helm.toolkit.fluxcd.io", "v2")}[config.kind]
    listed: dict[tuple, tuple] = {}
    checks = []
    for cluster in wave.clusters:
        try:
            context = render(config.context, cluster, labels[cluster]) if config.context else None
            name = render(config.name, cluster, labels[cluster])
        except MissingLabel as missing:
            checks.append(Check(cluster, "flux", "failed", f"no label {missing.key!r} for the gate's template"))
            continue
        key = (context, config.namespace)
        if key not in listed:
            listed[key] = _list(context, kubeconfig, group, version, config.namespace, plural)
        items, why = listed[key]
        if items is None:
            checks.append(Check(cluster, "flux", "pending", why))
        elif name not in items:
            checks.append(Check(cluster, "flux", "pending", f"no {config.kind} {name} in {config.namespace}"))
        else:
            verdict = judge(items[name], revision)
            checks.append(Check(cluster, "flux", verdict.state, f"{config.kind} {name}: {verdict.reason}"))
    return checks


def _prometheus(wave, config, labels, window: int) -> list[Check]:
    checks = []
    seconds = max(60, int(window))
    for cluster in wave.clusters:
        query = config.query.replace("{cluster}", cluster)
        for key, value in labels[cluster].items():
            query = query.replace("{labels." + key + "}", value)
        worst = "max_over_time" if config.max is not None else "min_over_time"
        promql = f"{worst}(({query})[{seconds}s:15s])"
        url = config.url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                answer = json.loads(response.read())
        except Exception as err:  # noqa: BLE001
            checks.append(Check(cluster, "prometheus", "pending", f"cannot query {config.url}: {type(err).__name__}"))
            continue
        result = (answer.get("data") or {}).get("result") or []
        if not result:
            checks.append(Check(cluster, "prometheus", "pending", "no data yet"))
            continue
        value = float(result[0]["value"][1])
        if config.max is not None and value > config.max:
            checks.append(Check(cluster, "prometheus", "failed", f"{value:.4g} > max {config.max} over the last {seconds}s"))
        elif config.min is not None and value < config.min:
            checks.append(Check(cluster, "prometheus", "failed", f"{value:.4g} < min {config.min} over the last {seconds}s"))
        else:
            checks.append(Check(cluster, "prometheus", "passed", f"{value:.4g} within bounds over the last {seconds}s"))
    return checks
