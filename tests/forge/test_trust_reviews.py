"""Forge reviews as approvals under spec.trust (docs/security.md, "Pull-request delivery and forge reviews"):
`rollout run` merges an approval pull request only once a reviewer among
spec.trust.approvers (`github:LOGIN`, `gitlab:USERNAME`) approved its head, and its merge,
which the forge signs with its own key, carries the approval's trailers naming that
reviewer: the merge is the approve record. It counts when the forge's key is in the
allowed signers and its principal in spec.trust.forges.

Real git, real ssh-keygen keys, a real bare remote whose main refuses pushes, and
`rollout simulate --scm ... --protect --sign-merges KEY` over HTTP, driven through the
real client libraries. The CI bot that runs `rollout` signs with its own key, which the
allowed signers list; it is no approver."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from forge.simulated import GIT_ENV, Fleet, Simulator, git
from forge.test_delivery import POLICY, canary_needs_approval, fleet_with, pulls, repo, rollout, run, served, until
from rollout.git.history import advance_message, policy_digest
from test_trust import keypair

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")

SIGNERS = ".rollout/allowed_signers"
BOT = "ci-bot@example.com"
FORGES = {"github": "web-flow@github.com", "gitlab": "gitlab-merges@gitlab.example.com"}
WAITS_FOR_APPROVE = "waits for `rollout approve --wave 1`"


class TrustedFleet:
    """examples/fleet-config under spec.trust with pull-request delivery: the canary needs
    approval, the approvers are forge users, the bot's clone signs, and the simulated
    forge signs its merges with a key of its own (listed in the allowed signers or not)."""

    def __init__(self, tmp: Path, scm: str = "github", method: str = "merge", forge_listed: bool = True,
                 approvers: str = "[github:alice]", people: tuple[str, ...] = ()):
        self.scm, self.keys = scm, tmp / "keys"
        bot_key, bot_public = keypair(self.keys, "ci-bot")
        self.forge_key, forge_public = keypair(self.keys, "forge")
        self.fleet = fleet = Fleet(tmp)
        work = fleet.work
        git(work, "config", "gpg.format", "ssh")
        git(work, "config", "user.signingkey", str(bot_key))
        git(work, "config", "commit.gpgsign", "true")
        policy = work / POLICY
        text = re.sub(r"bake: \S+", "bake: 1s", policy.read_text())
        text = text.replace("      bake: 1s\n", "      bake: 1s\n      approval: required\n", 1)
        text += (f"  delivery:\n    mode: pull-request\n    provider: {scm}\n    mergeMethod: {method}\n"
                 f"  trust:\n    allowedSigners: {SIGNERS}\n    approvers: {approvers}\n"
                 f"    forges: [{FORGES[scm]}]\n")
        policy.write_text(text)
        lines = [f'{BOT} namespaces="git" {bot_public}\n']
        if forge_listed:
            lines.append(f'{FORGES[scm]} namespaces="git" {forge_public}\n')
        self.people = {name: keypair(self.keys, name)[0] for name in people}  # signers who are people
        lines += [f'{name}@example.com namespaces="git" {keypair(self.keys, name)[1]}\n' for name in people]
        (work / ".rollout").mkdir()
        (work / SIGNERS).write_text("".join(lines))
        git(work, "add", "-A")
        git(work, "commit", "-qm", "pull-request delivery under spec.trust")
        git(work, "push", "-q", "origin", "HEAD:main")
        git(work, "branch", "-q", "--set-upstream-to=origin/main")
        self.sim = Simulator(fleet, scm, "--protect", "--sign-merges", str(self.forge_key))

    def run(self, *args: str):
        return run(self.fleet, self.sim, *args)

    def rollout(self, *args: str):
        return rollout(self.fleet, self.sim, *args)

    def status(self) -> dict:
        git(self.fleet.work, "pull", "-q", "--ff-only")
        shown = self.rollout("status", "security-patch", "--format", "json")
        assert shown.returncode in (0, 1), shown.stdout + shown.stderr
        return json.loads(shown.stdout)

    def signature(self, commit: str) -> str:
        """`%G? %GS` of `commit`, against the allowed signers on main."""
        allowed = self.fleet.bare.parent / "signers-now"
        allowed.write_text(git(self.fleet.bare, "show", f"main:{SIGNERS}").stdout)
        return git(self.fleet.bare, "-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "-1",
                   "--format=%G? %GS", commit).stdout.strip()

    def request_approval(self, signer: str | None = None) -> str:
        """Step until the canary waits for approval; the bot (or `signer`, one of the people,
        signing with their own key) opens the approval request. Returns `rollout approve`'s output."""
        until(self.fleet, self.sim, WAITS_FOR_APPROVE)
        work = self.fleet.work
        if signer is not None:
            git(work, "config", "user.signingkey", str(self.people[signer]))
        try:
            approved = self.rollout("approve", "security-patch", "--wave", "1")
        finally:
            git(work, "config", "user.signingkey", str(self.keys / "ci-bot"))
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert "wave-1-approve" in approved.stdout
        return approved.stdout

    def stop(self) -> None:
        self.sim.stop()


