"""The Rancher Fleet gate: its verdict (pure, waves/gates/fleet.py `judge`) on fixtures
named by outcome, each a `kubectl get gitrepo,bundle,bundledeployment -o yaml` List shaped
as rancher/fleet's types, controllers and tests write them; Fleet's own state rule; the
configuration and `validate`'s refusals; the simulator's Fleet objects over their
timeline; end to end, examples/rancher-fleet rolled out through `rollout run` against
the simulator with the real kubernetes client and a bare remote, a degraded cluster
reverted, set-up errors exit 2 before any commit."""

from __future__ import annotations

import copy
import re

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import TypeAdapter, ValidationError

from conftest import examples
from tests.gate_fixtures import fixtures, load
from waves.gates import GateSpec
from waves.gates.fleet import (AtPin, deployment_state, deployments_for, judge, modified_string, non_ready_string)
from waves.gates.verdict import parse_time

FLEET = fixtures("fleet")


def parts(doc: dict, header: dict):
    """(GitRepo or None, Bundles, the cluster's BundleDeployments, AtPin) of a fixture."""
    items = doc["items"]
    gitrepo = next((i for i in items if i["kind"] == "GitRepo"), None)
    bundles = [i for i in items if i["kind"] == "Bundle"]
    name, namespace = gitrepo["metadata"]["name"], gitrepo["metadata"]["namespace"]
    deployments = deployments_for([i for i in items if i["kind"] == "BundleDeployment"], name, namespace,
                                  header["cluster"])
    at = header["at"]
    at_pin = AtPin(commits=frozenset(at.split()[1].split(","))) if at.startswith("commits") else AtPin(field=at)
    return gitrepo, bundles, deployments, at_pin


def verdict_of(path):
    header, doc = load(path)
    gitrepo, bundles, deployments, at_pin = parts(doc, header)
    advanced = parse_time(header.get("advanced"))
    return header, judge(gitrepo, deployments, header["pin"], header["now"], 30.0, at_pin, bundles, advanced,
                         header["cluster"])


def test_there_are_enough_fixtures_and_each_names_its_upstream():
    assert len(FLEET) >= 20
    for path in FLEET:
        header, _ = load(path)
        assert header["upstream"] and all(line.split()[0].count("/") == 1 for line in header["upstream"]), path.name
        assert path.stem.endswith(header["expect"]), f"{path.name}: file name and header disagree"
    assert {load(p)[0]["expect"] for p in FLEET} == {"passed", "pending", "failed", "unknown"}


@pytest.mark.parametrize("path", FLEET, ids=lambda p: p.stem)
def test_verdict(path):
    header, verdict = verdict_of(path)
    assert verdict.state == header["expect"], f"{verdict.reason} ({header['why']})"


def reason(name: str) -> str:
    return verdict_of(next(p for p in FLEET if p.stem == name))[1].reason


