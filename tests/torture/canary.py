"""The canary-token matrix: a token planted in every field of every source that can hold
credentials (Argo CD cluster Secrets, kubeconfigs), plain and in the shapes that break
parsing (`!!float TOKEN`, an unterminated quote, broken base64 or JSON), x every command
x every output format, with and without ROLLOUT_DEBUG=1. The token must never reach
stdout, stderr, the GitHub step summary or a commit message.

Notifications (Slack, webhooks) do not exist yet: when they come, their payloads join
the places checked here."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from torture.fleet import GIT_ENV, SEED_POLICY, git, make_seed_repo
from torture.fuzz import cluster_secret, run_cli

CANARY = "canary-5ec2e7-do-not-print"
CANARY_FORMS = (CANARY, base64.b64encode(CANARY.encode()).decode()[:16])

POLICY = SEED_POLICY.replace("fleet: fleet/clusters.yaml", "argocdClusterSecrets: secrets/*.yaml").replace(
    "  onFailure: revert", "  gates:\n    - argocd: {context: hub}\n  onFailure: revert")

CONFIG_FIELDS = ("username", "password", "bearerToken", "tlsClientConfig.caData", "tlsClientConfig.certData",
                 "tlsClientConfig.keyData", "tlsClientConfig.serverName", "awsAuthConfig.roleARN",
                 "execProviderConfig.args", "execProviderConfig.env")
SECRET_FIELDS = ("stringData.config", "data.config", "stringData.project", "stringData.namespaces",
                 "stringData.shard", "stringData.clusterResources", "data.password", "metadata.annotations.note")
KUBECONFIG_FIELDS = ("token", "password", "username", "client-key-data", "client-certificate-data",
                     "auth-provider.config.access-token", "exec.env", "exec.args", "cluster.certificate-authority-data")
BREAKING = ("!!float {}", "!!int {}", "!!binary {}", "!!timestamp {}", '"{}', "[{}", "{{a: {}")

SECRET_CASES = [(f, s) for f in SECRET_FIELDS for s in BREAKING] + [("stringData.config", "json"), ("data.config", "json")]
KUBECONFIG_CASES = [(f, s) for f in KUBECONFIG_FIELDS for s in ("{}", *BREAKING)]

# (command args, needs a kubeconfig) x formats
COMMANDS = [
    *[(("plan", "security-patch", "--format", f), False) for f in ("table", "json", "markdown", "mermaid", "dot")],
    *[(("validate", "security-patch", "--format", f), False) for f in ("text", "json")],
    *[(("inventory", "--policy", "security-patch", "--format", f), False) for f in ("table", "json")],
    *[(("status", "security-patch", "--format", f), False) for f in ("table", "json")],
    *[(("advance", "security-patch", "--dry-run", "--format", f), False) for f in ("text", "json")],
    *[(("run", "security-patch", "--format", f), True) for f in ("text", "json")],
    *[(("gate", "security-patch", "--wave", "1", "--format", f), True) for f in ("text", "json")],
    *[(("approve", "security-patch", "--wave", "1", "--by", "alice", "--format", f), False) for f in ("text", "json")],
    *[(("advance", "security-patch", "--format", f), False) for f in ("text", "json")],
    *[(("revert", "security-patch", "--wave", "1", "--reason", "canary", "--format", f), False) for f in ("text", "json")],
]


def config_json(field: str | None, broken: bool = False) -> str:
    """An Argo CD cluster config with the canary in `field` (every field when None)."""
    config: dict = {}
    for name in CONFIG_FIELDS:
        if field not in (None, name):
            continue
        value: object = [CANARY] if name.endswith("args") else [{"name": "T", "value": CANARY}] if name.endswith("env") else CANARY
        node = config
        *parents, leaf = name.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    text = json.dumps(config)
    return text[:-3] if broken else text


def secret_with(name: str, labels: dict, field: str | None, shape: str = "{}") -> str:
    """A cluster Secret of the seed fleet, the canary planted in `field` (all when None)."""
    text = cluster_secret(name, labels)
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    planted = {
        "stringData.config": f"  config: {shape.format(_quoted(config_json(None)))}\n" if shape != "{}" else
        f"  config: {_quoted(config_json(None))}\n",
        "stringData.project": f"  project: {shape.format(CANARY)}\n",
        "stringData.namespaces": f"  namespaces: {shape.format(CANARY)}\n",
        "stringData.shard": f"  shard: {shape.format(CANARY)}\n",
        "stringData.clusterResources": f"  clusterResources: {shape.format(CANARY)}\n",
    }
    data_planted = {
        "data.config": f"  config: {shape.format(b64(config_json(None)))}\n",
        "data.password": f"  password: {shape.format(b64(CANARY) if shape == '{}' else CANARY)}\n",
    }
    lines = text.replace("  config: ", "  oldconfig: ").splitlines(keepends=True)
    out = []
    for line in lines:
        if line.startswith("  oldconfig: "):
            continue
        out.append(line)
        if line == "stringData:\n":
            out += [v for k, v in planted.items() if field in (None, k)]
        if line == "data:\n":
            out += [v for k, v in data_planted.items() if field in (None, k)]
        if line == "  namespace: argocd\n" and field in (None, "metadata.annotations.note"):
            out.append(f"  annotations:\n    note: {shape.format(CANARY)}\n")
    return "".join(out)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def kubeconfig_with(field: str | None, shape: str = "{}") -> str:
    """A kubeconfig (hub and one context per cluster, all unreachable) with the canary in
    `field` of its user (every field when None)."""
    from conftest import SEED_CLUSTERS

    def put(name: str, value: str) -> str:
        return shape.format(value) if field == name else value

    b64 = base64.b64encode(CANARY.encode()).decode()
    user = []
    for name in KUBECONFIG_FIELDS:
        if field not in (None, name) or name.startswith("cluster."):
            continue
        if name == "auth-provider.config.access-token":
            user.append(f"      auth-provider:\n        name: oidc\n        config:\n          access-token: {put(name, CANARY)}\n")
        elif name == "exec.env":
            user.append(f"      exec:\n        apiVersion: client.authentication.k8s.io/v1\n        command: /bin/false\n"
                        f"        env:\n          - name: TOKEN\n            value: {put(name, CANARY)}\n")
        elif name == "exec.args":
            user.append(f"      exec:\n        apiVersion: client.authentication.k8s.io/v1\n        command: /bin/false\n"
                        f"        args: [{put(name, CANARY)}]\n")
        elif name.endswith("-data"):
            user.append(f"      {name}: {put(name, b64)}\n")
        else:
            user.append(f"      {name}: {put(name, CANARY)}\n")
    ca = f"\n    certificate-authority-data: {put('cluster.certificate-authority-data', b64)}" \
        if field in (None, "cluster.certificate-authority-data") else ""
    contexts = ["hub", *SEED_CLUSTERS]
    return ("apiVersion: v1\nkind: Config\ncurrent-context: hub\nclusters:\n- name: fleet\n  cluster:\n"
            f"    server: https://127.0.0.1:9{ca}\nusers:\n- name: bot\n  user:\n" + "".join(user or ["      {}\n"]) +
            "contexts:\n" + "".join(f"- name: {c}\n  context: {{cluster: fleet, user: bot}}\n" for c in contexts))


@dataclass
class Leak:
    source: str
    where: str
    command: str


# One format per command: enough when the input stops every command before any output
# is rendered; and the kubeconfig is read by `run` and `gate` only.
COMPACT = [c for i, c in enumerate(COMMANDS) if i == 0 or c[0][0] != COMMANDS[i - 1][0][0] or c[0][:2] != COMMANDS[i - 1][0][:2]]
READ_KUBECONFIG = [c for c in COMMANDS if c[1]]


def sweep(repo: Path, kubeconfig: Path, summary: Path, source: str, debug: tuple[bool, ...] = (False, True),
          commands=COMMANDS, forms: tuple[str, ...] = CANARY_FORMS) -> list[Leak]:
    """Every command x format (x ROLLOUT_DEBUG) on `repo`; where the canary (any of `forms`)
    showed up. ROLLOUT_DEBUG=1 prints what the plain run prints and the traceback:
    `debug=(True,)` covers both."""
    leaks = []
    saved = {k: os.environ.get(k) for k in ("ROLLOUT_DEBUG", "KUBECONFIG", "GITHUB_STEP_SUMMARY", *GIT_ENV)}
    os.environ["KUBECONFIG"] = str(kubeconfig)
    os.environ["GITHUB_STEP_SUMMARY"] = str(summary)
    os.environ.update(GIT_ENV)  # the writing commands commit in this process: who, not the user's git config
    try:
        for debugging in debug:
            if debugging:
                os.environ["ROLLOUT_DEBUG"] = "1"
            else:
                os.environ.pop("ROLLOUT_DEBUG", None)
            for args, wants_kubeconfig in commands:
                full = (*args, "--kubeconfig", str(kubeconfig)) if wants_kubeconfig else args
                code, out, err = run_cli(repo, full)
                for name, text in (("stdout", out), ("stderr", err)):
                    if any(form in text for form in forms):
                        leaks.append(Leak(source, name + (" (ROLLOUT_DEBUG=1)" if debugging else ""), " ".join(args)))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if summary.exists() and any(form in summary.read_text() for form in forms):
        leaks.append(Leak(source, "step summary", "run"))
    messages = git(repo, "log", "--all", "--format=%B")
    if any(form in messages for form in forms):
        leaks.append(Leak(source, "commit message", "advance/revert/approve/run"))
    return leaks


def fleet_with_secrets(root: Path, plants: list[tuple[str, str]] | None = None) -> Path:
    """The seed fleet, its inventory as Argo CD cluster Secrets, committed and published
    to a bare remote; a clone of it is returned. `plants`: (field, shape) for each
    cluster's Secret in turn (None: the canary in every field of every Secret, valid)."""
    from conftest import SEED_CLUSTERS

    source = root / "source"
    repo = make_seed_repo(source, policy=POLICY)
    for index, (name, labels) in enumerate(SEED_CLUSTERS.items()):
        field, shape = (None, "{}") if plants is None else plants[index % len(plants)]
        text = secret_with(name, labels, field, "{}" if shape == "json" else shape)
        if shape == "json":  # config that is not JSON
            text = secret_with(name, labels, None).replace(config_json(None), config_json(None, broken=True))
        repo.write(f"secrets/{name}.yaml", text)
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "fleet-config")
    git(root, "clone", "-q", "--bare", str(source), str(root / "remote.git"))
    git(root, "clone", "-q", str(root / "remote.git"), str(root / "runner"))
    return root / "runner"


