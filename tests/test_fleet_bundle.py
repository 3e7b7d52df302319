"""A Rancher Fleet bundle rolled out in waves (issue 24): rancher/fleet-examples'
`multi-cluster/helm/fleet.yaml` (read from ../shared/corpus, copied into a temporary
repo) keeps every target in one file; one policy rolls a per-target value out dev ->
test -> prod with a templated field, `targetCustomizations[name={labels.env}]`, adding
the value to the right target only (`create: true`: the targets set other values),
prod-1 and prod-2 sharing the prod target as one unit, and reverting byte for byte.

Fleet ignores a per-target `helm.version` for local and tarball charts (fleet#1923), so
the recipe pins a value (`helm.values.image`, which the chart's values.yaml defines).
docs/policy.md, "Rancher Fleet bundles", is this recipe."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROLLOUT, TEST_GIT_IDENTITY
from upstream import corpus
from waves import fleet_targets

BUNDLE = "multi-cluster/helm/fleet.yaml"
IMAGE = "192.168.64.129:5000/my-custom-app:v2"  # the chart's values.yaml has image: ...:v1

POLICY = f"""\
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {{name: guestbook}}
spec:
  revision: "{IMAGE}"
  inventory:
    - fleet: clusters.yaml
  pin:
    - preset: yaml-field
      files: {BUNDLE}
      field: "targetCustomizations[name={{labels.env}}].helm.values.image"
      create: true
  waves:
    - name: dev
      selector: {{matchLabels: {{env: dev}}}}
    - name: test
      selector: {{matchLabels: {{env: test}}}}
    - name: prod
