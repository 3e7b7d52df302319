"""When the tool cannot see, it must not act: the three kinds of observer trouble through
`rollout run` and `rollout gate`, end to end (simulator, real kubernetes client, bare
remote), and the simulated shapes of real controllers driven through `rollout run`."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from conftest import ROLLOUT

pytest.importorskip("kubernetes")
from test_run import fleet, gate_on_error_rate, run, subjects  # noqa: E402
from test_simulator import GIT_ENV, Running, git, published  # noqa: E402


def later(minutes: int) -> dict:
    return {"ROLLOUT_NOW": str(int(time.time()) + minutes * 60)}


def until(predicate, timeout: float = 60.0, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


# --- set-up errors: exit 2, one line, nothing written ------------------------------------


def test_a_mistyped_kubeconfig_path_is_exit_2_before_the_first_advance(tmp_path):
    remote, work = fleet(tmp_path)
    result = run(work, tmp_path / "kubeconfig.typo")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "kubeconfig.typo: no such kubeconfig file" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and subjects(remote) == []


def test_a_context_missing_from_the_kubeconfig_and_credentials_refused_before_the_start_are_exit_2(tmp_path):
    remote, work = fleet(tmp_path)
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        config = json.loads(sim.kubeconfig.read_text())
        wrong = tmp_path / "wrong-token.json"
        wrong.write_text(json.dumps({**config, "users": [{"name": "simulator", "user": {"token": "expired"}}]}))
        refused = run(work, wrong)  # wave 1 would go: its gate's hub must let us read it first
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "gate argocd: the hub context: the API server refused our credentials" in refused.stderr
        assert "Traceback" not in refused.stderr and subjects(remote) == []
        assert run(work, sim.kubeconfig).returncode == 0  # wave 1 goes
        renamed = tmp_path / "renamed.json"
        renamed.write_text(json.dumps({**config, "contexts": [dict(c, name="other-hub") if c["name"] == "hub" else c
                                                              for c in config["contexts"]]}))
        missing = run(work, renamed)
        assert missing.returncode == 2 and "context 'hub' is not in the kubeconfig" in missing.stderr, missing.stderr
    finally:
        sim.stop()


def test_access_lost_after_the_wave_went_out_is_a_blind_gate_halted_at_the_deadline(tmp_path):
    """Issue 18, case 6: the rollout's identity gets 401 from the hub that answered before.
    Not exit 2 for ever: unknown (no revert), then at progressDeadline a halt record that
    names what refused, exit 1; `gate` says unknown (exit 3)."""
    remote, work = fleet(tmp_path)
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        assert run(work, sim.kubeconfig).returncode == 0  # wave 1 goes, its gate read with the right token
        config = json.loads(sim.kubeconfig.read_text())
        wrong = tmp_path / "revoked.json"
        wrong.write_text(json.dumps({**config, "users": [{"name": "simulator", "user": {"token": "revoked"}}]}))
        blind = run(work, wrong)
        assert blind.returncode == 0, blind.stdout + blind.stderr
        assert "refused our credentials" in blind.stdout and "no revert" in blind.stdout
        gate = subprocess.run([*ROLLOUT, "gate", "security-patch", "--wave", "1", "--kubeconfig", str(wrong)],
                              cwd=work, capture_output=True, text=True)
        assert gate.returncode == 3 and "refused our credentials" in gate.stdout, gate.stdout + gate.stderr
        late = run(work, wrong, env=later(25))  # past progressDeadline: halted, not reverted, not exit 2
        assert late.returncode == 1 and late.stdout.strip().endswith("v1.4.2: halted"), late.stdout + late.stderr
        assert subjects(remote)[-1] == "rollout(security-patch): halt at wave 1 canary (v1.4.2)"
        assert not any("revert" in s for s in subjects(remote))
        record = git(remote, "log", "-1", "--format=%B", "main")
        assert "the hub context: the API server refused our credentials" in record
        again = run(work, wrong, env=later(30))
        assert again.returncode == 1 and len(subjects(remote)) == 2  # halted; no second record
    finally:
        sim.stop()


def test_promql_that_prometheus_rejects_is_exit_2_before_any_write(tmp_path, prometheus):
    remote, work = fleet(tmp_path)
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        prom = prometheus(sim.ready.split()[1].removeprefix("http://"))
        policy = work / "rollouts/security-patch.yaml"
        policy.write_text(policy.read_text().replace(
            "    - argocd: {context: hub, namespace: argocd}\n",
            f"    - prometheus: {{url: '{prom}', query: 'sum(rate(http_requests_total{{cluster=\"{{cluster}}\"}}[5s]', "
            "max: 0.05}\n"))
        git(work, "commit", "-qam", "a query with a missing parenthesis")
        git(work, "push", "-q")
        result = run(work, sim.kubeconfig)
        assert result.returncode == 2, result.stdout + result.stderr
        assert re.search(r"gate prometheus: Prometheus at http://\S+ rejected the query \(.*parse error", result.stderr)
        assert subjects(remote) == []
    finally:
        sim.stop()


# --- the observer reaches nothing: unknown, never a revert; halted past the deadline ----


def test_a_hub_outage_never_reverts_and_halts_past_the_deadline_saying_why(tmp_path):
    remote, work = fleet(tmp_path)
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        assert run(work, sim.kubeconfig).returncode == 0  # wave 1 goes
        # wave 1 passes, is recorded, and the same step advances waves 2 and 3
        until(lambda: "wave 1 canary passed its gates" in run(work, sim.kubeconfig).stdout)
    finally:
        sim.stop()
    done = subjects(remote)
    assert any("wave 2 region-eu-west -> v1.4.2" in s for s in done)
    blind = run(work, sim.kubeconfig)
    assert blind.returncode == 0, blind.stdout + blind.stderr
    assert "cannot observe (argocd: cannot reach the hub context" in blind.stdout and "no revert" in blind.stdout
    halted = run(work, sim.kubeconfig, env=later(30))
    assert halted.returncode == 1, halted.stdout + halted.stderr
    assert "halted because the gates cannot be seen, not because the change failed" in halted.stdout
    assert halted.stdout.strip().endswith("v1.4.2: halted")
    # no revert, and wave 1 stays passed; the halt is a record of each blind wave, once
    assert subjects(remote) == done + ["rollout(security-patch): halt at wave 2 region-eu-west (v1.4.2)",
                                       "rollout(security-patch): halt at wave 3 region-us-east (v1.4.2)"]
    assert "Rollout-Reason: cannot observe past progressDeadline" in git(remote, "log", "-1", "--format=%B", "main")
    again = run(work, sim.kubeconfig, env=later(40))
    assert again.returncode == 1 and again.stdout.strip().endswith("v1.4.2: halted") and len(subjects(remote)) == len(done) + 2
    status = json.loads(subprocess.run([*ROLLOUT, "status", "security-patch", "--format", "json"], cwd=work,
                                       capture_output=True, text=True).stdout)
    assert status["status"] == "halted" and [w["status"] for w in status["waves"][:3]] == ["passed", "halted", "halted"]


# --- the fleet's own failures, as the real controllers show them -------------------------


def test_a_comparison_error_for_the_pin_fails_fast_and_reverts(tmp_path):
    remote, work = fleet(tmp_path)
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-eu-west:comparison-error@v1.4.2")
    try:
        # --timeout 1m, far below the policy's progressDeadline (20m): a revert within it is
        # one at the settle time (10 s), not at the deadline. No clock read here: a loaded
        # machine stretches the run, it must not fail the test.
        result = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "1m")
        assert result.returncode == 1, result.stdout + result.stderr
        assert re.search(r"reverted wave 1 canary: commit [0-9a-f]{12}: gate failed: .*dev-eu-west: argocd: "
                         r"dev-eu-west-platform: ComparisonError: .*app path does not exist", result.stdout)
        assert subjects(remote)[-1] == "rollout(security-patch): revert wave 1 canary (v1.4.2)"
    finally:
        sim.stop()


def test_flux_helm_releases_with_history_only_status_roll_out_to_complete(tmp_path):
    remote, work = published(tmp_path, "flux-mesh", lambda text: re.sub(r"bake: \S+", "bake: 1s", text))
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        release = sim.api("dev-1").list_namespaced_custom_object("helm.toolkit.fluxcd.io", "v2", "podinfo",
                                                                 "helmreleases")["items"][0]
        assert "lastAppliedRevision" not in release["status"] and release["status"]["history"][0]["chartVersion"]
        result = subprocess.run([*ROLLOUT, "run", "podinfo", "--kubeconfig", str(sim.kubeconfig), "--wait",
                                 "--interval", "1s", "--timeout", "2m"], cwd=work, capture_output=True, text=True,
                                timeout=180, env={**__import__("os").environ, **GIT_ENV})
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().endswith("rollout podinfo -> 6.7.1: complete")
    finally:
        sim.stop()


def test_an_idle_cluster_s_nan_error_ratio_never_passes(tmp_path, prometheus):
    remote, work = published(tmp_path, "fleet-config")
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-eu-west:idle@v1.4.2")
    try:
        prom = prometheus(sim.ready.split()[1].removeprefix("http://"))
        gate_on_error_rate(work, prom)
        assert run(work, sim.kubeconfig).returncode == 0  # wave 1 goes

        def checks():
            result = subprocess.run([*ROLLOUT, "gate", "security-patch", "--wave", "1", "--format", "json"], cwd=work,
                                    capture_output=True, text=True)
            found = {c["cluster"]: c for c in json.loads(result.stdout)["checks"]}
            return found if found["dev-us-east"]["state"] == "passed" and "NaN" in found["dev-eu-west"]["reason"] else None

        found = until(checks, timeout=60)
        assert found["dev-eu-west"]["state"] == "pending"  # 0/0: no traffic is no evidence either way
        step = run(work, sim.kubeconfig)
        assert step.returncode == 0 and "dev-eu-west: prometheus:" in step.stdout and "NaN" in step.stdout, step.stdout
        assert subjects(remote) == ["rollout(security-patch): wave 1 canary -> v1.4.2"]  # not passed, nothing after
    finally:
        sim.stop()


def test_multi_source_applications_pass_only_when_the_pinned_source_is_synced(tmp_path):
    """Every Application gets a chart source from another repository first and the
    fleet's own source second; the pin selects the second by repoURL. The gate judges
    that source (`pinned_source_indexes`), never the chart's."""
    def multi_source(text: str) -> str:
        return text.replace(
            "  source:\n    repoURL: https://github.com/example-org/fleet-config.git\n",
            "  sources:\n    - repoURL: https://charts.example.com/platform\n      chart: platform\n"
            "      targetRevision: 19.1.0\n    - repoURL: https://github.com/example-org/fleet-config.git\n"
        ).replace("    targetRevision: v1.4.1\n    path:", "      targetRevision: v1.4.1\n      path:")

    def edit(text: str) -> str:
        text = re.sub(r"bake: \S+", "bake: 1s", text)
        return text.replace("files: argocd/apps/{cluster}-platform.yaml",
                            "files: argocd/apps/{cluster}-platform.yaml\n      repoURL: https://github.com/example-org/fleet-config.git")

    remote, work = published(tmp_path, "fleet-config", edit)
    for app in (work / "argocd/apps").glob("*.yaml"):
        app.write_text(multi_source(app.read_text()))
    git(work, "commit", "-qam", "multi-source Applications")
    git(work, "push", "-q")
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        listed = sim.api().list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications")["items"]
        assert all(len(a["spec"]["sources"]) == 2 for a in listed)
        result = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "2m")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().endswith("rollout security-patch -> v1.4.2: complete")
        pinned = (work / "argocd/apps/prod-eu-west-platform.yaml").read_text()
        assert "targetRevision: 19.1.0" in pinned and "targetRevision: v1.4.2" in pinned
        record = git(remote, "log", "-1", "--format=%B", "--grep=wave 1 canary passed", "main")
        assert "dev-eu-west: passed: dev-eu-west-platform: Synced to v1.4.2 and Healthy" in record
    finally:
        sim.stop()


