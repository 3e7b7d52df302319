"""Who may move a rollout (`spec.trust`, docs/security.md), with real keys (`ssh-keygen`),
real `git` signing and verification, and a real bare remote: only records signed by an
allowed signer release anything; an approval only by an approver, named by its signer;
stops count unsigned; a pusher cannot add their own key and then approve; a signer
removed later keeps their earlier records and loses their later ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import SEED_POLICY, make_seed_repo
from test_engine import git_identity  # noqa: F401 - the autouse fixture
from test_operating import rollout
from rollout.git.history import advance_message, approve_message, policy_digest, revert_message, verify_message

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")

NOW = int(time.time())  # the commits carry the real clock: bakes are measured from it
HOUR = 3600
SIGNERS = ".rollout/allowed_signers"
TRUST = """\
  trust:
    allowedSigners: .rollout/allowed_signers
    approvers: [alice@example.com]
"""
POLICY = (SEED_POLICY.replace("      bake: 30m\n", "      bake: 30m\n      approval: required\n", 1)
          .replace("  onFailure: revert\n", "  onFailure: revert\n" + TRUST))


def git(cwd: Path, *args: str, input: str | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, text=True)
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def keypair(folder: Path, name: str) -> tuple[Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / name
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key, (folder / f"{name}.pub").read_text().strip()


def signers_line(email: str, public: str) -> str:
    return f'{email} namespaces="git" {public}\n'


class Fleet:
    """The seed fleet under spec.trust on a bare remote; one clone per person."""

    def __init__(self, tmp: Path, policy: str = POLICY, allowed=("bot", "alice", "bob")):
        self.tmp, self.keys = tmp, tmp / "keys"
        self.public = {name: keypair(self.keys, name)[1] for name in ("bot", "alice", "bob", "mallory")}
        source = make_seed_repo(tmp / "source", policy).root
        (source / ".rollout").mkdir()
        (source / SIGNERS).write_text("".join(signers_line(f"{n}@example.com", self.public[n]) for n in allowed))
        git(source, "init", "-q", "-b", "main")
        git(source, "add", "-A")
        git(source, "commit", "-qm", "fleet-config")
        self.remote = tmp / "remote.git"
        git(tmp, "clone", "-q", "--bare", str(source), str(self.remote))
        self.clones: dict[str, Path] = {}

    def clone(self, name: str, signing: bool = True) -> Path:
        """A clone for `name`, signing with their key (or not)."""
        if name not in self.clones:
            work = self.tmp / f"work-{name}"
            git(self.tmp, "clone", "-q", str(self.remote), str(work))
            git(work, "config", "user.name", name)
            git(work, "config", "user.email", f"{name}@example.com")
            self.clones[name] = work
            if signing:
                self.sign_as(name)
        work = self.clones[name]
        git(work, "pull", "-q", "--ff-only")
        return work

    def sign_as(self, name: str) -> Path:
        """`name`'s clone signs with their own key from now on."""
        work = self.clones[name]
        git(work, "config", "gpg.format", "ssh")
        git(work, "config", "user.signingkey", str(self.keys / name))
        git(work, "config", "commit.gpgsign", "true")
        return work

    def run(self, name: str, *args: str, now: int = NOW, signing: bool = True):
        return rollout(self.clone(name, signing), *args, now=now)

    def status(self, name: str = "bot", now: int = NOW) -> dict:
        result = self.run(name, "status", "security-patch", "--format", "json", now=now)
        assert result.returncode in (0, 1), result.stderr
        return json.loads(result.stdout)

    def text_status(self, name: str = "bot", now: int = NOW) -> str:
        return self.run(name, "status", "security-patch", now=now).stdout

    def hand_made(self, name: str, message: str, sign: bool) -> str:
        """An empty commit with rollout trailers, made by hand and pushed: a forgery."""
        work = self.clone(name, signing=sign)
        git(work, "commit", "-q", "--allow-empty", "-F", "-", *(["-S"] if sign else ["--no-gpg-sign"]),
            input=message)
        git(work, "push", "-q", "origin", "HEAD:main")
        return git(work, "rev-parse", "HEAD").strip()

    def signature(self, commit: str) -> str:
        allowed = self.tmp / "signers-now"
        allowed.write_text(git(self.remote, "show", f"main:{SIGNERS}"))
        return git(self.remote, "-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "-1", "--format=%G? %GS",
                   commit).strip()