def approval_pull(world: TrustedFleet):
    (pull,) = [p for p in pulls(world.sim) if p.head.ref.endswith("wave-1-approve")]
    return pull


@pytest.mark.parametrize("method", ["merge", "rebase"])  # rebase: the approval is squashed (the squash path too)
def test_an_approval_waits_for_a_review_by_an_approver_and_its_signed_merge_records_the_reviewer(tmp_path, method):
    world = TrustedFleet(tmp_path, method=method)
    try:
        said = world.request_approval()
        assert "`rollout run` merges it once one of github:alice approves it in review" in said
        pull = approval_pull(world)
        # (a) no review: not merged, the next wave waits; the step costs one call more than
        # any waiting step: the reviews
        before = served(world.sim)
        waiting = world.run()
        assert served(world.sim) - before == 3  # check, list, reviews
        assert waiting.returncode == 0, waiting.stdout + waiting.stderr
        assert (f"wave 1 canary: pull request #{pull.number} waits for an approving review by one of github:alice "
                f"({pull.html_url})") in waiting.stdout
        assert not repo(world.sim).get_pull(pull.number).merged
        state = world.status()
        assert state["waves"][0]["approvedBy"] is None and state["waves"][1]["status"] == "pending"
        # (b) an approving review by a user who is no approver is not enough; nor a comment by one
        repo(world.sim, "mallory").get_pull(pull.number).create_review(event="APPROVE")
        repo(world.sim, "alice").get_pull(pull.number).create_review(event="COMMENT", body="looking")
        still = world.run()
        assert "waits for an approving review by one of github:alice" in still.stdout, still.stdout + still.stderr
        assert not repo(world.sim).get_pull(pull.number).merged
        # (c) alice approves: the merge, signed by the forge's key, names her
        repo(world.sim, "alice").get_pull(pull.number).create_review(event="APPROVE")
        before = served(world.sim)
        merged = world.run()
        assert merged.returncode == 0, merged.stdout + merged.stderr
        # check, list, reviews, read, merge; then two waves proposed (find, open each)
        assert served(world.sim) - before == 5 + 4
        assert f"merged pull request #{pull.number} (approve of wave 1 canary)" in merged.stdout
        assert "proposed wave 2 region-eu-west" in merged.stdout, merged.stdout
        landed = repo(world.sim).get_pull(pull.number).merge_commit_sha
        message = git(world.fleet.bare, "log", "-1", "--format=%B", landed).stdout
        assert "Rollout-Action: approve" in message and "Rollout-Approved-By: github:alice" in message
        assert f"Rollout-Review: {pull.html_url}" in message
        assert world.signature(landed) == f"G {FORGES['github']}"
        state = world.status()
        assert state["waves"][0]["approvedBy"] == "github:alice"
        assert state["waves"][1]["status"] in ("proposed", "baking")
        ignored = [(i["commit"], i["action"], i["signer"]) for i in state["trust"]["ignored"]]
        if method == "merge":  # the bot's approve commit, merged in, counts for nothing by itself: no approver
            assert ignored == [(pull.head.sha, "approve", BOT)]
        else:  # the squash alone reached main
            assert ignored == []
            assert len(git(world.fleet.bare, "log", "-1", "--format=%P", landed).stdout.split()) == 1
    finally:
        world.stop()


