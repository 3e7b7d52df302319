"""Every example repo plans, validates, and can be rolled out and reverted byte-exactly;
the CI examples pass zizmor and push with the token their push step is given."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from conftest import missing
from rollout.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CI = EXAMPLES / "ci"
POLICIES = {"fleet-config": "security-patch", "argocd-hub": "platform-upgrade", "flux-mesh": "podinfo",
            "rancher-fleet": "guestbook"}


def cli(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def plan_of(example: str) -> dict:
    result = cli("plan", POLICIES[example], "--repo", str(EXAMPLES / example), "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("example", sorted(POLICIES))
def test_example_validates_and_every_cluster_is_in_exactly_one_wave(example):
    result = cli("validate", POLICIES[example], "--repo", str(EXAMPLES / example))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no warnings either
    plan = plan_of(example)
    inventory = json.loads(cli("inventory", "--repo", str(EXAMPLES / example), "--format", "json").stdout)
    placed = [c for w in plan["waves"] for c in w["clusters"]]
    assert sorted(placed) == sorted(c["name"] for c in inventory)
    labels = {t["name"]: t["labels"] for t in plan["targets"]}
    for wave in plan["waves"]:
        assert len({labels[c].get("compliance") for c in wave["clusters"]}) == 1, wave
        assert all(dep < wave["number"] for dep in wave["after"])


def test_fleet_config_plan_is_the_seed_plan():
    plan = plan_of("fleet-config")
    assert [(w["number"], w["name"], w["clusters"], w["after"]) for w in plan["waves"]] == [
        (1, "canary", ["dev-eu-west", "dev-us-east"], []),
        (2, "region-eu-west", ["staging-eu-west"], [1]),
        (3, "region-us-east", ["staging-us-east"], [1]),
        (4, "production/1", ["prod-eu-west"], [2, 3]),
        (5, "production/2", ["prod-us-east"], [4]),
    ]


def test_argocd_hub_has_forty_clusters_gdpr_only_in_eu_and_quarter_batches():
    plan = plan_of("argocd-hub")
    assert len(plan["targets"]) == 40
    regions = {t["labels"]["region"] for t in plan["targets"]}
    assert regions == {"us-east", "us-west", "eu-west", "eu-central"}
    for target in plan["targets"]:
        assert (target["labels"].get("compliance") == "gdpr") == target["labels"]["region"].startswith("eu")
    production = [w for w in plan["waves"] if w["name"].startswith("production-")]
    assert len(production) == 16 and all(len(w["clusters"]) == 2 for w in production)
    assert all(w["approval"] == "required" for w in production)
    assert "<redacted>" not in json.dumps(plan) and "bearerToken" not in json.dumps(plan)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("example", sorted(POLICIES))
def test_rolling_out_an_example_touches_only_pinned_lines_and_reverts_byte_for_byte(example, tmp_path, monkeypatch):
    from rollout.advance import advance
    from rollout.revert import revert

    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(key, "Rollout Test")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "rollout@example.com")
    repo = tmp_path / example
    shutil.copytree(EXAMPLES / example, repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "example")
    start = git(repo, "rev-parse", "HEAD").strip()
    plan = plan_of(example)
    far = 10**10  # every bake long over
    for wave in plan["waves"]:
        advance(repo, POLICIES[example], wave=str(wave["number"]), push=False, force=True, now=far)
    diff = git(repo, "diff", "-U0", start, "HEAD")
    changed = [l for l in diff.splitlines() if l[:1] in "+-" and not l.startswith(("+++", "---"))]
    assert len(changed) == 2 * len(plan["targets"])
    revision = plan["revision"]
    assert all(revision in l for l in changed if l.startswith("+")), changed
    revert(repo, POLICIES[example], None, True, "rehearsal", push=False, now=far)
    assert git(repo, "diff", start, "HEAD") == ""


@pytest.mark.parametrize("name", ["github-actions-rollout.yml", "github-actions-plan-comment.yml", "gitlab-ci.yml"])
def test_ci_examples_are_valid_yaml_and_drive_rollout(name):
    import yaml

    text = (EXAMPLES / "ci" / name).read_text()
    assert isinstance(yaml.safe_load(text), dict)
    assert "rollout run" in text or "rollout plan" in text
    if "rollout run" in text:
        assert "fetch-depth: 0" in text or "GIT_DEPTH: 0" in text  # the state is the history


def github_workflows() -> list[Path]:
    return [p for p in sorted(CI.glob("*.y*ml")) if "gitlab" not in p.name]


@pytest.mark.parametrize("path", github_workflows(), ids=lambda p: p.name)
def test_github_workflow_pins_its_actions_and_grants_nothing_by_default(path):
    """What zizmor checks below, also where it is not installed: every action pinned to a
    commit with its release beside it, no permission at the workflow level (each job says
    its own), and no checkout that keeps its token."""
    text = path.read_text()
    uses = re.findall(r"^\s*-?\s*uses:\s*(.*)$", text, re.M)
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", u) for u in uses), uses
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert "permissions" in job
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, step


def test_zizmor_finds_nothing_in_the_github_workflows():
    """zizmor (the GitHub Actions security linter, from the [test] extra) offline, on every
    GitHub workflow of examples/ci: no finding, and a workflow it cannot read fails too
    (--strict-collection) instead of being left out. docs/ci.md, "Hardening"."""
    beside = Path(sys.executable).parent / "zizmor"
    binary = str(beside) if beside.exists() else shutil.which("zizmor")
    if binary is None:
        missing("zizmor", "zizmor is not installed (pip install -e '.[test]' installs it; .ci/run does)")
    workflows = github_workflows()
    assert {p.name for p in workflows} >= {"github-actions-rollout.yml", "github-actions-plan-comment.yml"}
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    started = time.monotonic()
    run = subprocess.run([binary, "--offline", "--format", "plain", "--strict-collection", *map(str, workflows)],
                         capture_output=True, text=True, timeout=120)
    said = f"{version}, {time.monotonic() - started:.2f} s, exit {run.returncode}:\n{run.stdout}{run.stderr}"
    assert run.returncode == 0 and "No findings to report" in run.stdout, said


# --- the push steps push with the token they are given, and write it nowhere

TOKEN = "push-token-0123456789"


class _GitHTTP(BaseHTTPRequestHandler):
    """git's smart HTTP (git http-backend) behind Basic auth: the password must be TOKEN,
    as a forge wants its token; anything else is a 401."""

    root: Path

    def _serve(self):
        auth = self.headers.get("Authorization", "")
        if not (auth.startswith("Basic ") and base64.b64decode(auth[6:]).decode().partition(":")[2] == TOKEN):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if self.command == "POST" else b""
        env = {**os.environ, "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": url.path,
               "QUERY_STRING": url.query, "REQUEST_METHOD": self.command, "REMOTE_USER": "bot",
               "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
               "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", "")}
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60).stdout
        head, _, rest = out.partition(b"\r\n\r\n")
        headers = [line.partition(": ")[::2] for line in head.decode().split("\r\n") if line]
        status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "status":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)

    do_GET = do_POST = _serve

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def git_over_http(root: Path):
    handler = type("Handler", (_GitHTTP,), {"root": root})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def push_script(name: str) -> tuple[str, dict[str, str]]:
    """The example's script that pushes, and the variables the CI would give it here."""
    workflow = yaml.safe_load((CI / name).read_text())
    if name == "gitlab-ci.yml":
        job = workflow["rollout-run"]
        lines = [line for line in job["script"] if not line.startswith(("apt-get ", "pip "))]
        return "\n".join(lines), {"POLICY": job["variables"]["POLICY"], "ROLLOUT_PUSH_TOKEN": TOKEN}
    step = next(s for s in workflow["jobs"]["step"]["steps"] if s.get("name") == "rollout run")
    assert "${{" not in step["run"]  # expressions reach the script through env: only
    return step["run"], {"POLICY": "security-patch", "PUSH_TOKEN": TOKEN}