def approval(fleet: Fleet, by: str = "alice@example.com") -> str:
    policy = git(fleet.remote, "show", "main:rollouts/security-patch.yaml")
    return approve_message("security-patch", "v1.4.2", 1, "canary", by, policy_digest(policy))


@pytest.fixture
def fleet(tmp_path) -> Fleet:
    return Fleet(tmp_path)


def test_signed_records_move_the_rollout_and_the_approver_is_the_signer(fleet):
    advanced = fleet.run("bot", "advance", "security-patch")
    assert advanced.returncode == 0, advanced.stderr
    head = git(fleet.remote, "rev-parse", "main").strip()
    assert fleet.signature(head) == "G bot@example.com"  # the tool signs what it writes
    approved = fleet.run("alice", "approve", "security-patch", "--wave", "1", "--by", "someone else")
    assert approved.returncode == 0, approved.stderr
    state = fleet.status(now=NOW + HOUR)
    canary = state["waves"][0]
    assert canary["approvedBy"] == "alice@example.com"  # the signer's principal, never --by
    assert state["trust"]["verified"] is True and state["trust"]["ignored"] == []
    region = fleet.run("bot", "advance", "security-patch", now=NOW + HOUR)
    assert region.returncode == 0, region.stderr
    assert [w["status"] for w in fleet.status(now=NOW + HOUR)["waves"]][:2] == ["passed", "baking"]


def test_an_unsigned_approval_and_one_by_an_unknown_key_do_not_count(fleet):
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
    # the tool refuses to write them (exit 2, nothing pushed) ...
    before = git(fleet.remote, "rev-parse", "main")
    unsigned = fleet.run("mallory", "approve", "security-patch", "--wave", "1", "--by", "alice@example.com",
                         signing=False)
    assert unsigned.returncode == 2 and "git does not sign here" in unsigned.stderr
    assert git(fleet.remote, "rev-parse", "main") == before
    # ... and by hand they are ignored, one line each, naming the commit and why
    forged = fleet.hand_made("mallory", approval(fleet), sign=False)
    state = fleet.status(now=NOW + HOUR)
    assert state["waves"][0]["approvedBy"] is None
    assert [(i["commit"], i["action"]) for i in state["trust"]["ignored"]] == [(forged, "approve")]
    assert "not signed" in state["trust"]["ignored"][0]["why"]
    assert f"ignored: {forged[:12]} (approve of wave canary): not signed" in fleet.text_status(now=NOW + HOUR)
    # signed by a key that is not in the allowed signers
    fleet.sign_as("mallory")
    refused = fleet.run("mallory", "approve", "security-patch", "--wave", "1")
    assert refused.returncode == 2 and "not in .rollout/allowed_signers" in refused.stderr
    unknown = fleet.hand_made("mallory", approval(fleet), sign=True)
    state = fleet.status(now=NOW + HOUR)
    assert state["waves"][0]["approvedBy"] is None
    assert "signed by a key not in the allowed signers" in {i["commit"]: i["why"] for i in
                                                             state["trust"]["ignored"]}[unknown]
    # the next wave stays where it was, and `rollout run` says which records it ignored
    stepped = fleet.run("bot", "advance", "security-patch", now=NOW + HOUR)
    assert "needs approval" in stepped.stdout + stepped.stderr
    ran = fleet.run("bot", "run", "security-patch", now=NOW + HOUR)
    assert f"ignored: {forged[:12]} (approve of wave canary): not signed" in ran.stdout + ran.stderr
    assert f"ignored: {unknown[:12]} (approve of wave canary)" in ran.stdout + ran.stderr
    assert fleet.status(now=NOW + HOUR)["waves"][1]["status"] == "pending"


