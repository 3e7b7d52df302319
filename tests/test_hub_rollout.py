"""A whole rollout planned from a live inventory (the simulator's hub, ClusterProfiles over
the real kubernetes client), through `rollout run`: a cluster down at its wave's advance is
left out and joins late once back; one pinned and then down stays in its gate; a wave
whose clusters are all down waits and holds what comes after it; each advance records its
sources and a digest of what the hub listed; with the hub gone, `run` judges and reverts
the waves that are out from their records and advances nothing, saying why."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from conftest import ROLLOUT

pytest.importorskip("kubernetes")
from test_simulator import GIT_ENV, Running, git, published  # noqa: E402

POLICY = "rollouts/security-patch.yaml"


def _policy(text: str) -> str:
    text = re.sub(r"bake: \S+", "bake: 1s", text)
    text = text.replace("    - fleet: fleet/clusters.yaml   # or argocdClusterSecrets / clusterAPI / kustomizeClusters",
                        "    - clusterProfiles: {context: fleet-hub, namespace: fleet-system}")
    return text.replace("argocd: {context: hub, namespace: argocd}", "argocd: {context: hub, namespace: argocd, settle: 1s}")


def _kubeconfigs(sim, tmp: Path) -> tuple[Path, Path]:
    """The simulator's kubeconfig with a context `fleet-hub` for the inventory (the same
    API server as Argo CD's `hub`), and a copy where that one server is gone."""
    config = json.loads(sim.kubeconfig.read_text())
    config["contexts"].append({"name": "fleet-hub", "context": {"cluster": "hub", "user": "simulator"}})
    up = tmp / "up.json"
    up.write_text(json.dumps(config))
    config["clusters"].append({"name": "gone", "cluster": {"server": "http://127.0.0.1:9/hub"}})
    config["contexts"][-1]["context"]["cluster"] = "gone"
    down = tmp / "hub-gone.json"
    down.write_text(json.dumps(config))
    return up, down


def run(work: Path, kubeconfig: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*ROLLOUT, "run", "security-patch", "--kubeconfig", str(kubeconfig)], cwd=work,
                          capture_output=True, text=True, timeout=180, env={**os.environ, **GIT_ENV})


def rollout(work: Path, kubeconfig: Path, *args: str):
    """A command that only reads (status, gate), in-process: typer's Result (exit_code,
    stdout, stderr); the steps that write run as a user runs them (`run`)."""
    from typer.testing import CliRunner

    from rollout.cli import app

    return CliRunner().invoke(app, [*args, "--repo", str(work), "--kubeconfig", str(kubeconfig)],
                              env={"COLUMNS": "200"})


def until(step, done, tries: int = 25) -> str:
    """Run steps until `done(stdout)`; the last step's stdout."""
    for _ in range(tries):
        result = step()
        assert result.returncode in (0, 1), result.stdout + result.stderr
        if done(result.stdout):
            return result.stdout
    raise AssertionError(f"never: {result.stdout}")


def knob(sim, down: dict[str, str]) -> None:
    url = sim.ready.split()[1] + "/_sim/hub"
    urllib.request.urlopen(urllib.request.Request(url, json.dumps({"down": down}).encode(), method="POST")).read()


def subjects(remote: Path) -> list[str]:
    return [s for s in git(remote, "log", "--format=%s", "--reverse", "main").splitlines() if s.startswith("rollout(")]


def message(remote: Path, subject: str) -> str:
    """The message of the latest commit with this subject."""
    sha = next(line.split(" ", 1)[0] for line in git(remote, "log", "--format=%H %s", "main").splitlines()
               if line.split(" ", 1)[1] == subject)
    return git(remote, "log", "-1", "--format=%B", sha)


