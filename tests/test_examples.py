"""Every example repo plans, validates, and can be rolled out and reverted byte-exactly."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rollout.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
POLICIES = {"fleet-config": "security-patch", "argocd-hub": "platform-upgrade", "flux-mesh": "podinfo"}


def cli(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def plan_of(example: str) -> dict:
    result = cli("plan", POLICIES[example], "--repo", str(EXAMPLES / example), "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("example", sorted(POLICIES))
def test_example_validates_and_every_cluster_is_in_exactly_one_wave(example):
    result = cli("validate", POLICIES[example], "--repo", str(EXAMPLES / example))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no warnings either
    plan = plan_of(example)
    inventory = json.loads(cli("inventory", "--repo", str(EXAMPLES / example), "--format", "json").stdout)
    placed = [c for w in plan["waves"] for c in w["clusters"]]
    assert sorted(placed) == sorted(c["name"] for c in inventory)
    labels = {t["name"]: t["labels"] for t in plan["targets"]}
    for wave in plan["waves"]:
        assert len({labels[c].get("compliance") for c in wave["clusters"]}) == 1, wave
        assert all(dep < wave["number"] for dep in wave["after"])


def test_fleet_config_plan_is_the_seed_plan():
    plan = plan_of("fleet-config")
    assert [(w["number"], w["name"], w["clusters"], w["after"]) for w in plan["waves"]] == [
        (1, "canary", ["dev-eu-west", "dev-us-east"], []),
        (2, "region-eu-west", ["staging-eu-west"], [1]),
        (3, "region-us-east", ["staging-us-east"], [1]),
        (4, "production/1", ["prod-eu-west"], [2, 3]),
        (5, "production/2", ["prod-us-east"], [4]),
    ]


def test_argocd_hub_has_forty_clusters_gdpr_only_in_eu_and_quarter_batches():
    plan = plan_of("argocd-hub")
    assert len(plan["targets"]) == 40
    regions = {t["labels"]["region"] for t in plan["targets"]}
    assert regions == {"us-east", "us-west", "eu-west", "eu-central"}
    for target in plan["targets"]:
        assert (target["labels"].get("compliance") == "gdpr") == target["labels"]["region"].startswith("eu")
    production = [w for w in plan["waves"] if w["name"].startswith("production-")]
    assert len(production) == 16 and all(len(w["clusters"]) == 2 for w in production)
    assert all(w["approval"] == "required" for w in production)
    assert "<redacted>" not in json.dumps(plan) and "bearerToken" not in json.dumps(plan)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("example", sorted(POLICIES))
def test_rolling_out_an_example_touches_only_pinned_lines_and_reverts_byte_for_byte(example, tmp_path, monkeypatch):
    from rollout.advance import advance
    from rollout.revert import revert

    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(key, "Rollout Test")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "rollout@example.com")
    repo = tmp_path / example
    shutil.copytree(EXAMPLES / example, repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "example")
    start = git(repo, "rev-parse", "HEAD").strip()
    plan = plan_of(example)
    far = 10**10  # every bake long over
    for wave in plan["waves"]:
        advance(repo, POLICIES[example], wave=str(wave["number"]), push=False, force=True, now=far)
    diff = git(repo, "diff", "-U0", start, "HEAD")
    changed = [l for l in diff.splitlines() if l[:1] in "+-" and not l.startswith(("+++", "---"))]
    assert len(changed) == 2 * len(plan["targets"])
    revision = plan["revision"]
    assert all(revision in l for l in changed if l.startswith("+")), changed
    revert(repo, POLICIES[example], None, True, "rehearsal", push=False, now=far)
    assert git(repo, "diff", start, "HEAD") == ""


@pytest.mark.parametrize("name", ["github-actions-rollout.yml", "github-actions-plan-comment.yml", "gitlab-ci.yml"])
def test_ci_examples_are_valid_yaml_and_drive_rollout(name):
    import yaml

    text = (EXAMPLES / "ci" / name).read_text()
    assert isinstance(yaml.safe_load(text), dict)
    assert "rollout run" in text or "rollout plan" in text
    if "rollout run" in text:
        assert "fetch-depth: 0" in text or "GIT_DEPTH: 0" in text  # the state is the history
