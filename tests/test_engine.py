"""advance / status / revert against real git: a bare repository as the remote and
clones of it, processes racing and killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROLLOUT, ROLLOUT_PROCESS, SEED_CLUSTERS, application_yaml, fleet_yaml, identity_yaml, make_seed_repo

GIT_ENV = {"GIT_AUTHOR_NAME": "Rollout Test", "GIT_AUTHOR_EMAIL": "rollout@example.com",
           "GIT_COMMITTER_NAME": "Rollout Test", "GIT_COMMITTER_EMAIL": "rollout@example.com"}


@pytest.fixture(autouse=True)
def git_identity(monkeypatch):
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ROLLOUT_NOW", raising=False)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def rollout(cwd: Path, *args: str, now: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    if now is not None:
        env["ROLLOUT_NOW"] = str(now)
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=60)


class Fleet:
    """A seed fleet repo published to a bare remote, and clones of it."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        source = make_seed_repo(tmp / "source").root
        git(source, "init", "-q", "-b", "main")
        git(source, "add", "-A")
        git(source, "commit", "-qm", "fleet-config")
        self.remote = tmp / "remote.git"
        git(tmp, "clone", "-q", "--bare", str(source), str(self.remote))

    def clone(self, name: str) -> Path:
        path = self.tmp / name
        git(self.tmp, "clone", "-q", str(self.remote), str(path))
        return path

    def remote_log(self) -> list[str]:
        return git(self.remote, "log", "--format=%s", "main").splitlines()


@pytest.fixture
def fleet(tmp_path) -> Fleet:
    return Fleet(tmp_path)


def pinned(repo: Path, cluster: str) -> str:
    text = (repo / f"argocd/apps/{cluster}-platform.yaml").read_text()
    return next(line.split(":", 1)[1].split("#")[0].strip() for line in text.splitlines() if "targetRevision" in line)


