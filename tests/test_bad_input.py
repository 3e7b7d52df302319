"""Bad input: one line per problem, `file:line: field: what is wrong`, exit code 2,
no traceback, nothing written."""

from __future__ import annotations

import re

import pytest

from conftest import SEED_CLUSTERS, SEED_POLICY, TEST_GIT_IDENTITY, application_yaml, make_seed_repo

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<message>.+)$")


def broken(seed_text: str, old: str, new: str) -> str:
    assert old in seed_text, old
    return seed_text.replace(old, new, 1)


CASES = [
    # (what, old, new, expected (line, field, message fragment))
    ("wrong key", "  onFailure: revert", "  onFailure: revert\n  colour: blue", (27, "spec.colour", "unknown field")),
    ("wrong type", "maxClusters: 1", "maxClusters: [1]", (22, "spec.waves[2].maxClusters", "must be a whole number or a percentage")),
    ("bad duration", "bake: 30m", "bake: 30 minutes", (14, "spec.waves[0].bake", "'30 minutes' is not a duration")),
    ("bad operator", "selector: {matchLabels: {environment: dev}}",
     "selector: {matchExpressions: [{key: environment, operator: Equals, values: [dev]}]}",
     (13, "spec.waves[0].selector.matchExpressions[0].operator", "'Equals' is not allowed")),
    ("unknown after", "after: [canary]", "after: [canery]", (18, "spec.waves[1].after[0]", "unknown wave 'canery'")),
    ("cycle", "after: [canary]\n      bake: 1h", "after: [production]\n      bake: 1h",
     (18, "spec.waves[1].after", "dependency cycle: region -> production -> region")),
    ("unknown preset", "preset: argocd-application", "preset: argo-application", (9, "spec.pin[0]", "unknown preset 'argo-application'")),
    ("number revision", "revision: v1.4.2", "revision: 1.20", (5, "spec.revision", 'YAML reads 1.20 as the number 1.2, not text; quote it to mean the text: "1.20"')),
    ("boolean label", "{matchLabels: {environment: dev}}", "{matchLabels: {environment: no}}",
     (13, "spec.waves[0].selector.matchLabels.environment", "YAML reads no as the boolean false")),
    ("missing file", "fleet: fleet/clusters.yaml", "fleet: fleet/cluster.yaml", (None, None, "file not found")),
    ("bad template", "files: argocd/apps/{cluster}-platform.yaml", "files: argocd/apps/{name}-platform.yaml",
     (10, "spec.pin[0].files", "unknown placeholder {name}")),
    ("missing field", "  revision: v1.4.2\n", "", (4, "spec.revision", "required field is missing")),
    ("onFailure word", "onFailure: revert", "onFailure: rollback", (26, "spec.onFailure", "'rollback' is not allowed")),
    ("onFailure scope", "onFailure: revert", "onFailure: {action: revert, scope: fleet}",
     (26, "spec.onFailure.scope", "'fleet' is not allowed: use 'wave' or 'rollout'")),
    ("unavailable word", "  onFailure: revert", "  onFailure: revert\n  unavailable: ignore",
     (27, "spec.unavailable", "'ignore' is not allowed: use 'skip', 'wait' or 'include'")),
    ("hub source scope", "fleet: fleet/clusters.yaml", "managedClusters: {context: hub, namespace: ocm}",
     (7, "spec.inventory[0].managedClusters", "these objects are cluster-scoped: no namespace")),
    ("gate template label", "  onFailure: revert", "  onFailure: revert\n  gates:\n    - argocd: {context: '{labels.ctx}'}",
     (28, "spec.gates[0].argocd.context", "dev-eu-west, dev-us-east, staging-eu-west, staging-us-east, prod-eu-west "
      "and 1 more have no label 'ctx', which the argocd gate's context '{labels.ctx}' uses")),
]


@pytest.mark.parametrize("what, old, new, expected", CASES, ids=[c[0] for c in CASES])
def test_each_bad_input_is_one_located_line_and_exit_2(tmp_path, what, old, new, expected):
    repo = make_seed_repo(tmp_path, policy=broken(SEED_POLICY, old, new))
    before = repo.snapshot()
    for command in ("plan", "validate"):
        result = repo.cli(command, "security-patch")
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, lines
        line, field, fragment = expected
        if line is None:
            assert fragment in lines[0] and "fleet/cluster.yaml" in lines[0]
            continue
        match = LINE.match(lines[0])
        assert match, lines[0]
        assert match["file"].endswith("rollouts/security-patch.yaml")
        assert (int(match["line"]), match["field"]) == (line, field), lines[0]
        assert fragment in match["message"]
    assert repo.snapshot() == before, "nothing is written"


