"""The first hour of a new user, as issue 13 walked it: the tour works from any folder,
nothing the tools write blocks `advance`, a local-only commit is refused, piped tables
are never cut, and the small things (`-V`, `-h`, `1 cluster`, flags named in errors)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

# a fresh interpreter per command, as a user's first hour has, not the fork server's
# preloaded modules (tests/forkserver.py): a lazy import only a preloaded module satisfies fails here
from conftest import ROLLOUT_PROCESS as ROLLOUT, make_seed_repo

GIT_ENV = {"GIT_AUTHOR_NAME": "First Hour", "GIT_AUTHOR_EMAIL": "first@example.com",
           "GIT_COMMITTER_NAME": "First Hour", "GIT_COMMITTER_EMAIL": "first@example.com"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT_ENV}).stdout


def rollout(cwd: Path, *args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **GIT_ENV, **(env or {})})


def project(tmp_path: Path) -> Path:
    """Some other git repository (the tool's own checkout, a monorepo)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "README.md").write_text("a project\n")
    return committed(root)


def committed(root: Path) -> Path:
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "fleet")
    return root


@pytest.fixture
def published(tmp_path) -> Path:
    """A seed fleet repo with a bare remote as its upstream."""
    work = committed(make_seed_repo(tmp_path / "work").root)
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "remote.git"))
    git(work, "remote", "add", "origin", str(tmp_path / "remote.git"))
    git(work, "push", "-q", "-u", "origin", "main")
    return work


# --- 1. the repo root ------------------------------------------------------------------

def test_the_repo_root_is_the_nearest_folder_upward_holding_rollouts(tmp_path):
    outer = project(tmp_path)
    fleet = make_seed_repo(outer / "examples" / "fleet").root
    git(outer, "add", "-A")
    git(outer, "commit", "-qm", "with an example fleet")
    for cwd in (fleet, fleet / "argocd" / "apps"):
        result = rollout(cwd, "plan", "security-patch", "--format", "json")
        assert result.returncode == 0, result.stderr
        assert len(json.loads(result.stdout)["waves"]) == 5
    missing = rollout(outer, "plan", "security-patch")
    assert missing.returncode == 2
    assert f"the repo root used is {outer.resolve()} (--repo, else the nearest directory upward" in missing.stderr


def test_advancing_a_folder_inside_another_git_repo_is_refused(tmp_path):
    outer = project(tmp_path)
    fleet = make_seed_repo(outer / "fleet").root
    git(outer, "add", "-A")
    git(outer, "commit", "-qm", "fleet inside")
    before = git(outer, "rev-parse", "HEAD")
    result = rollout(fleet, "advance", "security-patch", "--no-push")
    assert result.returncode == 2
    assert f"{fleet.resolve()} is a folder inside the git repo {outer.resolve()}" in result.stderr
    assert git(outer, "rev-parse", "HEAD") == before


# --- 2. a dirty tree -----------------------------------------------------------------------

def test_the_dirty_tree_refusal_names_the_file_and_how_to_keep_a_schema_out(published):
    schema = rollout(published, "schema")
    (published / "rollout-policy.schema.json").write_text(schema.stdout)
    refused = rollout(published, "advance", "security-patch")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "uncommitted changes (rollout-policy.schema.json)" in refused.stderr
    assert "echo '/rollout-policy.schema.json' >> .git/info/exclude" in refused.stderr
    dry = rollout(published, "advance", "security-patch", "--dry-run")
    assert dry.returncode == 0 and "+    targetRevision: v1.4.2" in dry.stdout
    assert "a real run would refuse: the working tree has uncommitted changes (rollout-policy.schema.json)" in dry.stdout
    with open(published / ".git" / "info" / "exclude", "a") as exclude:  # what the message says to do
        exclude.write("/rollout-policy.schema.json\n")
    assert rollout(published, "advance", "security-patch").returncode == 0


# --- 5. no remote ------------------------------------------------------------------------