def test_advance_commits_one_wave_with_trailers_and_pushes(fleet):
    a = fleet.clone("a")
    result = rollout(a, "advance", "security-patch", "--wave", "1", "--format", "json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    (wave,) = outcome["waves"]
    assert (wave["number"], wave["name"], wave["clusters"], outcome["pushed"]) == (1, "canary", ["dev-eu-west", "dev-us-east"], True)
    assert fleet.remote_log()[0] == "rollout(security-patch): wave 1 canary -> v1.4.2"
    message = git(a, "log", "-1", "--format=%B")
    for trailer in ("Rollout-Policy: security-patch", "Rollout-Revision: v1.4.2", "Rollout-Wave: 1",
                    "Rollout-Wave-Name: canary", "Rollout-Action: advance", "Rollout-Policy-Digest: sha256:"):
        assert trailer in message
    diff = git(a, "show", "--format=", "-U0", "HEAD")
    changed = [l for l in diff.splitlines() if l[:1] in "+-" and not l.startswith(("+++", "---"))]
    assert changed == ["-    targetRevision: v1.4.1  # pinned by rollout", "+    targetRevision: v1.4.2  # pinned by rollout"] * 2
    assert git(a, "status", "--porcelain") == ""
    assert git(a, "rev-parse", "HEAD") == git(fleet.remote, "rev-parse", "main")
    assert not git(a, "for-each-ref", "refs/rollout/"), "no scratch refs left"
    # Advancing twice is advancing once.
    again = rollout(a, "advance", "security-patch", "--wave", "1")
    assert again.returncode == 0 and "already advanced" in again.stdout
    assert len(fleet.remote_log()) == 2


def test_dependencies_bake_and_force(fleet):
    a = fleet.clone("a")
    assert rollout(a, "advance", "security-patch").returncode == 0  # wave 1: the only ready one
    refused = rollout(a, "advance", "security-patch", "--wave", "region-eu-west")
    assert refused.returncode == 1
    assert "wave 2 region-eu-west must wait: wave 1 canary is baking" in refused.stderr
    waiting = rollout(a, "advance", "security-patch")
    assert waiting.returncode == 0 and "waits: wave 1 canary is baking" in waiting.stdout
    later = int(time.time()) + 31 * 60
    moved = rollout(a, "advance", "security-patch", now=later)
    assert moved.returncode == 0, moved.stderr
    assert fleet.remote_log()[:2] == ["rollout(security-patch): wave 3 region-us-east -> v1.4.2",
                                      "rollout(security-patch): wave 2 region-eu-west -> v1.4.2"]
    forced = rollout(a, "advance", "security-patch", "--wave", "4", "--force", now=later)
    assert forced.returncode == 0, forced.stderr
    body = git(a, "log", "-1", "--format=%B")
    assert "Rollout-Forced: true" in body and "Forced past: wave 2 region-eu-west is baking" in body
    status = json.loads(rollout(a, "status", "security-patch", "--format", "json", now=later).stdout)
    assert [w["status"] for w in status["waves"]] == ["passed", "baking", "baking", "passed", "pending"]  # wave 4: no bake
    assert status["status"] == "in-progress"
    assert pinned(a, "prod-eu-west") == "v1.4.2" and pinned(a, "prod-us-east") == "v1.4.1"


def test_advance_wave_refuses_a_halted_or_reverted_rollout_even_with_force(fleet):
    """A halt holds every start until a person lifts it (or retries), and a revert stops the
    revision: `advance --wave N` went past both, a halt on a wave that had passed without
    even --force (its dependants saw a `passed` wave), and the hand edit before `run` recorded
    its halt (decide halts on it: `stopped` says so)."""
    a = fleet.clone("a")
    assert rollout(a, "advance", "security-patch").returncode == 0  # the canary: no gates, it passes by its bake
    for cluster in ("dev-eu-west", "dev-us-east"):  # a person sets the canary back by hand
        path = a / f"argocd/apps/{cluster}-platform.yaml"
        path.write_text(path.read_text().replace("v1.4.2", "v1.4.1"))
    git(a, "commit", "-qam", "hand edit")
    git(a, "push", "-q")
    later = int(time.time()) + 31 * 60

    def refused_with_and_without_force(*said: str) -> None:
        before = fleet.remote_log()
        for force in ([], ["--force"]):
            refused = rollout(a, "advance", "security-patch", "--wave", "region-eu-west", *force, now=later)
            assert refused.returncode == 1, refused.stdout + refused.stderr
            assert all(part in refused.stderr for part in said), refused.stderr
        assert fleet.remote_log() == before and pinned(a, "staging-eu-west") == "v1.4.1"

    # before `run` records the halt: `advance` (decide) says it halts on the hand edit, and --wave refuses alike
    refused_with_and_without_force("set off v1.4.2 by hand since pinned", "(dev-eu-west, dev-us-east)")
    halted = rollout(a, "run", "security-patch", now=later)
    assert halted.returncode == 1 and "security-patch -> v1.4.2: halted" in halted.stdout, halted.stdout + halted.stderr
    refused_with_and_without_force("is halted at wave 1 canary", "rollout resume security-patch --halt")
    assert rollout(a, "revert", "security-patch", "--wave", "canary", "--reason", "bad").returncode == 0
    refused_with_and_without_force("was reverted (wave 1 canary)", "rollout retry")


def test_dry_run_prints_the_diff_and_writes_nothing(fleet):
    a = fleet.clone("a")
    head = git(a, "rev-parse", "HEAD")
    result = rollout(a, "advance", "security-patch", "--dry-run")
    assert result.returncode == 0
    assert "-    targetRevision: v1.4.1  # pinned by rollout\n+    targetRevision: v1.4.2  # pinned by rollout" in result.stdout
    assert git(a, "rev-parse", "HEAD") == head and git(a, "status", "--porcelain") == ""
    assert len(fleet.remote_log()) == 1


def test_dirty_tree_and_detached_head_are_refused(fleet):
    a = fleet.clone("a")
    (a / "notes.txt").write_text("wip\n")
    dirty = rollout(a, "advance", "security-patch")
    assert dirty.returncode == 2 and "uncommitted changes (notes.txt)" in dirty.stderr
    (a / "notes.txt").unlink()
    git(a, "checkout", "-q", "--detach")
    detached = rollout(a, "advance", "security-patch")
    assert detached.returncode == 2 and "HEAD is detached" in detached.stderr
    assert len(fleet.remote_log()) == 1


def test_wrong_destination_is_refused_before_any_write(fleet):
    a = fleet.clone("a")
    app = a / "argocd/apps/dev-eu-west-platform.yaml"
    app.write_text(application_yaml("dev-eu-west", server="https://dev-us-east.k8s.example.com:6443"))
    git(a, "commit", "-qam", "someone copies the US Application")
    unpushed = rollout(a, "advance", "security-patch")
    assert unpushed.returncode == 1 and "main has commits not on origin/main: push or drop them first" in unpushed.stderr
    git(a, "push", "-q")
    result = rollout(a, "advance", "security-patch")
    assert result.returncode == 2
    assert "argocd/apps/dev-eu-west-platform.yaml:14: spec.destination.server: Application for cluster dev-eu-west " \
           "deploys to https://dev-us-east.k8s.example.com:6443" in result.stderr
    assert git(a, "status", "--porcelain") == "" and len(git(a, "log", "--oneline").splitlines()) == 2


def test_identity_mismatch_is_refused(tmp_path):
    policy_extra = ('  identity:\n    files: clusters/{cluster}/kustomization.yaml\n    require:\n'
                    '      CLUSTER_NAME: "{cluster}"\n      REGION: "{labels.region}-*"\n      COMPLIANCE: "{labels.compliance}"\n')
    from conftest import SEED_POLICY

    repo = make_seed_repo(tmp_path / "r", policy=SEED_POLICY + policy_extra)
    ok = rollout(repo.root, "validate", "security-patch", "--repo", str(repo.root))
    assert ok.returncode == 0, ok.stderr
    labels = dict(SEED_CLUSTERS["prod-eu-west"], region="us-east")
    repo.write("clusters/prod-eu-west/kustomization.yaml", identity_yaml("prod-eu-west", labels))
    bad = rollout(repo.root, "validate", "security-patch", "--repo", str(repo.root))
    assert bad.returncode == 2
    assert "cluster-identity REGION=us-east-1 does not match eu-west-*" in bad.stderr
    repo.write("clusters/prod-us-east/kustomization.yaml",
               identity_yaml("prod-us-east", dict(SEED_CLUSTERS["prod-us-east"], compliance="gdpr")))
    bad = rollout(repo.root, "validate", "security-patch", "--repo", str(repo.root))
    assert "cluster prod-us-east: cluster-identity has COMPLIANCE=gdpr but the cluster has no label 'compliance'" in bad.stderr


def test_an_empty_label_in_identity_files_is_refused_not_read_as_another_file(tmp_path):
    """identity.files `clusters/{labels.team}/kustomization.yaml` with `team: ""` would read
    `clusters/kustomization.yaml` (`clusters//kustomization.yaml` to the file system)."""
    from conftest import SEED_POLICY

    policy_extra = ('  identity:\n    files: clusters/{labels.team}/kustomization.yaml\n    require:\n'
                    '      CLUSTER_NAME: "{cluster}"\n')
    clusters = {name: {**labels, "team": name if name != "dev-eu-west" else ""} for name, labels in SEED_CLUSTERS.items()}
    repo = make_seed_repo(tmp_path / "r", policy=SEED_POLICY + policy_extra, clusters=clusters)
    for name, labels in clusters.items():
        repo.write(f"clusters/{labels['team'] or 'dev-eu-west'}/kustomization.yaml", identity_yaml(name, labels))
    repo.write("clusters/kustomization.yaml", identity_yaml("dev-eu-west", clusters["dev-eu-west"]))
    bad = rollout(repo.root, "validate", "security-patch", "--repo", str(repo.root))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.splitlines() == [
        f"{repo.root / 'rollouts/security-patch.yaml'}:28: spec.identity.files: cluster dev-eu-west has an empty label 'team', which "
        "makes identity.files the path 'clusters//kustomization.yaml': not a file in the repository"], bad.stderr


def test_an_empty_label_that_leaves_an_identity_pattern_only_a_wildcard_is_refused(tmp_path):
    """identity.require `REGION: "{labels.region}*"` with `region: ""` is `*`: any value
    matches, so the identity check of that cluster would check nothing and pass."""
    from conftest import SEED_POLICY

    policy_extra = ('  identity:\n    files: clusters/{cluster}/kustomization.yaml\n    require:\n'
                    '      CLUSTER_NAME: "{cluster}"\n      REGION: "{labels.region}*"\n')
    clusters = {name: {**labels, "region": "" if name == "prod-us-east" else labels["region"]}
                for name, labels in SEED_CLUSTERS.items()}
    repo = make_seed_repo(tmp_path / "r", policy=SEED_POLICY + policy_extra, clusters=clusters)
    repo.write("clusters/prod-us-east/kustomization.yaml", identity_yaml("prod-us-east", SEED_CLUSTERS["prod-eu-west"]))
    bad = rollout(repo.root, "validate", "security-patch", "--repo", str(repo.root))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert [line.split(": ", 1)[1] for line in bad.stderr.splitlines()] == [
        "spec.identity.require.REGION: cluster prod-us-east has an empty label 'region', which makes identity.require "
        "REGION '{labels.region}*' the pattern '*': any value matches it, so it checks nothing"], bad.stderr


def test_the_identity_checks_policy_problems_are_one_line_per_field_for_a_fleet_not_one_per_cluster(tmp_path):
    """10,000 clusters with an empty `region` (or none) are one line each for identity.files
    and identity.require, naming a few of them, as the gates' templates say it: one per
    cluster buried the file's own problems."""
    from types import SimpleNamespace

    from rollout.safety import _identity

    names = [f"c{i:05}" for i in range(10_000)]
    ok = SimpleNamespace(files="clusters/{cluster}/kustomization.yaml", require={"REGION": "{labels.region}?*"})
    texts = {f"clusters/{n}/kustomization.yaml": identity_yaml(n, {"environment": "prod", "region": "eu"})
             for n in names[:200]}  # each file parsed: 200 of them say it
    clusters = [SimpleNamespace(name=n, labels={"region": ""}) for n in names[:200]]
    assert [(p.message, p.loc) for p in _identity(tmp_path, ok, clusters, texts)] == [
        ("clusters c00000, c00001, c00002, c00003, c00004 and 195 more have an empty label 'region', which makes "
         "identity.require REGION '{labels.region}?*' the pattern '?*': any value matches it, so it checks nothing",
         ("spec", "identity", "require", "REGION"))]
    by_site = SimpleNamespace(files="clusters/{labels.site}/{cluster}.yaml", require={})
    clusters = [SimpleNamespace(name=n, labels={"site": ""} if i % 2 else {}) for i, n in enumerate(names)]
    assert [p.message for p in _identity(tmp_path, by_site, clusters, {})] == [
        "clusters c00000, c00002, c00004, c00006, c00008 and 4995 more have no label 'site' for identity.files",
        "clusters c00001, c00003, c00005, c00007, c00009 and 4995 more have an empty label 'site', which makes "
        "identity.files the path 'clusters//c00001.yaml' (c00001's): not a file in the repository"]


def test_revert_restores_bytes_and_is_idempotent(fleet):
    a = fleet.clone("a")
    before = (a / "argocd/apps/dev-eu-west-platform.yaml").read_bytes()
    assert rollout(a, "advance", "security-patch").returncode == 0
    git(a, "commit", "-q", "--allow-empty", "-m", "an unrelated human commit")
    (a / "README.md").write_text("docs\n")
    git(a, "add", "README.md")
    git(a, "commit", "-qm", "another one")
    git(a, "push", "-q")
    result = rollout(a, "revert", "security-patch", "--wave", "1", "--reason", "error rate above 1%", "--format", "json")
    assert result.returncode == 0, result.stderr
    (change,) = json.loads(result.stdout)["waves"]
    assert change["action"] == "revert" and change["clusters"] == ["dev-eu-west", "dev-us-east"]
    assert (a / "argocd/apps/dev-eu-west-platform.yaml").read_bytes() == before
    body = git(a, "log", "-1", "--format=%B")
    assert "Rollout-Action: revert" in body and "Rollout-Reason: error rate above 1%" in body
    assert fleet.remote_log()[0] == "rollout(security-patch): revert wave 1 canary (v1.4.2)"
    again = rollout(a, "revert", "security-patch", "--wave", "1", "--reason", "again")
    assert again.returncode == 0 and "already reverted" in again.stdout
    every = rollout(a, "revert", "security-patch", "--all", "--reason", "again")  # said, not silence
    assert every.returncode == 0 and "no wave of security-patch -> v1.4.2 is out (epoch 1): nothing to revert" \
        in every.stdout, every.stdout + every.stderr
    status = json.loads(rollout(a, "status", "security-patch", "--format", "json").stdout)
    assert status["status"] == "reverted" and status["waves"][0]["status"] == "reverted"
    refused = rollout(a, "advance", "security-patch", "--wave", "1")
    assert refused.returncode == 1 and "was reverted for v1.4.2" in refused.stderr


def test_revert_prints_the_warnings_loading_produced_as_status_does(fleet):
    """A pinned file of a wave not out deleted since: the load's warning (not the revert's
    business otherwise) is said on stderr, line for line as `status` says it, in every
    format; the revert goes on as without it."""
    a = fleet.clone("a")
    assert rollout(a, "advance", "security-patch", "--wave", "1").returncode == 0
    git(a, "rm", "-q", "argocd/apps/prod-us-east-platform.yaml")
    git(a, "commit", "-qm", "prod-us-east's Application removed by hand")
    git(a, "push", "-q")
    status = rollout(a, "status", "security-patch")
    warned = [line for line in status.stderr.splitlines() if ": warning: " in line]
    assert len(warned) == 1 and warned[0].endswith(
        "spec.pin[0].files: warning: argocd/apps/prod-us-east-platform.yaml: file not found (the pin for cluster "
        "prod-us-east)"), status.stderr
    result = rollout(a, "revert", "security-patch", "--wave", "1", "--reason", "error rate above 1%")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.splitlines() == warned and "warning" not in result.stdout
    assert "reverted wave 1 canary: 2 clusters, 2 files" in result.stdout
    assert fleet.remote_log()[0] == "rollout(security-patch): revert wave 1 canary (v1.4.2)"
    again = rollout(a, "revert", "security-patch", "--wave", "1", "--reason", "again", "--format", "json")
    assert again.returncode == 0 and json.loads(again.stdout)["notes"] == ["wave 1 canary is already reverted: nothing to do"]
    assert again.stderr.splitlines() == warned


def test_advance_and_run_print_the_warnings_loading_produced_as_status_does(fleet):
    """A warning of the load (a wave that claims no cluster): `advance` (every format),
    each `run` step and `status --format html` (on its page too) say it on stderr, line for
    line as `status` does; what they do is what they do without it."""
    a = fleet.clone("a")
    policy = a / "rollouts/security-patch.yaml"
    policy.write_text(policy.read_text().replace("  constraints:", "    - name: qa\n"
                                                 "      selector: {matchLabels: {environment: qa}}\n  constraints:"))
    git(a, "commit", "-qam", "a qa wave, no cluster in it yet")
    git(a, "push", "-q")
    warned = [line for line in rollout(a, "status", "security-patch").stderr.splitlines() if ": warning: " in line]
    assert len(warned) == 1 and "wave qa claims no cluster" in warned[0], warned
    page = rollout(a, "status", "security-patch", "--format", "html")
    assert page.returncode == 0 and page.stderr.splitlines() == warned
    assert "<li>warning: wave qa claims no cluster</li>" in page.stdout
    dry = rollout(a, "advance", "security-patch", "--wave", "1", "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr.splitlines() == warned and "warning" not in dry.stdout
    done = rollout(a, "advance", "security-patch", "--wave", "1")
    assert done.returncode == 0 and done.stderr.splitlines() == warned, done.stdout + done.stderr
    step = rollout(a, "run", "security-patch")
    assert [line for line in step.stderr.splitlines() if ": warning: " in line] == warned, step.stderr
    assert "warning" not in step.stdout and "waiting" in step.stdout, step.stdout


def test_a_revert_through_a_folder_made_a_symlink_is_not_read_as_the_files_deleted(fleet):
    """git reads no file under a folder's link (the clusters still run the revision through
    it): the revert restores nothing, so it is not committed nor recorded as reverted. The
    link is said once (its note, its load warning), not once per cluster below it."""
    a = fleet.clone("a")
    assert rollout(a, "advance", "security-patch", "--wave", "1").returncode == 0
    (a / "argocd/apps").rename(a / "argocd/apps-real")
    (a / "argocd/apps").symlink_to("apps-real")
    git(a, "add", "-A")
    git(a, "commit", "-qm", "the folder moved, a link left")
    git(a, "push", "-q")
    result = rollout(a, "revert", "security-patch", "--wave", "1", "--reason", "error rate above 1%")
    assert result.returncode == 1, result.stdout + result.stderr
    assert [line for line in result.stdout.splitlines() if "symbolic link" in line] == [
        "argocd/apps: a symbolic link (to apps-real; git reads no file there): 2 pinned files (argocd/apps/dev-eu-west-"
        "platform.yaml, argocd/apps/dev-us-east-platform.yaml; the pins for clusters dev-eu-west, dev-us-east): left "
        "alone"]
    assert "was deleted since" not in result.stdout + result.stderr
    assert fleet.remote_log()[0] == "the folder moved, a link left"
    # the load's warning, once for the link (all six clusters' files below it), as status says it
    status = rollout(a, "status", "security-patch")
    assert status.returncode == 0, status.stderr
    warned = [line for line in status.stderr.splitlines() if "symbolic link" in line]
    assert len(warned) == 1 and ": warning: argocd/apps: a symbolic link (to apps-real), not a folder, holding 6 pinned " \
        "files (argocd/apps/dev-eu-west-platform.yaml, argocd/apps/dev-us-east-platform.yaml, argocd/apps/prod-eu-west-" \
        "platform.yaml and 3 more; the pins for clusters dev-eu-west, dev-us-east, prod-eu-west and 3 more)" in warned[0]
    assert result.stderr.splitlines() == warned


def test_a_revert_with_a_pinned_file_made_a_link_restores_the_others_and_leaves_the_link(fleet):
    """A pinned file replaced by a symbolic link after the advance: git's blob is the link's
    target, not the YAML, and a revert written there would put a file in the link's place.
    The revert takes the wave's other cluster back, leaves the link alone and says so
    (it used to stop, exit 2, on "no Application document", blocking the whole wave)."""
    a = fleet.clone("a")
    assert rollout(a, "advance", "security-patch", "--wave", "1").returncode == 0
    file = a / "argocd/apps/dev-eu-west-platform.yaml"
    (a / "argocd/real-dev-eu-west.yaml").write_text(file.read_text())
    file.unlink()
    file.symlink_to("../real-dev-eu-west.yaml")
    git(a, "add", "-A")
    git(a, "commit", "-qm", "a pinned file made a link")
    git(a, "push", "-q")
    result = rollout(a, "revert", "security-patch", "--wave", "1", "--reason", "error rate above 1%")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line for line in result.stdout.splitlines() if "symbolic link" in line] == [
        "argocd/apps/dev-eu-west-platform.yaml is a symbolic link (to ../real-dev-eu-west.yaml): a revert written there "
        "would put a file in the link's place; pin the file it points to (the pin for cluster dev-eu-west): left alone"]
    assert fleet.remote_log()[0] == "rollout(security-patch): revert wave 1 canary (v1.4.2)"
    assert pinned(a, "dev-us-east") != "v1.4.2" and os.path.islink(file)
    assert "v1.4.2" in (a / "argocd/real-dev-eu-west.yaml").read_text()  # the link's file still on the revision
    status = json.loads(rollout(a, "status", "security-patch", "--format", "json").stdout)
    assert status["waves"][0]["status"] == "reverted"
    assert status["waves"][0]["clustersStillOnRevision"] == ["dev-eu-west"]  # said, never hidden


def test_a_new_revision_starts_a_new_rollout(fleet):
    a = fleet.clone("a")
    assert rollout(a, "advance", "security-patch").returncode == 0
    policy = a / "rollouts/security-patch.yaml"
    policy.write_text(policy.read_text().replace("revision: v1.4.2", "revision: v1.4.3"))
    git(a, "commit", "-qam", "security-patch: v1.4.3")
    status = json.loads(rollout(a, "status", "security-patch", "--format", "json").stdout)
    assert status["revision"] == "v1.4.3" and status["status"] == "not-started"
    result = rollout(a, "advance", "security-patch", "--no-push")
    assert result.returncode == 0 and "committed locally (not pushed)" in result.stdout
    assert pinned(a, "dev-eu-west") == "v1.4.3"


def test_late_joining_cluster_is_pinned_by_the_next_advance(fleet):
    a = fleet.clone("a")
    assert rollout(a, "advance", "security-patch").returncode == 0
    clusters = dict(SEED_CLUSTERS, **{"dev-ap-south": {"environment": "dev", "region": "ap-south"}})
    (a / "fleet/clusters.yaml").write_text(fleet_yaml(clusters))
    (a / "argocd/apps/dev-ap-south-platform.yaml").write_text(application_yaml("dev-ap-south"))
    git(a, "add", "-A")
    git(a, "commit", "-qm", "add dev-ap-south")
    git(a, "push", "-q")
    status = json.loads(rollout(a, "status", "security-patch", "--format", "json").stdout)
    canary = status["waves"][0]
    assert canary["status"] == "baking" and canary["late"] == ["dev-ap-south"]
    assert canary["clustersNotAtRevision"] == ["dev-ap-south"]
    result = rollout(a, "advance", "security-patch")
    assert result.returncode == 0, result.stderr
    assert fleet.remote_log()[0] == "rollout(security-patch): wave 1 canary -> v1.4.2 (late join)"
    assert git(a, "show", "--stat", "--format=", "HEAD").count("|") == 1
    assert pinned(a, "dev-ap-south") == "v1.4.2"
    status = json.loads(rollout(a, "status", "security-patch", "--format", "json").stdout)
    assert status["waves"][0]["late"] == [] and status["waves"][0]["clustersNotAtRevision"] == []


def test_two_clones_advancing_at_once_land_exactly_one_advance(fleet):
    later = str(int(time.time()) + 10**6)  # every bake has elapsed
    for wave in ("1", "2", "3", "4"):
        clones = [fleet.clone(f"w{wave}-{i}") for i in range(2)]
        procs = [subprocess.Popen([*ROLLOUT, "advance", "security-patch", "--wave", wave, "--format", "json"], cwd=c,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "ROLLOUT_NOW": later})
                 for c in clones]
        results = [(*p.communicate(timeout=60), p.returncode) for p in procs]
        assert [code for _, _, code in results] == [0, 0], results
        # One run lands the commit; the other finds it done, or built the very same commit
        # object (same parent, tree, message and second) and its push changed nothing.
        commits = {w["commit"] for out, _, _ in results for w in json.loads(out)["waves"]}
        assert len(commits) == 1, results
        for c in clones:
            assert git(c, "status", "--porcelain") == ""
            assert git(c, "rev-parse", "HEAD") == git(fleet.remote, "rev-parse", "main")
    subjects = [s for s in fleet.remote_log() if s.startswith("rollout(")]
    assert subjects == ["rollout(security-patch): wave 4 production/1 -> v1.4.2",
                        "rollout(security-patch): wave 3 region-us-east -> v1.4.2",
                        "rollout(security-patch): wave 2 region-eu-west -> v1.4.2",
                        "rollout(security-patch): wave 1 canary -> v1.4.2"]


