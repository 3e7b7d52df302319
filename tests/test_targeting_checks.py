"""Each targeting check on its own: the identity rules of the policy (reachable,
sourcePath), folders and pinned files of other clusters, and the duplicate inventory
entries; policies that state the rules wrongly are located errors."""

from __future__ import annotations

import json
import re

import pytest

from conftest import SEED_POLICY, fleet_yaml, make_seed_repo

FLEET_URL = "https://github.com/example-org/fleet-config"
IDENTITY = ('  identity:\n    files: clusters/{cluster}/kustomization.yaml\n    require:\n'
            '      CLUSTER_NAME: "{cluster}"\n      REGION: "{labels.region}-*"\n')


def seed(tmp_path, extra: str = "", policy: str = SEED_POLICY):
    repo = make_seed_repo(tmp_path / "fleet-config", policy=policy + f"  sourceRepos: [{FLEET_URL}]\n" + extra)
    repo.write("base/kustomization.yaml", "resources: [ns.yaml]\n")
    repo.write("base/ns.yaml", "kind: Namespace\n")
    return repo


def errors(repo, policy: str = "security-patch") -> list[str]:
    result = repo.cli("validate", policy)
    lines = [line.replace(str(repo.root) + "/", "") for line in result.stderr.splitlines()]
    assert (result.exit_code == 2) == bool(lines), result.output
    return lines


def test_reachable_identity_names_an_unknown_owner_by_what_does_not_match(tmp_path):
    """A shared folder (no cluster's) holding US settings: no one cluster owns it, so
    the literal that contradicts is named instead."""
    repo = seed(tmp_path, IDENTITY)
    repo.write("regions/us-east/kustomization.yaml",
               "configMapGenerator:\n  - name: cluster-identity\n    behavior: merge\n    literals: [REGION=us-east-1]\n")
    overlay = repo.root / "clusters/prod-eu-west/kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("  - ../../base\n", "  - ../../base\n  - ../../regions/us-east\n"))
    assert errors(repo) == [
        "clusters/prod-eu-west/kustomization.yaml:5: resources[1]: cluster prod-eu-west: ../../regions/us-east brings in "
        "regions/us-east/kustomization.yaml, whose cluster-identity has REGION=us-east-1, expected eu-west-*: "
        "refusing to pin cluster prod-eu-west with another cluster's configuration"]
    policy = repo.root / "rollouts/security-patch.yaml"
    policy.write_text(policy.read_text().replace("  identity:\n", "  identity:\n    reachable: false\n"))
    assert errors(repo) == []  # the rule is off; the cluster's own identity file still agrees


def test_the_owner_is_found_in_the_whole_inventory_not_only_the_targets(tmp_path):
    policy = SEED_POLICY.replace("  waves:\n", "  targets: {matchLabels: {region: eu-west}}\n  waves:\n", 1)
    policy = policy.replace("      groupBy: region\n", "").replace("    isolateBy: [compliance]\n", "")
    repo = seed(tmp_path, IDENTITY, policy=policy)
    app = repo.root / "argocd/apps/prod-eu-west-platform.yaml"
    app.write_text(app.read_text().replace("path: clusters/prod-eu-west", "path: clusters/prod-us-east"))
    [line] = errors(repo)
    assert line.startswith("argocd/apps/prod-eu-west-platform.yaml:12: spec.source.path: cluster prod-eu-west: ")
    assert "whose cluster-identity names cluster prod-us-east (CLUSTER_NAME=prod-us-east)" in line


def _releases(tmp_path, clusters: dict, source_path: str):
    """A Flux fleet whose HelmReleases are pinned in `releases/`, one per cluster, with
    identity.sourcePath `source_path`; the cluster folders are the test's."""
    repo = make_seed_repo(tmp_path / "mesh", clusters={})
    repo.write("fleet/clusters.yaml", fleet_yaml(clusters))
    repo.write("rollouts/podinfo.yaml", f"""\
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {{name: podinfo}}
spec:
  revision: "6.7.1"
  inventory: [{{fleet: fleet/clusters.yaml}}]
  pin: [{{preset: flux-helmrelease, files: "releases/{{cluster}}.yaml"}}]
  waves: [{{name: all}}]
  identity: {{sourcePath: "{source_path}"}}
""")
    for name in clusters:
        repo.write(f"releases/{name}.yaml", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
                   "metadata: {name: podinfo}\nspec:\n  chart:\n    spec: {chart: podinfo, version: 6.7.0}\n")
    return repo


