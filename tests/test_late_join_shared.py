"""A late join whose pinned field its wave's own advance pinned already (a shared field:
one values file per environment): its commit changed nothing there, so reverting it alone
restores nothing. A failed gate of it halts (a person chooses), never an empty revert
recorded as `reverted` while its cluster stays on the revision; `rollout revert --wave`
takes the shared field back whole. Real git, a bare remote, the real CLI for the
advances and reverts; the step's decision and its halt record as `rollout run` makes them
(the gate's verdict given: the gates' observers are tested on their own)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from conftest import ROLLOUT, TEST_GIT_IDENTITY
from rollout.cli import app
from waves.decide import HALT, REVERT, Verdict
from rollout.outcome import Outcome
from rollout.revert import revert_wave
from rollout.session import clock, events_of, load, open_synced, publish
from rollout.step import Stepper, unrevertable
from waves.state import fold

POLICY = """\
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {name: p}
spec:
  revision: v2
  inventory:
    - fleet: fleet/clusters.yaml
  pin:
    - preset: yaml-field
      files: values/{labels.env}.yaml
      field: image.tag
  waves:
    - {name: canary, selector: {matchLabels: {env: dev}}, bake: 0s}
    - {name: prod, selector: {matchLabels: {env: prod}}, after: [canary], bake: 0s}
  gates: [{argocd: {context: hub, namespace: argocd}}]
"""

FLEET = """\
apiVersion: rollout/v1alpha1
kind: Fleet
metadata: {name: f}
clusters:
  - {name: dev-west, labels: {env: dev}}
  - {name: prod-p, labels: {env: prod}}
"""

ENV = {**os.environ, **TEST_GIT_IDENTITY}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, env=ENV).stdout


def rollout(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=ENV)


def published(root: Path, files: dict[str, str]) -> tuple[Path, Path]:
    """(the bare remote, a clone of it) of a repo of `files` committed once on main."""
    source = root / "source"
    for path, text in files.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(text)
    git(source, "init", "-qb", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "init")
    git(root, "clone", "-q", "--bare", str(source), "remote.git")
    git(root, "clone", "-q", "remote.git", "work")
    return root / "remote.git", root / "work"


def test_a_failed_late_join_on_a_shared_field_halts_and_the_wave_s_revert_takes_it_back(tmp_path, monkeypatch):
    for name, value in TEST_GIT_IDENTITY.items():  # the step's records, made in this process
        monkeypatch.setenv(name, value)
    _, work = published(tmp_path, {"rollouts/p.yaml": POLICY, "fleet/clusters.yaml": FLEET,
                                   "values/dev.yaml": "image:\n  tag: v1\n", "values/prod.yaml": "image:\n  tag: v1\n"})
    first = rollout(work, "advance", "p", "--wave", "canary")
    assert first.returncode == 0, first.stdout + first.stderr
    # dev-east joins the fleet once canary is out: it pins values/dev.yaml with dev-west, at v2 already
    (work / "fleet/clusters.yaml").write_text(FLEET + "  - {name: dev-east, labels: {env: dev}}\n")
    git(work, "commit", "-qam", "inventory: dev-east")
    git(work, "push", "-q")
    joined = rollout(work, "advance", "p", "--wave", "canary")
    assert "late join, 1 cluster, 0 files" in joined.stdout, joined.stdout + joined.stderr
    join = git(work, "log", "-1", "--format=%H", "--grep", "(late join)$").strip()

    session = open_synced(work, None)
    stepper = Stepper(session, "p", clock())
    state = stepper.snapshot().state
    assert [(j.commit, j.clusters, j.status) for j in state.wave(1).joins] == [(join, ("dev-east",), "verifying")]
    failed = {join: Verdict("failed", "dev-east: Degraded", join)}
    assert unrevertable(session, stepper.snapshot(), {}, failed) == {
        join: "dev-east: values/dev.yaml held v2 already when it was pinned: it stays on v2"}
    (halt,) = stepper.decide({}, failed)
    assert (halt.kind, halt.wave, halt.advance, halt.clusters, halt.late) == (HALT, 1, join, ("dev-east",), True)
    assert halt.reason == (
        "late join (dev-east): gate failed: dev-east: Degraded; its commit alone cannot be reverted: its clusters "
        "pin values/dev.yaml image.tag with dev-west, pinned by another advance of the wave; a person decides: "
        "`rollout revert p --wave 1 --reason ...` takes the wave back whole (its late joins and shared fields with "
        "it), or `rollout resume p --halt --reason ...` once the pin is fixed by hand")
    before = git(tmp_path / "remote.git", "rev-parse", "main").strip()
    stepper.carry_out({}, [halt], [((REVERT,), {"urgent": True}), ((HALT,), {"record": True})], failed)

    # a revert of the join alone (were it asked for) restores nothing: not committed, and says so
    session = open_synced(work, None)

    def attempt():
        ws = load(session, "p", check_files=False, strict=False)
        events = events_of(session, ws)
        state = fold(ws.plan, events, clock())
        outcome = Outcome(ws.plan.policy, ws.plan.revision, ws=ws, state=state)
        base = session.git.head()
        return outcome, base, revert_wave(session, ws, state, events, 1, "a test", base, outcome, advance=join,
                                          only=("dev-east",))

    alone = publish(session, attempt, urgent=True)
    assert alone.changes == [] and alone.notes == [
        "cluster dev-east: values/dev.yaml held v2 already when it was pinned (another cluster's advance of a field "
        "they share, or a person, put it there): nothing to restore, it stays on v2",
        "the late join of wave 1 canary (dev-east): its revert restores nothing: not committed; a person decides "
        "(`rollout revert p --wave 1` takes the wave back whole)"]
    subjects = git(tmp_path / "remote.git", "log", "--format=%s", f"{before}..main").splitlines()
    assert subjects == ["rollout(p): halt at wave 1 canary late join (dev-east) (v2)"]  # the halt; no revert at all
    git(work, "pull", "-q")
    assert (work / "values/dev.yaml").read_text() == "image:\n  tag: v2\n"
    status = json.loads(rollout(work, "status", "p", "-f", "json").stdout)
    assert status["status"] == "halted"
    assert [(j["clusters"], j["status"]) for j in status["waves"][0]["lateJoins"]] == [(["dev-east"], "verifying")]

    # a person takes the wave back whole: the shared field goes back, both clusters with it
    # (in this process: it holds the checkout's lock since the step above, as a run would)
    back = CliRunner().invoke(app, ["revert", "p", "--wave", "canary", "--reason", "dev-east degraded",
                                    "--repo", str(work)])
    assert back.exit_code == 0, back.output
    assert "nothing to restore" not in back.output
    git(work, "pull", "-q")
    assert (work / "values/dev.yaml").read_text() == "image:\n  tag: v1\n"
    message = git(work, "log", "-1", "--format=%B")
    assert "Rollout-Clusters: dev-west,dev-east\n" in message, message
    status = json.loads(rollout(work, "status", "p", "-f", "json").stdout)
    assert status["status"] == "reverted" and status["waves"][0]["status"] == "reverted"
