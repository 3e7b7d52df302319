"""`rollout run` end to end: the simulator, the real kubernetes client, a bare remote."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROLLOUT

pytest.importorskip("kubernetes")
from test_simulator import GIT_ENV, Running, git, published  # noqa: E402


def fleet(tmp: Path) -> tuple[Path, Path]:
    """fleet-config with 1-second bakes, published to a bare remote; a clone to run in."""
    return published(tmp, "fleet-config", lambda text: re.sub(r"bake: \S+", "bake: 1s", text))


def run(work: Path, kubeconfig: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*ROLLOUT, "run", "security-patch", "--kubeconfig", str(kubeconfig), *args], cwd=work,
                          capture_output=True, text=True, timeout=180, env={**os.environ, **GIT_ENV, **(env or {})})


def subjects(remote: Path) -> list[str]:
    return [s for s in git(remote, "log", "--format=%s", "--reverse", "main").splitlines() if s.startswith("rollout(")]


def on_failure(work: Path, value: str) -> None:
    """The policy's `onFailure` set to `value`; committed and pushed."""
    policy = work / "rollouts/security-patch.yaml"
    policy.write_text(policy.read_text().replace("onFailure: revert", f"onFailure: {value}"))
    git(work, "commit", "-qam", f"onFailure: {value}")
    git(work, "push", "-q")


def gate_on_error_rate(work: Path, prom: str) -> None:
    """The policy's Argo CD gate becomes a Prometheus gate on the error rate (max 5%),
    with 1-second bakes; committed and pushed."""
    policy = work / "rollouts/security-patch.yaml"
    gate = (f"    - prometheus:\n        url: {prom}\n"
            "        query: sum(rate(http_requests_total{cluster=\"{cluster}\",code=~\"5..\"}[5s])) / "
            "sum(rate(http_requests_total{cluster=\"{cluster}\"}[5s]))\n        max: 0.05\n")
    text = policy.read_text().replace("    - argocd: {context: hub, namespace: argocd}\n", gate)
    policy.write_text(re.sub(r"bake: \S+", "bake: 1s", text))
    git(work, "commit", "-qam", "gate on the error rate")
    git(work, "push", "-q")


def test_happy_path_runs_to_complete_and_writes_the_step_summary(tmp_path):
    remote, work = fleet(tmp_path)
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        summary = tmp_path / "summary.md"
        result = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "2m",
                     env={"GITHUB_STEP_SUMMARY": str(summary)})
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().endswith("rollout security-patch -> v1.4.2: complete")
        done = [s.split(": ")[1] for s in subjects(remote)]
        assert [s for s in done if "->" in s] == [
            "wave 1 canary -> v1.4.2", "wave 2 region-eu-west -> v1.4.2", "wave 3 region-us-east -> v1.4.2",
            "wave 4 production/1 -> v1.4.2", "wave 5 production/2 -> v1.4.2"]
        # every wave's pass is recorded, after its advance and before any wave that waits for it
        passed = {s.split()[1]: i for i, s in enumerate(done) if "passed its gates" in s}
        advanced = {s.split()[1]: i for i, s in enumerate(done) if "->" in s}
        assert sorted(passed) == ["1", "2", "3", "4", "5"]
        assert all(advanced[w] < passed[w] for w in passed)
        assert passed["1"] < advanced["2"] and passed["1"] < advanced["3"]
        assert passed["2"] < advanced["4"] and passed["3"] < advanced["4"] and passed["4"] < advanced["5"]
        record = git(remote, "log", "-1", "--format=%B", "--grep=wave 1 canary passed", "main")
        assert "argocd: 2 of 2 clusters passed" in record and "dev-eu-west: passed: dev-eu-west-platform: Synced to v1.4.2" in record
        assert "Rollout-Action: verify" in record
        text = summary.read_text()
        assert "### rollout `security-patch` → `v1.4.2`: **complete**" in text
        assert "| 5 | production/2 | passed |" in text  # every wave listed, in the fold's words
        status = subprocess.run([*ROLLOUT, "status", "security-patch", "--format", "json"], cwd=work,
                                capture_output=True, text=True)
        assert [w["status"] for w in __import__("json").loads(status.stdout)["waves"]] == ["passed"] * 5
        last = text.rsplit("### Rollout `security-patch` → `v1.4.2`: ", 1)[1]  # the picture after the last step
        assert "```mermaid\nflowchart LR\n" in last and '  w5["5 production/2<br/>1 cluster · <b>passed' in last
    finally:
        sim.stop()