def test_a_live_inventory_rollout_with_a_late_join_an_outage_and_the_hub_gone(tmp_path):
    remote, work = published(tmp_path, "fleet-config", _policy)
    fleet = tmp_path / "hub-fleet.yaml"
    fleet.write_text((work / "fleet/clusters.yaml").read_text())
    sim = Running(remote, tmp_path / "kubeconfig", "--hub", str(fleet), "--fault", "prod-us-east:degraded@v1.4.2")
    try:
        up, gone = _kubeconfigs(sim, tmp_path)
        before = run(work, gone)  # not started: the hub that cannot be read is exit 2, nothing written
        assert before.returncode == 2 and "spec.inventory[0].clusterProfiles: clusterProfiles (context fleet-hub, " \
            "namespace fleet-system)" in before.stderr and "cannot reach the hub" in before.stderr
        assert subjects(remote) == []
        looked = rollout(work, gone, "status", "security-patch")  # nor can status say anything: no wave is out
        assert looked.exit_code == 2 and "spec.inventory[0].clusterProfiles: clusterProfiles (context fleet-hub, " \
            "namespace fleet-system)" in looked.stderr and looked.stdout == ""

        # dev-us-east is down when canary goes: left out, its wave goes with dev-eu-west
        knob(sim, {"dev-us-east": "maintenance"})
        first = run(work, up)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "advanced wave 1 canary: 1 cluster, 1 file" in first.stdout
        canary = message(remote, "rollout(security-patch): wave 1 canary -> v1.4.2")
        assert "Rollout-Clusters: dev-eu-west\n" in canary
        assert re.search(r"^- hub:clusterProfiles@fleet-hub/fleet-system: 6 listed, sha256:[0-9a-f]{16}$", canary, re.M)
        assert re.search(r"^Rollout-Inventory-Digest: sha256:[0-9a-f]{16}$", canary, re.M)
        recorded = re.search(r"^  @ dev-eu-west (\{.*\})$", canary, re.M)
        assert json.loads(recorded.group(1))["labels"]["region"] == "eu-west"

        # pinned, then down: it stays in its wave's gate (the pass names it); still down: no late join.
        # staging-eu-west down: its wave (it alone) waits, never skipped; production waits for it
        knob(sim, {"dev-us-east": "maintenance", "dev-eu-west": "lease expired", "staging-eu-west": "maintenance"})
        until(lambda: run(work, up), lambda out: "wave 1 canary passed its gates" in out)
        verify = message(remote, "rollout(security-patch): wave 1 canary passed its gates (v1.4.2)")
        assert "argocd: 1 of 1 clusters passed" in verify and "dev-eu-west: passed" in verify
        assert not any("late join" in s for s in subjects(remote))
        assert "rollout(security-patch): wave 3 region-us-east -> v1.4.2" in subjects(remote)
        status = json.loads(subprocess.run([*ROLLOUT, "status", "security-patch", "-f", "json", "--repo", str(work)],
                                           capture_output=True, text=True, env={**os.environ, "KUBECONFIG": str(up)}
                                           ).stdout)
        waves = {w["name"]: w for w in status["waves"]}
        assert waves["region-eu-west"]["status"] == "pending" and waves["production/1"]["status"] == "pending"
        assert waves["region-eu-west"]["unavailable"][0]["cluster"] == "staging-eu-west"
        assert waves["canary"]["late"] == ["dev-us-east"] and status["status"] == "in-progress"
        held = run(work, up)
        assert "wave 2 region-eu-west: waiting: every cluster of the wave is unavailable: staging-eu-west" in held.stdout

        # back: the late join and the held wave go; production follows
        knob(sim, {})
        until(lambda: run(work, up), lambda out: "production/2" in " ".join(subjects(remote)))
        done = subjects(remote)
        assert "rollout(security-patch): wave 1 canary -> v1.4.2 (late join)" in done
        late = message(remote, "rollout(security-patch): wave 1 canary -> v1.4.2 (late join)")
        assert "Rollout-Clusters: dev-us-east\n" in late
        assert done.index("rollout(security-patch): wave 2 region-eu-west -> v1.4.2") < \
            done.index("rollout(security-patch): wave 4 production/1 -> v1.4.2")

        # the hub is gone; production/2 (prod-us-east, degraded) is judged from its records and reverted
        gone_run = until(lambda: run(work, gone), lambda out: "reverted wave 5 production/2" in out)
        assert "the inventory cannot be read (" in gone_run and "nothing advances until it answers" in gone_run
        assert subjects(remote)[-1] == "rollout(security-patch): revert wave 5 production/2 (v1.4.2)"
        assert "prod-us-east" in message(remote, subjects(remote)[-1])
        # status and gate work from the records too, saying plainly what cannot be shown
        looked = rollout(work, gone, "status", "security-patch", "-f", "json")
        assert looked.exit_code == 0, looked.stderr
        said = json.loads(looked.stdout)
        assert said["inventory"]["read"] is False and "cannot reach the hub" in said["inventory"]["reason"]
        assert "the waves not advanced yet" in said["inventory"]["notShown"] and said["status"] == "reverted"
        assert [(w["name"], w["status"]) for w in said["waves"]][-1] == ("production/2", "reverted")
        assert "rollout: the inventory could not be read (" in looked.stderr and "not shown: " in looked.stderr
        table = rollout(work, gone, "status", "security-patch")
        assert "the inventory could not be read (" in table.stdout and "shown are the waves that are out" in table.stdout
        page = rollout(work, gone, "status", "security-patch", "-f", "html")
        assert page.exit_code == 0 and "<strong>The inventory could not be read</strong> (" in page.stdout
        picture = rollout(work, gone, "status", "security-patch", "-f", "mermaid").stdout.splitlines()
        assert picture[0].startswith("flowchart") and picture[-1].startswith("%% the inventory could not be read (")
        markdown = rollout(work, gone, "status", "security-patch", "-f", "markdown").stdout
        assert "> **the inventory could not be read (" in markdown
        judged = rollout(work, gone, "gate", "security-patch", "--wave", "production/1", "-f", "json")
        assert judged.exit_code == 0, judged.stdout + judged.stderr
        assert json.loads(judged.stdout)["state"] == "passed" and "the inventory could not be read" in judged.stderr
        unknown = rollout(work, gone, "gate", "security-patch", "--wave", "production/9")
        assert unknown.exit_code == 2 and "not among the waves that are out" in unknown.stderr
        after = run(work, gone)
        assert after.returncode == 1 and subjects(remote)[-1].startswith("rollout(security-patch): revert")
        advance = subprocess.run([*ROLLOUT, "advance", "security-patch", "--kubeconfig", str(gone)], cwd=work,
                                 capture_output=True, text=True, env={**os.environ, **GIT_ENV})
        assert advance.returncode == 1 and "nothing advanced: the inventory cannot be read" in advance.stderr
        # a person's revert needs no hub either: the wave's clusters and labels are in its records
        revert = subprocess.run([*ROLLOUT, "revert", "security-patch", "--wave", "production/1", "--reason", "hub away",
                                 "--kubeconfig", str(gone)], cwd=work, capture_output=True, text=True,
                                env={**os.environ, **GIT_ENV})
        assert revert.returncode == 0, revert.stdout + revert.stderr
        assert subjects(remote)[-1] == "rollout(security-patch): revert wave 4 production/1 (v1.4.2)"
        assert "targetRevision: v1.4.2" not in (work / "argocd/apps/prod-eu-west-platform.yaml").read_text()
    finally:
        sim.stop()


