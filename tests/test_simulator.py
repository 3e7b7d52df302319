"""The fleet simulator, driven by the real `kubernetes` client over HTTP, following a
bare remote that `rollout advance` pushes to."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROLLOUT, http_get

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GIT_ENV = {"GIT_AUTHOR_NAME": "Sim Test", "GIT_AUTHOR_EMAIL": "sim@example.com",
           "GIT_COMMITTER_NAME": "Sim Test", "GIT_COMMITTER_EMAIL": "sim@example.com"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT_ENV}).stdout


def published(tmp: Path, example: str, edit_policy=None) -> tuple[Path, Path]:
    """(bare remote, a clone to advance from) of an example repo; `edit_policy(text)`
    may change its policy first."""
    source = tmp / "source"
    shutil.copytree(EXAMPLES / example, source)
    if edit_policy is not None:
        (policy,) = (source / "rollouts").glob("*.yaml")
        policy.write_text(edit_policy(policy.read_text()))
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", example)
    remote = tmp / "remote.git"
    git(tmp, "clone", "-q", "--bare", str(source), str(remote))
    git(tmp, "clone", "-q", str(remote), str(tmp / "work"))
    return remote, tmp / "work"


class Running:
    def __init__(self, remote: Path, kubeconfig: Path, *extra: str):
        self.kubeconfig = kubeconfig
        self.proc = subprocess.Popen(
            [*ROLLOUT, "simulate", "--repo", str(remote), "--kubeconfig-out", str(kubeconfig), "--poll", "0s",
             "--sync-delay", "0s", "--health-delay", "0s", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **GIT_ENV},
        )
        self.ready = self.proc.stdout.readline()
        assert self.ready.startswith("ready http://127.0.0.1:"), self.ready + self.proc.stderr.read()

    def api(self, context: str = "hub") -> client.CustomObjectsApi:
        return client.CustomObjectsApi(config.new_client_from_config(str(self.kubeconfig), context=context))

    def stop(self) -> str:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return out


@pytest.fixture
def fleet_config(tmp_path):
    """The example fleet served, for a test that changes it (advances its remote)."""
    remote, work = published(tmp_path, "fleet-config")
    sim = Running(remote, tmp_path / "kubeconfig")
    yield sim, work
    sim.stop()


@pytest.fixture(scope="module")
def served_fleet_config(tmp_path_factory):
    """The example fleet served once for the module's tests that only read it."""
    tmp = tmp_path_factory.mktemp("served-fleet-config")
    remote, work = published(tmp, "fleet-config")
    sim = Running(remote, tmp / "kubeconfig")
    yield sim, work
    sim.stop()


def applications(api, **kw) -> dict[str, dict]:
    listed = api.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", **kw)
    return {item["metadata"]["name"]: item for item in listed["items"]}


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_hub_serves_one_application_per_cluster_with_kubernetes_semantics(served_fleet_config):
    sim, _ = served_fleet_config
    api = sim.api()
    apps = applications(api)
    assert sorted(apps) == sorted(f"{c}-platform" for c in (
        "dev-eu-west", "dev-us-east", "staging-eu-west", "staging-us-east", "prod-eu-west", "prod-us-east"))
    app = apps["prod-eu-west-platform"]
    assert app["status"]["sync"]["status"] == "Synced" and app["status"]["health"]["status"] == "Healthy"
    assert app["status"]["sync"]["comparedTo"]["source"]["targetRevision"] == "v1.4.1"
    assert app["spec"]["destination"]["server"] == "https://prod-eu-west.k8s.example.com:6443"
    assert app["metadata"]["resourceVersion"]
    # labelSelector, one GET, and a 404 as a Kubernetes Status.
    assert sorted(applications(api, label_selector="environment=dev,region in (eu-west)")) == ["dev-eu-west-platform"]
    for bad in ("environment=dev,", "environment in (dev staging)", "gen>3"):  # an API server says 400 too
        with pytest.raises(client.exceptions.ApiException) as refused:
            applications(api, label_selector=bad)
        assert refused.value.status == 400 and "BadRequest" in refused.value.body
    one = api.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "dev-us-east-platform")
    assert one["metadata"]["name"] == "dev-us-east-platform"
    with pytest.raises(client.exceptions.ApiException) as missing:
        api.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "nope")
    assert missing.value.status == 404
    assert '"kind":"Status"' in missing.value.body.replace(" ", "") and "NotFound" in missing.value.body


def test_an_advance_moves_the_applications_through_sync_to_the_new_revision(fleet_config, tmp_path):
    sim, work = fleet_config
    api = sim.api()
    result = subprocess.run([*ROLLOUT, "advance", "security-patch", "--wave", "1"], cwd=work, capture_output=True,
                            text=True, env={**os.environ, **GIT_ENV})
    assert result.returncode == 0, result.stderr

    def synced_at_new_revision():
        app = applications(api)["dev-eu-west-platform"]["status"]
        ok = (app["sync"]["status"] == "Synced" and app["health"]["status"] == "Healthy"
              and app["sync"]["comparedTo"]["source"]["targetRevision"] == "v1.4.2")
        return app if ok else None

    status = wait_for(synced_at_new_revision)
    assert status["operationState"]["phase"] == "Succeeded"
    assert status["operationState"]["syncResult"]["revision"] == git(work, "rev-parse", "HEAD").strip()
    untouched = applications(api)["prod-eu-west-platform"]["status"]
    assert untouched["sync"]["comparedTo"]["source"]["targetRevision"] == "v1.4.1"