def test_degraded_production_cluster_is_reverted_and_later_runs_do_nothing(tmp_path):
    remote, work = fleet(tmp_path)
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "prod-us-east:degraded@v1.4.2")
    try:
        result = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "2m")
        assert result.returncode == 1, result.stdout + result.stderr
        revert_sha = git(remote, "rev-parse", "--short=12", "main").strip()
        assert f"reverted wave 5 production/2: commit {revert_sha}: gate failed:" in result.stdout
        assert subjects(remote)[-1] == "rollout(security-patch): revert wave 5 production/2 (v1.4.2)"
        assert "wave 5 production/2 passed" not in " ".join(subjects(remote))
        before = len(subjects(remote))
        body = git(remote, "log", "-1", "--format=%B", "main")
        assert "Rollout-Reason: gate failed: 1 of 1 clusters failed (maxFailures 0); prod-us-east: argocd:" in body
        page = tmp_path / "report" / "rollout.html"
        page.parent.mkdir()
        again = run(work, sim.kubeconfig, "--format", "json", "--report", str(page))
        assert again.returncode == 1 and '"status": "reverted"' in again.stdout
        assert len(subjects(remote)) == before  # nothing new
        # --report: the page after the step, written whole (tests/test_html_browser.py loads one in chromium)
        text = page.read_text()
        assert [p.name for p in page.parent.iterdir()] == ["rollout.html"]
        assert text.startswith("<!DOCTYPE html>") and text.count('<details class="wave"') == 5
        assert 'id="wave-5" data-status="reverted"' in text and "prod-us-east: argocd: prod-us-east-platform: " \
            "health Degraded at v1.4.2" in text
        assert all(f'<th scope="row">{c}</th>' in text for c in ("dev-us-east", "dev-eu-west", "staging-us-east",
                                                                 "staging-eu-west", "prod-eu-west", "prod-us-east"))
    finally:
        sim.stop()


def test_two_runs_at_once_advance_once(tmp_path):
    remote, work = fleet(tmp_path)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        procs = [subprocess.Popen([*ROLLOUT, "run", "security-patch", "--kubeconfig", str(sim.kubeconfig)], cwd=c,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **GIT_ENV})
                 for c in (work, other)]
        codes = [p.wait(timeout=60) for p in procs]
        assert codes == [0, 0], [p.stderr.read() for p in procs]
        assert subjects(remote) == ["rollout(security-patch): wave 1 canary -> v1.4.2"]
    finally:
        sim.stop()


def test_an_approval_wave_waits_for_rollout_approve(tmp_path):
    remote, work = fleet(tmp_path)
    policy = work / "rollouts/security-patch.yaml"
    policy.write_text(policy.read_text().replace("    - name: canary\n", "    - name: canary\n      approval: required\n"))
    git(work, "commit", "-qam", "canary needs approval")
    git(work, "push", "-q")
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        assert run(work, sim.kubeconfig).returncode == 0  # wave 1 goes
        import time

        for _ in range(40):  # until the canary's gates pass
            waiting = run(work, sim.kubeconfig)
            if "waits for `rollout approve --wave 1`" in waiting.stdout:
                break
            time.sleep(0.5)
        assert "waits for `rollout approve --wave 1`" in waiting.stdout, waiting.stdout
        assert [s.split(": ")[1] for s in subjects(remote)] == ["wave 1 canary -> v1.4.2",
                                                               "wave 1 canary passed its gates (v1.4.2)"]
        approved = subprocess.run([*ROLLOUT, "approve", "security-patch", "--wave", "1", "--by", "alice"], cwd=work,
                                  capture_output=True, text=True, env={**os.environ, **GIT_ENV})
        assert approved.returncode == 0, approved.stderr
        moved = run(work, sim.kubeconfig)
        assert "advanced wave 2 region-eu-west" in moved.stdout and "advanced wave 3 region-us-east" in moved.stdout
    finally:
        sim.stop()


def test_an_unreachable_cluster_is_never_passed_and_fails_at_the_deadline(tmp_path):
    import time

    remote, work = fleet(tmp_path)
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-eu-west:unreachable")
    try:
        assert run(work, sim.kubeconfig).returncode == 0  # wave 1 goes
        time.sleep(2)
        waiting = run(work, sim.kubeconfig)
        assert waiting.returncode == 0 and "rollout security-patch -> v1.4.2: waiting" in waiting.stdout
        assert len(subjects(remote)) == 1
        late = run(work, sim.kubeconfig, env={"ROLLOUT_NOW": str(int(time.time()) + 21 * 60)})  # past 20m deadline
        assert late.returncode == 1 and "reverted wave 1 canary" in late.stdout
    finally:
        sim.stop()


