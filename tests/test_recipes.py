"""docs/recipes.md runs: each recipe, on a copy of the corpus repository it mirrors.

The page's marked blocks (HTML comments, invisible on GitHub) are the test's input, so
the page and the test cannot drift:

    <!-- recipe NAME: file PATH -->       written into the repository (inventory, policy)
    <!-- recipe NAME: shows PATH -->      the repository's PATH as the set-up below built it
    <!-- recipe NAME: refused -->         what `validate` prints (exit 2) before the prepare blocks
    <!-- recipe NAME: prepare PATH -->    a user's one-time change of an upstream file
    <!-- recipe NAME: advance WAVE -->    the `git diff` of `advance --wave WAVE`, as -U0 without
                                          the `diff --git`/`index` lines and hunk headers' context

Each recipe: the set-up copies the corpus files into a temporary repository, the blocks
are written, one commit; then `validate`, `plan`, each shown wave's `advance` (its commit
must change exactly the lines shown), `revert --all`, after which every file is byte for
byte what it was. The CLI runs in-process (typer's runner: the same commands, no
interpreter start per call, which keeps the module near one second per recipe)."""

from __future__ import annotations

import difflib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from conftest import TEST_GIT_IDENTITY
from upstream import corpus

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "recipes.md"
MARKER = re.compile(r"^<!-- recipe ([a-z0-9-]+): (file|shows|prepare|advance|refused)(?: (\S+))? -->\s*$")
FENCE = re.compile(r"^```")


@dataclass
class Recipe:
    name: str
    files: dict[str, str] = field(default_factory=dict)
    shows: dict[str, str] = field(default_factory=dict)
    prepare: dict[str, str] = field(default_factory=dict)
    refused: str | None = None
    advances: list[tuple[str, str]] = field(default_factory=list)

    @property
    def policy(self) -> str:
        (name,) = [Path(p).stem for p in self.files if p.startswith("rollouts/")]
        return name


def read_recipes(text: str) -> dict[str, Recipe]:
    lines = text.splitlines()
    found: dict[str, Recipe] = {}
    for i, line in enumerate(lines):
        marker = MARKER.match(line)
        if not marker:
            assert not line.startswith("<!-- recipe"), f"recipes.md:{i + 1}: not a recipe marker: {line}"
            continue
        assert i + 1 < len(lines) and FENCE.match(lines[i + 1]), f"recipes.md:{i + 1}: a marker needs a ``` fence next"
        end = next(j for j in range(i + 2, len(lines)) if FENCE.match(lines[j]))
        body = "\n".join(lines[i + 2:end]) + "\n"
        name, kind, arg = marker.groups()
        recipe = found.setdefault(name, Recipe(name))
        assert (arg is None) == (kind == "refused"), f"recipes.md:{i + 1}: {kind} takes {'no' if arg is None else 'an'} argument"
        if kind == "advance":
            recipe.advances.append((arg, body))
        elif kind == "refused":
            recipe.refused = body
        else:
            getattr(recipe, {"file": "files"}.get(kind, kind))[arg] = body
    return found


RECIPES = read_recipes(DOC.read_text())


# The set-ups: the corpus repository each recipe mirrors, copied, or built from upstream files.

def swap(text: str, replacements: dict[str, str]) -> str:
    """The upstream text with each named string replaced; each must occur exactly once."""
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


SELF_MANAGED = "upstream/argoproj/argo-cd/test/e2e/testdata/self-managed-app/resources.yaml"
IN_CLUSTER = "server: https://kubernetes.default.svc"


def spoke(app: str, cluster: str) -> str:
    """The upstream Application as the hub holds it for one spoke: a name of its own (the
    hub's Applications share a namespace), the spoke's server as its destination."""
    return swap(app, {"name: test-self-managed-apps": f"name: {cluster}-self-managed-apps",
                      IN_CLUSTER: f"server: https://{cluster}.example.com:6443"})


def application_per_cluster(source: Path, root: Path) -> None:
    app = (source / SELF_MANAGED).read_text()
    (root / "apps").mkdir(parents=True)
    for cluster in ("staging-1", "prod-1", "prod-2"):
        (root / f"apps/{cluster}.yaml").write_text(spoke(app, cluster))


def applicationset_list(source: Path, root: Path) -> None:
    (root / "applicationset").mkdir(parents=True)
    shutil.copy(source / "upstream/argoproj/argo-cd/applicationset/examples/list-generator/list-example.yaml",
                root / "applicationset/guestbook.yaml")


def app_of_apps(source: Path, root: Path) -> None:
    app = (source / SELF_MANAGED).read_text()
    (root / "root").mkdir(parents=True)
    for cluster in ("staging", "production"):
        (root / f"root/{cluster}.yaml").write_text(swap(app, {
            "name: test-self-managed-apps": f"name: {cluster}-apps",
            "repoURL: https://github.com/argoproj/argo-cd.git": "repoURL: https://github.com/example-org/fleet.git",
            "path: self-managed-app": f"path: clusters/{cluster}/apps",
            "namespace: argocd-e2e": "namespace: argocd"}))
        (root / f"clusters/{cluster}/apps").mkdir(parents=True)
        (root / f"clusters/{cluster}/apps/argo-cd.yaml").write_text(spoke(app, cluster))


