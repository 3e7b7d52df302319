"""Issue 25: the tool signs what it writes where git is set up to sign (`commit.gpgsign`),
with real SSH keys (ssh-keygen) and git's own verification (`%G?`, `verify-commit`):
advances, reverts, records (approve, pause, resume, retry, verify, halt, lift) under push
delivery, and pull-request branches, their rebuilds and the records branch under
pull-request delivery. Without signing set up nothing changes; a signing set-up that
cannot sign is one line, and the remote is untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROLLOUT, SEED_POLICY
from test_engine import git_identity  # noqa: F401 - the autouse fixture: who commits
from test_operating import published  # the seed fleet on a bare remote, and a clone

EMAIL = "rollout@example.com"
GIT_ENV = {"GIT_AUTHOR_NAME": "Rollout Test", "GIT_AUTHOR_EMAIL": EMAIL,
           "GIT_COMMITTER_NAME": "Rollout Test", "GIT_COMMITTER_EMAIL": EMAIL}
APPROVAL_POLICY = SEED_POLICY.replace("      bake: 30m\n", "      bake: 30m\n      approval: required\n", 1)

if shutil.which("ssh-keygen") is None:
    pytest.skip("ssh-keygen is not installed (Debian: openssh-client)", allow_module_level=True)


def git(cwd: Path, *args: str, check: bool = True) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {result.stderr}")
    return result.stdout


def rollout(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=180,
                          env={**os.environ, **GIT_ENV, "COLUMNS": "200", **(env or {})})


class Key:
    """An ed25519 key made for the test (no passphrase) and the allowed-signers file that
    makes git say `G` for commits it signed."""

    def __init__(self, tmp: Path, email: str = EMAIL):
        self.path = tmp / "signing-key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email, "-f", str(self.path)], check=True)
        self.allowed = tmp / "allowed_signers"
        public = self.path.with_suffix(".pub").read_text().split()
        self.allowed.write_text(f'{email} namespaces="git" {public[0]} {public[1]}\n')

    def sign_in(self, repo: Path, key: str | None = None) -> None:
        """`repo` set up to sign its commits with this key (or with `key`, a broken one)."""
        for name, value in (("gpg.format", "ssh"), ("user.signingkey", key or str(self.path)),
                            ("commit.gpgsign", "true"), ("gpg.ssh.allowedSignersFile", str(self.allowed))):
            git(repo, "config", name, value)

    def verdicts(self, repo: Path, *revs: str) -> list[tuple[str, str]]:
        """(git's %G? verdict, subject) of each commit in `revs`, newest first, checked against this key."""
        out = git(repo, "-c", f"gpg.ssh.allowedSignersFile={self.allowed}", "log", "--format=%G?%x09%s", *revs, "--")
        return [tuple(line.split("\t", 1)) for line in out.splitlines()]


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess, code: int = 1) -> str:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- push delivery, no cluster ---------------------------------------------------------


