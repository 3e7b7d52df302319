"""Which pinned sources are this repository's, and are followed: each preset's reader on
real manifests, `spec.sourceRepos` and the origin remote compared normalised, and what
`validate --format json` reports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import SEED_POLICY, make_seed_repo
from rollout.targeting.sources import argocd_application, flux_kustomization, fleet_gitrepo
from rollout.yamlfile import load_documents
import upstream

BASE = {"base/kustomization.yaml": "resources: [ns.yaml]\n", "base/ns.yaml": "kind: Namespace\n"}


def corpus(path: str) -> list:
    return load_documents(upstream.corpus() / "upstream" / path)


def test_fleet_gitrepo_paths():
    docs = corpus("rancher/fleet/e2e/assets/multi-cluster-examples/helm.yaml")
    [ref] = fleet_gitrepo(docs, 0)
    assert (ref.kind, ref.repo_url, ref.path, ref.loc, ref.why_not) == (
        "GitRepo", "https://github.com/rancher/fleet-examples", "multi-cluster/helm", ("spec", "paths", 0), None)
    assert [r.path for r in fleet_gitrepo([{"spec": {"repo": "u"}}], 0)] == ["."]  # no paths: the repository root


def test_flux_kustomization_takes_its_url_from_the_gitrepository_in_the_same_file():
    docs = corpus("fluxcd/flux2-multi-tenancy/tenants/base/dev-team/sync.yaml")
    [ref] = flux_kustomization(docs, 1)
    assert (ref.repo_url, ref.path, ref.why_not) == ("https://github.com/fluxcd/flux2-multi-tenancy", "./", None)
    alone = flux_kustomization([docs[1]], 0)[0]
    assert alone.why_not == "its GitRepository dev-team is not in this file, so its URL is unknown"
    oci = {"kind": "Kustomization", "spec": {"path": "./deploy", "sourceRef": {"kind": "OCIRepository", "name": "x"}}}
    assert flux_kustomization([oci], 0)[0].why_not == "its source is a OCIRepository, not a Git repository"


def test_argocd_single_multi_and_chart_sources():
    single = {"spec": {"source": {"repoURL": "https://git/x", "path": "clusters/a", "directory": {"recurse": True}}}}
    [ref] = argocd_application([single], 0)
    assert (ref.path, ref.loc, ref.recurse, ref.why_not) == ("clusters/a", ("spec", "source", "path"), True, None)
    # Multi-source, as argo-cd docs/user-guide/multiple_sources.md: a chart, a values ref, a path.
    multi = {"spec": {"sources": [
        {"repoURL": "https://charts.example.com", "chart": "platform", "targetRevision": "1.0.0"},
        {"repoURL": "https://git/x", "targetRevision": "main", "ref": "values"},
        {"repoURL": "https://git/x", "targetRevision": "main", "path": "clusters/a"},
    ]}}
    refs = argocd_application([multi], 0)
    assert [(r.path, r.loc, r.why_not) for r in refs] == [
        (None, ("spec", "sources", 0, "chart"), "a Helm chart, not a folder"),
        (None, ("spec", "sources", 1), "no path"),
        ("clusters/a", ("spec", "sources", 2, "path"), None),
    ]


def test_argocd_kustomize_components_and_helm_value_files_are_part_of_the_source():
    app = {"spec": {"sources": [
        {"repoURL": "https://charts.example.com", "chart": "platform",
         "helm": {"valueFiles": ["$values/clusters/eu/values.yaml", "https://example.com/v.yaml", "$nope/x.yaml"]}},
        {"repoURL": "https://git/x", "ref": "values"},
        {"repoURL": "https://git/x", "path": "apps/eu", "kustomize": {"components": ["../../components/gdpr"]},
         "helm": {"valueFiles": ["values-eu.yaml"]}},
    ]}}
    chart, ref, path = argocd_application([app], 0)
    assert chart.why_not is None and chart.path is None  # a chart with values from a repository: followed by them
    assert [(e.loc, e.target, e.folder, e.repo_url) for e in chart.extras] == [
        (("spec", "sources", 0, "helm", "valueFiles", 0), "clusters/eu/values.yaml", False, "https://git/x")]
    assert ref.why_not == "no path"
    assert [(e.target, e.folder, e.repo_url) for e in path.extras] == [
        ("components/gdpr", True, None), ("apps/eu/values-eu.yaml", False, None)]


def test_a_registry_chart_with_values_from_this_repository_is_followed_by_its_values(tmp_path):
    policy = SEED_POLICY.replace("      files: argocd/apps/{cluster}-platform.yaml\n",
                                 "      files: argocd/apps/{cluster}-platform.yaml\n"
                                 "      repoURL: https://charts.example.com\n")
    policy += "  sourceRepos: [https://github.com/example-org/fleet-config]\n"
    policy += "  identity: {sourcePath: \"clusters/{cluster}\"}\n"
    repo = seed_with_base(tmp_path, policy)
    for name in ("dev-us-east", "dev-eu-west", "staging-us-east", "staging-eu-west", "prod-us-east", "prod-eu-west"):
        values = "clusters/prod-us-east" if name == "prod-eu-west" else f"clusters/{name}"
        repo.write(f"{values}/values.yaml", "replicas: 2\n")
        repo.write(f"argocd/apps/{name}-platform.yaml", f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}-platform, namespace: argocd}}
spec:
  sources:
    - repoURL: https://charts.example.com
      chart: platform
      targetRevision: 1.0.0
      helm:
        valueFiles: [$values/{values}/values.yaml]
    - repoURL: https://github.com/example-org/fleet-config.git
      targetRevision: main
      ref: values
  destination: {{server: "https://{name}.k8s.example.com:6443", namespace: platform}}
""")
    code, out = sources_of(repo)
    assert code == 2
    [problem] = out["problems"]
    assert (problem["line"], problem["field"]) == (10, "spec.sources[0].helm.valueFiles[0]")
    assert problem["message"].startswith("cluster prod-eu-west: $values/clusters/prod-us-east/values.yaml brings in "
                                         "clusters/prod-us-east/values.yaml from clusters/prod-us-east, cluster "
                                         "prod-us-east's folder")
    assert len(out["sources"]["followed"]) == 6


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def sources_of(repo) -> dict:
    result = repo.cli("validate", "security-patch", "--format", "json")
    return result.exit_code, json.loads(result.stdout)