def test_a_late_join_after_its_wave_passed_that_fails_its_gates_is_reverted_alone(tmp_path):
    """dev-us-east is down (the hub says so) when canary goes; canary passes on dev-eu-west
    and the region waves go; dev-us-east comes back, joins canary late, and is degraded at
    the revision: its late join is judged on its own by canary's gates, fails, and its
    commit alone is reverted. canary stays passed, the waves out stay out, nothing new
    starts for the revision (production is never advanced)."""
    remote, work = published(tmp_path, "fleet-config", _policy)
    fleet = tmp_path / "hub-fleet.yaml"
    fleet.write_text((work / "fleet/clusters.yaml").read_text())
    sim = Running(remote, tmp_path / "kubeconfig", "--hub", str(fleet), "--fault", "dev-us-east:degraded@v1.4.2")
    try:
        up, _ = _kubeconfigs(sim, tmp_path)
        knob(sim, {"dev-us-east": "maintenance"})
        until(lambda: run(work, up), lambda out: "wave 1 canary passed its gates" in out)
        assert "rollout(security-patch): wave 2 region-eu-west -> v1.4.2" in subjects(remote)
        knob(sim, {})  # back: it joins canary late, after canary passed
        until(lambda: run(work, up), lambda out: "rollout(security-patch): wave 1 canary -> v1.4.2 (late join)"
              in subjects(remote))
        looked = rollout(work, up, "gate", "security-patch", "--wave", "canary", "-f", "json")
        said = json.loads(looked.stdout)  # canary's own clusters (dev-eu-west re-syncing to the new commit: maybe
        # pending a moment); its late join is judged on its own
        assert said["state"] in ("passed", "pending") and [c["cluster"] for c in said["checks"]] == ["dev-eu-west"]
        (join,) = said["lateJoins"]
        assert join["name"] == "canary late join (dev-us-east)" and join["state"] in ("pending", "failed")
        assert [c["cluster"] for c in join["checks"]] == ["dev-us-east"]
        assert looked.exit_code == (1 if join["state"] == "failed" else 3 if "pending" in (said["state"], join["state"])
                                    else 0)
        failed = until(lambda: run(work, up), lambda out: "reverted the late join of wave 1 canary" in out)
        assert "(late join: dev-us-east): commit " in failed and "late join (dev-us-east): gate failed: " in failed
        late = message(remote, "rollout(security-patch): wave 1 canary -> v1.4.2 (late join)")
        revert = message(remote, "rollout(security-patch): revert the late join of wave 1 canary (v1.4.2)")
        sha = git(remote, "log", "-1", "--format=%H", "--grep", "(late join)$", "main").strip()
        assert "Rollout-Clusters: dev-us-east\n" in late and "Rollout-Clusters: dev-us-east\n" in revert
        assert f"Rollout-Advance: {sha}\n" in revert and "dev-us-east: argocd: " in revert
        # its commit alone: dev-us-east back on its old pin, canary's dev-eu-west and the region waves still out
        git(work, "pull", "-q")
        pins = {c: "targetRevision: v1.4.2" in (work / f"argocd/apps/{c}-platform.yaml").read_text()
                for c in ("dev-us-east", "dev-eu-west", "staging-eu-west", "staging-us-east", "prod-eu-west")}
        assert pins == {"dev-us-east": False, "dev-eu-west": True, "staging-eu-west": True, "staging-us-east": True,
                        "prod-eu-west": False}
        assert [s for s in subjects(remote) if " revert " in s] == [
            "rollout(security-patch): revert the late join of wave 1 canary (v1.4.2)"]
        after = run(work, up)  # nothing new starts for the revision, and it says why
        assert "a late join of v1.4.2 was reverted: wave 1 canary (dev-us-east): nothing new starts" in after.stdout \
            or "was reverted: nothing to do until a new revision" in after.stdout, after.stdout
        assert not any("production" in s for s in subjects(remote))
        status = json.loads(rollout(work, up, "status", "security-patch", "-f", "json").stdout)
        canary = status["waves"][0]
        assert status["status"] == "reverted" and canary["status"] == "passed"
        assert [(j["clusters"], j["status"], j["commit"]) for j in canary["lateJoins"]] == [
            (["dev-us-east"], "reverted", sha)]
    finally:
        sim.stop()


