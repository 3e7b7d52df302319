"""The simulated forge's store against real bare repositories: each merge method's
history and tree, conflicts, the head guard, required checks and reviews, and branch
protection as a pre-receive hook that pushes meet but the forge's own merges do not."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rollout.simulator.forge.store import Conflict, ForgeStore, Invalid, Unmergeable, protect

IDENTITY = {"GIT_AUTHOR_NAME": "Rollout Bot", "GIT_AUTHOR_EMAIL": "bot@example.com",
            "GIT_COMMITTER_NAME": "Rollout Bot", "GIT_COMMITTER_EMAIL": "bot@example.com"}


@pytest.fixture(autouse=True)
def git_identity(monkeypatch):
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)


def git(cwd: Path, *args: str, check: bool = True) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check).stdout


class Remote:
    """A bare repository with `main` (a.txt, b.txt) and a clone that pushes branches to it."""

    def __init__(self, tmp: Path):
        self.bare = tmp / "fleet.git"
        git(tmp, "init", "-q", "--bare", "-b", "main", str(self.bare))
        self.work = tmp / "work"
        git(tmp, "clone", "-q", str(self.bare), str(self.work))
        git(self.work, "checkout", "-q", "-b", "main")
        self.commit({"a.txt": "a1\n", "b.txt": "b1\n"}, "fleet-config")
        git(self.work, "push", "-q", "origin", "main")

    def commit(self, files: dict[str, str], message: str, author: str | None = None) -> str:
        for name, text in files.items():
            (self.work / name).write_text(text)
        git(self.work, "add", "-A")
        extra = ["-c", f"user.name={author}"] if author else []
        git(self.work, *extra, "commit", "-qm", message, *(["--author", f"{author} <{author}@example.com>"] if author else []))
        return git(self.work, "rev-parse", "HEAD").strip()

    def branch(self, name: str, *changes: tuple[dict[str, str], str], start: str = "origin/main") -> str:
        """Push `name` with one commit per change, started from `start`."""
        git(self.work, "fetch", "-q", "origin")
        git(self.work, "checkout", "-q", "-B", name, start)
        for files, message in changes:
            self.commit(files, message)
        git(self.work, "push", "-q", "-f", "origin", name)
        return git(self.work, "rev-parse", "HEAD").strip()

    def main_moves(self, files: dict[str, str], message: str) -> str:
        """Someone else's commit lands on main (pushed, before any protection)."""
        git(self.work, "fetch", "-q", "origin")
        git(self.work, "checkout", "-q", "-B", "main", "origin/main")
        sha = self.commit(files, message)
        git(self.work, "push", "-q", "origin", "main")
        return sha

    def log(self, *fmt: str, ref: str = "main") -> list[str]:
        return git(self.bare, "log", "--first-parent", f"--format={'%x1f'.join(fmt)}", ref).splitlines()

    def show(self, path: str, ref: str = "main") -> str:
        return git(self.bare, "show", f"{ref}:{path}")


@pytest.fixture
def remote(tmp_path) -> Remote:
    return Remote(tmp_path)


def store_for(remote: Remote, **kw) -> ForgeStore:
    return ForgeStore(remote.bare, "fleet", "fleet", committer=("GitHub", "noreply@github.com"), **kw)


def test_merge_writes_a_merge_commit_with_both_parents_and_github_message(remote):
    before = remote.log("%H")[0]
    head = remote.branch("rollout/x", ({"a.txt": "a2\n"}, "pin a"))
    store = store_for(remote)
    request = store.open("rollout/x", "main", "Wave 1", "body")
    assert store.mergeable(request) is True and store.checks(request) == "passed"
    tip = store.merge(request.number, "merge")
    assert tip == store.ref("main") == request.merge_commit
    parents = git(remote.bare, "rev-list", "--parents", "-n1", tip).split()[1:]
    assert parents == [before, head]
    assert git(remote.bare, "show", "-s", "--format=%B", tip).strip() == \
        "Merge pull request #1 from fleet/rollout/x\n\nWave 1"
    assert git(remote.bare, "show", "-s", "--format=%cn <%ce>", tip).strip() == "GitHub <noreply@github.com>"
    assert remote.show("a.txt") == "a2\n" and remote.show("b.txt") == "b1\n"
    assert request.state == "merged" and request.merge_method == "merge" and store.head(request) == head


def test_merge_with_given_title_and_message_keeps_the_trailers(remote):
    remote.branch("rollout/x", ({"a.txt": "a2\n"}, "pin a"))
    store = store_for(remote)
    store.open("rollout/x", "main", "Wave 1", "")
    for number, method in ((1, "merge"),):
        tip = store.merge(number, method, title="rollout: wave 1", message="Rollout-Policy: p\nRollout-Wave: 1\n")
        trailers = git(remote.bare, "show", "-s", "--format=%(trailers:only,unfold)", tip).strip()
        assert trailers == "Rollout-Policy: p\nRollout-Wave: 1"
        assert git(remote.bare, "show", "-s", "--format=%s", tip).strip() == "rollout: wave 1"