@dataclass
class SetUp:
    build: Callable[[Path, Path], None]
    prepared: str = r"(?!)"  # what a prepare block may change in an upstream file's lines
    folder: str | None = None  # the corpus repository copied whole


def copy(folder: str, prepared: str = r"(?!)") -> SetUp:
    return SetUp(lambda source, root: shutil.copytree(source / folder, root), prepared, folder)


SETUPS = {
    "application-per-cluster": SetUp(application_per_cluster),
    "applicationset-list": SetUp(applicationset_list, prepared=r"targetRevision"),
    "app-of-apps": SetUp(app_of_apps),
    "flux-kustomization-per-cluster": copy("flux2-kustomize-helm-example"),
    "kustomize-overlays": copy("kargo-simple"),
    "helm-values": copy("argocd-example-apps", prepared=r"(image|tag):"),
    "plain-manifests": copy("gitops-environment-promotion"),
    "fleet-bundles": copy("fleet-examples"),
}


# Running it.

def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def shown_diff(root: Path) -> str:
    """The last commit's `git diff -U0`, as the page shows it."""
    out = []
    for line in git(root, "diff", "--no-color", "-U0", "HEAD~1", "HEAD").splitlines():
        if line.startswith(("diff --git", "index ")):
            continue
        hunk = re.match(r"^(@@ [^@]+ @@)", line)
        out.append(hunk.group(1) if hunk else line)
    return "\n".join(out) + "\n"


@pytest.fixture
def cli(monkeypatch):
    from rollout.cli import app

    for key, value in TEST_GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ROLLOUT_NOW", raising=False)

    def run(root: Path, *args: str):
        monkeypatch.chdir(root)  # as a user runs it: the repository found from the working directory
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return run


def build(name: str, tmp_path: Path) -> tuple[Recipe, Path]:
    recipe, setup = RECIPES[name], SETUPS[name]
    root = tmp_path / name
    setup.build(corpus(), root)
    for path, text in recipe.shows.items():
        assert (root / path).read_text() == text, f"recipes.md shows {path} otherwise than the set-up builds it"
    for path, text in recipe.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return recipe, root