def test_an_approval_signed_by_a_signer_who_is_not_an_approver_does_not_count(fleet):
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
    refused = fleet.run("bob", "approve", "security-patch", "--wave", "1")
    assert refused.returncode == 2 and "spec.trust.approvers" in refused.stderr
    by_hand = fleet.hand_made("bob", approval(fleet, by="alice@example.com"), sign=True)
    state = fleet.status(now=NOW + HOUR)
    assert state["waves"][0]["approvedBy"] is None
    (ignored,) = state["trust"]["ignored"]
    assert ignored["commit"] == by_hand and ignored["signer"] == "bob@example.com"
    assert "bob@example.com, who is not among spec.trust.approvers" in ignored["why"]


GATED = POLICY.replace("  onFailure: revert\n", "  onFailure: revert\n  gates:\n    - argocd: {settle: 30s}\n")


def verify_record(fleet: Fleet, advance: str) -> str:
    policy = git(fleet.remote, "show", "main:rollouts/security-patch.yaml")
    return verify_message("security-patch", "v1.4.2", 1, "canary", ["forged"], policy_digest(policy), advance=advance)


def test_a_forged_verify_record_passes_nothing_on_main_or_on_the_records_branch(tmp_path):
    fleet = Fleet(tmp_path, GATED)
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
    advance = git(fleet.remote, "rev-parse", "main").strip()
    on_main = fleet.hand_made("mallory", verify_record(fleet, advance), sign=False)
    # on rollout/records, the branch pull-request delivery leaves writable, signed by an unknown key
    work = fleet.sign_as("mallory")
    git(work, "commit", "-q", "--allow-empty", "-S", "-F", "-", input=verify_record(fleet, advance))
    git(work, "push", "-q", "origin", "HEAD:refs/heads/rollout/records")
    on_records = git(work, "rev-parse", "HEAD").strip()
    git(fleet.clone("bot"), "fetch", "-q", "origin", "+refs/heads/rollout/*:refs/remotes/origin/rollout/*")
    state = fleet.status(now=NOW + HOUR)
    assert state["waves"][0]["status"] == "verifying" and state["waves"][0]["verifyCommit"] is None
    assert {i["commit"] for i in state["trust"]["ignored"]} == {on_main, on_records}


def test_a_revoked_signer_keeps_earlier_records_and_loses_later_ones(tmp_path):
    both = POLICY.replace("approvers: [alice@example.com]", "approvers: [alice@example.com, bob@example.com]")
    both = both.replace("      after: [canary]\n", "      after: [canary]\n      approval: required\n")
    fleet = Fleet(tmp_path, both)
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
    assert fleet.run("bob", "approve", "security-patch", "--wave", "1").returncode == 0
    assert fleet.run("bot", "advance", "security-patch", now=NOW + HOUR).returncode == 0
    # alice removes bob, signed
    work = fleet.clone("alice")
    text = (work / SIGNERS).read_text()
    (work / SIGNERS).write_text("".join(line for line in text.splitlines(keepends=True)
                                        if not line.startswith("bob@")))
    git(work, "commit", "-qam", "revoke bob")
    git(work, "push", "-q", "origin", "HEAD:main")
    later = fleet.hand_made("bob", approve_message(
        "security-patch", "v1.4.2", 2, "region", "bob",
        policy_digest(git(fleet.remote, "show", "main:rollouts/security-patch.yaml"))), sign=True)
    state = fleet.status(now=NOW + 3 * HOUR)
    assert state["waves"][0]["approvedBy"] == "bob@example.com"  # before the removal: still counts
    assert state["waves"][1]["approvedBy"] is None
    assert [i["commit"] for i in state["trust"]["ignored"]] == [later]
    assert state["trust"]["blocked"] == []