def test_a_merge_signed_by_a_forge_key_the_allowed_signers_do_not_list_approves_nothing(tmp_path):
    world = TrustedFleet(tmp_path, forge_listed=False)
    try:
        world.request_approval()
        pull = approval_pull(world)
        repo(world.sim, "alice").get_pull(pull.number).create_review(event="APPROVE")
        merged = world.run()
        assert f"merged pull request #{pull.number} (approve of wave 1 canary)" in merged.stdout, \
            merged.stdout + merged.stderr
        landed = repo(world.sim).get_pull(pull.number).merge_commit_sha
        assert world.signature(landed).startswith("U")  # signed, by a key the file does not list
        state = world.status()
        assert state["waves"][0]["approvedBy"] is None
        ignored = {i["commit"]: i for i in state["trust"]["ignored"]}
        assert landed in ignored and ignored[landed]["action"] == "approve"
        assert "signed by a key not in the allowed signers" in ignored[landed]["why"]
        after = world.run()
        assert WAITS_FOR_APPROVE in after.stdout, after.stdout + after.stderr
        assert world.status()["waves"][1]["status"] == "pending"
    finally:
        world.stop()


def test_an_approval_on_gitlab_is_an_approval_of_the_merge_request_by_an_approver(tmp_path):
    gitlab = pytest.importorskip("gitlab")
    world = TrustedFleet(tmp_path, scm="gitlab", approvers="[gitlab:alice]")
    try:
        world.request_approval()

        def project(login: str | None = None):
            token = world.sim.env["GITLAB_TOKEN"] + (f"/{login}" if login else "")
            return gitlab.Gitlab(world.sim.env["CI_API_V4_URL"].removesuffix("/api/v4"),
                                 private_token=token).projects.get(world.sim.env["CI_PROJECT_PATH"])

        (mr,) = [r for r in project().mergerequests.list(state="opened", get_all=True)
                 if r.source_branch.endswith("wave-1-approve")]
        waiting = world.run()
        assert (f"merge request !{mr.iid} waits for an approving review by one of gitlab:alice ({mr.web_url})"
                in waiting.stdout), waiting.stdout + waiting.stderr
        project("mallory").mergerequests.get(mr.iid).approve()
        assert "waits for an approving review" in world.run().stdout
        project("alice").mergerequests.get(mr.iid).approve()
        merged = world.run()
        assert f"merged merge request !{mr.iid} (approve of wave 1 canary)" in merged.stdout, \
            merged.stdout + merged.stderr
        landed = project().mergerequests.get(mr.iid).merge_commit_sha
        message = git(world.fleet.bare, "log", "-1", "--format=%B", landed).stdout
        assert "Rollout-Approved-By: gitlab:alice" in message and f"Rollout-Review: {mr.web_url}" in message
        assert world.signature(landed) == f"G {FORGES['gitlab']}"
        state = world.status()
        assert state["waves"][0]["approvedBy"] == "gitlab:alice"
        assert state["waves"][1]["status"] in ("proposed", "baking")
    finally:
        world.stop()


def test_an_approvers_signed_approval_request_needs_no_review(tmp_path):
    """A signed `rollout approve` by an approver still approves under pull-request delivery:
    `rollout run` merges its request without waiting for a review, and its own commit
    counts, naming its signer."""
    world = TrustedFleet(tmp_path, approvers="[alice@example.com, github:carol]", people=("alice",))
    try:
        world.request_approval(signer="alice")
        pull = approval_pull(world)
        merged = world.run()
        assert f"merged pull request #{pull.number} (approve of wave 1 canary)" in merged.stdout, \
            merged.stdout + merged.stderr
        state = world.status()
        assert state["waves"][0]["approvedBy"] == "alice@example.com" and state["trust"]["ignored"] == []
    finally:
        world.stop()


