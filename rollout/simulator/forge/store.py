"""The simulated forge's state: pull (merge) requests, commit statuses, reviews, and
merges that do what a forge does. Shared by the GitHub and GitLab REST layers, which
only translate. In memory: the simulator is one process; the git side lives in the bare
repository.

A merge is a real git merge / squash / rebase, computed in a scratch worktree of the bare
repository, whose result is written into the bare repository with `git update-ref <ref>
<new> <old>` (atomic against pushes), never by pushing: a pre-receive hook that rejects
every push to the protected branch (protect()) models branch protection, and merges still
work, as on a forge. With a `signing_key` (an ssh private key file), every commit the
forge makes (a merge commit, a squash, a rebased copy) is signed with it, as GitHub signs
its merges with its own (web-flow) key: a test lists that key in the allowed signers.

The signatures are the contract between store.py, github.py and gitlab.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


class Invalid(Exception):
    """The request is malformed or names what does not exist (422 / 404)."""


class Conflict(Exception):
    """An open request for this head branch exists already (GitHub 422, GitLab 409)."""


class Unmergeable(Exception):
    """The merge is refused: `reason` is one of "conflict", "checks", "reviews", "draft",
    "closed", "head moved", "need rebase" (fast-forward only; GitLab) (GitHub 405/409,
    GitLab 405/406/409)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED")


@dataclass
class Review:
    """A review of a request (GitHub's pull request review; a GitLab approval is one too),
    on the head it was given on."""

    id: int
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    commit: str | None  # the request's head when it was given (GitHub's commit_id)
    body: str = ""
    submitted: float = 0.0


@dataclass
class Request:
    number: int
    branch: str  # head / source branch
    base: str  # base / target branch
    title: str
    body: str
    author: str = "rollout-bot"
    state: str = "open"  # open | merged | closed
    draft: bool = False
    labels: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)  # requested
    approvals: list[str] = field(default_factory=list)  # who approved (reviews)
    reviews: list[Review] = field(default_factory=list)  # every review, oldest first
    created: float = 0.0
    updated: float = 0.0
    merged_at: float | None = None
    closed_at: float | None = None
    merge_commit: str | None = None
    squash_commit: str | None = None  # GitLab: the squash commit a squashed merge made
    merge_method: str | None = None
    head_sha: str | None = None  # the head when last seen; kept once merged or closed (as forges do)
    merged_by: str | None = None


@dataclass
class CommitStatus:
    sha: str
    context: str  # GitHub status context / check name, GitLab status name
    state: str  # success | pending | failure | error
    description: str = ""
    id: int = 0
    created: float = 0.0
    target_url: str | None = None


STATUS_STATES = ("success", "pending", "failure", "error")
MERGE_METHODS = ("merge", "squash", "rebase")


class GitFailed(Exception):
    """A git command the forge runs failed unexpectedly (a bug or a broken repo: 500)."""