def test_status_finishes_a_journaled_move_only_for_a_policy_it_can_read_and_reads_what_it_left(fleet):
    """A run killed with its move journaled (the commit published, the checkout not yet
    moved): `status` with a policy it cannot find is exit 2 and writes nothing, the move
    left for a later run; with its policy it finishes the move and shows the files as the
    move left them (here: a pinned file the published commit deleted)."""
    a = fleet.clone("a")
    old = git(a, "rev-parse", "HEAD").strip()
    git(a, "rm", "-q", "argocd/apps/prod-us-east-platform.yaml")
    git(a, "commit", "-qm", "prod-us-east's Application removed")
    new = git(a, "rev-parse", "HEAD").strip()
    git(a, "reset", "-q", "--hard", old)  # the checkout as the killed run left it: not moved yet
    (a / ".git/rollout-move").write_text(json.dumps({"branch": "main", "old": old, "new": new, "pid": 1}))
    refused = rollout(a, "status", "no-such-policy")
    assert refused.returncode == 2 and "finished moving" not in refused.stderr, refused.stderr
    assert git(a, "rev-parse", "HEAD").strip() == old and (a / ".git/rollout-move").exists()
    assert (a / "argocd/apps/prod-us-east-platform.yaml").is_file()
    shown = rollout(a, "status", "security-patch")
    assert shown.returncode == 0, shown.stderr
    assert f"finished moving main to {new[:12]}" in shown.stderr
    assert git(a, "rev-parse", "HEAD").strip() == new and not (a / ".git/rollout-move").exists()
    assert "argocd/apps/prod-us-east-platform.yaml: file not found (the pin for cluster prod-us-east)" in shown.stderr


