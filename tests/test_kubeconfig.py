"""The kubeconfig as the observers and live inventory sources read it (rollout/observers/
kube.py): parsed once (json for a JSON file, yaml-rs for YAML), each context's client built
by the kubernetes client's own loader from that context's entries alone. What the loader
does with a user must still happen: an exec plugin's token, a token file and certificates
beside the kubeconfig, a duplicate name refused; a context that is missing is a set-up
error naming it. Requests go over HTTP to the simulator, which accepts only its token."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROLLOUT

pytest.importorskip("kubernetes")
from test_simulator import EXAMPLES, GIT_ENV, Running, git, published  # noqa: E402

from rollout.observers import SetupError  # noqa: E402
from rollout.observers.kube import Kube  # noqa: E402

APPS = ("argoproj.io", "v1alpha1", "argocd", "applications")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kubeconfig")
    remote, _ = published(tmp, "fleet-config")
    running = Running(remote, tmp / "kubeconfig")
    yield running, json.loads(running.kubeconfig.read_text())
    running.stop()


def _write(folder: Path, config: dict, as_yaml: bool = True) -> str:
    path = folder / ("config.yaml" if as_yaml else "config.json")
    path.write_text(yaml.safe_dump(config) if as_yaml else json.dumps(config))
    return str(path)


def _with_users(config: dict, users: dict[str, dict], contexts: dict[str, str]) -> dict:
    """The simulator's kubeconfig with these users, and contexts (name -> user) on its hub."""
    return {**config, "users": [{"name": n, "user": u} for n, u in users.items()],
            "contexts": [{"name": n, "context": {"cluster": "hub", "user": u}} for n, u in contexts.items()]}


def test_an_exec_plugin_s_token_is_sent(sim, tmp_path):
    running, config = sim
    token = config["users"][0]["user"]["token"]
    plugin = tmp_path / "plugin.py"  # prints an ExecCredential, as kubelogin or aws-iam-authenticator do
    plugin.write_text("import json; print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', "
                      f"'kind': 'ExecCredential', 'status': {{'token': {token!r}}}}}))\n")
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
                          "args": [str(plugin)], "interactiveMode": "Never"}}
    kube = Kube(_write(tmp_path, _with_users(config, {"plugged": exec_user}, {"hub": "plugged"})))
    items, why = kube.list("hub", *APPS)
    assert items and why == "", why
    assert not kube.refused("hub")


def test_a_token_file_beside_the_kubeconfig_is_read(sim, tmp_path):
    _, config = sim
    # as `kubectl create token SA > token` writes it: client-go trims the newline, the Python client would send it
    (tmp_path / "token").write_text(config["users"][0]["user"]["token"] + "\n")
    kube = Kube(_write(tmp_path, _with_users(config, {"filed": {"tokenFile": "token"}}, {"hub": "filed"})))
    items, why = kube.list("hub", *APPS)
    assert items and why == "", why
    both = Kube(_write(tmp_path, _with_users(config, {"filed": {"tokenFile": "token", "token": "stale"}},
                                             {"hub": "filed"})))
    items, why = both.list("hub", *APPS)  # the file wins over a token beside it, as in client-go
    assert items and why == "", why
    elsewhere = tmp_path / "elsewhere"  # relative to the kubeconfig's folder: not there
    elsewhere.mkdir()
    gone = Kube(_write(elsewhere, _with_users(config, {"filed": {"tokenFile": "token"}}, {"hub": "filed"})))
    with pytest.raises(SetupError, match=r"config.yaml: user filed: tokenFile token: cannot read it \(No such file"):
        gone.list("hub", *APPS)


def test_a_context_that_is_not_a_mapping_is_a_set_up_error_naming_it(sim, tmp_path):
    _, config = sim
    broken = {**config, "contexts": [{"name": "hub", "context": "hub"}]}
    with pytest.raises(SetupError, match=r"config.yaml: context hub: its `context` must be a mapping"):
        Kube(_write(tmp_path, broken)).list("hub", *APPS)


def test_each_context_of_a_big_kubeconfig_gets_its_own_user(sim, tmp_path):
    """Among 300 contexts and users, only `ok`'s user holds the right token: the client made
    for `ok` lists, the ones made for the others are refused (the user is its context's)."""
    _, config = sim
    token = config["users"][0]["user"]["token"]
    users = {f"user-{i}": {"token": f"wrong-{i}"} for i in range(300)} | {"right": {"token": token}}
    contexts = {f"ctx-{i}": f"user-{i}" for i in range(300)} | {"ok": "right"}
    for as_yaml in (True, False):
        kube = Kube(_write(tmp_path, _with_users(config, users, contexts), as_yaml))
        assert kube.list("ok", *APPS)[0], as_yaml
        for context in ("ctx-0", "ctx-150", "ctx-299"):
            items, why = kube.list(context, *APPS)
            assert items is None and kube.refused(context) and "refused our credentials" in why, (as_yaml, why)


