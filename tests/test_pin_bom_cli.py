"""Through the CLI, against real git (a bare repository as the remote): a manifest that
starts with a UTF-8 byte-order mark and has CRLF line ends keeps both on advance, and
revert restores it byte for byte."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import ROLLOUT, application_yaml, make_seed_repo

GIT_ENV = {"GIT_AUTHOR_NAME": "Rollout Test", "GIT_AUTHOR_EMAIL": "rollout@example.com",
           "GIT_COMMITTER_NAME": "Rollout Test", "GIT_COMMITTER_EMAIL": "rollout@example.com"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT_ENV}).stdout


def rollout(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **GIT_ENV, "COLUMNS": "200"})


def test_bom_and_crlf_survive_advance_and_revert(tmp_path):
    source = make_seed_repo(tmp_path / "source").root
    bom_file = "argocd/apps/dev-eu-west-platform.yaml"
    original = ("\ufeff" + application_yaml("dev-eu-west").replace("\n", "\r\n")).encode()
    (source / bom_file).write_bytes(original)
    git(source, "init", "-q", "-b", "main")
    git(source, "config", "core.autocrlf", "false")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "fleet-config")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(remote))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))

    advanced = rollout(clone, "advance", "security-patch")
    assert advanced.returncode == 0, advanced.stderr
    after = (clone / bom_file).read_bytes()
    assert after == original.replace(b"targetRevision: v1.4.1", b"targetRevision: v1.4.2")
    committed = subprocess.run(["git", "show", f"HEAD:{bom_file}"], cwd=clone, capture_output=True, check=True).stdout
    assert committed == after

    reverted = rollout(clone, "revert", "security-patch", "--wave", "1", "--reason", "BOM test")
    assert reverted.returncode == 0, reverted.stderr
    assert (clone / bom_file).read_bytes() == original