def test_the_reasons_say_what_fleet_says():
    assert reason("bundledeployment-not-ready-error-failed") == (
        'BundleDeployment guestbook-prod-1-deploy: NotReady: deployment.apps guestbook/guestbook error] ReplicaSet '
        '"guestbook-7c9d8f6b5" has timed out progressing.')
    assert reason("bundledeployment-not-ready-progressing-pending") == (
        "BundleDeployment guestbook-prod-1-deploy: NotReady: deployment.apps guestbook/guestbook [progressing] "
        "Deployment does not have minimum availability.")
    assert reason("bundledeployment-err-applied-failed").startswith(
        "BundleDeployment guestbook-prod-1-deploy: ErrApplied: failed to upgrade release: cannot patch")
    assert reason("bundledeployment-err-applied-settling-pending").endswith(", for 20s (settling)")
    assert reason("gitrepo-previous-revision-ready-pending") == (
        "GitRepo guestbook-prod-1 has spec.revision v1.4.1 on the Fleet manager, not v1.4.2 yet")
    assert reason("gitrepo-git-job-failed-failed").startswith(
        "GitRepo guestbook-prod-1: the git job of commit 3f1c0e9a8b7d failed: failed to process bundle")
    assert reason("no-bundledeployment-for-the-cluster-unknown").startswith(
        "no BundleDeployment of GitRepo guestbook-prod-1 for cluster prod-1")
    assert reason("gitrepo-revision-ready-passed") == "GitRepo guestbook-prod-1 at 3f1c0e9a8b7d: 1 BundleDeployment Ready (v1.4.2)"
    assert reason("gitrepo-branch-commit-before-advance-pending") == (
        "GitRepo guestbook is at commit 9b8a7c6d5e4f, not yet the 192.168.64.129:5000/my-custom-app:v2 advance or later")
    assert reason("bundledeployment-previous-commit-ready-pending") == (
        "BundleDeployment guestbook-prod-1-deploy is of commit 9b8a7c6d5e4f, not yet 3f1c0e9a8b7d")
    header, doc = load(next(p for p in FLEET if p.stem == "gitrepo-branch-commit-after-advance-passed"))
    gitrepo, bundles, deployments, at_pin = parts(doc, header)
    later = AtPin(field=None, commits=frozenset({"c0ffee1234567890abcdef1234567890abcdef12", gitrepo["status"]["commit"]}))
    bundles[0]["metadata"]["labels"]["fleet.cattle.io/commit"] = "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
    assert judge(gitrepo, deployments, header["pin"], header["now"], 30.0, later, bundles).reason == (
        "Bundle guestbook-multi-cluster-helm is of commit 9b8a7c6d5e4f, not yet the advance or later")


def test_fleet_s_own_strings_for_resources_as_its_integration_test_expects_them():
    """rancher/fleet integrationtests/agent/bundle_deployment_status_test.go: the Ready
    condition's messages for a modified, an extra and a missing Service."""
    svc = {"kind": "Service", "apiVersion": "v1", "namespace": "fleet-integration-tests", "name": "svc-test"}
    assert modified_string({**svc, "patch": '{"spec":{}}'}) == 'service.v1 fleet-integration-tests/svc-test modified {"spec":{}}'
    assert modified_string({**svc, "name": "svc-finalizer", "delete": True}) == \
        "service.v1 fleet-integration-tests/svc-finalizer extra"
    assert modified_string({**svc, "missing": True}) == "service.v1 fleet-integration-tests/svc-test missing"
    assert non_ready_string({"kind": "Deployment", "apiVersion": "apps/v1", "namespace": "a", "name": "b",
                             "summary": {"state": "in-progress", "transitioning": True, "error": True,
                                         "message": ["x", "y"]}}) == "deployment.apps a/b [progressing,error] x, y"
    assert non_ready_string({"kind": "ConfigMap", "name": "c", "summary": {"state": "active"}}) == "configmap c active"


def test_the_stale_ready_of_the_previous_revision_never_passes_but_is_ready_for_that_revision():
    header, doc = load(next(p for p in FLEET if "previous-revision" in p.name))
    gitrepo, bundles, deployments, at_pin = parts(doc, header)
    assert judge(gitrepo, deployments, "v1.4.2", header["now"], 30.0, at_pin, bundles).state == "pending"
    assert judge(gitrepo, deployments, "v1.4.1", header["now"], 30.0, at_pin, bundles).state == "passed"


def test_a_failure_settles_from_the_wave_s_advance_at_the_earliest():
    header, doc = load(next(p for p in FLEET if p.stem == "bundledeployment-not-ready-error-failed"))
    gitrepo, bundles, deployments, at_pin = parts(doc, header)
    now = header["now"]
    assert judge(gitrepo, deployments, "v1.4.2", now, 30.0, at_pin, bundles, advanced_at=now - 10).state == "pending"
    assert judge(gitrepo, deployments, "v1.4.2", now, 30.0, at_pin, bundles, advanced_at=now - 40).state == "failed"