def test_client_certificates_and_the_ca_are_read_relative_to_the_kubeconfig(tmp_path):
    """The loader's TLS material for an https server (no request is made): files named
    relative to the kubeconfig's folder, and `-data` fields written out to files."""
    key = b"-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n"
    (tmp_path / "certs").mkdir()
    for name in ("ca.crt", "client.crt"):
        (tmp_path / "certs" / name).write_text(f"-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n")
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "prod",
              "clusters": [{"name": f"c{i}", "cluster": {"server": f"https://c{i}.example.com:6443"}} for i in range(50)]
              + [{"name": "prod", "cluster": {"server": "https://prod.example.com:6443/",
                                              "certificate-authority": "certs/ca.crt", "tls-server-name": "api.prod"}}],
              "users": [{"name": f"u{i}", "user": {"token": "x"}} for i in range(50)]
              + [{"name": "admin", "user": {"client-certificate": "certs/client.crt",
                                            "client-key-data": base64.b64encode(key).decode()}}],
              "contexts": [{"name": f"c{i}", "context": {"cluster": f"c{i}", "user": f"u{i}"}} for i in range(50)]
              + [{"name": "prod", "context": {"cluster": "prod", "user": "admin"}}]}
    kube = Kube(_write(tmp_path, config))
    for context in ("prod", None):  # named, and the current context
        configuration = kube.api_client(context).configuration
        assert configuration.host == "https://prod.example.com:6443"
        assert Path(configuration.ssl_ca_cert) == tmp_path / "certs/ca.crt"
        assert Path(configuration.cert_file) == tmp_path / "certs/client.crt"
        assert Path(configuration.key_file).read_bytes() == key
        assert configuration.tls_server_name == "api.prod"
        assert "authorization" not in {k.lower() for k in configuration.api_key}
    assert kube.api_client("c7").configuration.host == "https://c7.example.com:6443"


@pytest.mark.parametrize("section", ["contexts", "users", "clusters"])
def test_a_name_given_twice_is_a_set_up_error(tmp_path, section):
    config = {"current-context": "a",
              "clusters": [{"name": "a", "cluster": {"server": "http://127.0.0.1:9"}}],
              "users": [{"name": "a", "user": {"token": "t"}}],
              "contexts": [{"name": "a", "context": {"cluster": "a", "user": "a"}}]}
    config[section].append(config[section][0])
    with pytest.raises(SetupError, match=rf"context a: .*only one object with name a in kube-config/{section}"):
        Kube(_write(tmp_path, config)).api_client("a")


def test_a_context_missing_is_a_set_up_error_naming_it(tmp_path):
    config = {"current-context": "a", "clusters": [], "users": [],
              "contexts": [{"name": f"c{i}", "context": {"cluster": "x"}} for i in range(20)]}
    kube = Kube(_write(tmp_path, config, as_yaml=False))
    with pytest.raises(SetupError, match=r"gate argocd: context 'hub' is not in the kubeconfig \(contexts: c0, c1, "
                                         r"c2, c3, c4, c5, c6, c7 and 12 more\)"):
        kube.check_context("hub", "gate argocd")
    with pytest.raises(SetupError, match="context 'a' is not in the kubeconfig"):
        kube.check_context(None, "gate argocd")


def test_a_kubeconfig_that_does_not_parse_is_located_json_or_yaml(tmp_path):
    path = tmp_path / "config"
    path.write_text('{\n  "contexts": [\n    {"name": "a",}\n  ]\n}\n')  # not JSON (a trailing comma): YAML
    Kube(str(path)).check_context("a", "gate argocd")  # reads it as kubectl's YAML reader would
    path.write_text('{\n  "contexts": [\n    {"name": "a"}\n  \n')  # unclosed
    with pytest.raises(SetupError, match=rf"{path}:\d+: not a readable kubeconfig"):
        Kube(str(path)).check_context("a", "gate argocd")
    path.write_text("contexts:\n  - name: a\n    context: {cluster: a\n")
    with pytest.raises(SetupError, match=rf"{path}:\d+: not a readable kubeconfig"):
        Kube(str(path)).check_context("a", "gate argocd")


# --- LISTs sent ahead (`rollout gate` sends its hub's LIST before it reads the repo) ------------

def test_a_list_sent_ahead_is_the_answer_the_evaluation_reads(tmp_path):
    """Once its answer is in, the API server may go: `list` reads what was sent ahead. A
    refusal sent ahead is remembered as one too (the gate is blind, not exit 2)."""
    remote, _ = published(tmp_path, "fleet-config")
    running = Running(remote, tmp_path / "kubeconfig")
    config = json.loads(running.kubeconfig.read_text())
    wrong = _write(tmp_path, _with_users(config, {"old": {"token": "revoked"}}, {"hub": "old"}))
    try:
        kube, refused = Kube(str(running.kubeconfig)), Kube(wrong)
        ahead = kube.prefetch("hub", *APPS)
        assert kube.prefetch("hub", *APPS) is None  # asked once per evaluation
        refused.prefetch("hub", *APPS).result(timeout=30)
        ahead.result(timeout=30)
    finally:
        running.stop()
    items, why = kube.list("hub", *APPS)
    assert why == "" and sorted(items) == sorted(f"{c}-platform" for c in _clusters()), why
    assert refused.list("hub", *APPS)[0] is None and refused.refused("hub")
    kube.forget()  # the next evaluation asks again: nothing answers now
    assert kube.list("hub", *APPS) == (None, "cannot reach the hub context: MaxRetryError")


