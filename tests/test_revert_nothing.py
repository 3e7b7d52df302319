"""A whole wave's revert that restores nothing. Its files held the revision before its
advance (a person pinned it by hand: the advance committed no change), so going back
"to the pins before the advance" takes no cluster off the revision: `rollout revert`
commits nothing and exits 1, and `rollout run` halts the failed wave (a person decides),
never an empty revert read as `reverted`. Once a person has set the previous pin by hand,
the revert is a true "nothing to restore" and is recorded. Real git, a bare remote, the
real CLI; the step's decision and records as `rollout run` makes them (the gate's
verdict given: the observers are tested on their own)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from conftest import TEST_GIT_IDENTITY
from test_late_join_shared import FLEET, git, published, rollout  # the same two-cluster fleet, git and CLI
from rollout.cli import app
from waves.decide import HALT, REVERT, Verdict
from rollout.session import clock, open_synced
from rollout.step import Stepper, unrevertable

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
      files: values/{cluster}.yaml
      field: image.tag
  waves:
    - {name: canary, selector: {matchLabels: {env: dev}}, bake: 0s}
    - {name: prod, selector: {matchLabels: {env: prod}}, after: [canary], bake: 0s}
  gates: [{argocd: {context: hub, namespace: argocd}}]
"""


def test_a_wave_s_revert_that_restores_nothing_is_refused_halted_and_recorded_once_true(tmp_path, monkeypatch):
    for name, value in TEST_GIT_IDENTITY.items():  # the step's records, made in this process
        monkeypatch.setenv(name, value)
    remote, work = published(tmp_path, {"rollouts/p.yaml": POLICY, "fleet/clusters.yaml": FLEET,
                                        "values/dev-west.yaml": "image:\n  tag: v2\n",  # pinned by hand before
                                        "values/prod-p.yaml": "image:\n  tag: v1\n"})
    first = rollout(work, "advance", "p", "--wave", "canary")
    assert first.returncode == 0 and "1 cluster, 0 files" in first.stdout, first.stdout + first.stderr
    before = git(remote, "rev-parse", "main").strip()

    # `rollout revert`: nothing committed, exit 1, saying why
    back = rollout(work, "revert", "p", "--wave", "canary", "--reason", "dev-west degraded")
    assert back.returncode == 1, back.stdout + back.stderr
    assert back.stdout.splitlines() == [
        "cluster dev-west: values/dev-west.yaml held v2 already when it was pinned (another cluster's advance of a "
        "field they share, or a person, put it there): nothing to restore, it stays on v2",
        "wave 1 canary: its revert restores nothing: not committed; a person decides (fix the pins by hand, then "
        "`rollout revert p --wave 1` records it)"]
    assert git(remote, "rev-parse", "main").strip() == before
    as_json = rollout(work, "revert", "p", "--wave", "canary", "--reason", "dev-west degraded", "--format", "json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["stuck"] == ["wave 1 canary"], as_json.stdout
    assert git(remote, "rev-parse", "main").strip() == before
    assert json.loads(rollout(work, "status", "p", "-f", "json").stdout)["waves"][0]["status"] == "verifying"

    # `rollout run`: the failed wave halts, reverting nothing (a person decides)
    session = open_synced(work, None)
    stepper = Stepper(session, "p", clock())
    advance = stepper.snapshot().state.wave(1).advance_commit
    failed = {"canary": Verdict("failed", "dev-west: Degraded", advance)}
    stays = "dev-west: values/dev-west.yaml held v2 already when it was pinned: it stays on v2"
    assert unrevertable(session, stepper.snapshot(), {1: failed["canary"]}, {}) == {advance: stays}
    (halt,) = stepper.decide(failed)
    assert (halt.kind, halt.wave, halt.advance) == (HALT, 1, advance)
    assert halt.reason == (
        f"gate failed: dev-west: Degraded; its revert would restore nothing ({stays}); a person decides: set the "
        "previous pins by hand, then `rollout revert p --wave 1 --reason ...` records the revert, or `rollout resume "
        "p --halt --reason ...`")
    stepper.carry_out(failed, [halt], [((REVERT,), {"urgent": True}), ((HALT,), {"record": True})])
    assert git(remote, "log", "--format=%s", f"{before}..main").splitlines() == [
        "rollout(p): halt at wave 1 canary (v2)"]  # the halt; no revert
    git(work, "pull", "-q")
    status = json.loads(rollout(work, "status", "p", "-f", "json").stdout)
    assert status["status"] == "halted" and status["waves"][0]["status"] == "halted"

    # a person sets the previous pin by hand: the revert restores nothing, truly, and is recorded
    (work / "values/dev-west.yaml").write_text("image:\n  tag: v1\n")
    git(work, "commit", "-qam", "dev-west back on v1 by hand")
    git(work, "push", "-q")
    # (in this process: it holds the checkout's lock since the step above, as a run would)
    back = CliRunner().invoke(app, ["revert", "p", "--wave", "canary", "--reason", "fixed by hand", "--repo", str(work)])
    assert back.exit_code == 0, back.output
    assert "reverted wave 1 canary: 1 cluster, 0 files" in back.output, back.output
    assert "wave 1 canary: nothing to restore: no file of it holds v2 any more" in back.output, back.output
    git(work, "pull", "-q")
    message = git(work, "log", "-1", "--format=%B")
    assert "Restores nothing: no file of it holds v2 any more; 1 cluster, 1 file, off it already:\n" \
           "- dev-west (values/dev-west.yaml)\n" in message, message
    assert git(work, "diff", "--name-only", "HEAD^", "HEAD") == ""
    assert json.loads(rollout(work, "status", "p", "-f", "json").stdout)["status"] == "reverted"


def test_a_revert_that_leaves_a_cluster_on_the_revision_says_so_in_its_record_and_in_status(tmp_path):
    """dev-west held v2 before its advance, dev-east did not: the revert takes dev-east back
    and is committed; dev-west stays on v2, named in the record and in every status format
    (never a bare `reverted`), until a person sets it back by hand."""
    source = tmp_path / "source"
    files = {"rollouts/p.yaml": POLICY,
             "fleet/clusters.yaml": FLEET.replace("  - {name: prod-p", "  - {name: dev-east, labels: {env: dev}}\n"
                                                  "  - {name: prod-p"),
             "values/dev-west.yaml": "image:\n  tag: v2\n",  # pinned by hand before the rollout
             "values/dev-east.yaml": "image:\n  tag: v1\n", "values/prod-p.yaml": "image:\n  tag: v1\n"}
    for path, text in files.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(text)
    git(source, "init", "-qb", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "init")
    git(tmp_path, "clone", "-q", "--bare", str(source), "remote.git")
    git(tmp_path, "clone", "-q", "remote.git", "work")
    work = tmp_path / "work"
    assert rollout(work, "advance", "p", "--wave", "canary").returncode == 0
    back = rollout(work, "revert", "p", "--wave", "canary", "--reason", "dev-east degraded")
    assert back.returncode == 0 and "reverted wave 1 canary: 1 cluster, 1 file" in back.stdout, back.stdout
    git(work, "pull", "-q")
    assert (work / "values/dev-east.yaml").read_text() == "image:\n  tag: v1\n"
    message = git(work, "log", "-1", "--format=%B")
    assert ("Restores the previous pins of 1 cluster, 1 file:\n- dev-east (values/dev-east.yaml)\n\n"
            "Leaves 1 cluster on v2 (this revert cannot take it back; a person decides):\n"
            "- dev-west stays on v2: values/dev-west.yaml held v2 already when it was pinned\n") in message, message
    assert "\nRollout-Clusters: dev-east\nRollout-Left-On-Revision: dev-west\n" in message, message

    status = json.loads(rollout(work, "status", "p", "-f", "json").stdout)
    assert status["status"] == "reverted"
    assert (status["waves"][0]["status"], status["waves"][0]["clustersStillOnRevision"]) == ("reverted", ["dev-west"])
    assert "still on v2 after the revert: dev-west" in rollout(work, "status", "p").stdout
    assert "still on v2 after the revert: `dev-west`" in rollout(work, "status", "p", "-f", "markdown").stdout
    assert "still on v2 after the revert: dev-west" in rollout(work, "status", "p", "-f", "html").stdout

    # set back by hand: the files say it is off the revision now
    (work / "values/dev-west.yaml").write_text("image:\n  tag: v1\n")
    git(work, "commit", "-qam", "dev-west back on v1 by hand")
    status = json.loads(rollout(work, "status", "p", "-f", "json").stdout)
    assert (status["status"], status["waves"][0]["clustersStillOnRevision"]) == ("reverted", [])