def test_commits_since_the_advance_are_the_advance_and_every_later_commit(tmp_path):
    """What `judge(commits=...)` gets for a pin that lives in files an Application reads."""
    from types import SimpleNamespace

    from rollout.observers import Context

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = []
    for name in ("before", "advance", "after", "later"):
        (repo / name).write_text(name)
        git(repo, "add", name)
        git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", name)
        shas.append(git(repo, "rev-parse", "HEAD").strip())
    ctx = Context(SimpleNamespace(repo=repo), kube=None, now=0.0, advance_commit=shas[1])
    assert ctx.commits_since_advance() == frozenset(shas[1:])
    first = Context(SimpleNamespace(repo=repo), kube=None, now=0.0, advance_commit=shas[0])  # a root commit
    assert first.commits_since_advance() == frozenset(shas)


def test_commits_main_got_while_a_merged_pull_request_was_open_are_not_at_the_pin(tmp_path):
    """A pull request merged with a merge commit: the wave's commit sits on a side branch;
    what `main` got meanwhile came later but lacks the pin, so a controller that compared it
    has not seen the change (a false pass otherwise)."""
    from types import SimpleNamespace

    from rollout.observers import Context

    repo = tmp_path / "repo"
    repo.mkdir()
    ident = ("-c", "user.name=t", "-c", "user.email=t@example.com")

    def commit(name: str) -> str:
        (repo / name).write_text(name)
        git(repo, "add", name)
        git(repo, *ident, "commit", "-qm", name)
        return git(repo, "rev-parse", "HEAD").strip()

    git(repo, "init", "-q", "-b", "main")
    commit("base")
    git(repo, "checkout", "-q", "-b", "rollout/wave-1")
    advance = commit("advance")
    git(repo, "checkout", "-q", "main")
    meanwhile = commit("meanwhile")
    git(repo, *ident, "merge", "-q", "--no-ff", "-m", "Merge pull request #1", "rollout/wave-1")
    merge = git(repo, "rev-parse", "HEAD").strip()
    later = commit("later")
    ctx = Context(SimpleNamespace(repo=repo), kube=None, now=0.0, advance_commit=advance)
    assert ctx.commits_since_advance() == frozenset({advance, merge, later})
    assert meanwhile not in ctx.commits_since_advance()