def _clusters() -> list[str]:
    return [c["name"] for c in yaml.safe_load((EXAMPLES / "fleet-config/fleet/clusters.yaml").read_text())["clusters"]]


@pytest.fixture
def repo(tmp_path):
    """The example fleet's policy beside a kubeconfig whose hub nothing answers (port 9)."""
    (tmp_path / "rollouts").mkdir()
    policy = (EXAMPLES / "fleet-config/rollouts/security-patch.yaml").read_text()
    (tmp_path / "rollouts/security-patch.yaml").write_text(policy)
    kubeconfig = {"current-context": "hub", "clusters": [{"name": "hub", "cluster": {"server": "http://127.0.0.1:9"}}],
                  "users": [{"name": "u", "user": {"token": "t"}}],
                  "contexts": [{"name": n, "context": {"cluster": "hub", "user": "u"}} for n in ("hub", "other")]}
    return tmp_path, policy, _write(tmp_path, kubeconfig)


@pytest.mark.parametrize("edit, sent", [
    (lambda p: p, [("hub", *APPS)]),  # spec.gates: every wave's
    (lambda p: p.replace("{context: hub, namespace: argocd}", "{namespace: argocd}"), [(None, *APPS)]),  # current
    (lambda p: p.replace("      bake: 1h\n", "      bake: 1h\n      gates: [{argocd: {context: other}}]\n"), []),
    (lambda p: p.replace("      bake: 1h\n", "      bake: 1h\n      gates: []\n"), []),  # a wave judges nothing
    (lambda p: p.replace("      bake: 1h\n", "      bake: 1h\n      gates: [{argocd: {context: hub, "
                         "namespace: argocd}}, {flux: {context: hub, kind: Kustomization, name: apps}}]\n"),
     [("hub", *APPS)]),  # every wave reads the hub's Applications, one more
    (lambda p: p.replace("context: hub,", "context: '{labels.region}',"), []),  # per cluster: the plan says
    (lambda p: p.replace("context: hub,", "context: gone,"), []),  # not in the kubeconfig: preflight says so
    (lambda p: p.replace("waves:\n", "waves: [\n"), []),  # not YAML
    (lambda p: p.replace("namespace: argocd}", "namespace: [argocd]}"), []),  # no namespace a LIST can name
    # the policy is not validated first: a LIST sent, read by nothing (the load refuses the policy)
    (lambda p: p.replace("revision: v1.4.2", "revision: [v1.4.2]"), [("hub", *APPS)]),
])
def test_only_what_every_wave_s_gates_list_is_sent_ahead(repo, edit, sent):
    from rollout.observers.ahead import prefetch

    root, policy, kubeconfig = repo
    (root / "rollouts/security-patch.yaml").write_text(edit(policy))
    kube = Kube(kubeconfig)
    assert prefetch(root, "security-patch", kube) == sent
    assert prefetch(root, "no-such-policy", kube) == []
    for place in sent:
        assert kube.list(*place)[0] is None  # sent, and nothing answered it


@pytest.mark.parametrize("config", [{}, {"context": "hub"}, {"namespace": "gitops"}, {"context": "hub", "namespace": "x",
                                    "settle": "1m", "application": "{cluster}-platform"}, {"context": "{cluster}"},
                                    {"context": "hub-{labels.region}", "namespace": "argocd"}])
def test_what_is_sent_ahead_is_what_the_validated_gate_lists(config):
    """The Argo CD gate's places read from the policy as written are the LIST the gate,
    validated, makes for a cluster (its defaults included)."""
    from waves.gates.argocd import ArgoCDGateConfig
    from waves.templates import render
    from rollout.observers import argocd

    validated = ArgoCDGateConfig.model_validate(config)
    made = (render(validated.context, "c1", {"region": "eu"}) if validated.context else None, "argoproj.io",
            "v1alpha1", validated.namespace, "applications")
    assert argocd.places(config) == ([] if "{" in (config.get("context") or "") else [made])


def test_gate_with_a_context_missing_is_exit_2_naming_it_and_writes_nothing(tmp_path):
    """The LIST sent ahead is skipped for a context the kubeconfig lacks; the preflight
    then says so, one line, exit 2, and the repo is as it was."""
    work = tmp_path / "fleet"
    shutil.copytree(EXAMPLES / "fleet-config", work)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "fleet")
    kubeconfig = _write(tmp_path, {"current-context": "other", "users": [{"name": "u", "user": {"token": "t"}}],
                                   "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
                                   "contexts": [{"name": "other", "context": {"cluster": "c", "user": "u"}}]})
    result = subprocess.run([*ROLLOUT, "gate", "security-patch", "--wave", "1", "--kubeconfig", kubeconfig], cwd=work,
                            capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "context 'hub' is not in the kubeconfig (contexts: other)" in result.stderr
    assert git(work, "status", "--porcelain") == "" and git(work, "rev-list", "--count", "HEAD").strip() == "1"