def test_source_path_is_the_followed_folder_of_pins_without_a_source(tmp_path):
    """HelmReleases pinned in `releases/`, each cluster's folder (its Flux path) pulls
    in its own: a cluster folder that pulls in another's release takes its revision."""
    clusters = {"eu-1": {"region": "eu"}, "us-1": {"region": "us"}}
    repo = _releases(tmp_path, clusters, "clusters/{cluster}")
    for name in clusters:
        repo.write(f"clusters/{name}/kustomization.yaml", f"resources:\n  - ../../releases/{name}.yaml\n")
    assert errors(repo, "podinfo") == []
    result = repo.cli("validate", "podinfo", "--format", "json")
    followed = json.loads(result.stdout)["sources"]["followed"]
    assert [(s["cluster"], s["kind"], s["file"], s["path"], s["files"]) for s in followed] == [
        ("eu-1", "sourcePath", None, "clusters/eu-1", 2), ("us-1", "sourcePath", None, "clusters/us-1", 2)]
    repo.write("clusters/eu-1/kustomization.yaml", "resources:\n  - ../../releases/eu-1.yaml\n  - ../../releases/us-1.yaml\n")
    assert errors(repo, "podinfo") == [
        "clusters/eu-1/kustomization.yaml:3: resources[1]: cluster eu-1: ../../releases/us-1.yaml brings in "
        "releases/us-1.yaml, the file pinned for cluster us-1: cluster eu-1 would take us-1's revision in us-1's wave"]
    policy = repo.root / "rollouts/podinfo.yaml"
    policy.write_text(policy.read_text().replace('"clusters/{cluster}"', '"clusters/{labels.site}"'))
    assert len(errors(repo, "podinfo")) == 2 and all(
        "spec.identity.sourcePath: cluster" in line and "has no label 'site'" in line for line in errors(repo, "podinfo"))
    policy.write_text(policy.read_text().replace('"clusters/{labels.site}"', '"clusters/{cluster}"'))
    (repo.root / "clusters/us-1/kustomization.yaml").unlink()
    (repo.root / "clusters/us-1").rmdir()
    assert any(re.match(r"rollouts/podinfo.yaml:\d+: spec.identity.sourcePath: the source of cluster us-1: "
                        r"clusters/us-1: no such folder", line) for line in errors(repo, "podinfo"))


def test_source_path_with_an_empty_label_is_a_policy_error_not_the_folder_of_every_cluster(tmp_path):
    """`clusters/{labels.site}` with `site: ""` is `clusters/`: the folder that holds every
    cluster's, which reaches every release (and would make `clusters` one cluster's folder)."""
    repo = _releases(tmp_path, {"eu-1": {"site": ""}, "us-1": {"site": "us-1"}}, "clusters/{labels.site}")
    repo.write("clusters/us-1/kustomization.yaml", "resources:\n  - ../../releases/us-1.yaml\n")
    repo.write("clusters/kustomization.yaml", "resources:\n  - ../releases/eu-1.yaml\n")
    assert errors(repo, "podinfo") == [
        "rollouts/podinfo.yaml:9: spec.identity.sourcePath: cluster eu-1 has an empty label 'site', which makes "
        "identity.sourcePath the folder 'clusters/'"]


def test_source_path_with_a_label_the_cluster_lacks_is_a_policy_error(tmp_path):
    repo = seed(tmp_path, '  identity: {sourcePath: "clusters/{labels.site}"}\n')
    lines = errors(repo)
    assert len(lines) == 6 and all(re.match(r"rollouts/security-patch.yaml:\d+: spec.identity.sourcePath: cluster "
                                            r"\S+ has no label 'site' for identity.sourcePath", l) for l in lines)