def test_a_missing_gitrepo_is_unknown_and_a_pin_that_is_a_sha_must_be_the_commit_fleet_resolved():
    header, doc = load(next(p for p in FLEET if p.stem == "gitrepo-revision-ready-passed"))
    gitrepo, bundles, deployments, at_pin = parts(doc, header)
    assert judge(None, deployments, "v1.4.2", header["now"]).state == "unknown"
    sha = gitrepo["status"]["commit"]
    gitrepo = copy.deepcopy(gitrepo)
    gitrepo["spec"]["revision"] = sha[:10]
    assert judge(gitrepo, deployments, sha[:10], header["now"], 30.0, at_pin, bundles).state == "passed"
    gitrepo["spec"]["revision"] = "0123456789"
    assert judge(gitrepo, deployments, "0123456789", header["now"], 30.0, at_pin, bundles).state == "pending"


def test_deployments_are_found_by_fleet_s_labels_only():
    header, doc = load(next(p for p in FLEET if p.stem == "gitrepo-revision-ready-passed"))
    bd = next(i for i in doc["items"] if i["kind"] == "BundleDeployment")
    assert deployments_for([bd], "guestbook-prod-1", "fleet-default", "prod-1") == [bd]
    for label, value in (("fleet.cattle.io/repo-name", "other"), ("fleet.cattle.io/bundle-namespace", "fleet-local"),
                         ("fleet.cattle.io/cluster", "prod-10"), ("fleet.cattle.io/cluster-namespace", "fleet-local")):
        other = copy.deepcopy(bd)
        other["metadata"]["labels"][label] = value
        assert deployments_for([other], "guestbook-prod-1", "fleet-default", "prod-1") == [], label


def test_a_cluster_of_another_workspace_is_found_by_its_workspace_and_named_when_the_gate_looks_in_its_own():
    """A BundleNamespaceMapping (rancher/fleet internal/cmd/controller/target/mapping.go)
    deploys fleet-default's bundles to clusters of fleet-prod: their BundleDeployments carry
    bundle-namespace fleet-default and cluster-namespace fleet-prod. A cluster's name is
    unique in its workspace only: prod-1 of fleet-prod is not prod-1 of fleet-default."""
    from waves.gates.fleet import deployments_by_cluster, mapped_elsewhere, workspaces_of

    header, doc = load(next(p for p in FLEET if p.stem == "gitrepo-revision-ready-passed"))
    bd = next(i for i in doc["items"] if i["kind"] == "BundleDeployment")
    mapped = copy.deepcopy(bd)
    mapped["metadata"]["labels"]["fleet.cattle.io/cluster-namespace"] = "fleet-prod"
    assert deployments_for([mapped], "guestbook-prod-1", "fleet-default", "prod-1") == []
    assert deployments_for([mapped], "guestbook-prod-1", "fleet-default", "prod-1", "fleet-prod") == [mapped]
    assert deployments_for([bd, mapped], "guestbook-prod-1", "fleet-default", "prod-1") == [bd]
    found = workspaces_of(deployments_by_cluster([mapped], "guestbook-prod-1", "fleet-default"))
    assert mapped_elsewhere(found, "fleet-default", "prod-1") == (
        "; the GitRepo has BundleDeployments for a cluster prod-1 of workspace fleet-prod (a "
        "BundleNamespaceMapping?): set the fleet gate's clusterNamespace")
    assert mapped_elsewhere(found, "fleet-prod", "prod-1") == "" == mapped_elsewhere(found, "fleet-default", "prod-2")