def test_a_kustomize_image_pin_is_judged_by_the_commit_the_application_compared(tmp_path):
    """The pin lives in clusters/<c>/kustomization.yaml, which each cluster's Application
    reads (its targetRevision never changes): the Argo CD gate passes once Argo CD compared
    the advance commit or a later one, and a degraded cluster still fails and reverts."""
    def edit(text: str) -> str:
        text = re.sub(r"bake: \S+", "bake: 1s", text)
        text = text.replace("  pin:\n    - preset: argocd-application\n      files: argocd/apps/{cluster}-platform.yaml\n",
                            "  pin:\n    - preset: kustomize-image\n      files: clusters/{cluster}/kustomization.yaml\n"
                            "      image: ghcr.io/example-org/platform-api\n")
        return text.replace("argocd: {context: hub, namespace: argocd}",
                            "argocd: {context: hub, namespace: argocd, application: '{cluster}-platform'}")

    remote, work = published(tmp_path, "fleet-config", edit)
    for kustomization in (work / "clusters").glob("*/kustomization.yaml"):
        kustomization.write_text(kustomization.read_text() + "images:\n  - name: ghcr.io/example-org/platform-api\n"
                                 "    newTag: v1.4.1\n")
    git(work, "commit", "-qam", "platform-api image in every cluster")
    git(work, "push", "-q")
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "prod-us-east:degraded@v1.4.2")
    try:
        app = sim.api().get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications",
                                                     "dev-eu-west-platform")
        assert app["status"]["sync"]["comparedTo"]["source"]["targetRevision"] == "v1.4.1"  # not the pin
        result = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "2m")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "wave 4 production/1 passed its gates" in result.stdout
        assert re.search(r"reverted wave 5 production/2: commit [0-9a-f]{12}: gate failed: .*prod-us-east-platform: "
                         r"health Degraded", result.stdout)
        record = git(remote, "log", "-1", "--format=%B", "--grep=wave 1 canary passed", "main")
        assert "dev-eu-west: passed: dev-eu-west-platform: Synced to v1.4.2 and Healthy" in record
    finally:
        sim.stop()