@pytest.mark.parametrize("name", ["github-actions-rollout.yml", "gitlab-ci.yml"])
def test_ci_example_pushes_with_its_token_and_writes_it_nowhere(name, tmp_path):
    """The push step, run as the CI runs it, against a git server that wants the token:
    `rollout run` (a stand-in that commits and pushes) pushes with it; the checkout
    keeps no credential (persist-credentials: false; on GitLab the runner's job token,
    in origin's URL and from a credential helper of its own, cannot push), and the token
    is in no file of the clone."""
    git(tmp_path, "init", "-q", "--bare", "-b", "main", "fleet.git")
    git(tmp_path, "clone", "-q", str(tmp_path / "fleet.git"), "work")
    work = tmp_path / "work"
    git(work, "-c", "user.name=seed", "-c", "user.email=seed@example.com", "commit", "-q", "--allow-empty", "-m", "fleet")
    git(work, "push", "-q", "origin", "main")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "rollout").write_text('#!/bin/sh\n[ "$*" = "run --report rollout-report.html -- security-patch" ] || '
                                     '{ echo "rollout $*" >&2; exit 9; }\n'
                                     'git commit -q --allow-empty -m "rollout: advance" && git push -q\n')
    (bin_dir / "rollout").chmod(0o755)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    script, variables = push_script(name)
    with git_over_http(tmp_path) as server:
        env = {**os.environ, **variables, "PATH": f"{bin_dir}:{os.environ['PATH']}", "GIT_TERMINAL_PROMPT": "0",
               "GITHUB_SERVER_URL": server, "CI_SERVER_URL": server, "CI_PROJECT_PATH": "fleet",
               "CI_COMMIT_BRANCH": "main", "ROLLOUT_KUBECONFIG": str(kubeconfig)}
        if name == "gitlab-ci.yml":  # as the runner leaves it: the job token in origin's URL and a helper
            git(work, "remote", "set-url", "origin", f"{server.replace('//', '//gitlab-ci-token:job-token@')}/fleet.git")
            git(work, "config", "credential.helper", "!f() { echo username=gitlab-ci-token; echo password=job-token; }; f")
        else:
            git(work, "remote", "set-url", "origin", f"{server}/fleet.git")
        denied = subprocess.run(["git", "push", "origin", "main:refs/heads/probe"], cwd=work, env=env,
                                capture_output=True, text=True, timeout=60)
        assert denied.returncode != 0, "the server took a push without the token"
        run = subprocess.run(["bash", "-e", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert git(tmp_path / "fleet.git", "log", "-1", "--format=%s", "main").strip() == "rollout: advance"
    kept = [p for p in (work / ".git").rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert kept == []