def test_without_an_upstream_advance_is_refused_unless_no_push_is_given(tmp_path):
    work = committed(make_seed_repo(tmp_path / "work").root)
    before = git(work, "rev-parse", "HEAD")
    refused = rollout(work, "advance", "security-patch")
    assert refused.returncode == 2 and "branch main has no upstream" in refused.stderr
    assert "--no-push" in refused.stderr and git(work, "rev-parse", "HEAD") == before
    status = json.loads(rollout(work, "status", "security-patch", "--format", "json").stdout)
    assert status["status"] == "not-started"
    dry = rollout(work, "advance", "security-patch", "--dry-run")
    assert dry.returncode == 0 and "a real run would refuse: branch main has no upstream" in dry.stdout
    local = rollout(work, "advance", "security-patch", "--no-push")
    assert local.returncode == 0 and "committed locally (not pushed)" in local.stdout
    assert "advanced wave 1 canary: 2 clusters, 2 files" in local.stdout


# --- 6. piped tables ---------------------------------------------------------------------

def test_piped_tables_are_never_cut_and_wide_lists_everything(tmp_path):
    repo = make_seed_repo(tmp_path / "r")
    narrow = {**os.environ, "COLUMNS": "40"}
    for args in (["inventory"], ["plan", "security-patch"]):
        out = subprocess.run([*ROLLOUT, *args], cwd=repo.root, capture_output=True, text=True, env=narrow).stdout
        assert "https://prod-eu-west.k8s.example.com:6443" in out or "prod-eu-west" in out
        assert "…" not in out, out
    inventory = subprocess.run([*ROLLOUT, "inventory"], cwd=repo.root, capture_output=True, text=True,
                               env=narrow).stdout
    assert "https://prod-eu-west.k8s.example.com:6443" in inventory
    wide = rollout(repo.root, "inventory", "--format", "wide")
    assert wide.returncode == 0 and "compliance=gdpr, environment=production, region=eu-west" in wide.stdout


# --- 7. small things ---------------------------------------------------------------------

def test_version_help_and_completion_flags(tmp_path):
    from importlib.metadata import version

    from rollout import __version__

    assert __version__ == version("fleet-rollout")  # the code's and the package's agree

    for flag in ("--version", "-V"):
        result = rollout(tmp_path, flag)
        assert result.returncode == 0 and result.stdout.strip() == f"rollout {__version__}"
    short = rollout(tmp_path, "-h")
    assert short.returncode == 0 and short.stdout == rollout(tmp_path, "--help").stdout
    assert "--install-completion" in short.stdout
    assert "Show which clusters" in rollout(tmp_path, "plan", "-h").stdout


def test_one_cluster_is_singular(tmp_path):
    repo = make_seed_repo(tmp_path / "r", clusters={"dev-eu-west": {"environment": "dev", "region": "eu-west"}})
    result = rollout(repo.root, "validate", "security-patch")
    # region and production claim nobody: they keep their numbers, empty (issue 24)
    assert result.returncode == 0 and result.stdout.strip().endswith("valid: 1 cluster in 3 waves (2 empty)"), \
        result.stdout
    assert rollout(repo.root, "inventory").stdout.startswith("1 cluster\n")
    policy = repo.root / "rollouts/security-patch.yaml"
    policy.write_text(policy.read_text().split("    - name: region\n")[0] + "  onFailure: revert\n")
    result = rollout(repo.root, "validate", "security-patch")
    assert result.returncode == 0 and result.stdout.strip().endswith("valid: 1 cluster in 1 wave"), result.stdout


@pytest.mark.parametrize("args, flag", [
    (["run", "security-patch", "--timeout", "150"], "--timeout"),
    (["run", "security-patch", "--interval", "soon"], "--interval"),
    (["simulate", "--poll", "2 seconds"], "--poll"),
])
def test_duration_errors_name_the_flag(tmp_path, args, flag):
    result = rollout(tmp_path, *args)
    assert result.returncode == 2
    assert result.stderr.startswith(f"rollout: {flag}: '") and "is not a duration" in result.stderr
