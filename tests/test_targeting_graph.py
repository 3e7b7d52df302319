"""The kustomization graph walk: every file kustomize reads is reached; a reference that
leaves the repository, names nothing or closes a cycle is a problem; cluster-identity
generators are found wherever they are."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import examples
from rollout.targeting.files import RepoFiles
from rollout.targeting.graph import Graph, Link
from upstream import corpus



def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def walk(root: Path, folder: str, recurse: bool = False):
    return Graph(RepoFiles(root)).walk(Link("argocd/app.yaml", 0, ("spec", "source", "path"), folder, folder), recurse)


def messages(reach) -> list[str]:
    return [p.message for p in reach.problems]


EVERY_KIND = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - ../../base
  - https://github.com/example-org/shared//monitoring?ref=v1
  - github.com/example-org/shared/logging?ref=v1
bases:
  - ../../legacy
components:
  - ../../components/eu
patches:
  - path: patches/replicas.yaml
  - patch: |-
      - op: replace
        path: /spec/replicas
        value: 3
patchesStrategicMerge:
  - patches/strategic.yaml
  - "{apiVersion: apps/v1, kind: Deployment, metadata: {name: flow-inline}}"
  - |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: inline}
patchesJson6902:
  - target: {kind: Deployment, name: app}
    path: patches/json6902.yaml
configMapGenerator:
  - name: settings
    files:
      - config.properties
      - app.conf=conf/application.conf
    envs:
      - settings.env
secretGenerator:
  - name: creds
    env: creds.env
replacements:
  - path: replacements.yaml
crds:
  - crds/widget.yaml
configurations:
  - kustomizeconfig.yaml
generators:
  - generators/gen.yaml
transformers:
  - transformers/labels.yaml
validators:
  - validators/check.yaml
openapi:
  path: openapi.json
helmCharts:
  - name: podinfo
    valuesFile: values.yaml
"""

LEAVES = ["deployment.yaml", "patches/replicas.yaml", "patches/strategic.yaml", "patches/json6902.yaml",
          "config.properties", "conf/application.conf", "settings.env", "creds.env", "replacements.yaml",
          "crds/widget.yaml", "kustomizeconfig.yaml", "generators/gen.yaml", "transformers/labels.yaml",
          "validators/check.yaml", "openapi.json", "values.yaml"]


def test_every_reference_kind_is_reached(tmp_path):
    files = {"clusters/a/kustomization.yaml": EVERY_KIND}
    files |= {f"clusters/a/{leaf}": "x: 1\n" for leaf in LEAVES}
    files |= {"base/kustomization.yaml": "resources: [ns.yaml]\n", "base/ns.yaml": "kind: Namespace\n",
              "legacy/kustomization.yml": "resources: []\n",
              "components/eu/kustomization.yaml": "kind: Component\npatches: [{path: eu.yaml}]\n",
              "components/eu/eu.yaml": "x: 1\n"}
    write(tmp_path, files)
    reach = walk(tmp_path, "clusters/a")
    assert messages(reach) == []  # remote bases are not this repository's: skipped, not missing
    expected = {"clusters/a/kustomization.yaml", "base/kustomization.yaml", "base/ns.yaml", "legacy/kustomization.yml",
                "components/eu/kustomization.yaml", "components/eu/eu.yaml"} | {f"clusters/a/{x}" for x in LEAVES}
    assert set(reach.files) == expected
    link = reach.files["components/eu/eu.yaml"]
    assert (link.file, link.loc, link.ref) == ("components/eu/kustomization.yaml", ("patches", 0, "path"), "eu.yaml")
    assert [l.target for l in reach.chain("base/ns.yaml")] == [
        "clusters/a/kustomization.yaml", "base/kustomization.yaml", "base/ns.yaml"]


def test_a_real_overlay_from_the_corpus_reaches_its_components_and_patches(tmp_path):
    """kostis-codefresh/gitops-environment-promotion envs/prod-eu/kustomization.yml, as
    published; the files it names are created empty around it."""
    source = corpus() / "gitops-environment-promotion" / "envs" / "prod-eu" / "kustomization.yml"
    write(tmp_path, {"envs/prod-eu/kustomization.yml": source.read_text()})
    reach = walk(tmp_path, "envs/prod-eu")
    missing = sorted(m.split(":")[0] for m in messages(reach))
    assert missing == ["../../base", "../../variants/eu", "../../variants/prod", "deployment.yml", "replicas.yml",
                       "settings.yml", "version.yml"]
    write(tmp_path, {"base/kustomization.yml": "resources: []\n", "variants/eu/kustomization.yml": "kind: Component\n",
                     "variants/prod/kustomization.yml": "kind: Component\n"}
          | {f"envs/prod-eu/{f}": "x: 1\n" for f in ("deployment.yml", "replicas.yml", "settings.yml", "version.yml")})
    reach = walk(tmp_path, "envs/prod-eu")
    assert messages(reach) == []
    assert {"variants/eu/kustomization.yml", "variants/prod/kustomization.yml", "envs/prod-eu/version.yml"} <= set(reach.files)