def test_prometheus_gate_fails_on_the_error_rate_and_passes_without(tmp_path, prometheus):
    import json
    import time

    remote, work = published(tmp_path, "fleet-config")
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-eu-west:errors=0.3@v1.4.2")
    try:
        url = sim.ready.split()[1]
        prom = prometheus(url.removeprefix("http://"))
        gate_on_error_rate(work, prom)
        assert run(work, sim.kubeconfig).returncode == 0  # wave 1 goes

        def verdict():
            result = subprocess.run([*ROLLOUT, "gate", "security-patch", "--wave", "1", "--format", "json"], cwd=work,
                                    capture_output=True, text=True)
            return json.loads(result.stdout)

        deadline = time.monotonic() + 60
        checks = {}
        while time.monotonic() < deadline:
            checks = {c["cluster"]: c for c in verdict()["checks"]}
            if checks["dev-eu-west"]["state"] == "failed" and checks["dev-us-east"]["state"] == "passed":
                break
            time.sleep(1)
        assert checks["dev-eu-west"]["state"] == "failed", checks
        assert "> max 0.05" in checks["dev-eu-west"]["reason"]
        assert checks["dev-us-east"]["state"] == "passed", checks
    finally:
        sim.stop()


def test_on_failure_halt_records_a_halt_that_sticks_until_a_person_lifts_it(tmp_path):
    """Issue 18, case 4: the halt is a record; when the canary recovers by itself the next
    steps still advance nothing; a plain resume says the halt remains; resume --halt lifts
    it and the canary is judged afresh."""
    import json
    import time

    remote, work = fleet(tmp_path)
    on_failure(work, "halt")
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-us-east:sync-failed@v1.4.2")
    try:
        result = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "1m")
        assert result.returncode == 1, result.stdout + result.stderr
        assert re.search(r"wave 1 canary: gate failed: .*dev-us-east.*; onFailure: halt: halted, recorded [0-9a-f]{12}",
                         result.stdout), result.stdout
        assert result.stdout.strip().endswith("v1.4.2: failed")
        assert "revert" not in " ".join(subjects(remote))
        record = git(remote, "log", "-1", "--format=%B", "main")
        assert "Rollout-Action: halt" in record and "Rollout-Advance: " in record and "dev-us-east" in record
    finally:
        sim.stop()
    sim = Running(remote, tmp_path / "kubeconfig")  # the canary recovers by itself
    try:
        before = subjects(remote)
        for _ in range(3):
            held = run(work, sim.kubeconfig)
            assert held.returncode == 1 and held.stdout.strip().endswith("v1.4.2: halted"), held.stdout
            assert "a person decides" in held.stdout
            time.sleep(1)
        assert subjects(remote) == before  # nothing recorded, nothing advanced
        status = subprocess.run([*ROLLOUT, "status", "security-patch", "--format", "json"], cwd=work,
                                capture_output=True, text=True)
        state = json.loads(status.stdout)
        assert state["status"] == "halted" and state["waves"][0]["status"] == "halted"
        plain = subprocess.run([*ROLLOUT, "resume", "security-patch"], cwd=work, capture_output=True, text=True,
                               env={**os.environ, **GIT_ENV})
        assert "stays halted at wave 1 canary" in plain.stdout and "--halt" in plain.stdout, plain.stdout + plain.stderr
        assert subprocess.run([*ROLLOUT, "resume", "security-patch", "--halt"], cwd=work, capture_output=True,
                              text=True, env={**os.environ, **GIT_ENV}).returncode == 2  # no --reason
        lifted = subprocess.run([*ROLLOUT, "resume", "security-patch", "--halt", "--reason", "dev-us-east fixed"],
                                cwd=work, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
        assert lifted.returncode == 0 and "lifted the halt at wave 1 canary" in lifted.stdout, lifted.stderr
        done = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "2m")
        assert done.returncode == 0 and done.stdout.strip().endswith("v1.4.2: complete"), done.stdout + done.stderr
    finally:
        sim.stop()


