"""`rollout gate` against the fleet simulator with the real kubernetes client."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from conftest import ROLLOUT

pytest.importorskip("kubernetes")
from test_simulator import GIT_ENV, Running, published, wait_for  # noqa: E402


def gate(work, kubeconfig, wave: str, now: int | None = None):
    env = {**os.environ, **GIT_ENV}
    if now is not None:
        env["ROLLOUT_NOW"] = str(now)
    result = subprocess.run([*ROLLOUT, "gate", "security-patch", "--wave", wave,
                             "--kubeconfig", str(kubeconfig), "--format", "json"],
                            cwd=work, capture_output=True, text=True, env=env)
    return result.returncode, (json.loads(result.stdout) if result.stdout.strip() else result.stderr)


def advance(work, *args):
    result = subprocess.run([*ROLLOUT, "advance", *args], cwd=work, capture_output=True, text=True,
                            env={**os.environ, **GIT_ENV})
    assert result.returncode == 0, result.stderr


def test_stale_health_of_the_old_revision_never_passes_then_healthy_passes_after_bake(tmp_path):
    remote, work = published(tmp_path, "fleet-config")
    sim = Running(remote, tmp_path / "kubeconfig", "--sync-delay", "3s", "--health-delay", "1s")
    try:
        advance(work, "security-patch", "--wave", "1")
        after_bake = int(time.time()) + 31 * 60  # the 30m bake has elapsed
        code, verdict = gate(work, sim.kubeconfig, "1")
        assert code == 3, verdict
        assert verdict["state"] == "pending"
        reasons = " ".join(c["reason"] for c in verdict["checks"])
        assert "not v1.4.2 yet" in reasons or "sync" in reasons  # stale Healthy of v1.4.1 is not judged
        assert all(c["state"] != "passed" for c in verdict["checks"])
        wait_for(lambda: gate(work, sim.kubeconfig, "1")[1]["checks"][0]["state"] == "passed", timeout=30)
        code, verdict = gate(work, sim.kubeconfig, "1")
        assert code == 3 and verdict["reason"].startswith("baking")
        code, verdict = gate(work, sim.kubeconfig, "1", now=after_bake)
        # 31 minutes on, progressDeadline (20m) is over too, but every check passed: passed.
        assert code == 0, verdict
    finally:
        sim.stop()


def test_degraded_cluster_fails_the_gate(tmp_path):
    remote, work = published(tmp_path, "fleet-config")
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-eu-west:degraded@v1.4.2")
    try:
        advance(work, "security-patch", "--wave", "1")
        code, verdict = wait_for(lambda: (r := gate(work, sim.kubeconfig, "1"))[0] == 1 and r, timeout=30)
        assert verdict["state"] == "failed"
        assert "dev-eu-west: argocd: dev-eu-west-platform: health Degraded" in verdict["reason"]
        healthy = [c for c in verdict["checks"] if c["cluster"] == "dev-us-east"]
        assert healthy[0]["state"] == "passed"
    finally:
        sim.stop()


def test_a_failure_budget_never_passes_a_wave_whose_every_cluster_failed(tmp_path):
    """`maxFailures: 1` is for one flaky cluster among many: a one-cluster canary that failed has failed."""
    def one_cluster_canary(text: str) -> str:
        text = text.replace("selector: {matchLabels: {environment: dev}}",
                            "selector: {matchLabels: {environment: dev, region: eu-west}}", 1)
        return text.replace("  onFailure: revert", "  maxFailures: 1\n  onFailure: revert", 1)

    remote, work = published(tmp_path, "fleet-config", one_cluster_canary)
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-eu-west:degraded@v1.4.2")
    try:
        advance(work, "security-patch", "--wave", "1")
        code, verdict = wait_for(lambda: (r := gate(work, sim.kubeconfig, "1"))[0] == 1 and r, timeout=30)
        assert verdict["state"] == "failed"
        assert verdict["reason"].startswith("1 of 1 clusters failed (maxFailures 0); dev-eu-west: argocd:"), verdict
    finally:
        sim.stop()


def test_unreachable_cluster_is_pending_then_failed_at_the_deadline(tmp_path):
    remote, work = published(tmp_path, "flux-mesh")
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-1:unreachable")
    try:
        advance(work, "podinfo", "--wave", "1")
        result = subprocess.run([*ROLLOUT, "gate", "podinfo", "--wave", "1", "--kubeconfig", str(sim.kubeconfig),
                                 "--format", "json"], cwd=work, capture_output=True, text=True)
        assert result.returncode == 3, result.stdout + result.stderr
        verdict = json.loads(result.stdout)
        assert verdict["checks"][0]["state"] == "pending" and "cannot reach the dev-1 context" in verdict["checks"][0]["reason"]
        late = subprocess.run([*ROLLOUT, "gate", "podinfo", "--wave", "1", "--kubeconfig", str(sim.kubeconfig),
                               "--format", "json"], cwd=work, capture_output=True, text=True,
                              env={**os.environ, "ROLLOUT_NOW": str(int(time.time()) + 16 * 60)})
        assert late.returncode == 1
        assert "not passed within progressDeadline" in json.loads(late.stdout)["reason"]
    finally:
        sim.stop()


def test_a_pinned_cluster_the_gate_s_template_cannot_be_filled_in_for_halts_past_the_deadline_never_fails(tmp_path):
    """Wave 1 pinned dev-eu-west and dev-us-east; then the canary became dev-us-east alone,
    its gate naming each Application by a label only dev-us-east has. dev-eu-west is still
    judged by wave 1 (what it pinned), and the plan cannot refuse the label it lacks (it is
    no cluster of wave 1 any more). Nowhere to look is no evidence: past progressDeadline
    the wave is unknown and halts; it was `failed` (a revert of both clusters)."""
    remote, work = published(tmp_path, "fleet-config")
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        advance(work, "security-patch", "--wave", "1")
        policy = work / "rollouts/security-patch.yaml"
        text = policy.read_text().replace(
            "      selector: {matchLabels: {environment: dev}}\n      bake: 30m\n",
            "      selector: {matchLabels: {environment: dev, region: us-east}}\n      bake: 30m\n"
            "      gates: [{argocd: {context: hub, application: \"{labels.app}\"}}]\n", 1)
        assert text != policy.read_text()
        policy.write_text(text)
        fleet = work / "fleet/clusters.yaml"
        named = "  - name: dev-us-east\n    server: https://dev-us-east.k8s.example.com:6443\n    labels:\n"
        assert named in fleet.read_text()
        fleet.write_text(fleet.read_text().replace(named, named + "      app: dev-us-east-platform\n", 1))
        late = int(time.time()) + 40 * 60  # past progressDeadline (20m) and the bake

        def judged():
            code, verdict = gate(work, sim.kubeconfig, "1", now=late)
            checks = {c["cluster"]: c for c in verdict["checks"]}
            return (code, verdict, checks) if checks["dev-us-east"]["state"] == "passed" else None

        code, verdict, checks = wait_for(judged, timeout=30)
        assert code == 3 and verdict["state"] == "unknown" and verdict["halt"], verdict
        assert checks["dev-eu-west"]["state"] == "unknown", checks
        assert "nowhere to look" in checks["dev-eu-west"]["reason"] and "not because the change failed" in verdict["reason"]
    finally:
        sim.stop()
