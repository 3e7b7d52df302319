"""Wave numbers never shift silently (issue 24): a wave whose selector matches nothing
keeps its number, is shown as empty by plan and status, is skipped by advance (it passes
once what it waits for has), and `--wave` takes a name wherever it takes a number."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROLLOUT, SEED_POLICY, TEST_GIT_IDENTITY, make_seed_repo
from waves.inventory import Cluster
from waves.planner import make_plan
from waves.policy import RolloutPolicy
from rollout.session import wave_ref
from rollout.workspace import UsageError

# canary (dev), then qa, which no cluster of the seed fleet matches, then production
# (everything else, one at a time) after qa. qa's bake, gates and approval do not apply.
POLICY = SEED_POLICY.replace("""\
    - name: region
      groupBy: region
      selector: {matchLabels: {environment: staging}}
      after: [canary]
      bake: 1h
    - name: production
      after: [region]
      maxClusters: 1
""", """\
    - name: qa
      selector: {matchLabels: {environment: qa}}
      bake: 1h
      approval: required
      gates:
        - argocd: {context: hub, namespace: argocd}
    - name: production
      maxClusters: 3
""").replace("      bake: 30m\n", "").replace("    isolateBy: [compliance]\n", "")  # canary passes at once

WAVES = [(1, "canary", False), (2, "qa", True), (3, "production/1", False), (4, "production/2", False)]


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    for key, value in TEST_GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ROLLOUT_NOW", raising=False)
    root = make_seed_repo(tmp_path / "fleet", policy=POLICY).root
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "fleet")):
        git(root, *args)
    return root


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def rollout(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})


def ok(cwd: Path, *args: str) -> str:
    result = rollout(cwd, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def trailers(root: Path, rev: str = "HEAD") -> dict[str, str]:
    message = git(root, "log", "-1", "--format=%B", rev)
    return dict(line.split(": ", 1) for line in message.strip().split("\n\n")[-1].splitlines())


def test_plan_shows_the_empty_wave_at_its_number_in_every_format(repo):
    plan = json.loads(ok(repo, "plan", "security-patch", "--format", "json"))
    assert [(w["number"], w["name"], w["empty"]) for w in plan["waves"]] == WAVES
    assert [w["after"] for w in plan["waves"]] == [[], [1], [2], [3]]
    assert plan["waves"][1]["clusters"] == []
    assert [p["message"] for p in plan["warnings"]] == ["wave qa claims no cluster"]  # the warning stays

    table = rollout(repo, "plan", "security-patch")
    assert table.returncode == 0
    assert re.search(r"│ 2 │ qa +│ 0 empty: no cluster matches +│ +1 │ +— │ — +│", table.stdout), table.stdout
    assert "6 clusters in 4 waves (1 empty)" in table.stdout
    assert "wave qa claims no cluster" in table.stdout + table.stderr

    markdown = ok(repo, "plan", "security-patch", "--format", "markdown")
    assert "| 2 | qa | *empty*: no cluster matches | 1 | — | — |" in markdown  # its bake and gates never apply
    assert "6 clusters in 4 waves (1 empty)." in markdown
    mermaid = ok(repo, "plan", "security-patch", "--format", "mermaid")
    assert '  w2["2 qa<br/>empty: no cluster matches"]:::empty\n' in mermaid
    assert "  w1 --> w2\n  w2 --> w3" in mermaid and "classDef empty " in mermaid
    dot = ok(repo, "plan", "security-patch", "--format", "dot")
    assert '  w2 [label="2 qa\\nempty: no cluster matches' in dot and 'style="rounded,dashed"' in dot

    valid = ok(repo, "validate", "security-patch")
    assert valid.strip().endswith("valid: 6 clusters in 4 waves (1 empty)")


def test_status_shows_the_empty_wave_in_every_format(repo):
    status = json.loads(ok(repo, "status", "security-patch", "--format", "json"))
    assert [(w["number"], w["name"], w["status"]) for w in status["waves"]] == [
        (1, "canary", "pending"), (2, "qa", "empty"), (3, "production/1", "pending"), (4, "production/2", "pending")]
    assert status["status"] == "not-started"  # an empty wave starts nothing and ends nothing
    table = ok(repo, "status", "security-patch")
    assert re.search(r"│ 2 │ qa +│ empty +│ — +│ — +│ — +│ — +│", table), table
    markdown = ok(repo, "status", "security-patch", "--format", "markdown")
    assert "| 2 | qa | empty | 0 | — | — | — |" in markdown
    assert '  w2["2 qa<br/>0 clusters · <b>empty</b>"]:::s_empty' in markdown


def test_advance_skips_the_empty_wave_and_what_waits_for_it_goes_on(repo):
    first = ok(repo, "advance", "security-patch", "--no-push")
    assert first.startswith("advanced wave 1 canary: 2 clusters, 2 files ")
    second = ok(repo, "advance", "security-patch", "--no-push")  # canary passed (no bake, no gates): qa too
    assert second.startswith("advanced wave 3 production/1: 3 clusters, 3 files ")
    assert (trailers(repo)["Rollout-Wave"], trailers(repo)["Rollout-Wave-Name"]) == ("3", "production/1")
    assert "Rollout-Wave-Name: qa" not in git(repo, "log", "--format=%B")  # nothing is recorded of it

    nothing = ok(repo, "advance", "security-patch", "--wave", "qa", "--no-push")
    assert "wave 2 qa is empty (no cluster matches its selector): nothing to advance" in nothing
    approve = ok(repo, "approve", "security-patch", "--wave", "2", "--no-push")
    assert "wave 2 qa is empty" in approve and "without an approval" in approve
    revert = ok(repo, "revert", "security-patch", "--wave", "qa", "--reason", "test", "--no-push")
    assert "wave 2 qa is empty (no cluster matches its selector): nothing to revert" in revert
    assert git(repo, "log", "-1", "--format=%s").strip() == "rollout(security-patch): wave 3 production/1 -> v1.4.2"


def test_revert_wave_n_reverts_the_policys_wave_n_and_a_name_does_the_same(repo):
    ok(repo, "advance", "security-patch", "--no-push")
    ok(repo, "advance", "security-patch", "--no-push")
    by_number = ok(repo, "revert", "security-patch", "--wave", "3", "--reason", "test", "--no-push")
    assert by_number.startswith("reverted wave 3 production/1: 3 clusters, 3 files ")
    assert trailers(repo)["Rollout-Wave-Name"] == "production/1"
    again = ok(repo, "revert", "security-patch", "--wave", "production/1", "--reason", "test", "--no-push")
    assert "wave 3 production/1 is already reverted: nothing to do" in again


def test_a_history_written_before_empty_waves_kept_their_number_still_reads(repo):
    """Commits record the wave's number (`Rollout-Wave`) and its name; the fold matches
    by name. An advance written when qa was left out said `wave 2 production/1`: it is
    still production/1's advance, now wave 3."""
    ok(repo, "advance", "security-patch", "--no-push")
    ok(repo, "advance", "security-patch", "--no-push")
    old = git(repo, "log", "-1", "--format=%B").replace("wave 3 production/1", "wave 2 production/1") \
        .replace("Rollout-Wave: 3\n", "Rollout-Wave: 2\n")
    git(repo, "commit", "-q", "--amend", "-m", old)
    assert trailers(repo)["Rollout-Wave"] == "2"
    status = json.loads(ok(repo, "status", "security-patch", "--format", "json"))
    assert [(w["name"], w["status"]) for w in status["waves"]][:3] == [
        ("canary", "passed"), ("qa", "empty"), ("production/1", "passed")]
    reverted = ok(repo, "revert", "security-patch", "--wave", "production/1", "--reason", "test", "--no-push")
    assert reverted.startswith("reverted wave 3 production/1: ")
    assert trailers(repo)["Rollout-Advance"] == git(repo, "rev-parse", "HEAD^").strip()