def test_two_parallel_waves_failing_are_both_reverted_and_no_cluster_is_left_on_the_bad_pin(tmp_path):
    """Issue 18, case 1: waves 2 and 3 run side by side after the canary and both degrade."""
    import json

    remote, work = fleet(tmp_path)
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "staging-eu-west:degraded@v1.4.2",
                  "--fault", "staging-us-east:degraded@v1.4.2")
    try:
        result = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "2m")
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout.strip().endswith("rollout security-patch -> v1.4.2: reverted")
        done = subjects(remote)
        assert "rollout(security-patch): revert wave 2 region-eu-west (v1.4.2)" in done
        assert "rollout(security-patch): revert wave 3 region-us-east (v1.4.2)" in done
        assert not any("production" in s for s in done)  # nothing went past them
        git(work, "pull", "-q")
        for cluster in ("staging-eu-west", "staging-us-east"):
            assert "targetRevision: v1.4.2" not in (work / f"argocd/apps/{cluster}-platform.yaml").read_text()
        status = subprocess.run([*ROLLOUT, "status", "security-patch", "--format", "json"], cwd=work,
                                capture_output=True, text=True)
        waves = {w["number"]: w["status"] for w in json.loads(status.stdout)["waves"]}
        assert waves[2] == waves[3] == "reverted" and waves[4] == waves[5] == "pending"
        before = len(subjects(remote))
        again = run(work, sim.kubeconfig)
        assert again.returncode == 1 and "nothing to do" in again.stdout and len(subjects(remote)) == before
    finally:
        sim.stop()


def test_on_failure_scope_rollout_reverts_every_wave_that_is_out_newest_first(tmp_path):
    remote, work = fleet(tmp_path)
    original = {c: (work / f"argocd/apps/{c}-platform.yaml").read_text()
                for c in ("dev-us-east", "dev-eu-west", "staging-us-east", "staging-eu-west", "prod-eu-west", "prod-us-east")}
    on_failure(work, "{action: revert, scope: rollout}")
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "prod-us-east:degraded@v1.4.2")
    try:
        result = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "2m")
        assert result.returncode == 1 and result.stdout.strip().endswith("v1.4.2: reverted"), result.stdout + result.stderr
        reverts = [s for s in subjects(remote) if " revert wave " in s]
        assert [s.split(" revert wave ")[1].split()[0] for s in reverts] == ["5", "4", "3", "2", "1"]  # newest first
        body = git(remote, "log", "-1", "--format=%B", "main")
        assert "Rollout-Reason: onFailure scope rollout: wave 5 production/2: gate failed:" in body
        git(work, "pull", "-q")
        assert {c: (work / f"argocd/apps/{c}-platform.yaml").read_text() for c in original} == original
    finally:
        sim.stop()


def test_an_empty_wave_keeps_its_number_and_the_run_goes_past_it(tmp_path):
    """Issue 24: a wave no cluster matches (qa) is wave 2 in every commit and status; the
    run never advances, judges or records it, its bake, gates and approval do not hold
    anything, and region waits for it, which means for canary."""
    qa = ("    - name: qa\n      selector: {matchLabels: {environment: qa}}\n      bake: 1h\n      approval: required\n"
          "    - name: region")

    def with_qa(text: str) -> str:
        text = re.sub(r"bake: \S+", "bake: 1s", text).replace("    - name: region", qa, 1)
        return text.replace("after: [canary]", "after: [qa]")

    remote, work = published(tmp_path, "fleet-config", with_qa)
    sim = Running(remote, tmp_path / "kubeconfig")
    try:
        result = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "2m")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().endswith("rollout security-patch -> v1.4.2: complete")
        done = [s.split(": ")[1] for s in subjects(remote)]
        assert [s for s in done if "->" in s] == [
            "wave 1 canary -> v1.4.2", "wave 3 region-eu-west -> v1.4.2", "wave 4 region-us-east -> v1.4.2",
            "wave 5 production/1 -> v1.4.2", "wave 6 production/2 -> v1.4.2"]
        assert not [s for s in done if " qa" in s]
        status = subprocess.run([*ROLLOUT, "status", "security-patch", "--format", "json"], cwd=work,
                                capture_output=True, text=True)
        waves = __import__("json").loads(status.stdout)["waves"]
        assert [(w["number"], w["name"], w["status"]) for w in waves][:3] == [
            (1, "canary", "passed"), (2, "qa", "empty"), (3, "region-eu-west", "passed")]
    finally:
        sim.stop()