@pytest.mark.parametrize("identity, message", [
    ("{files: 'clusters/{cluster}/kustomization.yaml'}", "identity.files needs require"),
    ("{require: {CLUSTER_NAME: '{cluster}'}, reachable: false}", "give files or keep reachable"),
    ("{reachable: true}", "identity needs require (the cluster-identity literals) or sourcePath"),
    ("{sourcePath: '../clusters/{cluster}'}", "must be a folder inside the repository"),
    ("{sourcePath: 'clusters/{name}'}", "unknown placeholder {name}"),
])
def test_identity_blocks_that_check_nothing_or_point_outside_are_errors(tmp_path, identity, message):
    repo = make_seed_repo(tmp_path / "r", policy=SEED_POLICY + f"  identity: {identity}\n")
    [line] = errors(repo)
    assert re.match(r"rollouts/security-patch.yaml:\d+: spec.identity", line) and message in line, line


def test_source_repos_entries_must_be_urls(tmp_path):
    repo = make_seed_repo(tmp_path / "r", policy=SEED_POLICY + '  sourceRepos: ["", "https://x/y z"]\n')
    lines = errors(repo)
    assert [re.sub(r":\d+:", ":N:", l).split(": ")[1] for l in lines] == ["spec.sourceRepos[0]", "spec.sourceRepos[1]"]


# --- duplicate inventory entries ---------------------------------------------------------


def secret(name: str, server: str, secret_name: str | None = None) -> str:
    return (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {secret_name or 'cluster-' + name}\n  labels:\n"
            f"    argocd.argoproj.io/secret-type: cluster\n    environment: dev\nstringData:\n  name: {name}\n"
            f"  server: {server}\n")


def inventory_repo(tmp_path, secrets: dict[str, str], with_fleet: bool = True):
    sources = "    - fleet: fleet/clusters.yaml\n" if with_fleet else ""
    policy = SEED_POLICY.replace("    - fleet: fleet/clusters.yaml\n", sources + "    - argocdClusterSecrets: secrets/*.yaml\n")
    repo = make_seed_repo(tmp_path / "r", policy=policy)
    for file, text in secrets.items():
        repo.write(f"secrets/{file}", text)
    return repo


def test_one_cluster_in_two_sources_with_its_server_spelled_differently_is_one_cluster(tmp_path):
    repo = inventory_repo(tmp_path, {"dev.yaml": secret("dev-us-east", "https://DEV-US-EAST.k8s.example.com:6443/")})
    assert errors(repo) == []


def test_two_names_one_server_is_an_error_naming_both(tmp_path):
    repo = inventory_repo(tmp_path, {"x.yaml": secret("dev-x", "https://dev-us-east.k8s.example.com:6443")})
    assert errors(repo) == [
        "secrets/x.yaml:10: stringData.server: cluster dev-x: API server https://dev-us-east.k8s.example.com:6443 is "
        "also cluster dev-us-east's (fleet/clusters.yaml:5): one real cluster would get two clusters' pins"]


def test_two_secrets_one_argocd_cluster_name_is_an_error_naming_both(tmp_path):
    repo = inventory_repo(tmp_path, {"a.yaml": secret("dev-a", "https://a:6443"),
                                     "b.yaml": secret("dev-a", "https://a:6443", secret_name="cluster-a-again")},
                          with_fleet=False)
    repo.write("argocd/apps/dev-a-platform.yaml", "")
    assert errors(repo) == ["secrets/b.yaml:9: stringData.name: Argo CD cluster name dev-a is also given by the "
                            "Secret in secrets/a.yaml:9: Argo CD cannot tell the two apart"]


# --- Flux Kustomizations and Rancher Fleet GitRepos are followed too ---------------------

FLUX = """\
# As fluxcd/flux2-multi-tenancy tenants/base/dev-team/sync.yaml: the GitRepository and the
# Kustomization that applies a path of it, in one file.
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: fleet, namespace: flux-system}}
spec:
  url: ssh://git@github.com/example-org/fleet-config
  ref: {{branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: platform, namespace: flux-system}}
spec:
  path: ./clusters/{path}
  sourceRef: {{kind: GitRepository, name: fleet}}
  postBuild:
    substitute: {{PLATFORM_VERSION: "1.0.0"}}
"""