@pytest.mark.parametrize("entry, message", [
    ("resources: [missing.yaml]", "missing.yaml: no such file or folder"),
    ("resources: [../empty]", "../empty: the folder has no kustomization.yaml"),
    ("patches: [{path: ../empty}]", "../empty: a folder, where a file is needed"),
    ("resources: [../../../outside]", "../../../outside: outside the repository"),
    ("resources: [/etc/passwd]", "/etc/passwd: outside the repository"),
    ("configMapGenerator: [{name: x, envs: [nothing.env]}]", "nothing.env: no such file or folder"),
    ("resources: ../b", "must be a list, as kustomize reads it"),
    ("resources: [.]", ".: a cycle: clusters/a/kustomization.yaml -> clusters/a/kustomization.yaml"),
    ("resources: [../b]", "../a: a cycle: clusters/a/kustomization.yaml -> clusters/b/kustomization.yaml -> "
                          "clusters/a/kustomization.yaml"),
])
def test_broken_references_are_problems_at_their_entry(tmp_path, entry, message):
    write(tmp_path, {"clusters/a/kustomization.yaml": entry + "\n", "clusters/b/kustomization.yaml": "resources: [../a]\n"})
    (tmp_path / "clusters/empty").mkdir()
    reach = walk(tmp_path, "clusters/a")
    assert messages(reach) == [message]


def test_a_symlink_out_of_the_repository_is_outside(tmp_path):
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    write(elsewhere, {"secret.yaml": "kind: Secret\n"})
    write(repo, {"clusters/a/kustomization.yaml": "resources: [linked/secret.yaml]\n"})
    os.symlink(elsewhere, repo / "clusters/a/linked")
    assert messages(walk(repo, "clusters/a")) == ["linked/secret.yaml: outside the repository"]


def test_a_diamond_is_not_a_cycle(tmp_path):
    write(tmp_path, {"clusters/a/kustomization.yaml": "resources: [../../env/prod, ../../env/gdpr]\n",
                     "env/prod/kustomization.yaml": "resources: [../../base]\n",
                     "env/gdpr/kustomization.yaml": "resources: [../../base]\n",
                     "base/kustomization.yaml": "resources: [ns.yaml]\n", "base/ns.yaml": "kind: Namespace\n"})
    reach = walk(tmp_path, "clusters/a")
    assert messages(reach) == [] and "base/ns.yaml" in reach.files


def test_a_root_without_kustomization_is_its_plain_manifests(tmp_path):
    write(tmp_path, {"apps/a/deploy.yaml": "kind: Deployment\n", "apps/a/README.md": "notes\n",
                     "apps/a/sub/svc.yml": "kind: Service\n"})
    assert set(walk(tmp_path, "apps/a").files) == {"apps/a/deploy.yaml"}
    assert set(walk(tmp_path, "apps/a", recurse=True).files) == {"apps/a/deploy.yaml", "apps/a/sub/svc.yml"}


@pytest.mark.parametrize("root, message", [
    ("clusters/nowhere", "clusters/nowhere: no such folder in the repository"),
    ("clusters/file.yaml", "clusters/file.yaml: is a file, not a folder"),
    ("../elsewhere", "../elsewhere: outside the repository"),
])
def test_a_root_that_is_no_folder_is_a_problem_at_the_source(tmp_path, root, message):
    write(tmp_path, {"clusters/file.yaml": "x: 1\n"})
    reach = walk(tmp_path, root)
    assert messages(reach) == [message] and reach.problems[0].loc == ("spec", "source", "path")


def test_broken_yaml_in_a_kustomization_is_a_problem_with_its_line(tmp_path):
    write(tmp_path, {"clusters/a/kustomization.yaml": "resources:\n  - a.yaml\n bad: [\n"})
    problem = walk(tmp_path, "clusters/a").problems[0]
    assert problem.file == "clusters/a/kustomization.yaml" and problem.line in (2, 3)