def test_advance_approve_pause_resume_revert_retry_are_all_signed_and_verify(tmp_path):
    key = Key(tmp_path)
    remote, work = published(tmp_path, APPROVAL_POLICY)
    key.sign_in(work)
    ok(rollout(work, "advance", "security-patch", "--wave", "1"))
    ok(rollout(work, "approve", "security-patch", "--wave", "1", "--by", "alice"))
    ok(rollout(work, "pause", "security-patch", "--reason", "incident 7"))
    ok(rollout(work, "resume", "security-patch"))
    ok(rollout(work, "revert", "security-patch", "--wave", "1", "--reason", "error rate"))
    ok(rollout(work, "retry", "security-patch", "--reason", "fixed"))
    ok(rollout(work, "advance", "security-patch", "--wave", "1"))  # epoch 2
    made = key.verdicts(remote, "main", "--not", "main~7")
    assert [subject.split(": ", 1)[1].split()[0] for _, subject in made] == \
        ["wave", "retry", "revert", "resume", "pause", "approve", "wave"], made
    assert {verdict for verdict, _ in made} == {"G"}, made
    for sha in git(remote, "rev-list", "main~7..main").split():
        git(work, "verify-commit", sha)  # git's own check, against the allowed signers
    assert key.verdicts(remote, "main~7") == [("N", "fleet-config")]  # the person's commit: as it was
    assert git(work, "status", "--porcelain") == "" and git(work, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")
    assert not git(work, "for-each-ref", "refs/rollout/"), "no scratch refs left"


def test_a_signed_advance_is_the_unsigned_commit_plus_its_signature(tmp_path, monkeypatch):
    """Same tree, parent, author, committer (dates included) and message as fast-import's
    commit: only the gpgsig header is added."""
    from rollout.git.repo import Git

    for name, value in {**GIT_ENV, "GIT_AUTHOR_DATE": "@1700000000 +0100",
                        "GIT_COMMITTER_DATE": "@1700000100 +0100"}.items():
        monkeypatch.setenv(name, value)
    key = Key(tmp_path)
    _, work = published(tmp_path)
    changes = {"argocd/apps/dev-us-east-platform.yaml": b"pinned\n", "new dir/a \"quoted\" file": b"x\n"}
    message = "rollout(x): a subject\n\nA body.\n\nRollout-Policy: x\n"
    plain, base = Git(work), git(work, "rev-parse", "HEAD").strip()
    unsigned = plain.commit_on(base, changes, message)
    key.sign_in(work)
    signer = Git(work)
    assert (plain.signing(), signer.signing()) == (False, True)  # each Git read the config once, when it was made
    signed = signer.commit_on(base, changes, message)
    assert signed != unsigned and signer.signed_commits([signed, unsigned]) == {signed: True, unsigned: False}
    raw = git(work, "cat-file", "commit", signed)
    head, body = raw.split("\n\n", 1)
    kept = [line for line in head.split("\n") if not line.startswith(("gpgsig ", " "))]
    assert "\n".join(kept) + "\n\n" + body == git(work, "cat-file", "commit", unsigned)
    git(work, "verify-commit", signed)
    assert not git(work, "for-each-ref", "refs/rollout/")
    empty = signer.commit_empty_on(signed, "a record\n")
    rebuilt = signer.commit_tree(git(work, "rev-parse", f"{signed}^{{tree}}").strip(), base, "rebuilt\n")
    assert signer.signed(empty) and signer.signed(rebuilt)


def test_without_signing_set_up_nothing_changes(tmp_path, monkeypatch):
    """No signature, and not one process more: no `commit-tree` after fast-import, and
    commit.gpgsign read once however many commits are made."""
    import rollout.git.repo as repo

    key = Key(tmp_path)
    remote, work = published(tmp_path, APPROVAL_POLICY)
    ok(rollout(work, "advance", "security-patch", "--wave", "1"))
    ok(rollout(work, "approve", "security-patch", "--wave", "1", "--by", "alice"))
    assert [verdict for verdict, _ in key.verdicts(remote, "main")] == ["N", "N", "N"]
    assert "gpgsig" not in git(remote, "cat-file", "commit", "main")
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    calls = []
    real = subprocess.run

    def counted(args, *rest, **kw):
        calls.append(args[1])
        return real(args, *rest, **kw)

    g = repo.Git(work)
    head = g.head()
    monkeypatch.setattr(repo.subprocess, "run", counted)
    first = g.commit_on(head, {"a.txt": b"a\n"}, "one\n")
    g.commit_on(first, {"b.txt": b"b\n"}, "two\n")
    g.commit_empty_on(first, "three\n")
    assert calls.count("config") == 1 and "commit-tree" in calls  # the empty commit's own
    assert calls[:7] == ["var", "var", "fast-import", "rev-parse", "update-ref", "config", "var"]
    assert not g.signing() and not g.signed(first)


# --- a signing set-up that cannot sign -------------------------------------------------


def test_a_signing_key_that_does_not_exist_is_one_line_and_the_remote_is_untouched(tmp_path):
    key = Key(tmp_path)
    remote, work = published(tmp_path, APPROVAL_POLICY)
    key.sign_in(work, key=str(tmp_path / "no-such-key"))
    before, head = git(remote, "for-each-ref"), git(work, "rev-parse", "HEAD")
    line = one_line_error(rollout(work, "advance", "security-patch", "--wave", "1"))
    assert line.startswith("rollout: git could not sign the commit (commit.gpgsign true, gpg.format ssh, "
                           f"user.signingkey {tmp_path / 'no-such-key'}): "), line
    assert "no-such-key: No such file or directory" in line and "nothing was pushed" in line
    assert "set user.signingkey to an SSH private key's path" in line and "gpg.format" in line
    assert git(remote, "for-each-ref") == before  # nothing pushed
    assert git(work, "rev-parse", "HEAD") == head and git(work, "status", "--porcelain") == ""
    assert not git(work, "for-each-ref", "refs/rollout/"), "no scratch refs left"
    # a record (an empty commit) the same way, after an advance made with the right key
    key.sign_in(work)
    ok(rollout(work, "advance", "security-patch", "--wave", "1"))
    key.sign_in(work, key=str(tmp_path / "no-such-key"))
    before = git(remote, "for-each-ref")
    assert "git could not sign the commit" in one_line_error(
        rollout(work, "approve", "security-patch", "--wave", "1", "--by", "alice"))
    assert "git could not sign the commit" in one_line_error(rollout(work, "pause", "security-patch", "--reason", "x"))
    assert git(remote, "for-each-ref") == before
    # no key at all, and a commit.gpgsign git cannot read
    git(work, "config", "--unset", "user.signingkey")
    line = one_line_error(rollout(work, "approve", "security-patch", "--wave", "1", "--by", "alice"))
    assert "user.signingkey unset" in line and "needs to be configured" in line, line
    git(work, "config", "commit.gpgsign", "maybe")
    line = one_line_error(rollout(work, "approve", "security-patch", "--wave", "1", "--by", "alice"))
    assert line == "rollout: commit.gpgsign: bad boolean config value 'maybe' for 'commit.gpgsign': set it to " \
                   "true or false (git config commit.gpgsign true)", line
    assert git(remote, "for-each-ref") == before


# --- gates: verify, halt and lift records (the fleet simulator) ----------------------------


def test_verify_halt_and_lift_records_of_rollout_run_are_signed(tmp_path):
    pytest.importorskip("kubernetes")
    from test_run import fleet, on_failure, run, subjects
    from test_simulator import GIT_ENV as SIM_ENV, Running

    key = Key(tmp_path, SIM_ENV["GIT_COMMITTER_EMAIL"])
    remote, work = fleet(tmp_path)
    on_failure(work, "halt")
    key.sign_in(work)
    start = git(remote, "rev-parse", "main").strip()
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-us-east:sync-failed@v1.4.2")
    try:
        failed = run(work, sim.kubeconfig, "--wait", "--interval", "1s", "--timeout", "1m")
        assert failed.returncode == 1 and failed.stdout.strip().endswith("v1.4.2: failed"), failed.stdout + failed.stderr
    finally:
        sim.stop()
    sim = Running(remote, tmp_path / "kubeconfig")  # the canary recovers
    try:
        ok(rollout(work, "resume", "security-patch", "--halt", "--reason", "dev-us-east fixed", env=SIM_ENV))
        for _ in range(30):  # until a step sees the canary healthy and records its pass
            run(work, sim.kubeconfig)
            if any("wave 1 canary passed" in s for s in subjects(remote)):
                break
            time.sleep(1)
    finally:
        sim.stop()
    made = key.verdicts(remote, f"{start}..main")
    kinds = " | ".join(subject for _, subject in made)
    for what in ("wave 1 canary -> v1.4.2", "halt at wave 1 canary", "lift the halt at wave 1 canary",
                 "wave 1 canary passed its gates", "wave 2 region-eu-west -> v1.4.2"):
        assert what in kinds, kinds
    assert {verdict for verdict, _ in made} == {"G"}, made


# --- pull-request delivery (the forge simulator) ----------------------------------------


def test_pull_request_branches_their_rebuilds_and_records_are_signed(tmp_path):
    pytest.importorskip("github")
    from forge.simulated import GIT_ENV as BOT_ENV
    from forge.test_delivery import BRANCHES, fleet_with, pulls, repo
    from forge.test_delivery import rollout as forge_rollout
    from forge.test_delivery import run as forge_run
    from forge.simulated import Simulator

    key = Key(tmp_path, BOT_ENV["GIT_COMMITTER_EMAIL"])
    fleet = fleet_with(tmp_path, "mode: pull-request\nautoMerge: false")
    sim = Simulator(fleet, "github", "--protect")
    try:
        # a key that cannot sign: one line, exit 1, no branch pushed, no pull request opened
        key.sign_in(fleet.work, key=str(tmp_path / "no-such-key"))
        before = git(fleet.bare, "for-each-ref")
        line = one_line_error(forge_run(fleet, sim))
        assert "git could not sign the commit" in line and "user.signingkey" in line, line
        assert git(fleet.bare, "for-each-ref") == before and pulls(sim) == []

        key.sign_in(fleet.work)
        assert "proposed wave 1 canary" in ok(forge_run(fleet, sim)).stdout
        assert key.verdicts(fleet.bare, "-1", BRANCHES[0]) == [("G", "rollout(security-patch): wave 1 canary -> v1.4.2")]
        # main moves under the open request: the rebuilt branch is signed too
        fleet.branch("docs", {"NOTES.md": "a person's notes\n"}, "a person's change")
        people = repo(sim, "alice")
        people.create_pull(base="main", head="docs", title="docs", body="").merge(merge_method="merge")
        moved = ok(forge_run(fleet, sim))
        assert f"rebuilt {BRANCHES[0]} on main {fleet.main()[:12]}" in moved.stdout, moved.stdout
        assert git(fleet.bare, "rev-parse", f"{BRANCHES[0]}^").strip() == fleet.main()
        assert key.verdicts(fleet.bare, "-1", BRANCHES[0]) == [("G", "rollout(security-patch): wave 1 canary -> v1.4.2")]
        # records beside the protected main: on rollout/records, signed
        ok(forge_rollout(fleet, sim, "pause", "security-patch", "--reason", "incident 42"))
        ok(forge_rollout(fleet, sim, "resume", "security-patch"))
        records = key.verdicts(fleet.bare, "-2", "rollout/records")
        assert [verdict for verdict, _ in records] == ["G", "G"], records
        assert "resume" in records[0][1] and "pause" in records[1][1]
    finally:
        sim.stop()