def test_kill_9_at_any_moment_then_rerun_is_safe(fleet):
    a = fleet.clone("a")
    for delay in (0.05, 0.15, 0.3, 0.45, 0.6, 0.8):
        proc = subprocess.Popen([*ROLLOUT_PROCESS, "advance", "security-patch", "--wave", "1"], cwd=a,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # clean, or killed inside the journaled move (files written, index or branch not yet
        # moved): then the journal says where it was going, and the next run finishes it
        moving = (a / ".git" / "rollout-move").exists()
        assert moving or git(a, "status", "--porcelain", "--untracked-files=no") == ""
    git(a, "update-ref", "refs/rollout/staging-999999999", "HEAD")  # as a kill between fast-import and cleanup leaves
    result = rollout(a, "advance", "security-patch", "--wave", "1")
    assert result.returncode == 0, result.stderr
    assert git(a, "status", "--porcelain") == ""
    assert git(a, "for-each-ref", "refs/rollout/") == "", "stale scratch refs are tidied"
    advances = [s for s in fleet.remote_log() if "wave 1 canary" in s]
    assert advances == ["rollout(security-patch): wave 1 canary -> v1.4.2"]
    assert pinned(a, "dev-eu-west") == "v1.4.2"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    revision=st.from_regex(r"v[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}(-rc[0-9])?", fullmatch=True),
    style=st.sampled_from(["{}", "'{}'", '"{}"']),
)
def test_property_advance_then_revert_restores_bytes_and_advance_is_idempotent(tmp_path_factory, revision, style):
    from rollout.advance import advance
    from rollout.revert import revert

    root = tmp_path_factory.mktemp("p") / "repo"
    repo = make_seed_repo(root)
    for name in SEED_CLUSTERS:
        path = root / f"argocd/apps/{name}-platform.yaml"
        path.write_text(path.read_text().replace("targetRevision: v1.4.1", f"targetRevision: {style.format('v1.4.1')}"))
    policy = root / "rollouts/security-patch.yaml"
    policy.write_text(policy.read_text().replace("revision: v1.4.2", f"revision: {revision}"))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    files = repo.snapshot()
    first = advance(root, "security-patch", wave="1", push=False)
    once = repo.snapshot()
    second = advance(root, "security-patch", wave="1", push=False)
    assert repo.snapshot() == once and second.changes == [] and len(first.changes) == 1
    revert(root, "security-patch", "1", False, "property", push=False)
    assert repo.snapshot() == files