def test_identity_generators_from_literals_env_files_and_plain_configmaps(tmp_path):
    write(tmp_path, {
        "clusters/a/kustomization.yaml": (
            "resources: [identity.yaml, ../../shared]\nconfigMapGenerator:\n  - name: other\n    literals: [X=1]\n"
            "  - name: cluster-identity\n    envs: [identity.env]\n    literals: [\"REGION=eu-west-1\"]\n"),
        "clusters/a/identity.env": "# from the inventory\nCLUSTER_NAME=a\nREGION=us-east-1\n",
        "clusters/a/identity.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-identity}\n"
                                    "data: {CLUSTER_NAME: b}\n",
        "shared/kustomization.yaml": "configMapGenerator:\n  - name: cluster-identity\n    literals: [CLUSTER_NAME=c]\n",
    })
    found = {(g.file, g.loc): g.literals for g in walk(tmp_path, "clusters/a").generators}
    assert found == {
        ("clusters/a/kustomization.yaml", ("configMapGenerator", 1)): {"CLUSTER_NAME": "a", "REGION": "eu-west-1"},
        ("clusters/a/identity.yaml", ("data",)): {"CLUSTER_NAME": "b"},
        ("shared/kustomization.yaml", ("configMapGenerator", 0)): {"CLUSTER_NAME": "c"},
    }


def test_a_remote_base_into_this_repository_is_followed_and_others_are_not(tmp_path):
    write(tmp_path, {"clusters/a/kustomization.yaml": (
        "resources:\n  - https://github.com/example-org/fleet-config//clusters/b?ref=main\n"
        "  - https://github.com/other-org/charts//monitoring?ref=v1\n"
        "  - github.com/example-org/fleet-config/clusters/nowhere\n"),
        "clusters/b/kustomization.yaml": "resources: [svc.yaml]\n", "clusters/b/svc.yaml": "kind: Service\n"})
    ours = frozenset({"github.com/example-org/fleet-config"})
    root = Link("argocd/app.yaml", 0, ("spec", "source", "path"), "clusters/a", "clusters/a")
    reach = Graph(RepoFiles(tmp_path), ours).walk(root)
    assert {"clusters/b/kustomization.yaml", "clusters/b/svc.yaml"} <= set(reach.files)
    assert messages(reach) == ["github.com/example-org/fleet-config/clusters/nowhere: no folder with a "
                               "kustomization.yaml at clusters/nowhere in this repository"]
    assert set(walk(tmp_path, "clusters/a").files) == {"clusters/a/kustomization.yaml"}  # not ours: not followed


edges_strategy = st.integers(2, 7).flatmap(
    lambda n: st.tuples(st.just(n), st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=14)))


@settings(max_examples=examples(60), deadline=None)
@given(edges_strategy)
def test_the_walk_reaches_exactly_what_is_reachable_and_finds_a_cycle_iff_there_is_one(graph):
    """Random kustomization graphs: folder f<i> lists `../f<j>` for each edge i -> j and a
    leaf of its own. The reach is what networkx says is reachable from f0; a problem is
    reported exactly when that part of the graph has a cycle, and it is one."""
    import networkx as nx

    n, edges = graph
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(n):
            refs = "".join(f"  - ../f{j}\n" for j in sorted(g.successors(i)))
            write(root, {f"f{i}/kustomization.yaml": f"resources:\n  - leaf.yaml\n{refs}", f"f{i}/leaf.yaml": "x: 1\n"})
        reach = walk(root, "f0")
    reachable = {0} | nx.descendants(g, 0)
    assert set(reach.files) == {f"f{i}/{name}" for i in reachable for name in ("kustomization.yaml", "leaf.yaml")}
    has_cycle = not nx.is_directed_acyclic_graph(g.subgraph(reachable))
    assert bool(reach.problems) == has_cycle
    assert all(": a cycle: " in p.message for p in reach.problems)


def test_a_very_long_cycle_is_walked_without_recursion_and_shown_on_one_short_line(tmp_path):
    n = 1500  # deeper than Python's recursion limit
    write(tmp_path, {f"k{i}/kustomization.yaml": f"resources: [../k{(i + 1) % n}]\n" for i in range(n)})
    reach = walk(tmp_path, "k0")
    assert len(reach.files) == n
    [message] = messages(reach)
    assert message == (f"../k0: a cycle: k0/kustomization.yaml -> k1/kustomization.yaml -> k2/kustomization.yaml -> "
                       f"k3/kustomization.yaml -> ... {n + 1 - 7} more -> k{n - 2}/kustomization.yaml -> "
                       f"k{n - 1}/kustomization.yaml -> k0/kustomization.yaml")
