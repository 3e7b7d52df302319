"""The kstatus gate: its verdict (pure, waves/gates/kstatus.py `judge`), its configuration
and `validate`'s refusals, and end to end through `rollout run` against the simulator's
workloads with the real kubernetes client and a bare remote: a rollout to complete with
a degraded Deployment reverted, set-up errors exit 2 before any commit, an empty
selection unknown and halted at the deadline, never reverted; `rollout health` on the
live objects."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import TypeAdapter, ValidationError

from conftest import ROLLOUT, examples
from waves.gates import GateSpec
from waves.gates.kstatus import compute, judge

NOW = 1_750_000_000.0
PIN = "v1.4.2"
IMAGE_PATH = "spec.template.spec.containers[name=web].image"


def deployment(image: str = f"ghcr.io/example-org/web:{PIN}", generation: int = 2, observed: int | None = 2,
               updated: int = 2, failing_since: float | None = None, conditions: bool = True) -> dict:
    status: dict = {"replicas": 2, "updatedReplicas": updated, "readyReplicas": 2, "availableReplicas": 2}
    if observed is not None:
        status["observedGeneration"] = observed
    if conditions:
        progressing = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
        if failing_since is not None:
            progressing = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                           "message": 'ReplicaSet "web-1" has timed out progressing.',
                           "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(failing_since))}
        status["conditions"] = [{"type": "Available", "status": "True"}, progressing]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "generation": generation},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}},
            "status": status}


def bare_statefulset() -> dict:
    """Current by kstatus's rules, with nothing a controller wrote to rest on (no
    observedGeneration, no conditions)."""
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "generation": 1},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": f"db:{PIN}"}]}}},
            "status": {"replicas": 2, "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 2}}


def verdict(objects, revision_from=IMAGE_PATH, settle=30.0, advanced_at=None):
    return judge(objects, PIN, revision_from, NOW, settle, advanced_at)


# --- the verdict -------------------------------------------------------------------------------


def test_current_at_the_pin_with_evidence_passes():
    result = verdict([deployment()])
    assert (result.state, result.reason) == ("passed", f"1 objects Current at {PIN}")


def test_an_object_not_yet_at_the_pin_is_pending_even_when_current():
    old = deployment(image="ghcr.io/example-org/web:v1.4.1")
    assert compute(old, NOW).status == "Current"
    result = verdict([old])
    assert result.state == "pending" and "not yet v1.4.2" in result.reason and "web:v1.4.1" in result.reason


def test_failed_at_the_pin_fails_only_after_settle_counted_from_the_advance_at_the_earliest():
    just = verdict([deployment(failing_since=NOW - 5)])
    assert just.state == "pending" and "(settling)" in just.reason and "ProgressDeadlineExceeded" in just.reason
    settled = verdict([deployment(failing_since=NOW - 31)])
    assert settled.state == "failed" and "Failed (ProgressDeadlineExceeded)" in settled.reason
    # a condition older than the wave's advance: the settle time starts at the advance
    assert verdict([deployment(failing_since=NOW - 600)], advanced_at=NOW - 10).state == "pending"
    assert verdict([deployment(failing_since=NOW - 600)], advanced_at=NOW - 40).state == "failed"


def test_failed_on_the_old_revision_is_not_evidence_against_the_pin():
    old = deployment(image="ghcr.io/example-org/web:v1.4.1", failing_since=NOW - 600)
    assert verdict([old]).state == "pending"


def test_nothing_to_judge_is_unknown_never_passed():
    assert verdict([]).state == "unknown"
    bare = bare_statefulset()
    assert compute(bare, NOW).status == "Current"  # kstatus's own verdict
    assert verdict([bare]).state == "unknown" and "no evidence" in verdict([bare]).reason
    nowhere = verdict([deployment()], revision_from="spec.template.spec.containers[name=api].image")
    assert nowhere.state == "unknown" and "reaches nothing" in nowhere.reason


def test_without_revision_from_kstatus_alone_decides():
    assert verdict([deployment(image="anything:else")], revision_from=None).state == "passed"
    assert verdict([deployment(generation=3)], revision_from=None).state == "pending"


def test_failed_outranks_pending_which_outranks_unknown():
    failing, behind, bare = deployment(failing_since=NOW - 60), deployment(generation=3), bare_statefulset()
    assert verdict([bare, behind, failing]).state == "failed"
    assert verdict([bare, behind]).state == "pending"
    result = verdict([bare, deployment()])
    assert result.state == "unknown"


_objects = st.builds(deployment, image=st.sampled_from([f"web:{PIN}", "web:v1.4.1", f"web:{PIN}0"]),
                     generation=st.integers(1, 3), observed=st.one_of(st.none(), st.integers(1, 3)),
                     updated=st.integers(0, 2), failing_since=st.one_of(st.none(), st.floats(NOW - 100, NOW)),
                     conditions=st.booleans())


@settings(max_examples=examples(100))
@given(st.lists(st.one_of(_objects, st.just(bare_statefulset())), max_size=4), st.booleans())
def test_a_pass_is_every_object_current_at_the_pin_with_evidence(objects, with_path):
    result = verdict(objects, revision_from=IMAGE_PATH if with_path else None)
    if result.state == "passed":
        assert objects
        for obj in objects:
            assert compute(obj, NOW).status == "Current"
            assert "observedGeneration" in obj["status"] or obj["status"].get("conditions")  # evidence
            if with_path:
                assert obj["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{PIN}")
    if result.state == "failed":
        assert any(compute(o, NOW).status == "Failed" for o in objects)


# --- its configuration ------------------------------------------------------------------------------

GATE = TypeAdapter(GateSpec)


def test_the_gate_s_options_are_checked_when_the_policy_is_read():
    gate = GATE.validate_python({"kstatus": {"context": "{cluster}", "namespace": "shop", "selector": "app=web",
                                             "kinds": ["deploy", "statefulsets.v1.apps"], "revisionFrom": IMAGE_PATH,
                                             "settle": "45s"}})
    assert gate.kstatus.settle == 45 and [str(k) for k in gate.kstatus.resolved_kinds()] == ["Deployment", "StatefulSet"]
    for bad, words in [({"kinds": ["ConfigMap"]}, "without reading any status"),
                       ({"kinds": ["Application"]}, "use the argocd gate"),
                       ({"kinds": ["Deploymnet"]}, "unknown kind"),
                       ({"kinds": []}, "at least 1"),
                       ({"selector": "app in (web"}, "selector"),
                       ({"selector": "app={labels.tier}", "namespace": "{cluster.name}"}, "unknown placeholder"),
                       ({"revisionFrom": "spec.containers[name=web]"}, "must end at a scalar"),
                       ({"surprise": 1}, "Extra inputs")]:
        with pytest.raises(ValidationError, match=re.escape(words)):
            GATE.validate_python({"kstatus": bad})


# --- end to end ---------------------------------------------------------------------------------

pytest.importorskip("kubernetes")
from test_run import run, subjects  # noqa: E402
from test_simulator import EXAMPLES, Running, git  # noqa: E402

WORKLOAD = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ghcr.io/example-org/web:v1.4.1
"""
GATE_YAML = """    - kstatus:
        context: "{cluster}"
        namespace: shop
        selector: %s
        kinds: [Deployment]
        revisionFrom: spec.template.spec.containers[name=web].image
        settle: 1s
"""


