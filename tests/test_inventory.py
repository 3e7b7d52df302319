"""Inventory sources, merged by cluster name; conflicting identity is an error."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from rollout.inventory import load_inventory
from waves.problems import format_loc

from conftest import Repo

TOKEN = "s3cr3t-bearer-token-value"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SECRETS = f"""\
# Argo CD cluster secrets for the EU region
apiVersion: v1
kind: Secret
metadata:
  name: cluster-prod-eu-west-1
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: cluster
    environment: production
    region: eu-west
    compliance: gdpr
type: Opaque
stringData:
  name: prod-eu-west-1
  server: https://prod-eu-west-1.example.com:6443
  config: '{{"bearerToken":"{TOKEN}"}}'
---
apiVersion: v1
kind: Secret
metadata:
  name: cluster-prod-eu-west-2
  labels:
    argocd.argoproj.io/secret-type: cluster
    environment: production
    region: eu-west
data:
  name: {b64("prod-eu-west-2")}
  server: {b64("https://prod-eu-west-2.example.com:6443")}
  config: {b64('{"bearerToken":"' + TOKEN + '"}')}
---
apiVersion: v1
kind: Secret
metadata:
  name: repo-creds
  labels:
    argocd.argoproj.io/secret-type: repository
stringData:
  url: https://github.com/example/fleet
"""

CAPI = """\
apiVersion: cluster.x-k8s.io/v1beta1
kind: Cluster
metadata:
  name: prod-eu-west-1
  labels: {environment: production, tier: "1"}
spec:
  controlPlaneEndpoint: {host: prod-eu-west-1.example.com, port: 6443}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta1
