"""`rollout plan` in every format, `schema`, and how the repo and policy are found."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from conftest import SEED_POLICY, make_seed_repo


def test_plan_json_shape(seed_repo):
    plan = seed_repo.plan()
    assert plan["policy"] == "security-patch" and plan["revision"] == "v1.4.2"
    assert [(w["number"], w["name"], w["clusters"], w["after"], w["bakeSeconds"]) for w in plan["waves"]] == [
        (1, "canary", ["dev-eu-west", "dev-us-east"], [], 1800),
        (2, "region-eu-west", ["staging-eu-west"], [1], 3600),
        (3, "region-us-east", ["staging-us-east"], [1], 3600),
        (4, "production/1", ["prod-eu-west"], [2, 3], 0),
        (5, "production/2", ["prod-us-east"], [4], 0),
    ]
    assert all(w["gates"] == [] and w["approval"] is None for w in plan["waves"])
    target = next(t for t in plan["targets"] if t["name"] == "prod-eu-west")
    assert target["wave"] == 4
    assert target["pins"] == [{"preset": "argocd-application", "file": "argocd/apps/prod-eu-west-platform.yaml",
                               "field": "spec.source.targetRevision"}]
    assert target["labels"]["compliance"] == "gdpr"


def test_plan_table_shows_waves_parallelism_and_pins(seed_repo):
    result = seed_repo.cli("plan", "security-patch")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("canary", "region-eu-west", "production/2", "30m", "1h", "may run in parallel: 2, 3",
                 "argocd/apps/prod-eu-west-platform.yaml"):
        assert text in out


def test_plan_table_shows_field_paths_as_written(tmp_path):
    # `[name=app]` is text, not rich markup: the pins' title once showed `images.newTag`.
    policy = SEED_POLICY.replace("    - preset: argocd-application\n",
                                 "    - preset: yaml-field\n      field: spec.items[name=app].tag\n")
    result = make_seed_repo(tmp_path / "r", policy=policy).cli("plan", "security-patch")
    assert result.exit_code == 0, result.output
    assert "pins (spec.items[name=app].tag)" in result.stdout


def test_plan_mermaid_and_dot_draw_the_dag(seed_repo):
    mermaid = seed_repo.cli("plan", "security-patch", "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart LR")
    edges = set(re.findall(r"w(\d+) --> w(\d+)", mermaid))
    assert edges == {("1", "2"), ("1", "3"), ("2", "4"), ("3", "4"), ("4", "5")}
    dot = seed_repo.cli("plan", "security-patch", "--format", "dot").stdout
    assert dot.startswith('digraph "security-patch" {') and dot.rstrip().endswith("}")
    assert set(re.findall(r"w(\d+) -> w(\d+);", dot)) == edges


def test_plan_markdown_for_pull_requests(seed_repo):
    md = seed_repo.cli("plan", "security-patch", "--format", "markdown").stdout
    assert "### Rollout plan `security-patch` → `v1.4.2`" in md
    assert "| 4 | production/1 | `prod-eu-west` | 2, 3 | — | — |" in md
    assert "```mermaid\nflowchart LR" in md
    assert "| `prod-eu-west` | 4 | `argocd/apps/prod-eu-west-platform.yaml` | `spec.source.targetRevision` |" in md


def test_warnings_do_not_fail_the_plan(tmp_path):
    policy = SEED_POLICY.replace(
        "    - name: production\n",
        "    - name: qa\n      selector: {matchLabels: {environment: qa}}\n    - name: production\n",
    )
    repo = make_seed_repo(tmp_path, policy=policy)
    result = repo.cli("validate", "security-patch")
    assert result.exit_code == 0, result.output
    assert re.search(r"security-patch.yaml:\d+: spec.waves\[2\]: warning: wave qa claims no cluster", result.stderr)
    plan = json.loads(repo.cli("plan", "security-patch", "--format", "json").stdout)
    assert plan["warnings"][0]["message"] == "wave qa claims no cluster"


def test_missing_pin_file_is_an_error_naming_file_and_cluster(seed_repo):
    (seed_repo.root / "argocd/apps/prod-us-east-platform.yaml").unlink()
    result = seed_repo.cli("validate", "security-patch")
    assert result.exit_code == 2
    assert "argocd/apps/prod-us-east-platform.yaml: file not found (the pin for cluster prod-us-east)" in result.stderr
    assert re.match(r".*security-patch.yaml:10: spec.pin\[0\].files: ", result.stderr)


def test_a_pinned_file_that_is_a_symlink_is_refused_before_anything_is_written(seed_repo):
    """git keeps a symlink's mode: a pin written "into" it would be its target's name (a broken link)."""
    pinned = seed_repo.root / "argocd/apps/prod-us-east-platform.yaml"
    pinned.rename(pinned.with_name("real.yaml"))
    pinned.symlink_to("real.yaml")
    for command in ("validate", "plan"):
        result = seed_repo.cli(command, "security-patch")
        assert result.exit_code == 2, result.output
        assert ("argocd/apps/prod-us-east-platform.yaml: a symbolic link (to real.yaml), not a file (the pin for "
                "cluster prod-us-east)") in result.stderr
        assert re.match(r".*security-patch.yaml:10: spec.pin\[0\].files: ", result.stderr)


def test_a_pinned_file_in_a_folder_that_is_a_symlink_is_refused_before_anything_is_written(seed_repo):
    """git keeps a folder's link: a pin written through it committed a folder of the pinned
    files alone in its place (the other clusters' Applications gone from the branch). The
    six clusters' files below the link are one error naming it, not one per file."""
    apps = seed_repo.root / "argocd/apps"
    apps.rename(apps.with_name("apps-real"))
    apps.symlink_to("apps-real")
    for command in ("validate", "plan"):
        result = seed_repo.cli(command, "security-patch")
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.splitlines()
        assert line.endswith(
            f"{apps}: a symbolic link (to apps-real), not a folder, holding 6 pinned files (argocd/apps/dev-eu-west-"
            "platform.yaml, argocd/apps/dev-us-east-platform.yaml, argocd/apps/prod-eu-west-platform.yaml and 3 more; "
            "the pins for clusters dev-eu-west, dev-us-east, prod-eu-west and 3 more): git keeps the link, and a pin "
            "written through it would put a folder of the pinned files alone in its place; pin the files in the folder "
            "it points to"), line
        assert re.match(r".*security-patch.yaml:10: spec.pin\[0\].files: ", line)


def test_schema_validates_policies(seed_repo):
    import jsonschema

    result = seed_repo.cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    policy = yaml.safe_load(SEED_POLICY)
    assert list(validator.iter_errors(policy)) == []
    policy["spec"]["waves"][0]["bake"] = "30 minutes"
    policy["spec"]["pin"][0]["preset"] = "helm"
    policy["spec"]["extra"] = 1
    assert len(list(validator.iter_errors(policy))) >= 3
    presets = {s["properties"]["preset"]["const"] for s in schema["$defs"].values()
               if "preset" in s.get("properties", {})}
    assert presets == {"argocd-application", "argocd-application-image", "argocd-applicationset-list",
                       "flux-gitrepository", "flux-ocirepository", "flux-helmrelease", "flux-kustomization-var",
                       "kustomize-image", "kustomize-image-digest", "kubernetes-image", "fleet-gitrepo", "yaml-field"}


def test_repo_is_found_from_git_top_level_or_a_policy_path(seed_repo, tmp_path):
    subprocess.run(["git", "init", "-q", str(seed_repo.root)], check=True)
    (seed_repo.root / "argocd").mkdir(exist_ok=True)
    # From a subfolder of the repo: the git top-level.
    in_repo = seed_repo.run("validate", "security-patch", cwd=seed_repo.root / "argocd")
    assert in_repo.returncode == 0, in_repo.stderr
    # From anywhere, by path: the folder holding rollouts/.
    by_path = seed_repo.run("plan", str(seed_repo.root / "rollouts/security-patch.yaml"), "--format", "json", cwd=tmp_path)
    assert by_path.returncode == 0, by_path.stderr
    assert len(json.loads(by_path.stdout)["waves"]) == 5
    missing = seed_repo.run("plan", "security-patch", "--repo", str(tmp_path / "nope"))
    assert missing.returncode == 2 and missing.stderr.startswith("rollout: --repo")


def test_the_one_command_app_parses_helps_and_fails_as_the_whole_app(tmp_path):
    """main() runs `only(argv)`: the app with just the command named (building every
    command costs ~15 ms a start). Same help, same usage errors, same exit codes; without
    a known command first, the whole app itself."""
    from typer.main import get_command_name
    from typer.testing import CliRunner

    from rollout.cli import app, only

    names = [get_command_name(info.callback.__name__) for info in app.registered_commands]
    assert {"plan", "status", "run", "gate", "schema"} <= set(names)
    for argv in ([], ["--help"], ["--version"], ["plna", "x"], ["-h", "plan"]):
        assert only(argv) is app
    runner = CliRunner()
    for name in names:
        one = only([name, "x"])
        assert one is not app and [i.callback.__name__ for i in one.registered_commands] == [name.replace("-", "_")]
        errors = ([name, "--no-such-option"], [name, "a", "b", "c", "d"], [name, "--repo", str(tmp_path / "no"), "p"])
        if name not in ("plan", "status", "gate", "run", "validate"):
            continue  # ~30 ms a run of the whole app
        for argv in [[name, "--help"], *(errors if name in ("plan", "status", "gate") else ())]:
            whole, alone = (runner.invoke(a, argv, env={"COLUMNS": "120"}) for a in (app, one))
            assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output), argv
    assert len(app.registered_commands) == len(names)  # the whole app is left whole


def test_an_advance_through_a_linked_folder_writes_nothing(published_seed_repo):
    """The linked folder committed and pushed: `advance` refuses (exit 2, naming the link)
    and neither the branch nor its remote moves; nothing of the folder is touched."""
    import subprocess
    import sys

    work = published_seed_repo

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=work, capture_output=True, text=True, check=True).stdout.strip()

    apps = work / "argocd/apps"
    apps.rename(apps.with_name("apps-real"))
    apps.symlink_to("apps-real")
    git("add", "-A")
    git("commit", "-qm", "apps behind a link")
    git("push", "-q")
    before = (git("rev-parse", "HEAD"), git("rev-parse", "origin/main"), sorted(p.name for p in apps.iterdir()))
    done = subprocess.run([sys.executable, "-m", "rollout", "advance", "security-patch", "--wave", "1"], cwd=work,
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "a symbolic link (to apps-real), not a folder" in done.stderr and "Traceback" not in done.stderr
    git("fetch", "-q")
    assert (git("rev-parse", "HEAD"), git("rev-parse", "origin/main"), sorted(p.name for p in apps.iterdir())) == before
    assert apps.is_symlink() and git("status", "--porcelain") == ""