def test_a_pusher_who_adds_their_own_key_and_approves_halts_the_rollout(fleet):
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
    work = fleet.clone("mallory", signing=False)
    with (work / SIGNERS).open("a") as out:
        out.write(signers_line("mallory@example.com", fleet.public["mallory"]))
    policy = work / "rollouts/security-patch.yaml"
    policy.write_text(policy.read_text().replace("[alice@example.com]", "[alice@example.com, mallory@example.com]"))
    git(work, "commit", "-qam", "add me", "--no-gpg-sign")
    git(work, "push", "-q", "origin", "HEAD:main")
    change = git(work, "rev-parse", "HEAD").strip()
    fleet.sign_as("mallory")
    approved = fleet.hand_made("mallory", approval(fleet, "mallory@example.com"), sign=True)
    state = fleet.status(now=NOW + HOUR)
    assert state["status"] == "halted"
    assert [b["commit"] for b in state["trust"]["blocked"]] == [change]
    assert state["waves"][0]["approvedBy"] is None
    assert approved in {i["commit"] for i in state["trust"]["ignored"]}
    step = fleet.run("bot", "advance", "security-patch", now=NOW + HOUR)
    assert "halted by spec.trust" in step.stdout + step.stderr
    assert fleet.status(now=NOW + HOUR)["waves"][1]["status"] == "pending"
    # an allowed signer signs a change after it: the rollout moves again, on what they signed
    alice = fleet.clone("alice")
    git(alice, "revert", "--no-edit", "-S", change)
    git(alice, "push", "-q", "origin", "HEAD:main")
    assert fleet.status(now=NOW + HOUR)["trust"]["blocked"] == []


def test_an_unsigned_revert_is_honoured_and_reported(fleet):
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
    reverted = fleet.run("mallory", "revert", "security-patch", "--wave", "1", "--reason", "pager", signing=False)
    assert reverted.returncode == 0, reverted.stderr
    state = fleet.status()
    assert state["waves"][0]["status"] == "reverted"
    (unsigned,) = state["trust"]["unsignedStops"]
    assert unsigned["action"] == "revert" and "honoured" in unsigned["why"]


def test_pinned_files_without_a_trusted_advance_halt_naming_the_commit(fleet):
    work = fleet.clone("mallory", signing=False)
    app = next((work / "argocd/apps").glob("*-platform.yaml"))
    dev = [p for p in (work / "argocd/apps").glob("*-platform.yaml") if "dev" in p.name]
    for path in dev or [app]:
        path.write_text(path.read_text().replace("v1.4.1", "v1.4.2"))
    git(work, "commit", "-qam", "pin by hand", "--no-gpg-sign")
    git(work, "push", "-q", "origin", "HEAD:main")
    by_hand = git(work, "rev-parse", "HEAD").strip()
    state = fleet.status()
    assert state["status"] == "halted"
    assert [(b["commit"], b["action"]) for b in state["trust"]["blocked"]] == [(by_hand, "pin")]
    assert "without a trusted advance" in state["trust"]["blocked"][0]["why"]
    stepped = fleet.run("bot", "advance", "security-patch")
    assert stepped.returncode != 0 or "halted by spec.trust" in stepped.stdout + stepped.stderr
    # an allowed signer vouches for them: a signed advance of that wave
    vouched = fleet.run("bot", "advance", "security-patch", "--wave", "1", "--force")
    assert vouched.returncode == 0, vouched.stderr
    assert fleet.status()["trust"]["blocked"] == []


def test_a_runner_that_does_not_sign_is_refused_before_anything_is_written(fleet):
    before = git(fleet.remote, "rev-parse", "main")
    refused = fleet.run("mallory", "advance", "security-patch", signing=False)
    assert refused.returncode == 2 and "does not sign" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert git(fleet.remote, "rev-parse", "main") == before


def test_without_trust_records_are_not_verified(tmp_path):
    fleet = Fleet(tmp_path, SEED_POLICY)
    assert "records are not verified" in fleet.text_status()
    assert fleet.status()["trust"]["verified"] is False