def test_gate_record_records_a_passed_late_join_as_run_does(tmp_path):
    """`rollout gate --wave N --record` (a pipeline that judges by hand) records a late
    join's pass too, bound to the join's commit: it recorded only the wave's own, and a
    join out after its wave passed stayed unrecorded until a `run`."""
    remote, work = published(tmp_path, "fleet-config", _policy)
    fleet = tmp_path / "hub-fleet.yaml"
    fleet.write_text((work / "fleet/clusters.yaml").read_text())
    sim = Running(remote, tmp_path / "kubeconfig", "--hub", str(fleet))
    try:
        up, _ = _kubeconfigs(sim, tmp_path)
        knob(sim, {"dev-us-east": "maintenance"})
        until(lambda: run(work, up), lambda out: "wave 1 canary passed its gates" in out)
        knob(sim, {})  # back: the next step pins it as canary's late join
        until(lambda: run(work, up), lambda out: "wave 1 canary -> v1.4.2 (late join)" in " ".join(subjects(remote)))
        join_commit = git(remote, "log", "-1", "--format=%H", "--grep", "(late join)$", "main").strip()
        for _ in range(40):  # dev-us-east syncing to the join's commit: pending, then passed and recorded
            result = subprocess.run([*ROLLOUT, "gate", "security-patch", "--wave", "canary", "--record", "-f", "json",
                                     "--kubeconfig", str(up)], cwd=work, capture_output=True, text=True,
                                    env={**os.environ, **GIT_ENV}, timeout=120)
            said = json.loads(result.stdout)
            if said["lateJoins"][0]["state"] != "pending":
                break
        (join,) = said["lateJoins"]
        assert join["state"] == "passed" and said["recorded"] is None, said  # canary's own: recorded by run already
        assert re.fullmatch(r"[0-9a-f]{40}", join["recorded"] or ""), join
        record = git(remote, "log", "-1", "--format=%B", join["recorded"])
        assert record.startswith("rollout(security-patch): wave 1 canary late join (dev-us-east) passed its gates")
        assert f"Rollout-Advance: {join_commit}\n" in record
        canary = json.loads(rollout(work, up, "status", "security-patch", "-f", "json").stdout)["waves"][0]
        assert [(j["commit"], j["status"], j["verifyCommit"]) for j in canary["lateJoins"]] == [
            (join_commit, "passed", join["recorded"])]
    finally:
        sim.stop()