def test_watch_streams_added_then_modified_events(served_fleet_config):
    sim, _ = served_fleet_config
    api = sim.api()
    stream = watch.Watch().stream(api.list_namespaced_custom_object, "argoproj.io", "v1alpha1", "argocd",
                                  "applications", timeout_seconds=1)
    events = [(e["type"], e["object"]["metadata"]["name"]) for e in stream]
    assert sorted(n for t, n in events if t == "ADDED")[:2] == ["dev-eu-west-platform", "dev-us-east-platform"]
    assert len([t for t, _ in events if t == "ADDED"]) == 6


def test_flux_mesh_contexts_and_an_unreachable_cluster(tmp_path):
    remote, _ = published(tmp_path, "flux-mesh")
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "prod-us-2:unreachable")
    try:
        releases = sim.api("dev-1").list_namespaced_custom_object("helm.toolkit.fluxcd.io", "v2", "podinfo", "helmreleases")
        (release,) = releases["items"]
        ready = next(c for c in release["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True" and release["status"]["history"][0]["chartVersion"] == "6.7.0"  # helm-controller v2
        assert release["status"]["observedGeneration"] == release["metadata"]["generation"]
        api = sim.api("prod-us-2")
        api.api_client.configuration.retries = False
        with pytest.raises(Exception) as unreachable:
            api.list_namespaced_custom_object("helm.toolkit.fluxcd.io", "v2", "podinfo", "helmreleases",
                                              _request_timeout=3)
        assert not isinstance(unreachable.value, AssertionError)
    finally:
        sim.stop()


def test_bad_fault_spec_is_one_line_and_exit_2(tmp_path):
    result = subprocess.run([*ROLLOUT, "simulate", "--repo", str(tmp_path), "--fault", "x:melted"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("rollout: --fault 'x:melted': use")


def test_right_after_a_commit_the_old_health_is_still_shown_and_sigterm_stops_cleanly(tmp_path):
    """Argo CD issue #29410: just after the target changes, an Application is OutOfSync
    against the new revision while health and the last operation are the old ones. The
    simulator reproduces that window so the gates can be tested against it."""
    remote, work = published(tmp_path, "fleet-config")
    sim = Running(remote, tmp_path / "kubeconfig", "--sync-delay", "3s", "--health-delay", "1s")
    try:
        api = sim.api()
        assert subprocess.run([*ROLLOUT, "advance", "security-patch", "--wave", "1"], cwd=work, capture_output=True,
                              env={**os.environ, **GIT_ENV}).returncode == 0

        def stale():
            status = applications(api)["dev-eu-west-platform"]["status"]
            return status if status["sync"]["comparedTo"]["source"]["targetRevision"] == "v1.4.2" else None

        status = wait_for(stale)
        assert status["sync"]["status"] == "OutOfSync"
        assert status["health"]["status"] == "Healthy"  # left over from v1.4.1
        assert status["operationState"]["syncResult"]["source"]["targetRevision"] == "v1.4.1"
        phases = set()

        def healthy_at_new():
            s = applications(api)["dev-eu-west-platform"]["status"]
            phases.add((s["sync"]["status"], s["health"]["status"], s.get("operationState", {}).get("phase")))
            return s["sync"]["status"] == "Synced" and s["health"]["status"] == "Healthy"

        wait_for(healthy_at_new, timeout=30)
        assert ("OutOfSync", "Missing", "Running") in phases
    finally:
        assert sim.stop().strip().endswith("stopped")


def test_metrics_follow_error_faults_through_a_real_prometheus(tmp_path, prometheus):
    import urllib.parse

    remote, work = published(tmp_path, "fleet-config")
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-eu-west:errors=0.25@v1.4.2")
    try:
        url = sim.ready.split()[1]
        text = http_get(f"{url}/metrics")
        assert b'http_requests_total{cluster="dev-eu-west",code="200"}' in text
        assert subprocess.run([*ROLLOUT, "advance", "security-patch", "--wave", "1"], cwd=work, capture_output=True,
                              env={**os.environ, **GIT_ENV}).returncode == 0
        prom = prometheus(url.removeprefix("http://"))
        query = ('sum(rate(http_requests_total{{cluster="{c}",code=~"5.."}}[5s])) / '
                 'sum(rate(http_requests_total{{cluster="{c}"}}[5s]))')

        def ratio(cluster: str):
            answer = http_get(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": query.format(c=cluster)}))
            result = (answer or {}).get("data", {}).get("result", [])
            return float(result[0]["value"][1]) if result else None

        faulty = wait_for(lambda: (r := ratio("dev-eu-west")) is not None and r > 0.2 and r, timeout=40)
        assert 0.2 < faulty < 0.3
        assert ratio("dev-us-east") == 0.0  # same wave, no fault
    finally:
        sim.stop()


def test_scenario_file_gives_faults_and_delays_and_bad_ones_are_located(tmp_path):
    from rollout.simulator.faults import load_scenario

    good = tmp_path / "scenario.yaml"
    good.write_text("syncDelay: 3s\nfaults:\n  - prod-us-east:degraded@v1.4.2\n  - prod-eu-west:unreachable@30s-90s\n")
    settings, faults = load_scenario(good)
    assert settings == {"syncDelay": 3.0}
    assert [(f.cluster, f.kind, f.revision, f.window) for f in faults] == [
        ("prod-us-east", "degraded", "v1.4.2", None), ("prod-eu-west", "unreachable", None, (30.0, 90.0))]
    bad = tmp_path / "bad.yaml"
    bad.write_text("syncDelay: soon\nfaults:\n  - prod-us-east:melted\nspeed: 2\n")
    result = subprocess.run([*ROLLOUT, "simulate", "--repo", str(tmp_path), "--scenario", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"{bad}:1: syncDelay: 'soon' is not a duration")
    assert lines[1].startswith(f"{bad}:3: faults[0]: use CLUSTER:degraded@REV")
    assert lines[2] == f"{bad}:4: speed: unknown field"


def _simulate(*args: str, env=None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*ROLLOUT, "simulate", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **GIT_ENV, **(env or {})})


def test_a_remote_whose_head_names_a_missing_branch_is_followed_on_its_only_branch(tmp_path):
    """A plain `git init --bare` names master; the fleet pushed main."""
    source = tmp_path / "source"
    shutil.copytree(EXAMPLES / "fleet-config", source)
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "fleet")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch", "master", str(remote))
    git(source, "push", "-q", str(remote), "main")
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        assert "clusters=6" in sim.ready
    finally:
        sim.stop()
    git(source, "push", "-q", str(remote), "main:other")  # two branches, neither named by HEAD
    refused = _simulate("--repo", str(remote))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr and "internal error" not in refused.stderr
    assert refused.stderr.strip() == (f"rollout: --repo {remote}: its HEAD names no existing branch; "
                                      "pass --branch, one of main, other")
    git(source, "commit", "-q", "--allow-empty", "-m", "only on other")
    git(source, "push", "-q", str(remote), "main:other")
    on_other = Running(remote, tmp_path / "kubeconfig2", "--branch", "other")
    try:
        assert "clusters=6" in on_other.ready
    finally:
        on_other.stop()


def test_git_errors_are_one_line_whatever_git_printed(tmp_path):
    from rollout.simulator.server import git_failure

    missing = tmp_path / "nowhere.git"
    result = _simulate("--repo", str(missing))
    assert result.returncode == 2 and "internal error" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"rollout: --repo {missing}: git cannot read it (") and "nowhere.git" in line
    for stderr in (b"warning: x\nfatal: bad thing\nand more\n", "warning: x\nfatal: bad thing\nand more\n"):
        error = subprocess.CalledProcessError(128, ["git"], stderr=stderr)
        assert git_failure(error) == "fatal: bad thing"
    assert git_failure(subprocess.CalledProcessError(1, ["git"], stderr="just this\n")) == "just this"
    assert git_failure(subprocess.CalledProcessError(1, ["git"])).startswith("Command '['git']' returned")


def test_a_fault_or_scenario_on_an_unknown_cluster_is_an_error(tmp_path):
    remote, _ = published(tmp_path, "fleet-config")
    result = _simulate("--repo", str(remote), "--fault", "nosuch:degraded@v1.4.2")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("--fault 'nosuch:degraded@v1.4.2': no cluster 'nosuch' in the fleet (clusters: "
                                    "dev-eu-west, dev-us-east,")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("faults:\n  - prod-us-east:degraded@v1.4.2\n  - prod-us-eats:unreachable\n")
    result = _simulate("--repo", str(remote), "--scenario", str(scenario))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{scenario}:3: faults[1]: no cluster 'prod-us-eats' in the fleet")


def test_the_default_kubeconfig_lives_in_the_state_dir_not_the_repo(tmp_path):
    remote, work = published(tmp_path, "fleet-config")
    state = tmp_path / "state"
    proc = subprocess.Popen([*ROLLOUT, "simulate", "--repo", str(remote), "--poll", "0s"], cwd=work,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **GIT_ENV, "XDG_STATE_HOME": str(state)})
    try:
        ready = proc.stdout.readline()
        kubeconfig = Path(ready.split("kubeconfig=")[1].split()[0])
        assert kubeconfig.is_file() and kubeconfig.is_relative_to(state / "rollout" / "simulator")
        assert git(work, "status", "--porcelain") == ""
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert not kubeconfig.exists()  # removed when the simulator stops