def test_missing_git_identity_is_one_clear_line_and_writes_nothing(fleet, monkeypatch, tmp_path):
    a = fleet.clone("a")
    for key in GIT_ENV:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("EMAIL", "")
    result = rollout(a, "advance", "security-patch")
    assert result.returncode == 1
    assert result.stderr.startswith("rollout: git does not know who is committing")
    assert "Traceback" not in result.stderr
    assert git(a, "status", "--porcelain") == "" and len(fleet.remote_log()) == 1


APPSET_POLICY = """\
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {name: security-patch}
spec:
  revision: v1.4.2
  inventory:
    - fleet: fleet/clusters.yaml
  pin:
    - preset: argocd-applicationset-list
      files: argocd/platform-appset.yaml
  waves:
    - name: canary
      selector: {matchLabels: {environment: dev}}
    - name: region
      groupBy: region
"""


def test_parallel_waves_sharing_one_applicationset_each_commit_their_own_elements(tmp_path):
    from conftest import Repo

    repo = Repo(tmp_path / "r")
    clusters = {name: SEED_CLUSTERS[name] for name in ("dev-eu-west", "staging-eu-west", "staging-us-east")}
    repo.write("fleet/clusters.yaml", fleet_yaml(clusters))
    elements = "".join(f"          - cluster: {n}\n            targetRevision: v1.4.1\n" for n in clusters)
    repo.write("argocd/platform-appset.yaml",
               "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: platform}\nspec:\n"
               "  generators:\n    - list:\n        elements:\n" + elements +
               "  template:\n    metadata: {name: '{{cluster}}-platform'}\n    spec:\n      source:\n"
               "        repoURL: https://github.com/example-org/platform.git\n"
               "        targetRevision: '{{targetRevision}}'\n")
    repo.write("rollouts/security-patch.yaml", APPSET_POLICY)
    root = repo.root
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    assert rollout(root, "advance", "security-patch", "--no-push").returncode == 0  # canary
    dry = rollout(root, "advance", "security-patch", "--dry-run")
    assert dry.stdout.count("+            targetRevision: v1.4.2") == 2  # one per wave, not repeated
    result = rollout(root, "advance", "security-patch", "--format", "json", "--no-push")
    assert result.returncode == 0, result.stderr
    assert [w["name"] for w in json.loads(result.stdout)["waves"]] == ["region-eu-west", "region-us-east"]
    for rev in ("HEAD~1", "HEAD"):
        diff = git(root, "show", "-U0", "--format=", rev)
        assert diff.count("\n+            targetRevision: v1.4.2") == 1, diff
    text = (root / "argocd/platform-appset.yaml").read_text()
    assert text.count("targetRevision: v1.4.2") == 3 and "v1.4.1" not in text