def full_matrix(workdir: Path, log=None) -> dict:
    """Every secret field x breaking shape alone, every kubeconfig field x shape, each x
    every command x every format x ROLLOUT_DEBUG off and on (the by-hand run)."""
    leaks, runs = [], 0
    valid = fleet_with_secrets(workdir / "valid")
    kubeconfig = workdir / "kubeconfig-valid"
    kubeconfig.write_text(kubeconfig_with(None))
    leaks += sweep(valid, kubeconfig, workdir / "summary-valid.md", "every field")
    runs += 2 * len(COMMANDS)
    for index, (field, shape) in enumerate(SECRET_CASES):
        runner = fleet_with_secrets(workdir / f"secret-{index}", [(field, shape)])
        leaks += sweep(runner, kubeconfig, workdir / f"summary-s{index}.md", f"secret {field} {shape}")
        runs += 2 * len(COMMANDS)
        if log:
            log(f"canary: secret {field} {shape}: {len(leaks)} leaks so far")
    base = fleet_with_secrets(workdir / "kubeconfigs", [("stringData.project", "{}")])
    for index, (field, shape) in enumerate(KUBECONFIG_CASES):
        path = workdir / f"kubeconfig-{index}"
        path.write_text(kubeconfig_with(field, shape))
        leaks += sweep(base, path, workdir / f"summary-k{index}.md", f"kubeconfig {field} {shape}")
        runs += 2 * len(COMMANDS)
        if log:
            log(f"canary: kubeconfig {field} {shape}: {len(leaks)} leaks so far")
    return {"cases": 1 + len(SECRET_CASES) + len(KUBECONFIG_CASES), "command runs": runs, "leaks": len(leaks),
            "leak details": [str(leak) for leak in leaks[:10]]}