kind: AWSCluster
metadata: {name: prod-eu-west-1}
"""


def clusters_of(repo: Repo, *sources):
    clusters, problems = load_inventory(repo.root, list(sources))
    return {c.name: c for c in clusters}, [f"{p.source}:{p.line}: {format_loc(p.loc)}: {p.message}" for p in problems]


def test_argocd_cluster_secrets_from_string_data_and_base64_data(tmp_path):
    repo = Repo(tmp_path)
    repo.write("clusters/eu.yaml", SECRETS)
    clusters, problems = clusters_of(repo, ("argocdClusterSecrets", "clusters/*.yaml"))
    assert problems == []
    assert sorted(clusters) == ["prod-eu-west-1", "prod-eu-west-2"]
    assert clusters["prod-eu-west-1"].labels == {"environment": "production", "region": "eu-west", "compliance": "gdpr"}
    assert clusters["prod-eu-west-2"].server == "https://prod-eu-west-2.example.com:6443"


def test_cluster_api_and_merging_agreeing_sources(tmp_path):
    repo = Repo(tmp_path)
    repo.write("clusters/eu.yaml", SECRETS)
    repo.write("capi/eu.yaml", CAPI)
    clusters, problems = clusters_of(repo, ("argocdClusterSecrets", "clusters/*.yaml"), ("clusterAPI", "capi/*.yaml"))
    assert problems == []
    merged = clusters["prod-eu-west-1"]
    assert merged.labels == {"environment": "production", "region": "eu-west", "compliance": "gdpr", "tier": "1"}
    assert merged.sources == ("clusters/eu.yaml", "capi/eu.yaml")


def test_conflicting_label_between_sources_names_both_files(tmp_path):
    repo = Repo(tmp_path)
    repo.write("clusters/eu.yaml", SECRETS)
    repo.write("capi/eu.yaml", CAPI.replace("environment: production", "environment: staging"))
    _, problems = clusters_of(repo, ("argocdClusterSecrets", "clusters/*.yaml"), ("clusterAPI", "capi/*.yaml"))
    assert problems == [
        "capi/eu.yaml:5: metadata.labels.environment: cluster prod-eu-west-1: label environment=staging here "
        "but environment=production in clusters/eu.yaml"
    ]


def test_conflicting_server_is_an_error(tmp_path):
    repo = Repo(tmp_path)
    repo.write("clusters/eu.yaml", SECRETS)
    repo.write("capi/eu.yaml", CAPI.replace("host: prod-eu-west-1.example.com", "host: prod-us-east-1.example.com"))
    _, problems = clusters_of(repo, ("argocdClusterSecrets", "clusters/*.yaml"), ("clusterAPI", "capi/*.yaml"))
    assert len(problems) == 1 and "server https://prod-us-east-1.example.com:6443 here" in problems[0]


def test_kustomize_cluster_folders(tmp_path):
    repo = Repo(tmp_path)
    repo.write("clusters/dev-1/kustomization.yaml", "resources: [../../base]\ncommonLabels: {environment: dev}\n")
    repo.write("clusters/prod-1/kustomization.yaml",
               "labels:\n  - pairs: {environment: production, region: eu-west}\n    includeSelectors: false\n")
    clusters, problems = clusters_of(repo, ("kustomizeClusters", "clusters/*/kustomization.yaml"))
    assert problems == []
    assert clusters["dev-1"].labels == {"environment": "dev"}
    assert clusters["prod-1"].labels == {"environment": "production", "region": "eu-west"}


@pytest.mark.parametrize("value", ["no", "yes", "on", "Off", "y", "N"])
def test_yaml11_boolean_label_must_be_quoted(tmp_path, value):
    repo = Repo(tmp_path)
    repo.write("fleet.yaml", f"apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n  - name: a\n    labels:\n      region: {value}\n")
    _, problems = clusters_of(repo, ("fleet", "fleet.yaml"))
    assert len(problems) == 1
    assert problems[0].startswith("fleet.yaml:6: clusters[0].labels.region: label region: YAML 1.1 readers")
    assert f'quote it: "{value}"' in problems[0]
    repo.write("fleet.yaml", f"apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n  - name: a\n    labels:\n      region: '{value}'\n")
    clusters, problems = clusters_of(repo, ("fleet", "fleet.yaml"))
    assert problems == [] and clusters["a"].labels == {"region": value}


@pytest.mark.parametrize("value, reads", [("1.20", "the number 1.2"), ("true", "the boolean true"),
                                          ("3", "the number 3"), ("~", "null"), ("2024-01-01", "a date")])
def test_non_text_label_values_ask_for_quotes(tmp_path, value, reads):
    repo = Repo(tmp_path)
    repo.write("fleet.yaml", f"apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n  - name: a\n    labels: {{tier: {value}}}\n")
    _, problems = clusters_of(repo, ("fleet", "fleet.yaml"))
    assert len(problems) == 1 and problems[0].startswith("fleet.yaml:5: clusters[0].labels.tier:")
    assert reads in problems[0] or (reads == "null" and "null" in problems[0])


def test_duplicate_cluster_in_one_file_and_duplicate_keys(tmp_path):
    repo = Repo(tmp_path)
    repo.write("fleet.yaml", "apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n  - {name: a}\n  - {name: a}\n")
    _, problems = clusters_of(repo, ("fleet", "fleet.yaml"))
    assert problems == ["fleet.yaml:5: clusters[1]: cluster a is listed twice in this file"]
    repo.write("fleet.yaml", "apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n  - name: a\n    name: b\n")
    _, problems = clusters_of(repo, ("fleet", "fleet.yaml"))
    assert problems == ["fleet.yaml:5: : duplicate key 'name'"]


def test_fleet_file_shape_errors(tmp_path):
    repo = Repo(tmp_path)
    repo.write("fleet.yaml", "apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n  - name: Bad_Name\n  - {name: b, zone: x}\n  - server: x\n")
    _, problems = clusters_of(repo, ("fleet", "fleet.yaml"))
    assert problems == [
        "fleet.yaml:5: clusters[1].zone: unknown field; allowed here: name, server, labels",
        "fleet.yaml:6: clusters[2].name: required text field 'name' is missing",
        "fleet.yaml:4: clusters[0].name: 'Bad_Name' is not a cluster name (lower-case letters, digits, '-', '.')",
    ]


def test_glob_matching_nothing_is_an_error(tmp_path):
    _, problems = clusters_of(Repo(tmp_path), ("argocdClusterSecrets", "clusters/*.yaml"))
    assert problems == ["clusters/*.yaml:None: : no file matches 'clusters/*.yaml'"]


def test_inventory_command_never_prints_the_secret_config(tmp_path):
    repo = Repo(tmp_path)
    repo.write("clusters/eu.yaml", SECRETS)
    for fmt in ("table", "json"):
        result = repo.cli("inventory", "--source", "argocdClusterSecrets=clusters/*.yaml", "--format", fmt)
        assert result.exit_code == 0, result.output
        assert TOKEN not in result.output and "bearerToken" not in result.output
    # A broken secret's error does not echo it either.
    repo.write("clusters/eu.yaml", SECRETS.replace("  name: prod-eu-west-1\n  server", "  name: [x]\n  server"))
    result = repo.cli("inventory", "--source", "argocdClusterSecrets=clusters/*.yaml")
    assert result.exit_code == 2 and TOKEN not in result.output


def test_inventory_command_selector_and_policy_sources(seed_repo):
    result = seed_repo.cli("inventory", "--selector", "environment=production,region in (eu-west)", "--format", "json")
    assert result.exit_code == 0, result.output
    (cluster,) = json.loads(result.stdout)
    assert cluster == {
        "name": "prod-eu-west",
        "server": "https://prod-eu-west.k8s.example.com:6443",
        "labels": {"compliance": "gdpr", "environment": "production", "region": "eu-west"},
        "sources": ["fleet/clusters.yaml"],
    }
    bad = seed_repo.cli("inventory", "--selector", "region in eu")
    assert bad.exit_code == 2 and "--selector" in bad.stderr
    bad = seed_repo.cli("inventory", "--source", "helm=x")
    assert bad.exit_code == 2


def test_multi_document_file_with_a_leading_marker_and_a_sequence_document(tmp_path):
    from rollout.yamlfile import load_documents

    path = Path(tmp_path / "x.yaml")
    for text, docs in [("- a\n- b\n", [["a", "b"]]), ("---\n- a\n", [["a"]]), ("a: 1\n---\nb: 2\n", [{"a": 1}, {"b": 2}]),
                       ("# c\n---\na: 1\n", [{"a": 1}]), ("---\na: 1\n---\n", [{"a": 1}]), ("", []),
                       ("x: 1\n...\ny: 2\n", [{"x": 1}, {"y": 2}]), ("- a\n...\n", [["a"]]),
                       ("---\n- a\n...\n---\n- b\n", [["a"], ["b"]]), ("%YAML 1.2\n---\n- a\n", [["a"]])]:
        path.write_text(text)
        assert load_documents(path) == docs, text


@pytest.mark.parametrize(
    "labels, errors",
    [
        ('{country: "no"}', 0),
        ("{country: 'no'}", 0),
        ("\n      country: \"no\"  # Norway", 0),
        ("\n      country: no  # Norway", 1),
        ("{country: no}", 1),
        ('\n      "country": no', 1),
        ("\n      country:\n        no", 1),  # value on its own line: settled by the exact parse
    ],
)
def test_quoting_check_by_text_agrees_with_the_exact_parse(tmp_path, labels, errors):
    repo = Repo(tmp_path)
    others = "".join(f"  - name: q{i}\n    labels: {{country: \"no\"}}\n" for i in range(3))
    repo.write("fleet.yaml", f"apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n{others}"
                             f"  - name: a\n    labels: {labels}\n# country: no (a comment is not a label)\n")
    clusters, problems = clusters_of(repo, ("fleet", "fleet.yaml"))
    assert len(problems) == errors, problems
    if not errors:
        assert clusters["a"].labels == {"country": "no"}


def test_a_document_that_is_not_a_manifest_is_an_error_not_a_silent_skip(tmp_path):
    repo = Repo(tmp_path)
    repo.write("clusters/eu.yaml", SECRETS + "---\n- stray list\n")
    _, problems = clusters_of(repo, ("argocdClusterSecrets", "clusters/*.yaml"))
    line = SECRETS.count("\n") + 2
    assert problems == [f"clusters/eu.yaml:{line}: : document 4 is a list, not a manifest"]