"""

CLUSTERS = {"dev-1": "dev", "test-1": "test", "prod-1": "prod", "prod-2": "prod"}


def inventory(clusters: dict[str, str]) -> str:
    return "apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n" + "".join(
        f"  - name: {n}\n    server: https://{n}.example.com:6443\n    labels: {{env: {env}}}\n"
        for n, env in clusters.items())


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def rollout(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ROLLOUT_NOW"}
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**env, **TEST_GIT_IDENTITY, "COLUMNS": "200"})


def ok(cwd: Path, *args: str) -> str:
    result = rollout(cwd, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def make_repo(root: Path, policy: str = POLICY, clusters: dict[str, str] = CLUSTERS, bundle: str | None = None) -> Path:
    (root / "multi-cluster/helm").mkdir(parents=True)
    if bundle is None:
        shutil.copy(corpus() / "fleet-examples" / BUNDLE, root / BUNDLE)
    else:
        (root / BUNDLE).write_text(bundle)
    (root / "rollouts").mkdir()
    (root / "rollouts/guestbook.yaml").write_text(policy)
    (root / "clusters.yaml").write_text(inventory(clusters))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "fleet")
    return root


def diff_lines(root: Path, rev: str) -> tuple[list[str], list[str]]:
    out = git(root, "diff", "-U0", f"{rev}^", rev, "--", BUNDLE).splitlines()
    added = [line[1:] for line in out if line.startswith("+") and not line.startswith("+++")]
    removed = [line[1:] for line in out if line.startswith("-") and not line.startswith("---")]
    return added, removed


def trailers(root: Path) -> dict[str, str]:
    message = git(root, "log", "-1", "--format=%B")
    return dict(line.split(": ", 1) for line in message.strip().split("\n\n")[-1].splitlines())


def target_of(text: str, line_number: int) -> str:
    """The `- name:` of the target a line of the bundle is in."""
    for line in reversed(text.splitlines()[:line_number]):
        if line.startswith("- name: "):
            return line[len("- name: "):]
    raise AssertionError(f"line {line_number} is in no target")


def test_the_bundle_goes_out_target_by_target_and_comes_back_byte_for_byte(tmp_path):
    root = make_repo(tmp_path / "fleet")
    original = (root / BUNDLE).read_bytes()
    assert "valid" in ok(root, "validate", "guestbook")

    plan = json.loads(ok(root, "plan", "guestbook", "--format", "json"))
    assert [(w["name"], w["clusters"]) for w in plan["waves"]] == [
        ("dev", ["dev-1"]), ("test", ["test-1"]), ("prod", ["prod-1", "prod-2"])]
    fields = {t["name"]: t["pins"][0]["field"] for t in plan["targets"]}
    assert fields["prod-1"] == fields["prod-2"] == "targetCustomizations[name=prod].helm.values.image"
    assert plan["waves"][2]["shared"] == [{"file": BUNDLE, "field": fields["prod-1"], "clusters": ["prod-1", "prod-2"]}]
    assert [w["shared"] for w in plan["waves"][:2]] == [[], []]
    assert "prod-1, prod-2 pin one field together" in ok(root, "plan", "guestbook")
    assert "<dt>pinned together</dt><dd>prod-1, prod-2: one field, <code>multi-cluster/helm/fleet.yaml</code>" \
        in ok(root, "status", "guestbook", "--format", "html")

    for wave, env, clusters in (("dev", "dev", "dev-1"), ("test", "test", "test-1"), ("prod", "prod", "prod-1,prod-2")):
        out = ok(root, "advance", "guestbook", "--wave", wave, "--no-push", "--force")
        added, removed = diff_lines(root, "HEAD")
        assert removed == [] and added == [f"      image: {IMAGE}"], (added, removed)
        text = (root / BUNDLE).read_text()
        line = text.splitlines().index(f"      image: {IMAGE}", sum(
            1 for _ in text.split(f"- name: {env}\n")[0].splitlines())) + 1
        assert target_of(text, line) == env  # the right target, and only it
        assert trailers(root)["Rollout-Clusters"] == clusters  # each cluster once, the shared target once
        assert out.startswith(f"advanced wave ") and ", 1 file " in out, out
    assert (root / BUNDLE).read_text().count(f"image: {IMAGE}") == 3

    for wave in ("prod", "test", "dev"):
        ok(root, "revert", "guestbook", "--wave", wave, "--reason", "a test", "--no-push")
        assert diff_lines(root, "HEAD")[0] == []  # a revert only removes
    assert trailers(root)["Rollout-Clusters"] == "dev-1"
    assert (root / BUNDLE).read_bytes() == original


def test_a_batch_cannot_split_a_shared_target(tmp_path):
    root = make_repo(tmp_path / "fleet", policy=POLICY.replace("    - name: prod\n", "    - name: prod\n      maxClusters: 1\n"))
    result = rollout(root, "validate", "guestbook")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "wave prod: clusters prod-1, prod-2 pin one field" in result.stderr and "maxClusters" in result.stderr
    assert "Traceback" not in result.stderr


def test_clusters_in_different_waves_sharing_a_target_are_refused(tmp_path):
    """prod-2 is labelled late and goes in wave `late`, prod-1 in `prod`: one target, two waves."""
    policy = POLICY.replace("    - name: prod\n", "    - name: prod\n"
                            "      selector: {matchExpressions: [{key: late, operator: DoesNotExist}]}\n"
                            "    - name: late\n")
    root = make_repo(tmp_path / "fleet", policy=policy)
    (root / "clusters.yaml").write_text(inventory(CLUSTERS).replace("labels: {env: prod}\n", "labels: {env: prod}\n", 1)
                                        .replace("prod-2.example.com:6443\n    labels: {env: prod}",
                                                 "prod-2.example.com:6443\n    labels: {env: prod, late: \"yes\"}"))
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "late")
    result = rollout(root, "validate", "guestbook")
    assert result.returncode == 2, result.stdout + result.stderr
    line = next(line for line in result.stderr.splitlines() if "pin one field" in line)
    assert "wave prod: prod-1" in line and "wave late: prod-2" in line, line
    before = git(root, "rev-parse", "HEAD")
    assert rollout(root, "advance", "guestbook", "--wave", "prod", "--no-push").returncode == 2
    assert git(root, "rev-parse", "HEAD") == before  # nothing written


def test_a_target_fleet_would_not_give_the_cluster_is_refused(tmp_path):
    """The inventory says env=prod, the bundle's prod target selects env: production:
    Fleet gives prod-1 no customization, so writing the prod target would not reach it."""
    text = (corpus() / "fleet-examples" / BUNDLE).read_text()
    bundle = text.replace("      env: prod\n", "      env: production\n")
    root = make_repo(tmp_path / "fleet", bundle=bundle)
    result = rollout(root, "validate", "guestbook")
    assert result.returncode == 2
    assert f"{BUNDLE}:19: targetCustomizations[2]: cluster prod-1:" in result.stderr  # the `- name: prod` entry
    assert "target 'prod' does not select cluster prod-1 (clusterSelector: env=production; the cluster's labels: " \
        "env=prod)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_typo_in_the_last_key_is_refused_with_the_keys_that_are_there(tmp_path):
    # (with create: true the missing tail is created: that is what it is for)
    root = make_repo(tmp_path / "fleet", policy=POLICY.replace("helm.values.image", "helm.valus.image")
                     .replace("      create: true\n", ""))
    result = rollout(root, "validate", "guestbook")
    assert result.returncode == 2
    assert "helm.valus is missing (did you mean `values`?)" in result.stderr
    root = make_repo(tmp_path / "fleet2", policy=POLICY.replace("      create: true\n", "")
                     .replace("helm.values.image", "helm.values.replica"))
    result = rollout(root, "validate", "guestbook")
    assert result.returncode == 2, result.stdout
    assert "has no key replica (did you mean `replicas`?)" in result.stderr and "create: true" in result.stderr


# Fleet's own rules (rancher/fleet internal/cmd/controller/target/matcher/clustermatcher.go,
# bundlematch.go; target/builder.go for doNotDeploy), on targets written the way fleet.yaml
# files write them.
def _targets(*targets: dict, mode: str | None = None, **bundle) -> dict:
    doc = {"namespace": "x", **bundle, "targetCustomizations": list(targets)}
    if mode:
        doc["targetCustomizationMode"] = mode
    return doc


DEV = {"name": "dev", "clusterSelector": {"matchLabels": {"env": "dev"}}, "helm": {"values": {"a": 1}}}
ALL = {"name": "all", "clusterSelector": {}, "helm": {"values": {"image": "x"}}}
NAMED = {"name": "one", "clusterName": "c1"}
GROUP = {"name": "group", "clusterGroup": "prod-eu"}
OFF = {"name": "off", "clusterSelector": {"matchLabels": {"env": "dev"}}, "doNotDeploy": True}


def at(index: int, *rest) -> list:
    return ["targetCustomizations", index, *(rest or ("helm", "values", "a"))]


@pytest.mark.parametrize("doc, path, cluster, labels, expected", [
    (_targets(DEV), at(0), "c1", {"env": "dev"}, None),
    (_targets(DEV), at(0), "c1", {"env": "test"}, "does not select cluster c1"),
    (_targets(NAMED, DEV), at(1), "c1", {"env": "dev"}, "Fleet gives cluster c1 target 'one', the first"),
    (_targets(NAMED, DEV), at(1), "c2", {"env": "dev"}, None),
    (_targets(NAMED), at(0), "rancher-id", {fleet_targets.DISPLAY_NAME: "c1"}, None),  # the display name label
    (_targets({"name": "none"}), at(0), "c1", {}, "does not select"),  # no criteria: matches nothing
    (_targets(GROUP, DEV), at(1), "c1", {"env": "dev"}, "selects by clusterGroup"),  # cannot tell: refused
    (_targets(DEV, GROUP), at(0), "c1", {"env": "dev"}, None),  # decided before the group
    (_targets(DEV, mode="FirstMatch"), at(0), "c1", {"env": "dev"}, None),  # Fleet's spelling of the default
    (_targets(DEV, ALL, mode="AllMatches"), at(0), "c1", {"env": "dev"}, None),  # `all` does not set helm.values.a
    (_targets(DEV, {**ALL, "helm": {"values": {"a": 2}}}, mode="AllMatches"), at(0), "c1", {"env": "dev"},
     "also selects cluster c1 and sets the same value after"),
    (_targets(DEV, mode="allMatches"), at(0), "c1", {"env": "dev"}, "targetCustomizationMode 'allMatches'"),
    (_targets(DEV, OFF), at(0), "c1", {"env": "dev"}, "target 'off' has doNotDeploy: true"),  # any match keeps it off
    (_targets(DEV, helm={"values": {"a": 0}}), ["helm", "values", "a"], "c1", {"env": "dev"},
     "target 'dev' also selects cluster c1 and sets the same value in the bundle"),  # overridden by the target
    (_targets(DEV, helm={"values": {"a": 0}}), ["helm", "values", "a"], "c2", {"env": "prod"}, None),
    (_targets(DEV), at(0, "helm", "version"), "c1", {"env": "dev"}, "Fleet ignores helm.version"),  # fleet#1923
    (_targets(DEV, helm={"chart": "podinfo", "repo": "https://stefanprodan.github.io/podinfo"}),
     at(0, "helm", "version"), "c1", {"env": "dev"}, None),
    (_targets(DEV, helm={"chart": "oci://ghcr.io/stefanprodan/charts/podinfo"}), ["helm", "version"], "c1",
     {"env": "dev"}, None),
])
def test_fleet_target_rules(doc, path, cluster, labels, expected):
    why = fleet_targets.check(doc, path, cluster, labels)
    assert (why is None) if expected is None else (why is not None and expected in why), why


@pytest.mark.parametrize("doc, path, cluster, labels, expected", [
    (_targets(DEV), at(0), "c1", {"env": "dev"}, True),
    (_targets(DEV), at(0), "c2", {"env": "prod"}, False),
    (_targets(ALL, DEV), at(0, "helm", "values", "image"), "c1", {"env": "dev"}, True),  # first match: all
    (_targets(DEV, ALL, mode="AllMatches"), at(1, "helm", "values", "image"), "c1", {"env": "dev"}, True),
    (_targets(DEV, OFF), at(0), "c1", {"env": "dev"}, False),
    (_targets(DEV), ["helm", "values", "b"], "anyone", {}, True),  # the bundle's value: every cluster it deploys to
    (_targets(DEV), ["helm", "values", "a"], "c1", {"env": "dev"}, False),  # overridden by its target
    (_targets(GROUP, DEV), at(1), "c1", {"env": "dev"}, "selects by clusterGroup"),
])
def test_which_clusters_a_value_reaches(doc, path, cluster, labels, expected):
    got = fleet_targets.reaches(doc, path, cluster, labels)
    assert got == expected if not isinstance(expected, str) else (isinstance(got, str) and expected in got), got


def test_a_target_that_also_moves_a_cluster_out_of_scope_or_of_another_wave_is_refused(tmp_path):
    """prod-3 (team=data) is outside spec.targets, yet Fleet gives it the prod target:
    writing the target would move it too, unannounced."""
    clusters = {**CLUSTERS, "prod-3": "prod"}
    policy = POLICY.replace("  pin:\n", "  targets: {matchExpressions: [{key: team, operator: DoesNotExist}]}\n  pin:\n")
    root = make_repo(tmp_path / "fleet", policy=policy, clusters=clusters)
    (root / "clusters.yaml").write_text(inventory(clusters).replace("prod-3.example.com:6443\n    labels: {env: prod}",
                                                                    "prod-3.example.com:6443\n    labels: {env: prod, team: data}"))
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "prod-3")
    result = rollout(root, "validate", "guestbook")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "writing targetCustomizations[2].helm.values.image for prod-1, prod-2 also moves prod-3 (out of scope)" \
        in result.stderr, result.stderr


def test_a_late_join_that_splits_a_shared_target_blocks_advances_not_status_or_revert(tmp_path):
    """prod-1's target is out; prod-2 joins later, in another wave, on the same target. A
    revert must still go (it is how the wave comes back), and status must still read."""
    policy = POLICY.replace("    - name: prod\n", "    - name: prod\n"
                            "      selector: {matchExpressions: [{key: late, operator: DoesNotExist}]}\n"
                            "    - name: late\n")
    first = {n: env for n, env in CLUSTERS.items() if n != "prod-2"}
    root = make_repo(tmp_path / "fleet", policy=policy, clusters=first)
    original = (root / BUNDLE).read_bytes()
    for wave in ("dev", "test", "prod"):
        ok(root, "advance", "guestbook", "--wave", wave, "--no-push", "--force")
    (root / "clusters.yaml").write_text(inventory(CLUSTERS).replace(
        "prod-2.example.com:6443\n    labels: {env: prod}", "prod-2.example.com:6443\n    labels: {env: prod, late: \"yes\"}"))
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "prod-2 joins, late")

    refused = rollout(root, "validate", "guestbook")
    assert refused.returncode == 2 and "clusters prod-1, prod-2 pin one field" in refused.stderr
    status = rollout(root, "status", "guestbook", "--format", "json")
    assert status.returncode in (0, 1), status.stderr
    assert "pin one field" in status.stderr  # said, as a warning
    for wave in ("prod", "test", "dev"):
        ok(root, "revert", "guestbook", "--wave", wave, "--reason", "a test", "--no-push")
    assert (root / BUNDLE).read_bytes() == original


GITREPO = {"apiVersion": "fleet.cattle.io/v1alpha1", "kind": "GitRepo",
           "metadata": {"name": "guestbook-prod-2", "namespace": "fleet-default"},
           "spec": {"repo": "https://github.com/example-org/rancher-fleet", "revision": "v1", "paths": ["guestbook"]}}


@pytest.mark.parametrize("targets, namespace, cluster, labels, expected", [
    ([{"clusterName": "prod-2"}], "fleet-default", "prod-2", {}, True),
    ([{"clusterName": "prod-2"}], "fleet-default", "prod-1", {}, False),
    ([{"clusterSelector": {"matchLabels": {"env": "prod"}}}], "fleet-default", "prod-1", {"env": "prod"}, True),
    ([{"clusterSelector": {"matchLabels": {"env": "prod"}}}, {"clusterName": "prod-1", "doNotDeploy": True}],
     "fleet-default", "prod-1", {"env": "prod"}, False),
    ([{"clusterGroup": "prod"}], "fleet-default", "prod-1", {}, "selects by clusterGroup"),
    (None, "fleet-default", "prod-1", {}, "default cluster group"),
    (None, "fleet-local", "local", {}, True),  # Fleet's namespace for the manager's own cluster
])
def test_which_clusters_a_gitrepo_deploys_to(targets, namespace, cluster, labels, expected):
    doc = {**GITREPO, "metadata": {**GITREPO["metadata"], "namespace": namespace},
           "spec": {**GITREPO["spec"], **({"targets": targets} if targets is not None else {})}}
    got = fleet_targets.gitrepo_reaches(doc, cluster, labels)
    assert got == expected if not isinstance(expected, str) else (isinstance(got, str) and expected in got), got


def test_a_gitrepo_copied_for_another_cluster_and_not_retargeted_is_refused(tmp_path):
    """examples/rancher-fleet: prod-2's GitRepo still targets prod-1 (a copy): advancing
    prod-2 would move prod-1 and call prod-2 pinned."""
    from pathlib import Path as P

    root = tmp_path / "rancher-fleet"
    shutil.copytree(P(__file__).parents[1] / "examples" / "rancher-fleet", root)
    gitrepo = root / "gitrepos" / "prod-2.yaml"
    gitrepo.write_text(gitrepo.read_text().replace("clusterName: prod-2", "clusterName: prod-1"))
    result = rollout(root, "validate", "guestbook", "--repo", str(root))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert any("gitrepos/prod-2.yaml" in l and "cluster prod-2: the spec.targets of GitRepo guestbook-prod-2 do not "
               "select cluster prod-2" in l for l in lines), lines
    assert any("GitRepo guestbook-prod-2, pinned for prod-2, also deploys to prod-1 (wave production/1)" in l
               for l in lines), lines


def test_two_gitrepo_files_with_one_name_are_refused(tmp_path):
    """On the Fleet manager a GitRepo is its namespace and name: two files with one name
    are one object, and one cluster's pin would land on the other's."""
    from pathlib import Path as P

    root = tmp_path / "rancher-fleet"
    shutil.copytree(P(__file__).parents[1] / "examples" / "rancher-fleet", root)
    gitrepo = root / "gitrepos" / "prod-2.yaml"
    gitrepo.write_text(gitrepo.read_text().replace("name: guestbook-prod-2", "name: guestbook-prod-1"))
    result = rollout(root, "validate", "guestbook", "--repo", str(root))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "GitRepo fleet-default/guestbook-prod-1 is pinned in 2 files (gitrepos/prod-1.yaml, gitrepos/prod-2.yaml)" \
        in result.stderr