def test_audit_names_every_action_its_signer_and_what_did_not_count(fleet):
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
    forged = fleet.hand_made("mallory", approval(fleet), sign=False)
    assert fleet.run("alice", "approve", "security-patch", "--wave", "1", "--by", "the boss").returncode == 0
    assert fleet.run("mallory", "revert", "security-patch", "--wave", "1", "--reason", "pager",
                     signing=False).returncode == 0
    result = fleet.run("bot", "audit", "security-patch", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["trust"] is True
    author = git(fleet.remote, "log", "-1", "--format=%an <%ae>", forged).strip()  # unverified: the author, as written
    actions = [(a["action"], a["who"], a["verified"], a["counted"]) for a in report["actions"]]
    assert actions == [("advance", "bot@example.com", True, True),
                       ("approve", author, False, False),
                       ("approve", "alice@example.com", True, True),
                       ("revert", author, False, True)]
    by_commit = {a["commit"]: a for a in report["actions"]}
    assert by_commit[forged]["named"] == "alice@example.com" and "not signed" in by_commit[forged]["why"]
    assert by_commit[[c for c, a in by_commit.items() if a["action"] == "revert"][0]]["evidence"] == ["reason: pager"]
    markdown = fleet.run("bot", "audit", "security-patch", "--format", "markdown").stdout
    assert "| when | action |" in markdown and f"`{forged[:12]}`" in markdown and "(says the boss)" in markdown
    text = fleet.run("bot", "audit", "security-patch").stdout
    assert f"{forged[:12]} approve" in text and "IGNORED: not signed" in text


@pytest.mark.parametrize("change, where, message", [
    (lambda repo: (repo / SIGNERS).unlink(), "rollouts/security-patch.yaml:", "allowedSigners: .rollout/allowed_signers: no such file"),
    (lambda repo: (repo / SIGNERS).write_text("alice@example.com just-a-word\n"), ".rollout/allowed_signers:1:",
     "no ssh key type"),
    (lambda repo: (repo / "rollouts/security-patch.yaml").write_text(
        POLICY.replace("[alice@example.com]", "[carol@example.com]")), "rollouts/security-patch.yaml:",
     None),
])
def test_a_trust_that_can_never_be_met_is_one_located_line_exit_2(fleet, change, where, message):
    work = fleet.clone("bot")
    change(work)
    git(work, "commit", "-qam", "broken trust")
    before = git(fleet.remote, "rev-parse", "main")
    if message is None:  # an approver who is no principal: a warning (a revocation removes a key, at once)
        result = rollout(work, "validate", "security-patch", now=NOW)
        assert result.returncode == 0 and "carol@example.com is no principal of" in result.stdout + result.stderr
        return
    for command in (["validate", "security-patch"], ["advance", "security-patch", "--no-push"]):
        result = rollout(work, *command, now=NOW)
        assert result.returncode == 2, result.stdout + result.stderr
        assert where in result.stderr and message in result.stderr and "Traceback" not in result.stderr
    assert git(fleet.remote, "rev-parse", "main") == before


def test_an_unsigned_pause_holds_and_only_a_signed_resume_lifts_it(fleet):
    paused = fleet.run("mallory", "pause", "security-patch", "--reason", "incident", signing=False)
    assert paused.returncode == 0, paused.stderr
    pause = git(fleet.remote, "rev-parse", "main").strip()
    refused = fleet.run("mallory", "resume", "security-patch", signing=False)
    assert refused.returncode == 2 and "does not sign" in refused.stderr
    work = fleet.clone("mallory", signing=False)
    git(work, "revert", "--no-edit", "--no-gpg-sign", pause)  # a plain `git revert` of a pause, unsigned
    git(work, "push", "-q", "origin", "HEAD:main")
    undo = git(work, "rev-parse", "HEAD").strip()
    held = fleet.run("bot", "advance", "security-patch")
    assert "paused" in held.stdout + held.stderr and fleet.status()["waves"][0]["status"] == "pending"
    assert f"ignored: {undo[:12]} (undo)" in fleet.text_status()
    resumed = fleet.run("alice", "resume", "security-patch")
    assert resumed.returncode == 0, resumed.stderr
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
    assert fleet.status()["waves"][0]["status"] == "baking"


@pytest.fixture
def gnupg_homes():
    """Short GNUPGHOMEs (gpg-agent's socket path must fit in 108 bytes), their agents stopped after."""
    homes: list[Path] = []
    yield homes
    for home in homes:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def forge_key(homes: list, uid: str = "GitHub <noreply@github.com>") -> tuple[dict, str, str]:
    """An OpenPGP key as a forge keeps it (GitHub's web-flow): its GNUPGHOME env, fingerprint, armoured public key."""
    home = Path(tempfile.mkdtemp(prefix="gpg-", dir="/tmp"))
    homes.append(home)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"],
                   env=env, check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--with-colons", "--list-keys"], env=env, capture_output=True, text=True).stdout
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    public = subprocess.run(["gpg", "--armor", "--export", fpr], env=env, capture_output=True, text=True).stdout
    return env, fpr, public


def squash_by_forge(fleet: Fleet, env: dict, fpr: str) -> str:
    """The bot's advance of wave 1, made again as a forge's squash merge signed with `fpr`, pushed to main."""
    scratch = fleet.clone("bot")
    made = rollout(scratch, "advance", "security-patch", "--no-push", now=NOW)
    assert made.returncode == 0, made.stderr
    tree, parent = git(scratch, "rev-parse", "HEAD^{tree}").strip(), git(scratch, "rev-parse", "HEAD^").strip()
    message = git(scratch, "log", "-1", "--format=%B")
    git(scratch, "reset", "-q", "--hard", parent)
    squash = subprocess.run(["git", "-c", "gpg.format=openpgp", "-c", f"user.signingkey={fpr}", "commit-tree", tree,
                             "-p", parent, f"-S{fpr}"], cwd=scratch, input=message, text=True, capture_output=True,
                            env={**env, "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"})
    assert squash.returncode == 0, squash.stderr
    git(scratch, "push", "-q", "origin", f"{squash.stdout.strip()}:refs/heads/main")
    return squash.stdout.strip()


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")
@pytest.mark.parametrize("listed", [True, False])
def test_a_squash_merge_signed_by_a_listed_openpgp_forge_key_counts(tmp_path, gnupg_homes, listed):
    env, fpr, public = forge_key(gnupg_homes)
    other = forge_key(gnupg_homes, "Someone Else <else@example.com>")[2]
    policy = POLICY.replace("    approvers: [alice@example.com]\n", "    approvers: [alice@example.com]\n"
                            "    forges: [noreply@github.com]\n    openpgpKeys: .rollout/forge-keys.asc\n")
    fleet = Fleet(tmp_path, policy)
    work = fleet.clone("bot")
    (work / ".rollout/forge-keys.asc").write_text(public if listed else other)
    git(work, "add", "-A")
    git(work, "commit", "-qm", "the forge's merge key")  # signed by the bot, an allowed signer: it counts
    git(work, "push", "-q", "origin", "HEAD:main")
    squash = squash_by_forge(fleet, env, fpr)
    state = fleet.status()
    if listed:
        assert state["waves"][0]["status"] == "baking" and state["waves"][0]["advanceCommit"] == squash
        assert state["trust"]["ignored"] == [] and state["trust"]["blocked"] == []
    else:
        assert state["waves"][0]["status"] == "pending"
        assert [i["commit"] for i in state["trust"]["ignored"]] == [squash]
        assert [(b["commit"], b["action"]) for b in state["trust"]["blocked"]] == [(squash, "pin")]


def test_a_forged_advance_of_a_later_epoch_does_not_stop_a_revert(fleet):
    """Epochs come from advances: one forged with a huge epoch would make the real one look
    like an earlier epoch's, and a revert find nothing to revert. Forged records move nothing."""
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
    policy = git(fleet.remote, "show", "main:rollouts/security-patch.yaml")
    forged = advance_message("security-patch", "v9.9.9", 1, "canary", [], policy_digest(policy), epoch=999)
    fleet.hand_made("mallory", forged, sign=False)
    reverted = fleet.run("alice", "revert", "security-patch", "--wave", "1", "--reason", "pager")
    assert reverted.returncode == 0, reverted.stderr
    assert "never advanced" not in reverted.stdout + reverted.stderr
    state = fleet.status()
    assert state["waves"][0]["status"] == "reverted" and state["epoch"] == 1


def test_the_markdown_status_a_ci_summary_shows_says_what_did_not_count(fleet):
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
    forged = fleet.hand_made("mallory", approval(fleet), sign=False)
    markdown = fleet.run("bot", "status", "security-patch", "--format", "markdown").stdout
    assert f"- ignored: {forged[:12]} (approve of wave canary): not signed" in markdown


# --- from a review of the rules: what a pusher without a key tried, and what an operator needs


def test_renaming_the_policy_to_yml_is_a_change_that_needs_a_signer(fleet):
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
    work = fleet.clone("mallory", signing=False)
    text = (work / "rollouts/security-patch.yaml").read_text()
    (work / "rollouts/security-patch.yaml").unlink()
    (work / ".rollout/mine").write_text(signers_line("mallory@example.com", fleet.public["mallory"]))
    (work / "rollouts/security-patch.yml").write_text(text.replace(".rollout/allowed_signers", ".rollout/mine")
                                                      .replace("[alice@example.com]", "[mallory@example.com]"))
    git(work, "add", "-A")
    git(work, "commit", "-qm", "tidy", "--no-gpg-sign")
    git(work, "push", "-q", "origin", "HEAD:main")
    renamed = git(work, "rev-parse", "HEAD").strip()
    fleet.sign_as("mallory")
    refused = fleet.run("mallory", "approve", "security-patch", "--wave", "1")
    assert refused.returncode == 2 and "halted by spec.trust" in refused.stderr
    state = fleet.status(now=NOW + HOUR)
    assert state["status"] == "halted" and [b["commit"] for b in state["trust"]["blocked"]] == [renamed]


def test_a_signed_change_of_the_policy_does_not_adopt_a_key_added_unsigned_before_it(fleet):
    work = fleet.clone("mallory", signing=False)
    with (work / SIGNERS).open("a") as out:
        out.write(signers_line("mallory@example.com", fleet.public["mallory"]))
    git(work, "commit", "-qam", "my key", "--no-gpg-sign")
    git(work, "push", "-q", "origin", "HEAD:main")
    added = git(work, "rev-parse", "HEAD").strip()
    alice = fleet.clone("alice")  # a routine, signed change of another trust file
    policy = alice / "rollouts/security-patch.yaml"
    policy.write_text(policy.read_text().replace("maxWaveSize: 50", "maxWaveSize: 40"))
    git(alice, "commit", "-qam", "smaller waves")
    git(alice, "push", "-q", "origin", "HEAD:main")
    fleet.sign_as("mallory")
    held = fleet.run("mallory", "advance", "security-patch")
    assert "halted by spec.trust" in held.stdout + held.stderr
    forced = fleet.run("mallory", "advance", "security-patch", "--wave", "1", "--force")
    assert forced.returncode == 2 and "halted by spec.trust" in forced.stderr  # --force passes no trust block
    state = fleet.status()
    assert [b["commit"] for b in state["trust"]["blocked"]] == [added] and state["waves"][0]["status"] == "pending"


def test_a_pin_by_hand_dressed_as_a_revert_still_halts(fleet):
    work = fleet.clone("mallory", signing=False)
    files = []
    for path in sorted((work / "argocd/apps").glob("staging-*-platform.yaml"))[:1]:
        path.write_text(path.read_text().replace("v1.4.1", "v1.4.2"))
        files.append((path.name.removesuffix("-platform.yaml"), str(path.relative_to(work))))
    policy = (work / "rollouts/security-patch.yaml").read_text()
    message = revert_message("security-patch", "v0.0.1", 2, "region-eu-west", files, "cleanup", policy_digest(policy))
    git(work, "commit", "-qa", "--no-gpg-sign", "-F", "-", input=message)
    git(work, "push", "-q", "origin", "HEAD:main")
    dressed = git(work, "rev-parse", "HEAD").strip()
    state = fleet.status()
    assert state["status"] == "halted" and [(b["commit"], b["action"]) for b in state["trust"]["blocked"]] == [
        (dressed, "pin")]


def test_a_new_cluster_whose_file_a_signer_made_at_the_revision_halts_nothing(fleet):
    alice = fleet.clone("alice")
    source = next((alice / "argocd/apps").glob("staging-*-platform.yaml"))
    (alice / "argocd/apps/staging-eu-north-platform.yaml").write_text(
        source.read_text().replace(source.name.removesuffix("-platform.yaml"), "staging-eu-north")
        .replace("v1.4.1", "v1.4.2"))
    inventory = alice / "fleet/clusters.yaml"
    inventory.write_text(inventory.read_text() + "  - name: staging-eu-north\n    server: https://staging-eu-north.k8s"
                         ".example.com:6443\n    labels:\n      environment: \"staging\"\n      region: \"eu-west\"\n")
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "a new staging cluster, born at the revision")
    git(alice, "push", "-q", "origin", "HEAD:main")
    state = fleet.status()
    assert state["trust"]["blocked"] == [], state["trust"]