def test_without_trust_an_approval_request_merges_as_before(tmp_path):
    """No spec.trust: the approval request is merged without a look at its reviews, its
    merge commit says what it merges, as it always did."""
    fleet = fleet_with(tmp_path, "mode: pull-request")
    canary_needs_approval(fleet)
    sim = Simulator(fleet, "github", "--protect")
    try:
        until(fleet, sim, WAITS_FOR_APPROVE)
        assert rollout(fleet, sim, "approve", "security-patch", "--wave", "1", "--by", "bob").returncode == 0
        merged = run(fleet, sim)
        assert "merged pull request #2 (approve of wave 1 canary)" in merged.stdout, merged.stdout + merged.stderr
        landed = repo(sim).get_pull(2).merge_commit_sha
        assert git(fleet.bare, "log", "-1", "--format=%B", landed).stdout.strip() == \
            "rollout(security-patch): approve wave 1 canary (v1.4.2) (#2)\n\nMerges pull request #2 from " \
            "rollout/security-patch/v1.4.2/wave-1-approve."
        assert git(fleet.bare, "log", "-1", "--format=%G?", landed).stdout.strip() == "N"  # unsigned
    finally:
        sim.stop()


# --- the simulated forge and the forge modules underneath -----------------------------------

def plain_world(tmp: Path, scm: str, *flags: str) -> tuple[Fleet, Simulator]:
    fleet = Fleet(tmp)
    git(fleet.work, "branch", "-q", "--set-upstream-to=origin/main")
    return fleet, Simulator(fleet, scm, *flags)


def connected(sim: Simulator, fleet: Fleet, monkeypatch):
    """rollout's own forge module, as a step connects it (the CI variables the ready line printed)."""
    from rollout.delivery.forge import VARIABLES, connect

    for key in VARIABLES:
        monkeypatch.delenv(key, raising=False)
    for key, value in sim.env.items():
        monkeypatch.setenv(key, value)
    return connect(fleet.work, "", None, None)


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_the_simulated_github_signs_every_commit_it_makes_with_its_key(tmp_path, method):
    key, public = keypair(tmp_path / "keys", "forge")
    fleet, sim = plain_world(tmp_path, "github", "--protect", "--sign-merges", str(key))
    try:
        allowed = tmp_path / "allowed"
        allowed.write_text(f'{FORGES["github"]} namespaces="git" {public}\n')
        before = fleet.main()
        fleet.branch("change", {"one.txt": "1\n"}, "one")
        fleet.branch("change", {"two.txt": "2\n"}, "two", start="change")
        pull = repo(sim, "alice").create_pull(base="main", head="change", title="a change", body="")
        pull.merge(merge_method=method)
        made = git(fleet.bare, "-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "--format=%G? %GS",
                   f"{before}..main").stdout.split("\n")
        made = [line for line in made if line]
        assert len(made) == {"merge": 3, "squash": 1, "rebase": 2}[method]
        forge_made = made[:1] if method == "merge" else made  # a merge brings the branch's own commits too
        assert forge_made == [f"G {FORGES['github']}"] * len(forge_made)
    finally:
        sim.stop()


