"""Commits say what happened (issue 24): a cluster with several pins is one cluster with
several files, in the commit body, the `Rollout-Clusters` trailer, the command's output
and a pull request's body; and older commits that listed a cluster once per pin still read."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ROLLOUT, TEST_GIT_IDENTITY
from waves.state import Event, fold
from rollout.git.history import advance_message, parse_event, revert_message

FILES = ("apps/production.yaml", "clusters/production/values.yaml")

POLICY = """\
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {name: p}
spec:
  revision: "0.2"
  inventory:
    - fleet: fleet.yaml
  pin:
    - preset: argocd-application
      files: apps/{cluster}.yaml
    - preset: yaml-field
      files: clusters/{cluster}/values.yaml
      field: image.tag
  waves:
    - name: production
      bake: 1h
"""


def fleet(*names: str) -> str:
    return "apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n" + "".join(
        f"  - name: {n}\n    server: https://{n}.example.com:6443\n    labels: {{environment: production}}\n"
        for n in names)


def app(name: str) -> str:
    return (f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}-platform\nspec:\n"
            f"  source:\n    repoURL: https://github.com/example-org/fleet.git\n    targetRevision: \"0.1\"\n"
            f"    path: clusters/{name}\n  destination:\n    server: https://{name}.example.com:6443\n")


def values() -> str:
    return 'image:\n  repository: ghcr.io/example/app\n  tag: "0.1"\n'


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def rollout(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ROLLOUT_NOW"}
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**env, **TEST_GIT_IDENTITY, "COLUMNS": "200"})


def add_cluster(root: Path, name: str) -> None:
    (root / f"apps/{name}.yaml").write_text(app(name))
    (root / f"clusters/{name}").mkdir(parents=True, exist_ok=True)
    (root / f"clusters/{name}/values.yaml").write_text(values())


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """One cluster, `production`, pinned twice: its Application and its values file."""
    for key, value in TEST_GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "fleet"
    (root / "apps").mkdir(parents=True)
    (root / "rollouts").mkdir()
    (root / "fleet.yaml").write_text(fleet("production"))
    (root / "rollouts/p.yaml").write_text(POLICY)
    add_cluster(root, "production")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "fleet")
    return root


def body_and_trailers(root: Path) -> tuple[str, dict[str, str]]:
    message = git(root, "log", "-1", "--format=%B")
    trailers = dict(line.split(": ", 1) for line in message.strip().split("\n\n")[-1].splitlines())
    return message, trailers


def test_one_cluster_with_two_pins_is_one_cluster_and_two_files_in_advance_and_revert(repo):
    advanced = rollout(repo, "advance", "p", "--no-push")
    assert advanced.returncode == 0, advanced.stderr
    assert advanced.stdout.startswith("advanced wave 1 production: 1 cluster, 2 files ")
    message, trailers = body_and_trailers(repo)
    assert "Pins 0.2 for 1 cluster, 2 files:\n- production (apps/production.yaml, clusters/production/values.yaml)\n" \
        in message
    assert message.count("- production") == 1 and "Held 0.2 already" not in message
    assert trailers["Rollout-Clusters"] == "production"
    advance = git(repo, "rev-parse", "HEAD").strip()

    reverted = rollout(repo, "revert", "p", "--wave", "1", "--reason", "a test", "--no-push", "--format", "json")
    assert reverted.returncode == 0, reverted.stderr
    (change,) = json.loads(reverted.stdout)["waves"]
    assert (change["clusters"], change["files"]) == (["production"], list(FILES))
    message, trailers = body_and_trailers(repo)
    assert "Restores the previous pins of 1 cluster, 2 files:\n" \
           "- production (apps/production.yaml, clusters/production/values.yaml)\n" in message
    assert message.count("- production") == 1
    assert (trailers["Rollout-Clusters"], trailers["Rollout-Advance"]) == ("production", advance)
    assert all('"0.1"' in (repo / f).read_text() for f in FILES)


def test_the_text_output_of_a_revert_counts_each_cluster_once(repo):
    assert rollout(repo, "advance", "p", "--no-push").returncode == 0
    reverted = rollout(repo, "revert", "p", "--wave", "production", "--reason", "a test", "--no-push")
    assert reverted.returncode == 0, reverted.stderr
    assert reverted.stdout.startswith("reverted wave 1 production: 1 cluster, 2 files ")


def test_a_late_join_lists_only_the_cluster_that_joined_once_with_its_files(repo):
    assert rollout(repo, "advance", "p", "--no-push").returncode == 0
    add_cluster(repo, "production-2")
    (repo / "fleet.yaml").write_text(fleet("production", "production-2"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a cluster joins")
    late = rollout(repo, "advance", "p", "--no-push")
    assert late.returncode == 0, late.stderr
    assert late.stdout.startswith("advanced wave 1 production: late join, 1 cluster, 2 files ")
    message, trailers = body_and_trailers(repo)
    assert "(late join)" in message.splitlines()[0]
    assert "Pins 0.2 for 1 cluster, 2 files:\n- production-2 (apps/production-2.yaml, " \
           "clusters/production-2/values.yaml)\n" in message
    assert trailers["Rollout-Clusters"] == "production-2"


def test_a_file_that_held_the_revision_already_is_listed_and_said_so(repo):
    values_file = repo / FILES[1]
    values_file.write_text(values().replace('"0.1"', '"0.2"'))
    git(repo, "commit", "-qam", "the values by hand")
    advanced = rollout(repo, "advance", "p", "--no-push")
    assert advanced.returncode == 0, advanced.stderr
    assert advanced.stdout.startswith("advanced wave 1 production: 1 cluster, 1 file ")  # what the commit changes
    message, _ = body_and_trailers(repo)
    assert "Pins 0.2 for 1 cluster, 2 files:" in message
    assert f"Held 0.2 already: {FILES[1]}\n" in message


def test_an_older_commit_listing_a_cluster_once_per_pin_reads_as_one_cluster(repo):
    """Commits written before issue 24 said `Rollout-Clusters: production,production`: the
    fold (late joins use the recorded clusters), status and revert read them as before."""
    assert rollout(repo, "advance", "p", "--no-push").returncode == 0
    old = git(repo, "log", "-1", "--format=%B").replace("Rollout-Clusters: production\n",
                                                        "Rollout-Clusters: production,production\n")
    old = old.replace("Pins 0.2 for 1 cluster, 2 files:\n- production (apps/production.yaml, "
                      "clusters/production/values.yaml)\n",
                      "Pins 0.2 for 2 clusters:\n- production (apps/production.yaml)\n"
                      "- production (clusters/production/values.yaml)\n")
    assert "production,production" in old and "for 2 clusters" in old
    git(repo, "commit", "-q", "--amend", "-m", old)
    event = parse_event("c", 0, old)
    assert event.clusters == ("production",)

    status = json.loads(rollout(repo, "status", "p", "--format", "json").stdout)
    assert (status["waves"][0]["status"], status["waves"][0]["late"]) == ("baking", [])
    reverted = rollout(repo, "revert", "p", "--wave", "1", "--reason", "a test", "--no-push")
    assert reverted.returncode == 0, reverted.stderr
    assert reverted.stdout.startswith("reverted wave 1 production: 1 cluster, 2 files ")
    _, trailers = body_and_trailers(repo)
    assert trailers["Rollout-Clusters"] == "production"


def test_a_pull_request_body_lists_a_cluster_once_and_counts_its_files(repo):
    from rollout.delivery.pull_request import Delivery
    from rollout.git.repo import Git
    from rollout.outcome import Outcome, WaveChange

    base = git(repo, "rev-parse", "HEAD").strip()
    assert rollout(repo, "advance", "p", "--no-push").returncode == 0
    commit = git(repo, "rev-parse", "HEAD").strip()
    session = SimpleNamespace(git=Git(repo), upstream=SimpleNamespace(branch="main"))
    delivery = Delivery(SimpleNamespace(autoMerge=False))
    change = WaveChange(1, "production", "advance", ["production"], list(FILES), commit=commit)
    body = delivery.body(session, change, Outcome("p", "0.2"), base)
    assert "**advances** wave 1 **production** of rollout `p` to `0.2` (1 cluster, 2 files)." in body
    assert "| `production` | `apps/production.yaml`, `clusters/production/values.yaml` |" in body
    assert body.count("| `production` |") == 1 and "Rollout-Clusters: production\n" in body
    # a branch fetched back (tending) knows its clusters from the trailer only, files from the body
    fetched = WaveChange(1, "production", "advance", ["production", "production"], [], commit=commit)
    assert "(1 cluster, 2 files)" in delivery.body(session, fetched, Outcome("p", "0.2"), base)


def test_messages_list_each_cluster_once_and_count_distinct_files():
    pins = [("a", "x.yaml"), ("a", "y.yaml"), ("a", "x.yaml"), ("b", "shared.yaml"), ("c", "shared.yaml")]
    advance = advance_message("p", "v2", 1, "w", pins, "sha256:0")
    assert "Pins v2 for 3 clusters, 3 files:\n- a (x.yaml, y.yaml)\n- b (shared.yaml)\n- c (shared.yaml)\n" in advance
    assert "Rollout-Clusters: a,b,c\n" in advance
    revert = revert_message("p", "v2", 1, "w", pins[:2], "why", "sha256:0")
    assert "Restores the previous pins of 1 cluster, 2 files:\n- a (x.yaml, y.yaml)\n" in revert
    assert "Rollout-Clusters: a\n" in revert


def test_late_joins_use_the_recorded_clusters_whether_listed_once_or_twice():
    from waves.inventory import Cluster
    from waves.planner import make_plan
    from waves.policy import RolloutPolicy
    import yaml

    policy = RolloutPolicy.model_validate(yaml.safe_load(POLICY))
    plan = make_plan(policy, [Cluster("production", {}), Cluster("production-2", {})])
    for recorded in (("production", "production"), ("production",)):
        state = fold(plan, [Event("c1", 0, "advance", "p", "0.2", "production", recorded)], 10)
        assert state.wave(1).late == ["production-2"]


def test_two_documents_of_one_file_with_the_same_path_are_both_reverted(tmp_path, monkeypatch):
    """Two Applications in one file, each pinned (`name:` chooses): the same resolved path
    in two documents is two fields, and a revert restores both."""
    for key, value in TEST_GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "fleet"
    (root / "apps").mkdir(parents=True)
    (root / "rollouts").mkdir()
    (root / "fleet.yaml").write_text(fleet("production"))
    (root / "rollouts/p.yaml").write_text(POLICY.replace(
        "    - preset: argocd-application\n      files: apps/{cluster}.yaml\n"
        "    - preset: yaml-field\n      files: clusters/{cluster}/values.yaml\n      field: image.tag\n",
        "    - preset: argocd-application\n      files: apps/{cluster}.yaml\n      name: frontend-{cluster}\n"
        "    - preset: argocd-application\n      files: apps/{cluster}.yaml\n      name: backend-{cluster}\n"))
    text = app("production")
    two = text.replace("name: production-platform", "name: frontend-production") + "---\n" + \
        text.replace("name: production-platform", "name: backend-production")
    (root / "apps/production.yaml").write_text(two)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "fleet")
    assert rollout(root, "advance", "p", "--no-push").returncode == 0
    assert (root / "apps/production.yaml").read_text().count('targetRevision: "0.2"') == 2
    reverted = rollout(root, "revert", "p", "--wave", "1", "--reason", "a test", "--no-push")
    assert reverted.returncode == 0, reverted.stderr
    assert (root / "apps/production.yaml").read_text() == two