def test_approval_required_holds_the_next_wave_until_approve(tmp_path):
    from conftest import SEED_POLICY

    policy = SEED_POLICY.replace("      bake: 30m\n", "      bake: 30m\n      approval: required\n", 1)
    repo = make_seed_repo(tmp_path / "src", policy=policy)
    git(repo.root, "init", "-q", "-b", "main")
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-qm", "init")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo.root), str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(tmp_path / "a"))
    a, later = tmp_path / "a", int(time.time()) + 3600
    early = rollout(a, "approve", "security-patch", "--wave", "1", "--by", "alice")
    assert early.returncode == 1 and "approve it once it has been advanced" in early.stderr
    assert rollout(a, "advance", "security-patch").returncode == 0
    waiting = rollout(a, "advance", "security-patch", now=later)
    assert waiting.returncode == 0 and "wave 1 canary needs approval" in waiting.stdout
    approved = rollout(a, "approve", "security-patch", "--wave", "canary", "--by", "alice@example.com")
    assert approved.returncode == 0, approved.stderr
    body = git(a, "log", "-1", "--format=%B")
    assert "Rollout-Action: approve" in body and "Rollout-Approved-By: alice@example.com" in body
    assert git(a, "show", "--stat", "--format=", "HEAD") == ""  # an empty commit
    again = rollout(a, "approve", "security-patch", "--wave", "1", "--by", "bob")
    assert again.returncode == 0 and "already approved by alice@example.com" in again.stdout
    moved = rollout(a, "advance", "security-patch", "--format", "json", now=later)
    assert [w["name"] for w in json.loads(moved.stdout)["waves"]] == ["region-eu-west", "region-us-east"]
    status = json.loads(rollout(a, "status", "security-patch", "--format", "json", now=later).stdout)
    assert status["waves"][0]["approvedBy"] == "alice@example.com"