def test_without_cluster_namespace_a_cluster_is_looked_for_in_the_workspace_its_fleet_cluster_was_listed_in():
    """A fleetClusters source lists one workspace's Fleet Clusters: a cluster it listed in
    fleet-prod is fleet-prod's, not the GitRepo workspace's cluster of the same name
    (two workspaces may each have a prod-1). A file inventory, or two workspaces merged
    under one name, says nothing: the GitRepo's workspace, as before."""
    from types import SimpleNamespace

    from rollout.observers import Context
    from rollout.observers.fleet import _where
    from waves.gates.fleet import FleetGateConfig, listed_workspace
    from waves.inventory import Cluster, hub_namespaces, hub_origin

    prod = hub_origin("fleetClusters", "arn:aws:eks:eu-west-1:1:cluster/manager", "fleet-prod")  # a context with a /
    assert prod == "hub:fleetClusters@arn:aws:eks:eu-west-1:1:cluster/manager/fleet-prod"
    assert hub_namespaces((prod, "clusters.yaml"), "fleetClusters") == {"fleet-prod"}
    assert listed_workspace((prod,)) == "fleet-prod"
    assert listed_workspace(("clusters.yaml",)) is None
    assert listed_workspace((prod, hub_origin("fleetClusters", "manager", "fleet-default"))) is None
    assert listed_workspace((hub_origin("clusterProfiles", "hub", "fleet-prod"),)) is None

    targets = [Cluster("prod-1", {}, sources=(prod,)), Cluster("prod-2", {}, sources=("clusters.yaml",))]
    ws = SimpleNamespace(plan=SimpleNamespace(targets=targets), loaded=SimpleNamespace(policy=None), inspection=None)
    ctx = Context(ws, kube=None, now=0.0, labels={"prod-1": {}, "prod-2": {}})
    where = _where(ctx, FleetGateConfig(gitRepo="guestbook"), ["prod-1", "prod-2"])
    assert (where["prod-1"].cluster_namespace, where["prod-2"].cluster_namespace) == ("fleet-prod", None)
    named = _where(ctx, FleetGateConfig(gitRepo="guestbook", clusterNamespace="fleet-edge"), ["prod-1"])
    assert named["prod-1"].cluster_namespace == "fleet-edge"  # the gate's word wins


# --- Fleet's state rule, and what a pass rests on ---------------------------------------------

IDS = ("a", "b", "")
_bd = st.fixed_dictionaries({
    "metadata": st.fixed_dictionaries({"name": st.just("app"), "labels": st.fixed_dictionaries({
        "fleet.cattle.io/commit": st.sampled_from(["new", "old"])})}),
    "spec": st.fixed_dictionaries({"deploymentID": st.sampled_from(IDS), "stagedDeploymentID": st.sampled_from(IDS)}),
    "status": st.fixed_dictionaries({
        "appliedDeploymentID": st.sampled_from(IDS), "ready": st.booleans(), "nonModified": st.booleans(),
        "conditions": st.lists(st.fixed_dictionaries({"type": st.sampled_from(["Deployed", "Ready", "Monitored"]),
                                                      "status": st.sampled_from(["True", "False", "Unknown"])}),
                               max_size=3),
        "nonReadyStatus": st.lists(st.fixed_dictionaries({"kind": st.just("Deployment"), "name": st.just("web"),
                                                          "summary": st.fixed_dictionaries({"error": st.booleans()})}),
                                   max_size=2)}),
})
GITREPO = {"metadata": {"name": "app", "generation": 1},
           "spec": {"revision": "v1"}, "status": {"observedGeneration": 1, "commit": "new", "conditions": []}}


@settings(max_examples=examples(100))
@given(st.lists(_bd, max_size=3))
def test_a_pass_is_every_deployment_of_the_commit_applied_ready_unmodified_and_monitored(deployments):
    verdict = judge(GITREPO, deployments, "v1", now=1e9, settle=0)
    if verdict.state == "passed":
        assert deployments
        for bd in deployments:
            assert bd["metadata"]["labels"]["fleet.cattle.io/commit"] == "new"
            assert deployment_state(bd) == "Ready"
            assert bd["status"]["appliedDeploymentID"] == bd["spec"]["deploymentID"] == bd["spec"]["stagedDeploymentID"]
            assert bd["status"]["ready"] and bd["status"]["nonModified"]
            assert not any(c["type"] == "Monitored" and c["status"] == "False" for c in bd["status"]["conditions"])
    if verdict.state == "failed":  # only ErrApplied or a resource in error, of the commit
        assert any(bd["metadata"]["labels"]["fleet.cattle.io/commit"] == "new" and deployment_state(bd) in
                   ("ErrApplied", "NotReady") for bd in deployments)
    assert verdict.state != "unknown" or not deployments