FLEET_GITREPO = """\
# As rancher/fleet e2e/assets/multi-cluster-examples/helm.yaml: a GitRepo and its paths,
# one per cluster (its own name, targeting its cluster).
kind: GitRepo
apiVersion: fleet.cattle.io/v1alpha1
metadata: {{name: platform-{name}, namespace: fleet-default}}
spec:
  repo: https://github.com/example-org/fleet-config
  revision: "1.0.0"
  paths:
  - clusters/{path}
  targets:
  - clusterName: {name}
"""


@pytest.mark.parametrize("preset, template, kind, field", [
    ("flux-kustomization-var\n      var: PLATFORM_VERSION", FLUX, "Kustomization", "spec.path"),
    ("fleet-gitrepo", FLEET_GITREPO, "GitRepo", "spec.paths[0]"),
])
def test_flux_kustomization_and_fleet_gitrepo_paths_are_followed(tmp_path, preset, template, kind, field):
    clusters = {"eu-1": {"region": "eu"}, "us-1": {"region": "us"}}
    repo = make_seed_repo(tmp_path / "r", clusters={})
    repo.write("fleet/clusters.yaml", fleet_yaml(clusters))
    repo.write("rollouts/platform.yaml", f"""\
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {{name: platform}}
spec:
  revision: "1.1.0"
  inventory: [{{fleet: fleet/clusters.yaml}}]
  pin:
    - preset: {preset}
      files: "deploy/{{cluster}}.yaml"
  waves: [{{name: all}}]
  sourceRepos: [https://github.com/example-org/fleet-config.git]
  identity: {{sourcePath: "clusters/{{cluster}}"}}
""")
    for name in clusters:
        repo.write(f"deploy/{name}.yaml", template.format(path=name, name=name))
        repo.write(f"clusters/{name}/kustomization.yaml", "resources: [ns.yaml]\n")
        repo.write(f"clusters/{name}/ns.yaml", "kind: Namespace\n")
    assert errors(repo, "platform") == []
    followed = json.loads(repo.cli("validate", "platform", "--format", "json").stdout)["sources"]["followed"]
    assert [(s["cluster"], s["kind"], s["path"]) for s in followed] == [
        ("eu-1", kind, f"{'./' if kind == 'Kustomization' else ''}clusters/eu-1"),
        ("us-1", kind, f"{'./' if kind == 'Kustomization' else ''}clusters/us-1")]
    repo.write("deploy/eu-1.yaml", template.format(path="us-1", name="eu-1"))
    [line] = errors(repo, "platform")
    assert re.match(rf"deploy/eu-1.yaml:\d+: {re.escape(field)}: {kind} for cluster eu-1 deploys \S*clusters/us-1, "
                    r"the folder of cluster us-1, but identity.sourcePath says clusters/eu-1", line), line


def test_require_without_files_needs_a_reachable_generator_that_names_the_cluster(tmp_path):
    repo = seed(tmp_path, '  identity:\n    require: {CLUSTER_NAME: "{cluster}"}\n')
    assert errors(repo) == []  # each overlay's own generator is reached, and names its cluster
    repo.write("clusters/dev-eu-west/kustomization.yaml", "resources: [../../base]\n")
    assert errors(repo) == [
        "argocd/apps/dev-eu-west-platform.yaml:12: spec.source.path: cluster dev-eu-west: no cluster-identity "
        "generator is reachable from its source clusters/dev-eu-west: identity.require has nothing to check"]