def _git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the forge's own git: none of a caller's repository variables
    (a hook's GIT_DIR would point git elsewhere)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                        "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")}
    return {**env, **(extra or {})}


@dataclass
class ForgeStore:
    bare: Path  # the bare repository the simulator follows
    owner: str  # GitHub owner / GitLab namespace
    name: str  # repository / project name
    default_branch: str = "main"
    required_checks: tuple[str, ...] = ()  # contexts that must be `success` on a request's head to merge
    required_approvals: int = 0
    committer: tuple[str, str] = ("Forge", "noreply@forge.invalid")  # who commits merges (GitHub: "GitHub")
    signing_key: Path | None = None  # an ssh private key: the forge signs the commits it makes with it

    _requests: dict[int, Request] = field(default_factory=dict, init=False, repr=False)
    _statuses: list[CommitStatus] = field(default_factory=list, init=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    # --- git ------------------------------------------------------------------------
    def _git(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
        command = ["git", *args] if cwd is not None else ["git", "--git-dir", str(self.bare), *args]
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=_git_env(env))
        if check and result.returncode != 0:
            last = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
            command_name = next((a for a in args if not a.startswith("-") and "=" not in a), args[0])
            raise GitFailed(f"git {command_name}: {last}")
        return result

    def ref(self, branch: str) -> str | None:
        """The commit `refs/heads/<branch>` names in the bare repository, or None."""
        result = self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False)
        return result.stdout.strip() or None

    def head(self, request: Request) -> str | None:
        """The request's head commit: its branch's tip while open (remembered, so a deleted
        branch still shows its last head), the head it had when merged or closed."""
        if request.state == "open":
            tip = self.ref(request.branch)
            if tip:
                request.head_sha = tip
        return request.head_sha

    # --- requests ---------------------------------------------------------------------
    def open(self, branch: str, base: str, title: str, body: str, draft: bool = False,
             author: str = "rollout-bot") -> Request:
        """Raises Invalid when `branch` or `base` does not exist or they are equal, Conflict
        when an open request for `branch` exists."""
        with self._lock:
            if not title:
                raise Invalid("title: missing")
            if branch == base:
                raise Invalid(f"head and base are the same branch ({branch})")
            head = self.ref(branch)
            if head is None:
                raise Invalid(f"head: no branch {branch}")
            if self.ref(base) is None:
                raise Invalid(f"base: no branch {base}")
            if any(r.state == "open" and r.branch == branch for r in self._requests.values()):
                raise Conflict(branch)
            now = time.time()
            number = max(self._requests, default=0) + 1
            request = Request(number, branch, base, title, body, author=author, draft=draft, created=now,
                              updated=now, head_sha=head)
            self._requests[number] = request
            return request

    def get(self, number: int) -> Request:
        """Raises Invalid (404) for an unknown number."""
        try:
            return self._requests[number]
        except KeyError:
            raise Invalid(f"no request #{number}") from None

    def requests(self, state: str = "open", branch: str | None = None, base: str | None = None) -> list[Request]:
        """state: open | merged | closed | all (GitHub's `closed` includes merged: the REST
        layer maps). Newest first."""
        if state not in ("open", "merged", "closed", "all"):
            raise Invalid(f"state: {state!r} is not open, merged, closed or all")
        chosen = [r for r in self._requests.values()
                  if (state == "all" or r.state == state) and (branch is None or r.branch == branch)
                  and (base is None or r.base == base)]
        return sorted(chosen, key=lambda r: r.number, reverse=True)

    def edit(self, number: int, title: str | None = None, body: str | None = None, state: str | None = None,
             draft: bool | None = None) -> Request:
        """state "closed" closes without merge; "open" reopens (Conflict if another is open)."""
        with self._lock:
            request = self.get(number)
            if state not in (None, "open", "closed"):
                raise Invalid(f"state: {state!r} is not open or closed")
            if state == "open" and request.state != "open":
                if request.state == "merged":
                    raise Invalid(f"#{number} is merged; it cannot be reopened")
                if any(r.state == "open" and r.branch == request.branch for r in self._requests.values()):
                    raise Conflict(request.branch)
                if self.ref(request.branch) is None:
                    raise Invalid(f"head: no branch {request.branch}")
                request.state, request.closed_at = "open", None
            elif state == "closed" and request.state == "open":
                self.head(request)
                request.state, request.closed_at = "closed", time.time()
            if title is not None:
                if not title:
                    raise Invalid("title: empty")
                request.title = title
            if body is not None:
                request.body = body
            if draft is not None:
                request.draft = draft
            request.updated = time.time()
            return request

    def add_labels(self, number: int, labels: list[str]) -> Request:
        with self._lock:
            request = self.get(number)
            request.labels = list(dict.fromkeys([*request.labels, *labels]))
            request.updated = time.time()
            return request

    def request_reviewers(self, number: int, reviewers: list[str]) -> Request:
        with self._lock:
            request = self.get(number)
            request.reviewers = list(dict.fromkeys([*request.reviewers, *reviewers]))
            request.updated = time.time()
            return request

    def approve(self, number: int, by: str) -> Request:
        """An approving review by `by` on the request's current head."""
        with self._lock:
            self.review(number, by, "APPROVED")
            return self.get(number)

    def review(self, number: int, by: str, state: str = "APPROVED", body: str = "",
               commit: str | None = None) -> Review:
        """A review by `by` on the request's head (or on `commit`: a review of an earlier
        head). APPROVED counts `by` among the approvals; CHANGES_REQUESTED and DISMISSED
        take that back; COMMENTED changes nothing."""
        if state not in REVIEW_STATES:
            raise Invalid(f"state: {state!r} is not one of {', '.join(REVIEW_STATES)}")
        with self._lock:
            request = self.get(number)
            now = time.time()
            review = Review(10_000 + sum(len(r.reviews) for r in self._requests.values()), by, state,
                            commit or self.head(request), body, now)
            request.reviews.append(review)
            if state == "APPROVED" and by not in request.approvals:
                request.approvals.append(by)
            elif state in ("CHANGES_REQUESTED", "DISMISSED") and by in request.approvals:
                request.approvals.remove(by)
            if by in request.reviewers and state != "COMMENTED":
                request.reviewers.remove(by)
            request.updated = now
            return review

    def approved_on_head(self, request: Request) -> list[str]:
        """Who approves the request's current head: each user's latest review that is not a
        comment, when it is APPROVED and was given on the head (GitHub with "dismiss stale
        approvals", GitLab with "remove approvals when commits are added": their defaults
        for a protected branch and a project). In the order they approved."""
        head = self.head(request)
        latest: dict[str, Review] = {}
        for review in request.reviews:
            if review.state != "COMMENTED":
                latest.pop(review.user, None)
                latest[review.user] = review
        return [r.user for r in latest.values() if r.state == "APPROVED" and r.commit == head]

    # --- checks -----------------------------------------------------------------------
    def set_status(self, sha: str, context: str, state: str, description: str = "",
                   target_url: str | None = None) -> CommitStatus:
        with self._lock:
            if state not in STATUS_STATES:
                raise Invalid(f"state: {state!r} is not one of {', '.join(STATUS_STATES)}")
            resolved = self._git("rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}", check=False).stdout.strip()
            if not resolved or len(sha) < 4:
                raise Invalid(f"sha: no commit {sha}")
            status = CommitStatus(resolved, context or "default", state, description,
                                  id=len(self._statuses) + 1, created=time.time(), target_url=target_url)
            self._statuses.append(status)
            return status

    def statuses(self, sha: str) -> list[CommitStatus]:
        """The latest status per context on `sha`."""
        latest: dict[str, CommitStatus] = {}
        for status in self._statuses:
            if status.sha == sha:
                latest[status.context] = status
        return sorted(latest.values(), key=lambda s: s.id, reverse=True)

    def all_statuses(self, sha: str) -> list[CommitStatus]:
        """Every status reported on `sha`, newest first (GitHub's list of statuses)."""
        return [s for s in reversed(self._statuses) if s.sha == sha]

    def checks(self, request: Request) -> str:
        """passed | pending | failed, over `required_checks` on the request's head (a
        required context not reported yet is pending); passed when none are required."""
        head = self.head(request)
        latest = {s.context: s.state for s in self.statuses(head)} if head else {}
        states = [latest.get(context, "pending") for context in self.required_checks]
        if any(state in ("failure", "error") for state in states):
            return "failed"
        if any(state == "pending" for state in states):
            return "pending"
        return "passed"

    def unmet_checks(self, request: Request) -> list[tuple[str, str]]:
        """The required contexts not `success` on the head: (context, state), "missing"
        for one never reported."""
        head = self.head(request)
        latest = {s.context: s.state for s in self.statuses(head)} if head else {}
        return [(c, latest.get(c, "missing")) for c in self.required_checks if latest.get(c) != "success"]

    def mergeable(self, request: Request) -> bool | None:
        """False when merging its head into the base would conflict (git merge-tree);
        None never here (a real forge computes it lazily: clients must cope)."""
        head, base = self.head(request), self.ref(request.base)
        if head is None or base is None:
            return False
        return self._merge_tree(base, head) is not None

    def behind(self, request: Request) -> bool:
        """The base has commits the head lacks (a fast-forward would need a rebase first)."""
        head, base = self.head(request), self.ref(request.base)
        if head is None or base is None:
            return False
        return self._git("merge-base", "--is-ancestor", base, head, check=False).returncode != 0

    def _merge_tree(self, ours: str, theirs: str) -> str | None:
        """The tree of merging `theirs` into `ours` (merge-ort, in memory), None on conflict."""
        result = self._git("merge-tree", "--write-tree", "--no-messages", ours, theirs, check=False)
        if result.returncode == 1:
            return None
        if result.returncode != 0:
            raise GitFailed(f"git merge-tree: {result.stderr.strip()}")
        return result.stdout.split()[0]

    # --- merging ----------------------------------------------------------------------
    def merge(self, number: int, method: str, title: str | None = None, message: str | None = None,
              sha: str | None = None, by: str = "rollout-bot") -> str:
        """merge: a merge commit (--no-ff, parents base and head); squash: one commit on the
        base with the request's tree changes; rebase: the request's commits replayed on the
        base (new SHAs, messages and authors kept). `title`/`message` default to what the
        forge writes ("Merge pull request #N from owner/branch" + title; the squash of one
        commit: its message). Raises Unmergeable (closed/merged, draft, checks, reviews,
        conflict, `sha` not the head). Returns the new tip of the base branch."""
        if method not in MERGE_METHODS:
            raise Invalid(f"merge_method: {method!r} is not one of {', '.join(MERGE_METHODS)}")
        with self._lock:
            request, head = self._mergeable_now(number, sha)
            new = self._advance(request, method, lambda base: self._compose(request, method, base, head, title,
                                                                             message, by))
            request.merged_by = by
            return new

    def land(self, number: int, sha: str | None = None, by: str = "rollout-bot", squash: bool = False,
             squash_message: str | None = None, merge_message: str | None = None,
             project_method: str = "merge") -> str:
        """GitLab's merge: with `squash`, first one commit with the head's tree on the merge
        base (`squash_message`, default the request's title); then, by the project's merge
        method, "merge": a merge commit (`merge_message`, default GitLab's "Merge branch 'x'
        into 'y'" text); "rebase_merge": the same, but only when the base is an ancestor of the
        (squashed) head; "ff": the base fast-forwards to it, no new commit. Raises Unmergeable
        ("need rebase" when the base moved and the method wants it linear). Returns the new
        tip of the base branch; the request keeps merge_commit (None on a fast-forward) and
        squash_commit."""
        if project_method not in ("merge", "rebase_merge", "ff"):
            raise Invalid(f"merge_method: {project_method!r} is not merge, rebase_merge or ff")
        with self._lock:
            request, head = self._mergeable_now(number, sha)
            made: dict[str, str | None] = {}

            def compose(base: str) -> str:
                source = head
                made["squash"] = None
                if squash:
                    source = made["squash"] = self._squash_on_merge_base(request, base, head, squash_message, by)
                linear = self._git("merge-base", "--is-ancestor", base, source, check=False).returncode == 0
                if project_method != "merge" and not linear:
                    raise Unmergeable("need rebase")
                if project_method == "ff":
                    made["merge"] = None
                    return source
                tree = self._merge_tree(base, source)
                if tree is None:
                    raise Unmergeable("conflict")
                text = merge_message or (f"Merge branch '{request.branch}' into '{request.base}'\n\n{request.title}"
                                         f"\n\nSee merge request {self.owner}/{self.name}!{request.number}")
                made["merge"] = self._commit_tree(tree, [base, source], text, self._identity(by))
                return made["merge"]

            new = self._advance(request, "squash" if squash else "merge" if project_method != "ff" else "rebase",
                                compose)
            request.merge_commit, request.squash_commit, request.merged_by = made.get("merge"), made.get("squash"), by
            return new

    def _squash_on_merge_base(self, request: Request, base: str, head: str, message: str | None, by: str) -> str:
        """One commit with the head's tree on the merge base of `base` and `head` (GitLab's
        squash), authored as the request's last commit was."""
        start = self._git("merge-base", base, head).stdout.strip()
        env = self._identity(by)
        commits = self._commits(base, head)
        if commits:
            fmt = self._git("show", "-s", "--format=%an%n%ae%n%aI", commits[-1]).stdout.splitlines()
            env.update(GIT_AUTHOR_NAME=fmt[0], GIT_AUTHOR_EMAIL=fmt[1], GIT_AUTHOR_DATE=fmt[2])
        tree = self._git("rev-parse", f"{head}^{{tree}}").stdout.strip()
        return self._commit_tree(tree, [start], message or request.title, env)

    def rebase_source(self, number: int, by: str = "rollout-bot") -> str:
        """A forge-side rebase of the request's source branch onto its target (GitLab's
        "Rebase"): its commits replayed on the target's tip, the branch moved by update-ref.
        Raises Unmergeable ("closed", "conflict"). Returns the new head."""
        with self._lock:
            request = self.get(number)
            head = self.head(request)
            if request.state != "open" or head is None or self.ref(request.branch) is None:
                raise Unmergeable("closed")
            base = self.ref(request.base)
            if base is None:
                raise Invalid(f"base: no branch {request.base}")
            new = self._rebase(base, head)
            moved = self._git("update-ref", "-m", f"forge: rebase request #{number}", f"refs/heads/{request.branch}",
                              new, head, check=False)
            if moved.returncode != 0:
                raise Unmergeable("head moved")
            request.head_sha, request.updated = new, time.time()
            return new

    def _mergeable_now(self, number: int, sha: str | None) -> tuple[Request, str]:
        """The request and its head, if it may be merged now; else Unmergeable."""
        request = self.get(number)
        if request.state != "open":
            raise Unmergeable("closed")
        head = self.head(request)
        if head is None or self.ref(request.branch) is None:
            raise Unmergeable("closed")
        if sha is not None and sha != head:
            raise Unmergeable("head moved")
        if request.draft:
            raise Unmergeable("draft")
        if self.checks(request) != "passed":
            raise Unmergeable("checks")
        if len(request.approvals) < self.required_approvals:
            raise Unmergeable("reviews")
        return request, head

    def _advance(self, request: Request, method: str, compose) -> str:
        """Move the base to `compose(base)` with update-ref guarded by the old value (again
        when a push moved the base in between); record the request as merged."""
        for _ in range(5):
            base = self.ref(request.base)
            if base is None:
                raise Invalid(f"base: no branch {request.base}")
            new = compose(base)
            moved = self._git("update-ref", "-m", f"forge: {method} request #{request.number}",
                              f"refs/heads/{request.base}", new, base, check=False)
            if moved.returncode == 0:
                break
        else:
            raise Unmergeable("head moved")
        now = time.time()
        request.state, request.merged_at, request.closed_at, request.updated = "merged", now, now, now
        request.merge_commit, request.merge_method = new, method
        return new

    def _signing(self) -> list[str]:
        """git's options to sign with the forge's key (none without one)."""
        if self.signing_key is None:
            return []
        return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={Path(self.signing_key).resolve()}"]

    def _commit_tree(self, tree: str, parents: list[str], message: str, env: dict[str, str]) -> str:
        """A commit the forge makes, signed with its key when it has one."""
        signed = ["-S"] if self.signing_key else []
        parent_args = [arg for parent in parents for arg in ("-p", parent)]
        return self._git(*self._signing(), "commit-tree", *signed, tree, *parent_args, "-m", message,
                         env=env).stdout.strip()

    def _identity(self, by: str) -> dict[str, str]:
        name, email = self.committer
        return {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
                "GIT_AUTHOR_NAME": by, "GIT_AUTHOR_EMAIL": f"{by}@users.noreply.forge.invalid"}

    def _commits(self, base: str, head: str) -> list[str]:
        """The request's commits (not on the base), oldest first."""
        return self._git("rev-list", "--reverse", "--no-merges", f"{base}..{head}").stdout.split()

    def _compose(self, request: Request, method: str, base: str, head: str, title: str | None,
                 message: str | None, by: str) -> str:
        """The new tip of the base for `method`, written as objects only (no ref moves)."""
        if method == "rebase":
            return self._rebase(base, head)
        tree = self._merge_tree(base, head)
        if tree is None:
            raise Unmergeable("conflict")
        if method == "merge":
            text = _message(title or f"Merge pull request #{request.number} from {self.owner}/{request.branch}",
                            request.title if message is None else message)
            return self._commit_tree(tree, [base, head], text, self._identity(by))
        commits = self._commits(base, head)
        if title is None or message is None:
            default_title, default_message = self._squash_defaults(request, commits)
            title, message = title or default_title, default_message if message is None else message
        env = self._identity(by)
        if commits:  # the squash is authored as the request's commits were (GitHub: the PR author)
            fmt = self._git("show", "-s", "--format=%an%n%ae%n%aI", commits[-1]).stdout.splitlines()
            env.update(GIT_AUTHOR_NAME=fmt[0], GIT_AUTHOR_EMAIL=fmt[1], GIT_AUTHOR_DATE=fmt[2])
        return self._commit_tree(tree, [base], _message(title, message), env)

    def _squash_defaults(self, request: Request, commits: list[str]) -> tuple[str, str]:
        """GitHub's: one commit: its subject (#N) and its body; more: the request's title
        (#N) and each commit's message as a bullet."""
        if len(commits) == 1:
            subject, _, body = self._git("show", "-s", "--format=%B", commits[0]).stdout.strip().partition("\n")
            return f"{subject} (#{request.number})", body.strip()
        bullets = ["* " + self._git("show", "-s", "--format=%B", c).stdout.strip() for c in commits]
        return f"{request.title} (#{request.number})", "\n\n".join(bullets)

    def _rebase(self, base: str, head: str) -> str:
        """The request's commits replayed on `base` one by one (cherry-pick) in a scratch
        worktree: authors and messages kept, committed by the forge; a commit whose change
        the base already has is dropped. Raises Unmergeable("conflict")."""
        commits = self._commits(base, head)
        scratch = Path(tempfile.mkdtemp(prefix="rollout-forge-"))
        worktree = scratch / "tree"
        name, email = self.committer
        env = {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        try:
            self._git("worktree", "add", "--quiet", "--detach", str(worktree), base)
            for commit in commits:
                picked = self._git(*self._signing(), "cherry-pick", *(["-S"] if self.signing_key else []),
                                   "--allow-empty", "--keep-redundant-commits", commit, cwd=worktree, env=env,
                                   check=False)
                if picked.returncode != 0:
                    raise Unmergeable("conflict")
                trees = self._git("rev-parse", "HEAD^{tree}", "HEAD^^{tree}", cwd=worktree).stdout.split()
                if trees[0] == trees[1]:  # the base has this change already: drop it, as a rebase does
                    self._git("reset", "--quiet", "--hard", "HEAD^", cwd=worktree)
            return self._git("rev-parse", "HEAD", cwd=worktree).stdout.strip()
        finally:
            self._git("worktree", "remove", "--force", str(worktree), check=False)
            shutil.rmtree(scratch, ignore_errors=True)
            self._git("worktree", "prune", check=False)


def _message(title: str, body: str) -> str:
    return f"{title}\n\n{body}" if body.strip() else title


PROTECTED_LIST = "rollout-protected-branches"  # in the bare repository, one branch a line

PRE_RECEIVE = """#!/bin/sh
# Branch protection, as a forge has it (installed by rollout's forge simulator): no push
# may move a branch listed in rollout-protected-branches; merges of pull requests move
# it from inside the forge (git update-ref), which no hook sees.
list="$(git rev-parse --git-dir)/rollout-protected-branches"
status=0
while read -r old new ref; do
  branch="${ref#refs/heads/}"
  if [ "$branch" != "$ref" ] && grep -qxF -- "$branch" "$list" 2>/dev/null; then
    echo "error: GH006: Protected branch update failed for $ref." >&2
    echo "error: Changes must be made through a pull request (protected branch hook declined)." >&2
    status=1
  fi
done
exit $status
"""


def protect(bare: Path, branch: str) -> None:
    """Install a pre-receive hook in the bare repository that rejects every push to
    `refs/heads/<branch>` with a forge-like message ("protected branch hook declined")."""
    bare = Path(bare)
    listed = bare / PROTECTED_LIST
    branches = listed.read_text().split() if listed.exists() else []
    if branch not in branches:
        listed.write_text("".join(f"{b}\n" for b in [*branches, branch]))
    hook = bare / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(PRE_RECEIVE)
    hook.chmod(0o755)