def test_squash_of_one_commit_is_that_commit_with_the_number_and_one_parent(remote):
    remote.main_moves({"b.txt": "b2\n"}, "someone edits b")
    before = remote.log("%H")[0]
    remote.branch("rollout/x", ({"a.txt": "a2\n"}, "pin a\n\nRollout-Wave: 1"), start="HEAD~1")
    store = store_for(remote)
    request = store.open("rollout/x", "main", "Wave 1", "")
    tip = store.merge(request.number, "squash")
    assert git(remote.bare, "rev-list", "--parents", "-n1", tip).split()[1:] == [before]
    assert git(remote.bare, "show", "-s", "--format=%B", tip).strip() == "pin a (#1)\n\nRollout-Wave: 1"
    assert git(remote.bare, "show", "-s", "--format=%an|%cn", tip).strip() == "Rollout Bot|GitHub"
    assert (remote.show("a.txt"), remote.show("b.txt")) == ("a2\n", "b2\n")


def test_squash_of_several_commits_is_the_title_and_bulleted_messages(remote):
    before = remote.log("%H")[0]
    remote.branch("rollout/x", ({"a.txt": "a2\n"}, "pin a"), ({"c.txt": "c\n"}, "add c"))
    store = store_for(remote)
    store.open("rollout/x", "main", "Wave 1", "")
    tip = store.merge(1, "squash")
    assert git(remote.bare, "rev-list", "--parents", "-n1", tip).split()[1:] == [before]
    assert git(remote.bare, "show", "-s", "--format=%B", tip).strip() == "Wave 1 (#1)\n\n* pin a\n\n* add c"
    assert remote.show("c.txt") == "c\n" and remote.show("a.txt") == "a2\n"


def test_rebase_replays_each_commit_keeping_author_and_message(remote):
    remote.branch("rollout/x", ({"a.txt": "a2\n"}, "pin a"), ({"c.txt": "c\n"}, "add c\n\nRollout-Wave: 2"))
    moved = remote.main_moves({"b.txt": "b2\n"}, "someone edits b")
    originals = git(remote.bare, "rev-list", "main..rollout/x").split()
    store = store_for(remote)
    store.open("rollout/x", "main", "Wave 1", "")
    tip = store.merge(1, "rebase")
    history = [r.split("\x1f") for r in git(remote.bare, "log", "--format=%H%x1f%P%x1f%s%x1f%an%x1f%cn", "main").splitlines()]
    assert [h[2] for h in history[:3]] == ["add c", "pin a", "someone edits b"]
    assert history[0][0] == tip and history[2][0] == moved
    assert history[0][1] == history[1][0] and history[1][1] == moved  # linear, on the new main
    assert {h[0] for h in history[:2]}.isdisjoint(originals)  # replayed: new SHAs
    assert [(h[3], h[4]) for h in history[:2]] == [("Rollout Bot", "GitHub")] * 2
    assert "Rollout-Wave: 2" in git(remote.bare, "show", "-s", "--format=%B", tip)
    assert (remote.show("a.txt"), remote.show("b.txt"), remote.show("c.txt")) == ("a2\n", "b2\n", "c\n")


def test_rebase_when_main_did_not_move_still_writes_new_commits(remote):
    head = remote.branch("rollout/x", ({"a.txt": "a2\n"}, "pin a"))
    store = store_for(remote)
    store.open("rollout/x", "main", "Wave 1", "")
    tip = store.merge(1, "rebase")
    assert tip != head and git(remote.bare, "show", "-s", "--format=%s|%cn", tip).strip() == "pin a|GitHub"


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_a_conflict_is_unmergeable_and_main_does_not_move(remote, method):
    remote.branch("rollout/x", ({"a.txt": "mine\n"}, "pin a"))
    moved = remote.main_moves({"a.txt": "theirs\n"}, "someone edits a")
    store = store_for(remote)
    request = store.open("rollout/x", "main", "Wave 1", "")
    assert store.mergeable(request) is False
    with pytest.raises(Unmergeable) as refused:
        store.merge(1, method)
    assert refused.value.reason == "conflict"
    assert store.ref("main") == moved and request.state == "open"
    assert git(remote.bare, "worktree", "list").count("\n") == 1  # the scratch worktree is gone


def test_the_sha_guard_refuses_a_moved_head(remote):
    first = remote.branch("rollout/x", ({"a.txt": "a2\n"}, "pin a"))
    store = store_for(remote)
    store.open("rollout/x", "main", "Wave 1", "")
    remote.branch("rollout/x", ({"a.txt": "a3\n"}, "pin a again"), start="rollout/x")
    with pytest.raises(Unmergeable) as refused:
        store.merge(1, "merge", sha=first)
    assert refused.value.reason == "head moved"
    assert store.merge(1, "merge", sha=store.ref("rollout/x"))
    assert remote.show("a.txt") == "a3\n"