def test_a_signed_policy_change_merged_by_an_unsigned_merge_counts(fleet):
    alice = fleet.clone("alice")
    git(alice, "checkout", "-q", "-b", "smaller-waves")
    policy = alice / "rollouts/security-patch.yaml"
    policy.write_text(policy.read_text().replace("maxWaveSize: 50", "maxWaveSize: 40"))
    git(alice, "commit", "-qam", "smaller waves")  # signed by alice
    git(alice, "push", "-q", "origin", "smaller-waves")
    work = fleet.clone("mallory", signing=False)  # the forge (or anyone) merges it, unsigned
    git(work, "fetch", "-q", "origin", "smaller-waves")
    git(work, "merge", "-q", "--no-ff", "--no-gpg-sign", "-m", "Merge pull request #1", "FETCH_HEAD")
    git(work, "push", "-q", "origin", "HEAD:main")
    assert fleet.status()["trust"]["blocked"] == []
    # an unsigned change merged the same way does not
    git(work, "checkout", "-q", "-b", "mine")
    with (work / SIGNERS).open("a") as out:
        out.write(signers_line("mallory@example.com", fleet.public["mallory"]))
    git(work, "commit", "-qam", "my key", "--no-gpg-sign")
    git(work, "checkout", "-q", "main")
    git(work, "merge", "-q", "--no-ff", "--no-gpg-sign", "-m", "Merge pull request #2", "mine")
    git(work, "push", "-q", "origin", "HEAD:main")
    merge = git(work, "rev-parse", "HEAD").strip()
    assert [b["commit"] for b in fleet.status()["trust"]["blocked"]] == [merge]