def test_a_folder_one_cluster_deploys_directly_is_not_its_own_unless_named_after_it(tmp_path):
    """prod-eu-west's Application deploys `apps/monitoring` itself; the other clusters
    include it as a base. Without identity rules that is sharing, not trespassing."""
    repo = seed(tmp_path)
    repo.write("apps/monitoring/kustomization.yaml", "resources: [../../base]\n")
    app = repo.root / "argocd/apps/prod-eu-west-platform.yaml"
    app.write_text(app.read_text().replace("path: clusters/prod-eu-west", "path: apps/monitoring"))
    overlay = repo.root / "clusters/dev-us-east/kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("  - ../../base\n", "  - ../../apps/monitoring\n"))
    assert errors(repo) == []
    overlay.write_text(overlay.read_text().replace("  - ../../apps/monitoring\n", "  - ../prod-us-east\n"))
    [line] = errors(repo)
    assert line.startswith("clusters/dev-us-east/kustomization.yaml:4: resources[0]: cluster dev-us-east: "
                           "../prod-us-east brings in clusters/prod-us-east/kustomization.yaml from "
                           "clusters/prod-us-east, cluster prod-us-east's folder")


def test_a_base_generator_that_the_overlay_merges_or_replaces_is_no_mismatch(tmp_path):
    repo = seed(tmp_path, '  identity:\n    require: {CLUSTER_NAME: "{cluster}", REGION: "{labels.region}-*"}\n')
    repo.write("base/kustomization.yaml", "resources: [ns.yaml]\nconfigMapGenerator:\n  - name: cluster-identity\n"
                                          "    literals: [CLUSTER_NAME=unset, REGION=unset]\n")
    for name, labels in (("dev-us-east", "us-east"), ("dev-eu-west", "eu-west"), ("staging-us-east", "us-east"),
                         ("staging-eu-west", "eu-west"), ("prod-us-east", "us-east"), ("prod-eu-west", "eu-west")):
        behavior = "replace" if name.startswith("dev") else "merge"
        repo.write(f"clusters/{name}/kustomization.yaml",
                   f"resources: [../../base]\nconfigMapGenerator:\n  - name: cluster-identity\n    behavior: {behavior}\n"
                   f"    literals: [CLUSTER_NAME={name}, REGION={labels}-1]\n")
    assert errors(repo) == []
    repo.write("clusters/prod-eu-west/kustomization.yaml", "resources: [../../base]\nconfigMapGenerator:\n"
               "  - name: cluster-identity\n    behavior: merge\n    literals: [CLUSTER_NAME=prod-eu-west]\n")
    [line] = errors(repo)  # REGION=unset from the base is what prod-eu-west gets
    assert line.startswith("clusters/prod-eu-west/kustomization.yaml:1: resources[0]: cluster prod-eu-west: ../../base "
                           "brings in base/kustomization.yaml, whose cluster-identity has REGION=unset, expected eu-west-*")


def test_a_source_path_rule_that_checks_nothing_is_a_warning(tmp_path):
    repo = make_seed_repo(tmp_path / "r", policy=SEED_POLICY + '  identity: {sourcePath: "clusters/{cluster}"}\n')
    result = repo.cli("validate", "security-patch")  # no sourceRepos, no origin: nothing is followed
    assert result.exit_code == 0, result.output
    [line] = [l.replace(str(repo.root) + "/", "") for l in result.stderr.splitlines()]
    assert re.match(r"rollouts/security-patch.yaml:\d+: spec.identity.sourcePath: warning: identity.sourcePath checks "
                    r"nothing for 6 cluster\(s\) \(dev-eu-west, dev-us-east, prod-eu-west, \.\.\.\): no source of "
                    r"theirs is followed", line), line