def test_gate_of_an_empty_wave_passes_with_nothing_to_judge_and_records_nothing(repo):
    empty = repo.parent / "kubeconfig-of-no-context"  # any context looked up would be exit 2: none is
    empty.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    result = rollout(repo, "gate", "security-patch", "--wave", "qa", "--record", "--format", "json",
                     "--kubeconfig", str(empty))
    assert result.returncode == 0, result.stdout + result.stderr
    verdict = json.loads(result.stdout)
    assert (verdict["state"], verdict["recorded"]) == ("passed", None)
    assert "empty" in verdict["reason"]
    assert git(repo, "log", "--format=%s").strip() == "fleet"


def plan_of(waves, clusters):
    policy = RolloutPolicy.model_validate({
        "apiVersion": "rollout/v1alpha1", "kind": "RolloutPolicy", "metadata": {"name": "p"},
        "spec": {"revision": "v2", "inventory": [{"fleet": "f.yaml"}],
                 "pin": [{"preset": "flux-helmrelease", "files": "{cluster}.yaml"}], "waves": waves}})
    return make_plan(policy, [Cluster(name, labels) for name, labels in clusters.items()])


def test_wave_accepts_a_number_or_a_name_and_says_what_it_cannot_tell():
    plan = plan_of([{"name": "2", "selector": {"matchLabels": {"env": "dev"}}},
                    {"name": "region", "groupBy": "region", "maxClusters": 1}],
                   {"a": {"env": "dev", "region": "eu"}, "b": {"region": "eu"}, "c": {"region": "us"}})
    assert [w.name for w in plan.waves] == ["2", "region-eu", "region-us"]
    assert wave_ref(plan, "1").name == "2" and wave_ref(plan, "region-us").number == 3
    with pytest.raises(UsageError, match=r"--wave 2: ambiguous: wave 2 is region-eu, and wave 1 is named 2"):
        wave_ref(plan, "2")
    with pytest.raises(UsageError, match=r"--wave region: wave region is planned as 2 waves: 2 region-eu, "
                                         r"3 region-us; name one"):
        wave_ref(plan, "region")
    with pytest.raises(UsageError, match=r"no such wave \(waves: 1 2, 2 region-eu, 3 region-us\)"):
        wave_ref(plan, "9")