def test_a_shallow_clone_under_trust_is_refused_not_read_blind(fleet):
    shallow = fleet.tmp / "shallow"
    git(fleet.tmp, "clone", "-q", "--depth", "1", f"file://{fleet.remote}", str(shallow))
    result = rollout(shallow, "status", "security-patch", now=NOW)
    assert result.returncode == 2 and "shallow" in result.stderr and "fetch-depth: 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_resume_all_that_would_not_count_under_a_policys_trust_is_refused(fleet):
    """An emergency stop of every policy is lifted by `resume --all`: under this policy's
    trust that record counts only signed, so an unsigned one is refused before it is
    written, not written to count for nothing."""
    paused = fleet.run("mallory", "pause", "--all", "--reason", "incident", signing=False)
    assert paused.returncode == 0, paused.stderr
    before = git(fleet.remote, "rev-parse", "main")
    refused = fleet.run("mallory", "resume", "--all", signing=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "security-patch has spec.trust: a resume of every policy counts only when signed" in refused.stderr
    assert "Traceback" not in refused.stderr and git(fleet.remote, "rev-parse", "main") == before
    resumed = fleet.run("alice", "resume", "--all")
    assert resumed.returncode == 0, resumed.stderr
    assert fleet.run("bot", "advance", "security-patch").returncode == 0