def test_a_cluster_whose_context_label_is_missing_or_empty_is_looked_for_nowhere_never_on_the_current_context():
    """The plan refuses such a policy (tests/test_planner.py); the observers are the last
    guard: an empty or missing context was the kubeconfig's current one (another cluster)."""
    from types import SimpleNamespace

    from rollout.observers import Context
    from rollout.observers import argocd, flux, kstatus

    labels = {"a": {"ctx": "a"}, "b": {"ctx": ""}, "c": {}}
    ctx = Context(SimpleNamespace(), kube=None, now=0.0, labels=labels)
    assert argocd._contexts(ctx, SimpleNamespace(context="{labels.ctx}"), list(labels)) == {"a": "a"}
    assert argocd._contexts(ctx, SimpleNamespace(context=None), list(labels)) == dict.fromkeys(labels)  # none named
    assert [flux._where(ctx, SimpleNamespace(context="{labels.ctx}", name="app"), c) for c in labels] == \
        [("a", "app"), None, None]
    config = SimpleNamespace(context="{cluster}", namespace="{labels.ctx}", selector=None)
    assert [kstatus._where(ctx, config, c) for c in labels] == [("a", "a", None), None, None]


def test_a_cluster_a_gate_s_template_cannot_be_filled_in_for_is_unknown_so_never_failed_nor_reverted_on_it():
    """The plan refuses a gate template a cluster lacks a label for, or an empty label
    leaves empty; a wave judged on what it pinned (a cluster moved to another wave since),
    or from its records while the hub is away, can still meet one. Nowhere to look is no
    evidence: `unknown` (the wave is blind, halted at progressDeadline), never `pending`,
    which progressDeadline turns into `failed` (a revert) when the gate sees the others; and
    the Prometheus query is never sent with `{labels.team}` left in it (a string that
    matches nothing: "no data", or with `or vector(0)` a value that passes)."""
    from types import SimpleNamespace

    from rollout.observers import Context
    from rollout.observers import argocd, fleet, flux, kstatus, prometheus
    from rollout.observers.kube import Kube
    from waves.gates.argocd import ArgoCDGateConfig
    from waves.gates.fleet import FleetGateConfig
    from waves.gates.flux import FluxGateConfig
    from waves.gates.kstatus import KStatusGateConfig
    from waves.gates.prometheus import PrometheusGateConfig

    labels = {"b": {"team": ""}, "c": {}}
    ws = SimpleNamespace(plan=SimpleNamespace(pins={}, revision="v2", targets=[]), pinned={}, plan_key=None,
                         inspection=None, loaded=SimpleNamespace(policy=None))
    ctx = Context(ws, Kube(None), now=0.0, labels=labels)  # nothing to list: no kubeconfig is read
    gates = [
        (argocd, ArgoCDGateConfig(context="{labels.team}")),
        (argocd, ArgoCDGateConfig(context="hub", application="{labels.team}")),
        (flux, FluxGateConfig(context="{cluster}", kind="HelmRelease", name="{labels.team}")),
        (kstatus, KStatusGateConfig(context="{cluster}", namespace="{labels.team}")),
        (fleet, FleetGateConfig(cluster="{labels.team}", gitRepo="apps")),
    ]
    for module, config in gates:
        checks = module.observe(ctx, config, list(labels))
        assert [(c.cluster, c.state, c.observed) for c in checks] == [("b", "unknown", False), ("c", "unknown", False)], \
            (module.__name__, checks)
        assert "missing or empty: nowhere to look" in checks[0].reason
    # an empty label that leaves a matcher `team=""` (the series without the label: any cluster's) is nowhere
    # to look, as a missing one is (the plan refuses both; a plan from advance records meets them): never sent
    query = PrometheusGateConfig(url="http://127.0.0.1:9", query='up{team="{labels.team}"}', max=1)
    checks = prometheus.observe(ctx, query, ["b", "c"])
    assert [(c.cluster, c.state, c.observed) for c in checks] == [("b", "unknown", False), ("c", "unknown", False)], \
        checks
    prometheus.preflight(ctx, query, ["b", "c"])  # nothing to ask: no traceback, no guess
    # one that leaves the matcher's value something else is the user's to write: the query is sent
    suffixed = PrometheusGateConfig(url="http://127.0.0.1:9", query='up{job="api{labels.team}"}', max=1)
    assert prometheus.promql(suffixed, "b", labels["b"], 60) == 'max_over_time((up{job="api"})[60s:15s])'