def test_an_empty_label_in_a_pinned_path_is_one_located_line_and_exit_2_before_anything_is_written(tmp_path,
                                                                                                    monkeypatch):
    """`argocd/{labels.team}/{cluster}-platform.yaml` with one cluster's `team: ""` is
    `argocd//prod-us-east-platform.yaml`, which the file system reads as
    `argocd/prod-us-east-platform.yaml`: another file (here one a person left there).
    plan, validate and advance refuse it alike (advance stopped on git's last guard before:
    an internal error)."""
    import subprocess

    for key, value in TEST_GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    clusters = {name: {**labels, "team": "" if name == "prod-us-east" else "apps"} for name, labels in SEED_CLUSTERS.items()}
    repo = make_seed_repo(tmp_path / "fleet", clusters=clusters, policy=broken(
        SEED_POLICY, "files: argocd/apps/{cluster}-platform.yaml", "files: argocd/{labels.team}/{cluster}-platform.yaml"))
    repo.write("argocd/prod-us-east-platform.yaml", application_yaml("prod-us-east"))
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "fleet"]):
        subprocess.run(["git", *args], cwd=repo.root, check=True, capture_output=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo.root, capture_output=True, text=True).stdout
    before = repo.snapshot()
    for command in (["plan"], ["validate"], ["advance", "--wave", "1", "--force", "--no-push"]):
        result = repo.run(command[0], "security-patch", *command[1:])
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        (line,) = result.stderr.splitlines()
        match = LINE.match(line)
        assert match and (match["file"], match["line"], match["field"]) == (
            "rollouts/security-patch.yaml", "10", "spec.pin[0].files"), line
        assert ("cluster prod-us-east has an empty label 'team', which makes the template "
                "'argocd/{labels.team}/{cluster}-platform.yaml' the path 'argocd//prod-us-east-platform.yaml'") \
            in match["message"]
    assert repo.snapshot() == before, "nothing is written"
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo.root, capture_output=True, text=True).stdout == head


def test_all_problems_are_reported_not_only_the_first(tmp_path):
    text = SEED_POLICY
    for _, old, new, _ in [CASES[0], CASES[2], CASES[6], CASES[7]]:
        text = broken(text, old, new)
    repo = make_seed_repo(tmp_path, policy=text)
    result = repo.cli("validate", "security-patch")
    assert result.exit_code == 2
    fields = [LINE.match(ln)["field"] for ln in result.stderr.splitlines()]
    assert sorted(fields) == sorted(["spec.colour", "spec.waves[0].bake", "spec.pin[0]", "spec.revision"])


def test_broken_yaml_names_the_line(tmp_path):
    repo = make_seed_repo(tmp_path, policy=broken(SEED_POLICY, "after: [canary]", "after: [canary"))
    result = repo.cli("plan", "security-patch")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert re.match(r".*rollouts/security-patch.yaml:\d+: .*flow sequence", line), line


def test_duplicate_key_is_an_error(tmp_path):
    repo = make_seed_repo(tmp_path, policy=broken(SEED_POLICY, "  onFailure: revert", "  onFailure: revert\n  onFailure: halt"))
    result = repo.cli("validate", "security-patch")
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(":27: duplicate key 'onFailure'")