def test_two_clusters_judged_by_one_application_are_refused(tmp_path):
    """A copied Application file not renamed: on the hub it is one object, which an argocd
    gate would judge for both clusters (a later wave passing on an earlier wave's status)."""
    from conftest import SEED_POLICY

    policy = SEED_POLICY.replace("  onFailure: revert\n", "  onFailure: revert\n  gates:\n"
                                 "    - argocd: {context: hub, namespace: argocd}\n")
    repo = make_seed_repo(tmp_path / "r", policy=policy)
    ok = rollout(repo.root, "validate", "security-patch", "--repo", str(repo.root))
    assert ok.returncode == 0, ok.stderr
    repo.write("argocd/apps/prod-us-east-platform.yaml",
               application_yaml("prod-us-east").replace("name: prod-us-east-platform", "name: prod-eu-west-platform"))
    bad = rollout(repo.root, "validate", "security-patch", "--repo", str(repo.root))
    assert bad.returncode == 2, bad.stdout
    assert "clusters prod-eu-west, prod-us-east would be judged by one Application, argocd/prod-eu-west-platform " \
           "on context hub" in bad.stderr
    assert "argocd/apps/prod-us-east-platform.yaml:5: metadata.name:" in bad.stderr
    # Per-cluster Argo CD instances (the gate's context a template): one name each is fine.
    per_cluster = policy.replace("{context: hub, namespace: argocd}", "{context: \"{cluster}\", namespace: argocd}")
    repo.write("rollouts/security-patch.yaml", per_cluster)
    assert rollout(repo.root, "validate", "security-patch", "--repo", str(repo.root)).returncode == 0
    # An application name without {cluster} names one object for every cluster.
    repo.write("argocd/apps/prod-us-east-platform.yaml", application_yaml("prod-us-east"))
    repo.write("rollouts/security-patch.yaml", policy.replace("namespace: argocd}", "namespace: argocd, application: platform}"))
    bad = rollout(repo.root, "validate", "security-patch", "--repo", str(repo.root))
    assert bad.returncode == 2 and "would be judged by one Application, argocd/platform" in bad.stderr