@pytest.mark.parametrize("applied, deployed, ready, staged, modified, expected", [
    ("b", "False", True, "a", False, "ErrApplied"),
    ("b", "True", True, "a", True, "WaitApplied"),
    ("", None, True, "a", False, "WaitApplied"),
    ("a", "False", False, "a", True, "NotReady"),  # applied: Deployed no longer decides
    ("a", None, True, "b", True, "OutOfSync"),
    ("a", None, True, "a", True, "Modified"),
    ("a", None, True, "a", False, "Ready"),
])
def test_fleet_s_deployment_state(applied, deployed, ready, staged, modified, expected):
    """internal/cmd/controller/summary GetDeploymentState's order: applied ID first (with
    Deployed=False for ErrApplied), then ready, then the staged ID, then modified."""
    conditions = [{"type": "Deployed", "status": deployed}] if deployed else []
    bd = {"spec": {"deploymentID": "a", "stagedDeploymentID": staged},
          "status": {"appliedDeploymentID": applied, "ready": ready, "nonModified": not modified,
                     "conditions": conditions}}
    assert deployment_state(bd) == expected


# --- the simulator's Fleet, judged over its timeline ----------------------------------------------

GITREPO_DOC = {"metadata": {"name": "guestbook-prod-1", "namespace": "fleet-default"},
               "spec": {"repo": "https://github.com/example-org/rancher-fleet", "revision": "v1.4.1",
                        "paths": ["guestbook"], "targets": [{"clusterName": "prod-1"}]}}


def simulated(follows: str, value: str, previous: str, faults=()):
    """The simulator's GitRepo, Bundle and BundleDeployment for prod-1 after `previous`
    became `value` at t=100 (the repo's commit `new`, before it `old`); a function of the
    time giving (gitrepo, bundles, deployments) as the API serves them."""
    from rollout.simulator.rancher import objects, render
    from rollout.simulator.status import Timing

    timing = Timing(10.0, 10.0, 0.5)
    served = objects(GITREPO_DOC, "prod-1", "prod-1", value, follows, "new", 100.0)
    for obj in served:
        obj.previous = previous if follows == "revision" or obj.kind == "BundleDeployment" else "old"
        obj.previous_commit = {"revision": None, "branch": "old"}[follows]
        if follows == "revision":
            from rollout.simulator.rancher import resolved

            obj.previous_commit = resolved(GITREPO_DOC["spec"]["repo"], previous)
        obj.generation = 2

    def at(now: float):
        shown = {}
        for obj in served:
            spec, generation, status, labels = render(obj, now, timing, list(faults), False)
            shown[obj.kind] = {"metadata": {"name": obj.name, "namespace": obj.namespace, "generation": generation,
                                            "labels": labels}, "spec": spec, "status": status}
        return shown["GitRepo"], [shown["Bundle"]], [shown["BundleDeployment"]]
    return at


@pytest.mark.parametrize("follows", ["revision", "branch"])
def test_the_simulated_fleet_never_passes_before_the_agent_deployed_the_pin(follows):
    value = "v1.4.2" if follows == "revision" else "ghcr.io/example-org/guestbook:v1.4.2"
    at = simulated(follows, value, "v1.4.1" if follows == "revision" else "ghcr.io/example-org/guestbook:v1.4.1")
    at_pin = AtPin(field="revision") if follows == "revision" else AtPin(field=None, commits=frozenset({"new"}))
    states = []
    for now in range(100, 160, 2):
        gitrepo, bundles, deployments = at(float(now))
        states.append(judge(gitrepo, deployments, value, float(now), 5.0, at_pin, bundles).state)
    first = states.index("passed")
    assert set(states[:first]) == {"pending"} and set(states[first:]) == {"passed"}
    assert 100 + 2 * first >= 100 + 30  # 2 x sync + health (10 s each), jitter at least 1