def workload_fleet(tmp: Path, selector: str = "app=web") -> tuple[Path, Path]:
    """examples/fleet-config with each cluster's Deployment `web` pinned by kubernetes-image
    and judged by a kstatus gate; no bakes; a bare remote and a clone to run in."""
    source = tmp / "source"
    shutil.copytree(EXAMPLES / "fleet-config", source)
    for cluster in (source / "clusters").iterdir():
        (cluster / "web.yaml").write_text(WORKLOAD)
    policy = source / "rollouts/security-patch.yaml"
    text = re.sub(r"bake: \S+", "bake: 0s", policy.read_text())
    text = text.replace("    - preset: argocd-application   # spec.source.targetRevision of each cluster's Application\n"
                        "      files: argocd/apps/{cluster}-platform.yaml\n",
                        "    - preset: kubernetes-image\n      files: clusters/{cluster}/web.yaml\n      container: web\n")
    policy.write_text(text.replace("    - argocd: {context: hub, namespace: argocd}\n", GATE_YAML % selector))
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "fleet-config, workloads judged by kstatus")
    remote = tmp / "remote.git"
    git(tmp, "clone", "-q", "--bare", str(source), str(remote))
    git(tmp, "clone", "-q", str(remote), str(tmp / "work"))
    return remote, tmp / "work"


