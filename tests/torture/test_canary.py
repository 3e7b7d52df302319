"""A canary token in every field of every credential-bearing source, x every command x
every output format, with and without ROLLOUT_DEBUG=1: it never reaches stdout, stderr,
the step summary or a commit message (tests/torture/canary.py). Here at CI size: the
breaking shapes batched six fields to a fleet (one per cluster Secret; every file is
read, every problem reported), kubeconfig fields each with two breaking shapes;
`python -m tests.torture --canary` runs the full product."""

from __future__ import annotations


import pytest

from torture.canary import (CANARY_FORMS, COMMANDS, COMPACT, KUBECONFIG_CASES, POLICY, READ_KUBECONFIG, SECRET_CASES,
                            fleet_with_secrets, kubeconfig_with, sweep)
from torture.fleet import git

SECRET_BATCHES = [SECRET_CASES[i:i + 6] for i in range(0, len(SECRET_CASES), 6)]
SHAPES = sorted({shape for _, shape in KUBECONFIG_CASES})
KUBECONFIG_SAMPLE = [(f, SHAPES[(i + k) % len(SHAPES)]) for i, f in enumerate(sorted({f for f, _ in KUBECONFIG_CASES}))
                     for k in (0, 4)]


def test_the_canary_in_every_field_of_valid_sources_never_leaves_the_process(tmp_path):
    runner = fleet_with_secrets(tmp_path)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_with(None))
    summary = tmp_path / "summary.md"
    assert sweep(runner, kubeconfig, summary, "every field") == []
    log = git(runner, "log", "--format=%s")
    assert "wave 1 canary" in log and "revert wave 1" in log, "the writing commands did write"
    assert summary.read_text().count("### rollout") >= 2, "run wrote its step summary"


@pytest.mark.parametrize("plants", SECRET_BATCHES, ids=[f"secrets-{i}" for i in range(len(SECRET_BATCHES))])
def test_the_canary_in_secret_fields_that_break_parsing_never_leaves_the_process(tmp_path, plants):
    runner = fleet_with_secrets(tmp_path, plants)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_with(None))
    result = git(runner, "status", "--porcelain")
    assert result == ""
    assert sweep(runner, kubeconfig, tmp_path / "summary.md", str(plants), debug=(True,), commands=COMPACT) == []


@pytest.fixture(scope="module")
def valid_runner(tmp_path_factory):
    return fleet_with_secrets(tmp_path_factory.mktemp("canary-kubeconfig"), [("stringData.project", "{}")])


@pytest.mark.parametrize("field, shape", KUBECONFIG_SAMPLE, ids=[f"{f}:{s}" for f, s in KUBECONFIG_SAMPLE])
def test_the_canary_in_kubeconfig_fields_never_leaves_the_process(valid_runner, tmp_path, field, shape):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_with(field, shape))
    assert sweep(valid_runner, kubeconfig, tmp_path / "summary.md", f"{field}:{shape}", debug=(True,),
                 commands=READ_KUBECONFIG) == []


def test_the_canary_test_can_fail(tmp_path):
    """The sweep does see a token that reaches the output: here, in a cluster label."""
    runner = fleet_with_secrets(tmp_path)
    secret = runner / "secrets/dev-us-east.yaml"
    secret.write_text(secret.read_text().replace('region: "us-east"', 'region: "canary-5ec2e7-do-not-print"'))
    git(runner, "commit", "-qam", "a label is not a secret")
    inventory_json = [c for c in COMMANDS if c[0][0] == "inventory" and c[0][-1] == "json"]
    leaks = sweep(runner, tmp_path / "none", tmp_path / "summary.md", "label", debug=(False,), commands=inventory_json)
    assert [leak.where for leak in leaks] == ["stdout"]


def test_a_credential_in_the_remote_url_never_reaches_the_output(tmp_path):
    from torture.canary import CANARY, CANARY_FORMS
    from torture.fuzz import run_cli

    runner = fleet_with_secrets(tmp_path)
    git(runner, "remote", "set-url", "origin", f"https://x-access-token:{CANARY}@127.0.0.1:9/fleet.git")
    for args in (("advance", "security-patch"), ("revert", "security-patch", "--all", "--reason", "r")):
        code, out, err = run_cli(runner, args)
        assert code == 1 and "git fetch" in err, err
        assert not any(form in out + err for form in CANARY_FORMS)


def test_git_error_messages_leave_url_credentials_out():
    from rollout.git.repo import scrubbed

    assert scrubbed("fatal: unable to access 'https://bot:ghp_abc@github.com/o/r.git/': 403") == \
        "fatal: unable to access 'https://***@github.com/o/r.git/': 403"
    assert scrubbed("ssh://git@host/x and http://plain/x") == "ssh://***@host/x and http://plain/x"


def test_a_bug_is_reported_by_type_and_place_never_by_its_message():
    from rollout.crash import one_line, scrubbed_traceback
    from torture.canary import CANARY

    def parse(value):
        return float(value)

    try:
        try:
            parse(CANARY)
        except ValueError as inner:
            raise RuntimeError(f"while reading {CANARY}") from inner
    except RuntimeError as err:
        text, line = scrubbed_traceback(err), one_line(err)
    assert CANARY not in text and CANARY not in line
    assert "return float(value)" in text and "builtins.ValueError" in text and "builtins.RuntimeError" in text
    assert line.startswith("rollout: internal error: RuntimeError at ") and "test_canary.py:" in line


def test_the_bearer_tokens_of_a_live_argo_cd_source_never_leave_the_process(tmp_path):
    """Issue 19: `argocdClusterSecrets: {context, namespace}` lists Secrets whose config
    holds bearer tokens (the simulator's hub serves one per cluster): neither the token
    nor the config as served reaches an output or a commit message, reading or writing."""
    from conftest import SEED_CLUSTERS, make_seed_repo
    from rollout.simulator.hub import secret_data, secret_token
    from test_simulator import Running

    policy = POLICY.replace("argocdClusterSecrets: secrets/*.yaml", "argocdClusterSecrets: {context: hub, namespace: argocd}")
    source = tmp_path / "source"
    make_seed_repo(source, policy=policy)
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "fleet-config, its inventory on the hub")
    git(tmp_path, "clone", "-q", "--bare", str(source), str(tmp_path / "remote.git"))
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(tmp_path / "runner"))
    sim = Running(tmp_path / "remote.git", tmp_path / "kubeconfig", "--hub", str(source / "fleet/clusters.yaml"))
    try:
        forms = CANARY_FORMS + tuple(secret_token(c) for c in SEED_CLUSTERS) + tuple(
            secret_data(c, None)["config"][:24] for c in SEED_CLUSTERS)
        commands = [c for c in COMPACT if c[0][0] in ("plan", "validate", "inventory", "status", "run", "advance")]
        leaks = sweep(tmp_path / "runner", sim.kubeconfig, tmp_path / "summary.md", "live Secrets", debug=(True,),
                      commands=commands, forms=forms)
    finally:
        sim.stop()
    assert leaks == []
    assert "wave 1 canary" in git(tmp_path / "runner", "log", "--format=%s"), "the writing commands did write"