def test_the_simulated_degraded_fault_fails_once_settled_and_sync_failed_is_err_applied():
    from rollout.simulator.status import Fault

    for kind, words in (("degraded", "NotReady: deployment.apps"), ("sync-failed", "ErrApplied: failed to upgrade")):
        at = simulated("revision", "v1.4.2", "v1.4.1", [Fault("prod-1", kind, "v1.4.2")])
        states = {}
        for now in range(100, 200, 2):
            gitrepo, bundles, deployments = at(float(now))
            verdict = judge(gitrepo, deployments, "v1.4.2", float(now), 5.0, AtPin(), bundles)
            states.setdefault(verdict.state, (now, verdict.reason))
        assert "passed" not in states and "failed" in states, (kind, states)
        assert words in states["failed"][1]
        assert states["pending"][0] < states["failed"][0]


# --- its configuration --------------------------------------------------------------------------

GATE = TypeAdapter(GateSpec)


def test_the_gate_s_options_are_checked_when_the_policy_is_read():
    gate = GATE.validate_python({"fleet": {"context": "fleet-manager", "gitRepo": "guestbook-{cluster}",
                                           "cluster": "{labels.fleetName}", "settle": "1m"}})
    assert (gate.fleet.namespace, gate.fleet.settle, gate.fleet.gitRepo) == ("fleet-default", 60, "guestbook-{cluster}")
    for bad, words in [({"gitRepo": "{name}"}, "unknown placeholder {name}"), ({"settle": "soon"}, "not a duration"),
                       ({"bundle": "x"}, "Extra inputs")]:
        with pytest.raises(ValidationError, match=re.escape(words)):
            GATE.validate_python({"fleet": bad})