def test_the_simulated_forge_without_a_key_signs_nothing_and_a_missing_key_is_refused(tmp_path):
    fleet, sim = plain_world(tmp_path, "github", "--protect")
    try:
        fleet.branch("change", {"one.txt": "1\n"}, "one")
        repo(sim, "alice").create_pull(base="main", head="change", title="a change", body="").merge()
        assert git(fleet.bare, "log", "-1", "--format=%G?", "main").stdout.strip() == "N"
    finally:
        sim.stop()
    from conftest import ROLLOUT

    refused = subprocess.run([*ROLLOUT, "simulate", "--repo", str(fleet.bare), "--scm", "github", "--sign-merges",
                              str(tmp_path / "no-such-key")], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--sign-merges" in refused.stderr and "no such file" in refused.stderr


def test_github_approvals_are_each_users_latest_review_approving_the_head(tmp_path, monkeypatch):
    fleet, sim = plain_world(tmp_path, "github")
    try:
        forge = connected(sim, fleet, monkeypatch)
        fleet.branch("rollout/p/v1/wave-1-approve", {"a.txt": "1\n"}, "approve")
        request = forge.open("rollout/p/v1/wave-1-approve", "main", "approve", "")
        assert forge.approvals(request) == []
        pull = {login: repo(sim, login).get_pull(request.number) for login in ("alice", "bob", "carol", "dave")}
        pull["bob"].create_review(event="APPROVE")
        pull["alice"].create_review(event="APPROVE")
        pull["carol"].create_review(event="APPROVE")
        pull["carol"].create_review(event="REQUEST_CHANGES", body="no")  # her latest word
        pull["alice"].create_review(event="COMMENT", body="and a remark")  # a comment takes nothing back
        pull["dave"].create_review(event="COMMENT", body="lgtm")  # a comment approves nothing
        assert forge.approvals(request) == ["github:bob", "github:alice"]
        # a new head (a rebuild's push): the approvals of the old one are stale
        fleet.branch("rollout/p/v1/wave-1-approve", {"a.txt": "2\n"}, "approve again",
                     start="rollout/p/v1/wave-1-approve")
        moved = forge.find("rollout/p/v1/wave-1-approve")
        assert moved.head != request.head and forge.approvals(moved) == []
        pull["alice"].create_review(event="APPROVE")
        assert forge.approvals(moved) == ["github:alice"]
    finally:
        sim.stop()


def test_gitlab_approvals_are_the_approvals_of_the_head(tmp_path, monkeypatch):
    gitlab = pytest.importorskip("gitlab")
    fleet, sim = plain_world(tmp_path, "gitlab")
    try:
        forge = connected(sim, fleet, monkeypatch)
        fleet.branch("rollout/p/v1/wave-1-approve", {"a.txt": "1\n"}, "approve")
        request = forge.open("rollout/p/v1/wave-1-approve", "main", "approve", "")
        assert forge.approvals(request) == []

        def merge_request(login: str):
            client = gitlab.Gitlab(sim.env["CI_API_V4_URL"].removesuffix("/api/v4"),
                                   private_token=f"{sim.env['GITLAB_TOKEN']}/{login}")
            return client.projects.get(sim.env["CI_PROJECT_PATH"]).mergerequests.get(request.number)

        merge_request("bob").approve()
        merge_request("alice").approve()
        assert forge.approvals(request) == ["gitlab:bob", "gitlab:alice"]
        approvals = merge_request("alice").approvals.get()
        assert [e["user"]["username"] for e in approvals.approved_by] == ["bob", "alice"]
        # commits added: GitLab (by default) removes the approvals
        fleet.branch("rollout/p/v1/wave-1-approve", {"a.txt": "2\n"}, "approve again",
                     start="rollout/p/v1/wave-1-approve")
        moved = forge.find("rollout/p/v1/wave-1-approve")
        assert moved.head != request.head and forge.approvals(moved) == []
    finally:
        sim.stop()


def test_a_branch_pushed_by_someone_without_a_key_is_neither_tended_nor_re_signed(tmp_path):
    """Tending re-signs what it rebuilds: a forged advance of wave 2 pushed as the rollout's
    branch must not become the bot's signed, merged advance (nor stand for wave 2's proposal)."""
    world = TrustedFleet(tmp_path)
    try:
        assert world.run().returncode == 0
        wave2 = world.status()["waves"][1]
        mallory = tmp_path / "mallory"
        git(tmp_path, "clone", "-q", str(world.fleet.bare), str(mallory))
        git(mallory, "config", "commit.gpgsign", "false")
        git(mallory, "checkout", "-q", "-B", "forged", "origin/main~1")  # behind main: a rebuild would re-sign it
        files = []
        for cluster in wave2["clusters"]:
            path = mallory / f"argocd/apps/{cluster}-platform.yaml"
            path.write_text(path.read_text().replace("v1.4.1", "v1.4.2"))
            files.append((cluster, str(path.relative_to(mallory))))
        policy = git(mallory, "show", "origin/main:rollouts/security-patch.yaml").stdout
        message = advance_message("security-patch", "v1.4.2", wave2["number"], wave2["name"], files,
                                  policy_digest(policy))
        subprocess.run(["git", "commit", "-qa", "-F", "-"], cwd=mallory, input=message, text=True, check=True,
                       env={**os.environ, **GIT_ENV})
        branch = f"rollout/security-patch/v1.4.2/wave-{wave2['number']}"
        git(mallory, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        forged = git(mallory, "rev-parse", "HEAD").stdout.strip()
        for _ in range(3):
            stepped = world.run()
            assert f"{branch} ({forged[:12]}) is not signed by an allowed signer: left alone" in stepped.stdout
        assert git(world.fleet.bare, "rev-parse", branch).stdout.strip() == forged  # not rebuilt, not re-signed
        state = world.status()
        assert state["waves"][1]["status"] == "pending" and state["waves"][1]["advanceCommit"] is None
    finally:
        world.stop()