def prepare(recipe: Recipe, root: Path, allowed: str) -> None:
    for path, text in recipe.prepare.items():
        upstream = (root / path).read_text()
        changed = [l for l in difflib.ndiff(upstream.splitlines(), text.splitlines()) if l[:2] in ("- ", "+ ")]
        assert changed and all(re.search(allowed, l) for l in changed), \
            f"recipes.md's {path} changes more of the upstream file than the recipe says: {changed}"
        (root / path).write_text(text)


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_recipe(name, tmp_path, cli):
    recipe, root = build(name, tmp_path)
    if recipe.refused is not None:
        refused = cli(root, "validate", recipe.policy)
        assert refused.exit_code == 2, refused.output
        assert refused.output.splitlines() == recipe.refused.splitlines()
    prepare(recipe, root, SETUPS[name].prepared)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"{name}: the layout, its inventory and policy")
    before = snapshot(root)

    validated = cli(root, "validate", recipe.policy)
    assert validated.exit_code == 0 and ": valid: " in validated.output, validated.output
    planned = cli(root, "plan", recipe.policy, "--format", "json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    waves = {w["name"]: w["clusters"] for w in plan["waves"]}
    assert {wave for wave, _ in recipe.advances} <= set(waves), waves

    for wave, diff in recipe.advances:
        advanced = cli(root, "advance", recipe.policy, "--wave", wave, "--no-push")
        assert advanced.exit_code == 0, advanced.output
        assert shown_diff(root) == diff, f"wave {wave}: the commit's diff is not the one recipes.md shows"
        for cluster in waves[wave]:
            assert f"- {cluster} (" in git(root, "log", "-1", "--format=%B")

    reverted = cli(root, "revert", recipe.policy, "--all", "--reason", "recipes.md, tried", "--no-push")
    assert reverted.exit_code == 0, reverted.output
    assert snapshot(root) == before
    assert git(root, "status", "--porcelain") == ""
    if SETUPS[name].folder:  # and so each corpus file the user did not prepare is as upstream wrote it
        upstream = snapshot(corpus() / SETUPS[name].folder)
        assert {p: before[p] for p in upstream if p not in recipe.prepare} == \
               {p: b for p, b in upstream.items() if p not in recipe.prepare}


def test_app_of_apps_roots_are_refused_as_pins(tmp_path, cli):
    """What the page says of pinning the roots: each deploys to the hub, not its cluster."""
    recipe, root = build("app-of-apps", tmp_path)
    policy = root / "rollouts" / f"{recipe.policy}.yaml"
    policy.write_text(swap(policy.read_text(), {"files: clusters/{cluster}/apps/argo-cd.yaml": "files: root/{cluster}.yaml"}))
    refused = cli(root, "validate", recipe.policy)
    assert refused.exit_code == 2
    assert sorted(refused.output.splitlines()) == [
        f"root/{c}.yaml:14: spec.destination.server: Application for cluster {c} deploys to "
        f"https://kubernetes.default.svc, but the inventory gives https://{c}.example.com:6443 for {c}: "
        "refusing to pin the wrong cluster" for c in ("production", "staging")]


def test_a_mesh_compares_no_server_and_refuses_a_destination_named_in_cluster(tmp_path, cli):
    """What the page says of an Argo CD per cluster: upstream's in-cluster Application, as
    each cluster holds it, with an inventory without servers; `name: in-cluster` refused."""
    recipe, root = build("application-per-cluster", tmp_path)
    app = (corpus() / SELF_MANAGED).read_text()
    for cluster in ("staging-1", "prod-1", "prod-2"):
        (root / f"apps/{cluster}.yaml").write_text(app)
    (root / "fleet.yaml").write_text("apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n"
                                     "  - {name: staging-1, labels: {environment: staging}}\n"
                                     "  - {name: prod-1, labels: {environment: production}}\n"
                                     "  - {name: prod-2, labels: {environment: production}}\n")
    policy = root / "rollouts" / f"{recipe.policy}.yaml"
    policy.write_text(swap(policy.read_text(), {"argocdClusterSecrets: argocd/clusters.yaml": "fleet: fleet.yaml"}))
    validated = cli(root, "validate", recipe.policy)
    assert validated.exit_code == 0, validated.output
    (root / "apps/prod-2.yaml").write_text(swap(app, {IN_CLUSTER: "name: in-cluster"}))
    refused = cli(root, "validate", recipe.policy)
    assert refused.exit_code == 2
    assert refused.output.splitlines() == [
        "apps/prod-2.yaml:14: spec.destination.name: Application for cluster prod-2 deploys to cluster name "
        "'in-cluster': refusing to pin the wrong cluster"]


def test_an_overlay_two_clusters_share_is_one_unit_in_one_wave_and_refused_across_waves(tmp_path, cli):
    recipe, root = build("kustomize-overlays", tmp_path)
    fleet = ("apiVersion: rollout/v1alpha1\nkind: Fleet\nclusters:\n"
             "  - {name: prod-eu, labels: {environment: prod}}\n"
             "  - {name: prod-us, labels: {environment: prod}}\n")
    (root / "fleet.yaml").write_text(fleet)
    policy = root / "rollouts" / f"{recipe.policy}.yaml"
    policy.write_text(swap(policy.read_text(), {"env/{cluster}/": "env/{labels.environment}/"}))
    planned = cli(root, "plan", recipe.policy, "--format", "json")
    assert planned.exit_code == 0, planned.output
    (prod,) = [w for w in json.loads(planned.stdout)["waves"] if w["clusters"]]
    assert prod["shared"] == [{"file": "env/prod/kustomization.yaml", "field": "images[name=ghcr.io/akuity/guestbook].newTag",
                               "clusters": ["prod-eu", "prod-us"]}]
    (root / "fleet.yaml").write_text(fleet.replace("prod-us, labels: {environment: prod}",
                                                   "prod-us, labels: {environment: prod, late: \"yes\"}"))
    policy.write_text(policy.read_text() + "    - name: late\n")
    policy.write_text(swap(policy.read_text(), {"    - name: prod\n": "    - name: prod\n"
                           "      selector: {matchExpressions: [{key: late, operator: DoesNotExist}]}\n"}))
    refused = cli(root, "validate", recipe.policy)
    assert refused.exit_code == 2, refused.output
    assert "clusters prod-eu, prod-us pin one field (env/prod/kustomization.yaml: " \
           "images[name=ghcr.io/akuity/guestbook].newTag), which moves them all at once, but the plan puts them in " \
           "different waves (wave prod: prod-eu; wave late: prod-us)" in refused.output


def test_every_recipe_on_the_page_is_run_and_complete():
    assert set(RECIPES) == set(SETUPS)
    for recipe in RECIPES.values():
        assert recipe.policy and recipe.advances, recipe.name
    headings = re.findall(r"^## (.+)$", DOC.read_text(), re.M)
    assert len(headings) == len(RECIPES)


def test_the_marker_reader_refuses_what_it_cannot_read():
    with pytest.raises(AssertionError, match="needs a ``` fence"):
        read_recipes("<!-- recipe a: file x.yaml -->\ntext\n```\n```\n")
    with pytest.raises(AssertionError, match="not a recipe marker"):
        read_recipes("<!-- recipe a: files x.yaml -->\n```\n```\n")
    assert read_recipes("<!-- recipe a: advance dev -->\n```diff\n-x\n+y\n```\n")["a"].advances == [("dev", "-x\n+y\n")]