def test_kubernetes_image_pins_are_followed_through_the_cluster_folder(tmp_path):
    """A Deployment's image tag pinned in each environment's own folder (the layout of
    kostis-codefresh/gitops-environment-promotion): the pin carries no source, so the
    folder identity.sourcePath names is followed; an environment that pulls in another's
    version.yml is refused on the line that does it."""
    clusters = {"qa": {"environment": "qa"}, "prod-eu": {"environment": "prod"}}
    repo = make_seed_repo(tmp_path / "promotion", clusters={})
    repo.write("fleet/clusters.yaml", fleet_yaml(clusters))
    repo.write("rollouts/simple-env-app.yaml", """\
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {name: simple-env-app}
spec:
  revision: "4.0"
  inventory: [{fleet: fleet/clusters.yaml}]
  pin: [{preset: kubernetes-image, files: "envs/{cluster}/version.yml", container: webserver-simple}]
  waves: [{name: qa, selector: {matchLabels: {environment: qa}}}, {name: prod}]
  identity: {sourcePath: "envs/{cluster}"}
""")
    for name in clusters:
        repo.write(f"envs/{name}/version.yml", "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                   "  name: simple-deployment\nspec:\n  template:\n    spec:\n      containers:\n"
                   "      - name: webserver-simple\n        image: docker.io/kostiscodefresh/simple-env-app:1.0\n")
        repo.write(f"envs/{name}/kustomization.yml", "resources:\n- version.yml\n")
    assert errors(repo, "simple-env-app") == []
    result = repo.cli("validate", "simple-env-app", "--format", "json")
    followed = json.loads(result.stdout)["sources"]["followed"]
    assert [(s["cluster"], s["kind"], s["path"], s["files"]) for s in followed] == [
        ("prod-eu", "sourcePath", "envs/prod-eu", 2), ("qa", "sourcePath", "envs/qa", 2)]
    repo.write("envs/prod-eu/kustomization.yml", "resources:\n- version.yml\n- ../qa/version.yml\n")
    assert errors(repo, "simple-env-app") == [
        "envs/prod-eu/kustomization.yml:3: resources[1]: cluster prod-eu: ../qa/version.yml brings in envs/qa/version.yml "
        "from envs/qa, cluster qa's folder: refusing to pin cluster prod-eu with another cluster's configuration"]


def test_a_reachable_identity_literal_against_a_pattern_an_empty_label_leaves_as_a_wildcard_is_a_mismatch():
    """identity.reachable compares every generator a source reaches: `{labels.region}*` with
    `region: ""` would be `*` there too, accepting another region's identity."""
    from types import SimpleNamespace

    from rollout.targeting.checks.reachable_identity import mismatches

    require = {"REGION": "{labels.region}*"}
    assert mismatches(require, {"REGION": "eu-west-1"}, SimpleNamespace(name="a", labels={"region": "us"})) == [
        "REGION=eu-west-1, expected us*"]
    assert mismatches(require, {"REGION": "eu-west-1"}, SimpleNamespace(name="a", labels={"region": ""})) == [
        "REGION=eu-west-1, but the cluster's label 'region' is empty: {labels.region}* would match any value"]
    assert mismatches(require, {"REGION": "eu-west-1"}, SimpleNamespace(name="a", labels={"region": "eu"})) == []


def test_an_empty_label_that_leaves_a_pattern_of_wildcards_other_than_a_star_is_a_mismatch_too():
    """`{labels.region}?*` with `region: ""` is `?*`: any value but "" matches it, so another
    region's identity passed as the cluster's own."""
    from types import SimpleNamespace

    from rollout.targeting.checks.reachable_identity import mismatches

    for template in ("{labels.region}?*", "{labels.region}*?", "?{labels.region}*"):
        assert mismatches({"REGION": template}, {"REGION": "eu-west-1"},
                          SimpleNamespace(name="a", labels={"region": ""})) == [
            f"REGION=eu-west-1, but the cluster's label 'region' is empty: {template} would match any value"]
    assert mismatches({"REGION": "{labels.region}?*"}, {"REGION": "eu-west-1"},
                      SimpleNamespace(name="a", labels={"region": "eu"})) == []
    assert mismatches({"REGION": "?*"}, {"REGION": "eu-west-1"}, SimpleNamespace(name="a", labels={})) == []


def test_an_empty_label_a_pattern_names_alone_wants_the_literal_empty_and_is_no_wildcard():
    """`{labels.region}` with `region: ""` is the pattern "": it matches `REGION=` alone, a
    check that checks (another region's identity does not match it), not a wildcard to refuse."""
    from types import SimpleNamespace

    from rollout.targeting.checks.reachable_identity import mismatches

    cluster = SimpleNamespace(name="a", labels={"region": ""})
    assert mismatches({"REGION": "{labels.region}"}, {"REGION": ""}, cluster) == []
    assert mismatches({"REGION": "{labels.region}"}, {"REGION": "eu-west-1"}, cluster) == [
        'REGION=eu-west-1, expected ""']  # the empty value, said so