def test_validate_refuses_a_fleet_gate_that_cannot_know_its_gitrepo(tmp_path):
    """No fleet-gitrepo pin and no gitRepo: no cluster could ever be judged."""
    import shutil

    from typer.testing import CliRunner

    from rollout.cli import app
    from test_simulator import EXAMPLES

    shutil.copytree(EXAMPLES / "fleet-config", tmp_path / "fleet")
    policy = tmp_path / "fleet/rollouts/security-patch.yaml"
    original = policy.read_text()
    argocd = "    - argocd: {context: hub, namespace: argocd}\n"
    line = original.splitlines().index(argocd.rstrip("\n")) + 1
    policy.write_text(original.replace(argocd, "    - fleet: {context: hub}\n"))
    result = CliRunner().invoke(app, ["validate", "security-patch", "--repo", str(tmp_path / "fleet")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{policy}:{line}: spec.gates[0].fleet.gitRepo: a fleet gate needs gitRepo"), \
        result.stderr
    policy.write_text(original.replace(argocd, "    - fleet: {context: hub, gitRepo: platform}\n"))
    assert CliRunner().invoke(app, ["validate", "security-patch", "--repo", str(tmp_path / "fleet")]).exit_code == 0


# --- end to end ---------------------------------------------------------------------------------

pytest.importorskip("kubernetes")
from test_run import subjects  # noqa: E402
from test_simulator import GIT_ENV, Running, git, published  # noqa: E402


def run_guestbook(work, kubeconfig, *args: str):
    import os
    import subprocess

    from conftest import ROLLOUT

    return subprocess.run([*ROLLOUT, "run", "guestbook", "--kubeconfig", str(kubeconfig), *args], cwd=work,
                          capture_output=True, text=True, timeout=180, env={**os.environ, **GIT_ENV})


def test_examples_rancher_fleet_rolls_out_wave_by_wave_and_a_degraded_cluster_is_reverted(tmp_path):
    import json

    def quick(text: str) -> str:
        text = re.sub(r"bake: \S+", "bake: 0s", text)
        return text.replace("namespace: fleet-default}", "namespace: fleet-default, settle: 1s}")

    remote, work = published(tmp_path, "rancher-fleet", quick)
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "prod-2:degraded@v1.4.2")
    try:
        config = json.loads(sim.kubeconfig.read_text())
        missing = tmp_path / "missing.json"
        missing.write_text(json.dumps({**config, "contexts": [c for c in config["contexts"]
                                                              if c["name"] != "fleet-manager"]}))
        refused = run_guestbook(work, missing)
        assert refused.returncode == 2 and "gate fleet: context 'fleet-manager' is not in the kubeconfig" in \
            refused.stderr, refused.stdout + refused.stderr
        wrong = tmp_path / "wrong.json"
        wrong.write_text(json.dumps({**config, "users": [{"name": "simulator", "user": {"token": "expired"}}]}))
        denied = run_guestbook(work, wrong)
        assert denied.returncode == 2, denied.stdout + denied.stderr
        assert "gate fleet: the fleet-manager context: the API server refused our credentials" in denied.stderr
        assert subjects(remote) == [] and "Traceback" not in refused.stderr + denied.stderr

        result = run_guestbook(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "2m")
        assert result.returncode == 1, result.stdout + result.stderr
        done = [s.split(": ", 1)[1] for s in subjects(remote)]
        assert [s for s in done if "passed its gates" in s] == [
            f"wave {n} passed its gates (v1.4.2)" for n in ("1 dev", "2 staging", "3 production/1")]
        assert done[-1] == "revert wave 4 production/2 (v1.4.2)"
        record = git(remote, "log", "-1", "--format=%B", "--grep=wave 1 dev passed", "main")
        assert "fleet: 1 of 1 clusters passed" in record
        assert re.search(r"dev-1: passed: GitRepo guestbook-dev-1 at [0-9a-f]{12}: 1 BundleDeployment Ready \(v1.4.2\)",
                         record), record
        body = git(remote, "log", "-1", "--format=%B", "main")
        assert "prod-2: fleet: BundleDeployment guestbook-prod-2-guestbook: NotReady: deployment.apps " \
               'guestbook/guestbook error] ReplicaSet "guestbook-7c9d8f6b5" has timed out progressing.' in body, body
        git(work, "pull", "-q")
        assert "revision: v1.4.2" in (work / "gitrepos/prod-1.yaml").read_text()
        assert "revision: v1.4.1" in (work / "gitrepos/prod-2.yaml").read_text()  # reverted
    finally:
        sim.stop()


def test_the_gate_judges_clusters_of_another_workspace_through_the_kubernetes_client(tmp_path):
    """The rancher-fleet example with its clusters in fleet-prod (the simulated Fleet puts
    their BundleDeployments there, as a BundleNamespaceMapping would): `gate` passes wave 1
    once its GitRepo and BundleDeployment are at the pin."""
    import json
    import os
    import subprocess
    import time

    from conftest import ROLLOUT
    from test_simulator import wait_for

    def mapped(text: str) -> str:
        return text.replace("namespace: fleet-default}", "namespace: fleet-default, clusterNamespace: fleet-prod}")

    remote, work = published(tmp_path, "rancher-fleet", mapped)
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        advance = subprocess.run([*ROLLOUT, "advance", "guestbook", "--wave", "1"], cwd=work, capture_output=True,
                                 text=True, env={**os.environ, **GIT_ENV})
        assert advance.returncode == 0, advance.stderr
        later = str(int(time.time()) + 16 * 60)  # the 15m bake elapsed

        def gate():
            result = subprocess.run([*ROLLOUT, "gate", "guestbook", "--wave", "1", "--kubeconfig", str(sim.kubeconfig),
                                     "-f", "json"], cwd=work, capture_output=True, text=True,
                                    env={**os.environ, **GIT_ENV, "ROLLOUT_NOW": later})
            return json.loads(result.stdout)

        verdict = wait_for(lambda: (v := gate())["state"] == "passed" and v, timeout=30)
        (check,) = verdict["checks"]
        assert check["cluster"] == "dev-1" and "1 BundleDeployment Ready (v1.4.2)" in check["reason"], check
    finally:
        sim.stop()