def test_required_checks_pending_failed_then_green(remote):
    head = remote.branch("rollout/x", ({"a.txt": "a2\n"}, "pin a"))
    store = store_for(remote, required_checks=("ci/test", "ci/lint"))
    request = store.open("rollout/x", "main", "Wave 1", "")
    assert store.checks(request) == "pending"  # nothing reported yet
    assert store.unmet_checks(request) == [("ci/test", "missing"), ("ci/lint", "missing")]
    store.set_status(head, "ci/test", "success")
    store.set_status(head, "ci/lint", "pending")
    assert store.checks(request) == "pending"
    with pytest.raises(Unmergeable, match="checks"):
        store.merge(1, "merge")
    store.set_status(head[:10], "ci/lint", "failure")  # abbreviated SHAs resolve
    assert store.checks(request) == "failed" and store.unmet_checks(request) == [("ci/lint", "failure")]
    store.set_status(head, "ci/lint", "success")  # the latest per context counts
    assert store.checks(request) == "passed"
    assert [s.context for s in store.statuses(head)] == ["ci/lint", "ci/test"]
    store.merge(1, "merge")
    with pytest.raises(Invalid):
        store.set_status("0" * 40, "ci/test", "success")
    with pytest.raises(Invalid):
        store.set_status(head, "ci/test", "green")


def test_reviews_draft_and_closed_refuse_the_merge(remote):
    remote.branch("rollout/x", ({"a.txt": "a2\n"}, "pin a"))
    store = store_for(remote, required_approvals=1)
    request = store.open("rollout/x", "main", "Wave 1", "", draft=True)
    for reason, fix in (("draft", lambda: store.edit(1, draft=False)), ("reviews", lambda: store.approve(1, "alice"))):
        with pytest.raises(Unmergeable) as refused:
            store.merge(1, "squash")
        assert refused.value.reason == reason
        fix()
    store.edit(1, state="closed")
    with pytest.raises(Unmergeable, match="closed"):
        store.merge(1, "squash")
    assert request.state == "closed" and request.closed_at and request.merged_at is None


def test_one_open_request_per_branch_and_lookups(remote):
    remote.branch("rollout/x", ({"a.txt": "a2\n"}, "pin a"))
    remote.branch("rollout/y", ({"b.txt": "b2\n"}, "pin b"))
    store = store_for(remote)
    store.open("rollout/x", "main", "X", "")
    with pytest.raises(Conflict):
        store.open("rollout/x", "main", "X again", "")
    for branch, base in (("nope", "main"), ("rollout/x", "nope"), ("main", "main")):
        with pytest.raises(Invalid):
            store.open(branch, base, "t", "")
    store.edit(1, state="closed")
    second = store.open("rollout/x", "main", "X again", "")
    with pytest.raises(Conflict):
        store.edit(1, state="open")  # reopening the first would make two open
    store.open("rollout/y", "main", "Y", "")
    assert [r.number for r in store.requests("open")] == [3, 2]
    assert [r.number for r in store.requests("all", branch="rollout/x")] == [2, 1]
    assert [r.number for r in store.requests("closed")] == [1]
    store.merge(second.number, "merge")
    assert [r.number for r in store.requests("merged")] == [2]
    store.add_labels(3, ["a", "b", "a"])
    store.request_reviewers(3, ["alice"])
    assert store.get(3).labels == ["a", "b"] and store.get(3).reviewers == ["alice"]
    with pytest.raises(Invalid):
        store.get(99)
    with pytest.raises(Invalid):
        store.edit(2, state="open")  # merged: no reopening


def test_protection_rejects_pushes_to_main_not_to_rollout_branches_and_merges_still_land(remote):
    protect(remote.bare, "main")
    protect(remote.bare, "main")  # twice is once
    assert (remote.bare / "rollout-protected-branches").read_text() == "main\n"
    git(remote.work, "checkout", "-q", "-B", "main", "origin/main")
    remote.commit({"a.txt": "direct\n"}, "direct push")
    pushed = subprocess.run(["git", "push", "origin", "main"], cwd=remote.work, capture_output=True, text=True)
    assert pushed.returncode != 0
    assert "protected branch hook declined" in pushed.stderr and "GH006" in pushed.stderr
    assert remote.show("a.txt") == "a1\n"
    head = remote.branch("rollout/x", ({"a.txt": "a2\n"}, "pin a"))  # a PR branch: allowed
    assert git(remote.bare, "rev-parse", "rollout/x").strip() == head
    store = store_for(remote)
    store.open("rollout/x", "main", "X", "")
    store.merge(1, "merge")
    assert remote.show("a.txt") == "a2\n"