def test_a_rollout_judged_by_kstatus_completes_its_waves_and_reverts_a_degraded_deployment(tmp_path):
    remote, work = workload_fleet(tmp_path)
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "prod-us-east:degraded@ghcr.io/example-org/web:v1.4.2")
    try:
        result = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "2m")
        assert result.returncode == 1, result.stdout + result.stderr
        done = [s.split(": ", 1)[1] for s in subjects(remote)]
        assert [s for s in done if "passed its gates" in s] == [
            f"wave {n} passed its gates ({PIN})" for n in ("1 canary", "2 region-eu-west", "3 region-us-east",
                                                             "4 production/1")]
        assert done[-1] == f"revert wave 5 production/2 ({PIN})"
        record = git(remote, "log", "-1", "--format=%B", "--grep=wave 1 canary passed", "main")
        assert "kstatus: 2 of 2 clusters passed" in record
        assert f"dev-eu-west: passed: 1 Deployment in shop matching app=web Current at {PIN}" in record
        body = git(remote, "log", "-1", "--format=%B", "main")
        assert re.search(r"prod-us-east: kstatus: Deployment/web: Failed \(ProgressDeadlineExceeded\): Progress deadline "
                         r"exceeded: ReplicaSet \"web-\w+\" has timed out progressing", body), body
        live = subprocess.run([*ROLLOUT, "health", "--kubeconfig", str(sim.kubeconfig), "--context", "prod-us-east",
                               "--kind", "deploy", "-n", "shop", "-l", "app=web", "-o", "json"],
                              capture_output=True, text=True, cwd=work)
        [entry] = json.loads(live.stdout)  # reverted in Git: the simulated cluster rolls back to v1.4.1
        assert (entry["kind"], entry["namespace"], entry["name"]) == ("Deployment", "shop", "web")
        assert entry["status"] in ("Current", "InProgress", "Failed") and entry["evidence"]
    finally:
        sim.stop()


def test_set_up_errors_exit_2_before_any_commit_and_an_empty_selection_halts_at_the_deadline_unreverted(tmp_path):
    remote, work = workload_fleet(tmp_path, selector="app=wbe")  # a typo: nothing matches
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        config = json.loads(sim.kubeconfig.read_text())
        missing = tmp_path / "missing.json"
        missing.write_text(json.dumps({**config, "contexts": [c for c in config["contexts"] if c["name"] != "dev-us-east"]}))
        result = run(work, missing)
        assert result.returncode == 2 and "gate kstatus: context 'dev-us-east' is not in the kubeconfig" in result.stderr
        wrong = tmp_path / "wrong.json"
        wrong.write_text(json.dumps({**config, "users": [{"name": "simulator", "user": {"token": "expired"}}]}))
        refused = run(work, wrong)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "gate kstatus: the dev-eu-west context: the API server refused our credentials" in refused.stderr
        assert "Traceback" not in result.stderr + refused.stderr and subjects(remote) == []

        assert run(work, sim.kubeconfig).returncode == 0  # wave 1 goes: the selector cannot be known wrong before
        waiting = run(work, sim.kubeconfig)
        assert waiting.returncode == 0 and "no Deployment in shop matching app=wbe" in waiting.stdout, waiting.stdout
        assert len(subjects(remote)) == 1
        late = run(work, sim.kubeconfig, env={"ROLLOUT_NOW": str(int(time.time()) + 25 * 60)})
        assert late.returncode == 1 and late.stdout.strip().endswith(f"{PIN}: halted"), late.stdout + late.stderr
        assert not any("revert" in s for s in subjects(remote))
        health = subprocess.run([*ROLLOUT, "health", "--kubeconfig", str(sim.kubeconfig), "--context", "dev-eu-west",
                                 "--kind", "Deployment", "-n", "shop", "-l", "app=wbe"], capture_output=True, text=True,
                                cwd=work, env={**os.environ, "COLUMNS": "200"})
        assert health.returncode == 3 and health.stdout.strip() == "no objects"
    finally:
        sim.stop()


def test_validate_refuses_a_health_only_kstatus_gate_at_its_line(tmp_path):
    """Without revisionFrom the gate shows only health, which the old revision had too:
    refused unless an argocd or flux gate shares its gates (spec.gates, or a wave's own)."""
    from typer.testing import CliRunner

    from rollout.cli import app

    shutil.copytree(EXAMPLES / "fleet-config", tmp_path / "fleet")
    policy = tmp_path / "fleet/rollouts/security-patch.yaml"
    original = policy.read_text()
    health_only = "    - kstatus: {context: \"{cluster}\", namespace: shop, selector: app=web}\n"

    def validate(text: str):
        policy.write_text(text)
        return CliRunner().invoke(app, ["validate", "security-patch", "--repo", str(tmp_path / "fleet")])

    alone = validate(original.replace("    - argocd: {context: hub, namespace: argocd}\n", health_only))
    line = original.splitlines().index("    - argocd: {context: hub, namespace: argocd}") + 1
    assert alone.exit_code == 2, alone.stdout
    assert alone.stderr.startswith(f"{policy}:{line}: spec.gates[0].kstatus: a kstatus gate without revisionFrom "
                                   "could pass on the old revision"), alone.stderr
    beside = validate(original.replace("    - argocd: {context: hub, namespace: argocd}\n",
                                       "    - argocd: {context: hub, namespace: argocd}\n" + health_only))
    assert beside.exit_code == 0, beside.stderr
    own = validate(original.replace("      bake: 30m\n", "      bake: 30m\n      gates:\n  " + health_only, 1))
    assert own.exit_code == 2 and "spec.waves[0].gates[0].kstatus: a kstatus gate without revisionFrom" in own.stderr