def seed_with_base(tmp_path: Path, policy: str = SEED_POLICY):
    repo = make_seed_repo(tmp_path / "fleet-config", policy=policy)
    for rel, text in BASE.items():
        repo.write(rel, text)
    return repo


def test_the_origin_remote_decides_when_there_is_no_source_repos(tmp_path):
    repo = seed_with_base(tmp_path)
    code, out = sources_of(repo)  # not a git repository: nothing is this repository
    assert code == 0 and out["sources"]["followed"] == []
    assert out["sources"]["notFollowed"][0]["reason"] == (
        "https://github.com/example-org/fleet-config.git is not this repository "
        "(no spec.sourceRepos and no origin remote)")
    git(repo.root, "init", "-q")
    git(repo.root, "remote", "add", "origin", "git@GitHub.com:example-org/fleet-config")  # ssh form, host case
    code, out = sources_of(repo)
    assert code == 0 and out["sources"]["notFollowed"] == []
    followed = {s["cluster"]: s for s in out["sources"]["followed"]}
    assert len(followed) == 6
    assert followed["prod-eu-west"] == {
        "cluster": "prod-eu-west", "file": "argocd/apps/prod-eu-west-platform.yaml", "kind": "Application",
        "repoURL": "https://github.com/example-org/fleet-config.git", "path": "clusters/prod-eu-west", "files": 3}
    git(repo.root, "remote", "set-url", "origin", "https://github.com/example-org/fleet-config-fork")
    code, out = sources_of(repo)
    assert out["sources"]["followed"] == [] and "the origin remote is https://github.com/example-org/fleet-config-fork" \
        in out["sources"]["notFollowed"][0]["reason"]


def test_source_repos_lists_the_urls_and_replaces_the_origin(tmp_path):
    repo = seed_with_base(tmp_path, SEED_POLICY + "  sourceRepos:\n    - ssh://git@github.com/example-org/fleet-config/\n")
    git(repo.root, "init", "-q")
    git(repo.root, "remote", "add", "origin", "https://github.com/someone/else")
    code, out = sources_of(repo)
    assert code == 0 and len(out["sources"]["followed"]) == 6
    repo.write("clusters/prod-eu-west/kustomization.yaml", "resources: [../../base, ../prod-us-east]\n")
    code, out = sources_of(repo)
    assert code == 2
    [problem] = out["problems"]  # no identity configuration: each Application's own folder is its cluster's
    assert problem["file"].endswith("clusters/prod-eu-west/kustomization.yaml") and problem["line"] == 1
    assert problem["message"] == ("cluster prod-eu-west: ../prod-us-east brings in clusters/prod-us-east/kustomization.yaml "
                                  "from clusters/prod-us-east, cluster prod-us-east's folder: refusing to pin cluster "
                                  "prod-eu-west with another cluster's configuration")


def test_a_multi_source_application_is_followed_by_its_path_source(tmp_path):
    policy = SEED_POLICY.replace("      files: argocd/apps/{cluster}-platform.yaml\n",
                                 "      files: argocd/apps/{cluster}-platform.yaml\n"
                                 "      repoURL: https://charts.example.com\n")
    policy += ("  sourceRepos: [https://github.com/example-org/fleet-config]\n"
               "  identity: {sourcePath: \"clusters/{cluster}\"}\n")
    repo = seed_with_base(tmp_path, policy)
    for name in ("dev-us-east", "dev-eu-west", "staging-us-east", "staging-eu-west", "prod-us-east", "prod-eu-west"):
        path = "clusters/prod-us-east" if name == "prod-eu-west" else f"clusters/{name}"
        repo.write(f"argocd/apps/{name}-platform.yaml", f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}-platform, namespace: argocd}}
spec:
  sources:
    - repoURL: https://charts.example.com
      chart: platform
      targetRevision: 1.0.0
    - repoURL: https://github.com/example-org/fleet-config.git
      targetRevision: main
      ref: values
    - repoURL: https://github.com/example-org/fleet-config.git
      targetRevision: main
      path: {path}
  destination: {{server: "https://{name}.k8s.example.com:6443", namespace: platform}}
""")
    code, out = sources_of(repo)
    assert code == 2
    assert [(p["line"], p["field"]) for p in out["problems"]] == [(14, "spec.sources[2].path")]
    assert "Application for cluster prod-eu-west deploys clusters/prod-us-east, the folder of cluster prod-us-east, " \
           "but identity.sourcePath says clusters/prod-eu-west" in out["problems"][0]["message"]
    reasons = {(s["cluster"], s["reason"]) for s in out["sources"]["notFollowed"]}
    assert ("prod-eu-west", "a Helm chart, not a folder") in reasons and ("prod-eu-west", "no path") in reasons
    assert len(out["sources"]["followed"]) == 6