def test_validate_json_lists_problems(tmp_path):
    import json

    repo = make_seed_repo(tmp_path, policy=broken(SEED_POLICY, "bake: 30m", "bake: soon"))
    result = repo.cli("validate", "security-patch", "--format", "json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False
    (problem,) = report["problems"]
    assert problem["line"] == 14 and problem["field"] == "spec.waves[0].bake" and problem["severity"] == "error"


def test_unknown_policy_name_lists_known_ones(seed_repo):
    result = seed_repo.cli("plan", "security-patsh")
    assert result.exit_code == 2
    assert "no such policy (policies here: security-patch)" in result.stderr


def test_real_process_exit_codes_and_no_traceback(seed_repo):
    ok = seed_repo.run("validate", "security-patch")
    assert ok.returncode == 0, ok.stderr
    assert "valid: 6 clusters in 5 waves" in ok.stdout
    seed_repo.write("rollouts/security-patch.yaml", broken(SEED_POLICY, "bake: 30m", "bake: 30 minutes"))
    bad = seed_repo.run("plan", "security-patch")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.count("\n") == 1
    usage = seed_repo.run("plan", "security-patch", "--format", "yaml")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


@pytest.mark.parametrize(
    "pin, field, message",
    [
        ("{preset: kustomize-image, files: 'k/{cluster}.yaml'}", "spec.pin[0].image", "required field is missing"),
        ("{preset: flux-gitrepository, files: 'k/{cluster}.yaml', ref: version}", "spec.pin[0].ref", "'version' is not allowed"),
        ("{preset: argocd-application, files: 'k/{cluster}.yaml', path: x}", "spec.pin[0].path", "unknown field"),
        ("{files: 'k/{cluster}.yaml'}", "spec.pin[0]", "required field 'preset' is missing"),
        ("{preset: kubernetes-image, files: 'k/{cluster}.yaml'}", "spec.pin[0]",
         "set exactly one of container (its name) or image (its repository)"),
        ("{preset: kubernetes-image, files: 'k/{cluster}.yaml', image: 'nginx:1.25'}", "spec.pin[0].image",
         "'nginx:1.25' has a tag: give the repository alone (nginx)"),
        ("{preset: kubernetes-image, files: 'k/{cluster}.yaml', container: app, kind: Service}", "spec.pin[0].kind",
         "'Service' is not allowed: use 'Deployment'"),
    ],
)
def test_preset_option_errors_name_the_option_even_when_alone(tmp_path, pin, field, message):
    policy = SEED_POLICY.replace(
        "    - preset: argocd-application\n      files: argocd/apps/{cluster}-platform.yaml", f"    - {pin}"
    )
    result = make_seed_repo(tmp_path, policy=policy).cli("validate", "security-patch")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    match = LINE.match(line)
    assert (match["line"], match["field"]) == ("9", field) and message in match["message"], line


def test_gate_errors(tmp_path):
    policy = SEED_POLICY.replace("  onFailure: revert", "  onFailure: revert\n  gates:\n    - argocd: {namespace: argocd, app: x}\n"
                                 "    - prometheus: {url: 'http://p:9090', query: up}\n    - helm: {}")
    result = make_seed_repo(tmp_path, policy=policy).cli("validate", "security-patch")
    assert result.exit_code == 2
    got = [(m["line"], m["field"], m["message"]) for m in map(LINE.match, result.stderr.splitlines())]
    assert got == [
        ("28", "spec.gates[0].argocd.app", "unknown field; allowed here: context, namespace, application, settle"),
        ("29", "spec.gates[1].prometheus", "give max, min or both"),
        ("30", "spec.gates[2]", "a gate is a mapping with one key: argocd, flux, prometheus, kstatus, fleet"),
    ]


UNKNOWN = [
    # (where, old, new, (line, field, the keys allowed there))
    ("top level", "kind: RolloutPolicy", "kind: RolloutPolicy\nstatus: {}", (3, "status", "apiVersion, kind, metadata, spec")),
    ("metadata", "metadata: {name: security-patch}", "metadata: {name: security-patch, owner: me}",
     (3, "metadata.owner", "name, labels, annotations")),
    ("spec", "  onFailure: revert", "  onFailure: revert\n  colour: blue",
     (27, "spec.colour", "revision, inventory, targets, pin, waves, constraints, onFailure, gates, progressDeadline, "
                         "maxFailures, identity, sourceRepos, windows, notify, delivery, trust, unavailable")),
    ("a pin", "      files: argocd/apps/{cluster}-platform.yaml",
     "      files: argocd/apps/{cluster}-platform.yaml\n      part: x",
     (11, "spec.pin[0].part", "preset, files, name, repoURL, ref, chart, index, match")),
    ("an inventory source", "    - fleet: fleet/clusters.yaml", "    - fleet: fleet/clusters.yaml\n      format: yaml",
     (8, "spec.inventory[0].format", "fleet, argocdClusterSecrets, clusterAPI, kustomizeClusters, clusterProfiles, managedClusters, fleetClusters")),
    ("a wave", "      bake: 30m", "      bake: 30m\n      pause: 1h",
     (15, "spec.waves[0].pause", "name, selector, groupBy, after, maxClusters, bake, gates, approval, windows")),
    ("a selector", "{matchLabels: {environment: dev}}", "{matchLabel: {environment: dev}}",
     (13, "spec.waves[0].selector.matchLabel", "matchLabels, matchExpressions")),
    ("a selector expression", "{matchLabels: {environment: dev}}",
     "{matchExpressions: [{key: environment, operator: In, value: [dev]}]}",
     (13, "spec.waves[0].selector.matchExpressions[0].value", "key, operator, values")),
    ("constraints", "    maxWaveSize: 50", "    maxWaveSize: 50\n    minWaveSize: 1",
     (26, "spec.constraints.minWaveSize", "isolateBy, maxWaveSize")),
    ("onFailure", "  onFailure: revert", "  onFailure: {action: revert, when: always}",
     (26, "spec.onFailure.when", "action, scope")),
    ("a gate", "  onFailure: revert", "  onFailure: revert\n  gates:\n    - prometheus: {url: 'http://p:9090', query: up, "
                                      "max: 1, step: 5}",
     (28, "spec.gates[0].prometheus.step", "url, query, max, min")),
    ("a window", "  onFailure: revert", "  onFailure: revert\n  windows:\n    - {kind: deny, schedule: '0 0 * * *', "
                                        "duration: 1h, zone: UTC}",
     (28, "spec.windows[0].zone", "kind, schedule, duration, timeZone")),
    ("a notify sink", "  onFailure: revert", "  onFailure: revert\n  notify:\n    - slack: {webhookURL: "
                                             "'https://hooks.slack.com/x', channel: ops}",
     (28, "spec.notify[0].slack.channel", "webhookURL, urlFrom")),
    ("delivery", "  onFailure: revert", "  onFailure: revert\n  delivery: {mode: pull-request, squash: true}",
     (27, "spec.delivery.squash", "mode, provider, autoMerge, mergeMethod, labels, reviewers, draft, revert, "
                                  "revertLabels, tokenFrom")),
]


@pytest.mark.parametrize("where, old, new, expected", UNKNOWN, ids=[c[0] for c in UNKNOWN])
def test_an_unknown_field_names_the_fields_allowed_where_it_stands(tmp_path, where, old, new, expected):
    """Issue 24: `unknown field` alone sends the user to the docs; the line says what
    the policy accepts at that place."""
    result = make_seed_repo(tmp_path, policy=broken(SEED_POLICY, old, new)).cli("validate", "security-patch")
    assert result.exit_code == 2, result.output
    line, field, allowed = expected
    (match,) = [m for m in map(LINE.match, result.stderr.splitlines()) if m and m["field"] == field]
    assert int(match["line"]) == line, match.group(0)
    assert match["message"] == f"unknown field; allowed here: {allowed}", match.group(0)


def test_an_unknown_preset_option_names_that_presets_options(tmp_path):
    policy = broken(SEED_POLICY, "    - preset: argocd-application\n      files: argocd/apps/{cluster}-platform.yaml",
                    "    - preset: yaml-field\n      files: argocd/apps/{cluster}-platform.yaml\n"
                    "      field: spec.source.targetRevision\n      part: tag")
    result = make_seed_repo(tmp_path, policy=policy).cli("validate", "security-patch")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.endswith("rollouts/security-patch.yaml:12: spec.pin[0].part: unknown field; "
                         "allowed here: preset, files, name, field, kind, create"), line


@pytest.mark.parametrize("command", [["plan", "security-patch"], ["validate", "security-patch"],
                                     ["advance", "security-patch", "--wave", "1", "--no-push"],
                                     ["status", "security-patch"], ["inventory"]])
def test_a_kubeconfig_flag_that_names_no_file_is_exit_2_even_where_nothing_reads_it(tmp_path, command):
    """`--kubeconfig ~/.kube/confg` on a fleet read from a file was ignored (exit 0): the
    typo said nothing until a command that reads it. Now it is one line, exit 2, nothing
    written, as `run` and `gate` say it."""
    repo = make_seed_repo(tmp_path)
    before = repo.snapshot()
    result = repo.cli(*command, "--kubeconfig", str(tmp_path / "confg"), *([] if command[0] == "inventory" else
                                                                          ["--repo", str(repo.root)]))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"rollout: --kubeconfig {tmp_path / 'confg'}: no such kubeconfig file (is it the right path?)"]
    assert repo.snapshot() == before