def test_the_upstream_is_read_by_the_branch_s_exact_name(tmp_path):
    """One `git config` for a branch's remote and merge (`Git.upstream`): a branch whose
    name holds dots or capitals, or is a prefix of another's, gets its own entries only."""
    import subprocess

    from rollout.git.repo import Git, Upstream

    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    for key, value in (("branch.main.remote", "origin"), ("branch.main.merge", "refs/heads/main"),
                       ("branch.Rel.1.remote", "up"), ("branch.Rel.1.merge", "refs/heads/rel"),
                       ("branch.a.b.remote", "other"), ("branch.a.b.merge", "refs/heads/x"),
                       ("branch.local.remote", "."), ("branch.local.merge", "refs/heads/main")):
        subprocess.run(["git", "-C", str(tmp_path), "config", key, value], check=True)
    git = Git(tmp_path)
    assert git.upstream("main") == Upstream("origin", "main")
    assert git.upstream("Rel.1") == Upstream("up", "rel")
    assert git.upstream("rel.1") is None and git.upstream("a") is None and git.upstream("local") is None
    subprocess.run(["git", "-C", str(tmp_path), "config", "--add", "branch.main.merge", "refs/heads/next"], check=True)
    assert git.upstream("main") == Upstream("origin", "next")  # the last one, as `git config --get`


def test_refs_known_answer_head_and_rev_only_while_a_snapshot_reads(tmp_path):
    """`Git.refs_known`: the step's snapshot reads HEAD and the records branch once (its
    key) and its lookups answer from that; before and after, git answers."""
    import subprocess

    from rollout.git.repo import Git

    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q",
                    "--allow-empty", "-m", "one"], check=True)
    git = Git(tmp_path)
    head = git.head()
    records = "refs/remotes/origin/rollout/records"
    with git.refs_known({"HEAD": "a" * 40, records: None}):
        assert git.head() == "a" * 40 and git.rev(records) is None
        assert git.rev("refs/heads/main") == head  # not known: asked of git
    assert git.head() == head and git.rev(records) is None
    try:
        with git.refs_known({"HEAD": "b" * 40}):
            raise RuntimeError("a failed read")
    except RuntimeError:
        pass
    assert git.head() == head  # forgotten on the way out, whatever happened inside


def test_refs_now_reads_head_and_refs_in_one_look_as_head_and_rev_would(tmp_path):
    """`Git.refs_now` (a read-only `status` reads HEAD and the records branch with it):
    the same answers as `head()` and `rev()` on a branch, a detached HEAD, a missing ref
    and a new repository, whose HEAD names no commit (left out: `head()` fails as before)."""
    from rollout.git.errors import GitError
    from rollout.git.repo import Git

    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    git = Git(tmp_path)
    records, other = "refs/remotes/origin/rollout/records", "refs/remotes/origin/main"
    assert git.refs_now([records]) == {records: None}
    with git.refs_known(git.refs_now([records])):
        with pytest.raises(GitError):
            git.head()
    for message in ("one", "two"):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q",
                        "--allow-empty", "-m", message], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "update-ref", records, "HEAD~1"], check=True)
    assert git.refs_now([records, other]) == {"HEAD": git.head(), records: git.rev(records), other: None}
    assert git.rev(records) != git.head()
    subprocess.run(["git", "-C", str(tmp_path), "checkout", "-q", "--detach", "HEAD~1"], check=True)
    assert git.refs_now([]) == {"HEAD": git.head()} and git.head() == git.rev(records)


def test_git_commands_run_together_answer_as_each_alone_and_fail_as_run_does(tmp_path):
    """`Git.run_together` (`ls-files` and `diff-files` side by side): each output as `run`
    gives it, and a failing command raises `run`'s error once every process has ended."""
    from rollout.git.errors import GitError
    from rollout.git.repo import Git

    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    long = "x" * 120  # long names: more than a pipe's buffer (64 KiB) from each with few files
    for i in range(600):  # neither process may wait on the other's full pipe
        (tmp_path / f"{long}-{i:04d}.yaml").write_text(f"n: {i}\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
    for i in range(600):
        (tmp_path / f"{long}-{i:04d}.yaml").write_text("changed\n")
    git = Git(tmp_path)
    listing = ("ls-files", "-s", "-z")
    changed = ("diff-files", "--name-only", "-z")
    together = git.run_together(listing, changed)
    assert together == [git.run(*listing), git.run(*changed)]
    assert len(together[0]) > 65536 and len(together[1]) > 65536  # each more than a pipe holds
    with pytest.raises(GitError) as alone:
        git.run("rev-parse", "--verify", "no-such-ref")
    with pytest.raises(GitError) as both:
        git.run_together(listing, ("rev-parse", "--verify", "no-such-ref"))
    assert str(both.value) == str(alone.value)
