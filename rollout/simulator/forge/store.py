"""The simulated forge's state: pull (merge) requests, commit statuses, reviews, and
merges that do what a forge does. Shared by the GitHub and GitLab REST layers, which
only translate. In memory: the simulator is one process; the git side lives in the bare
repository.

A merge is a real git merge / squash / rebase, computed in a scratch worktree of the bare
repository, whose result is written into the bare repository with `git update-ref <ref>
<new> <old>` (atomic against pushes), never by pushing: a pre-receive hook that rejects
every push to the protected branch (protect()) models branch protection, and merges still
work, as on a forge.

SKELETON (lead): signatures are the contract between store.py, github.py and gitlab.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class Invalid(Exception):
    """The request is malformed or names what does not exist (422 / 404)."""


class Conflict(Exception):
    """An open request for this head branch exists already (GitHub 422, GitLab 409)."""


class Unmergeable(Exception):
    """The merge is refused: `reason` is one of "conflict", "checks", "reviews", "draft",
    "closed", "head moved" (GitHub 405/409, GitLab 405/406/409)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


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
    created: float = 0.0
    updated: float = 0.0
    merged_at: float | None = None
    closed_at: float | None = None
    merge_commit: str | None = None
    merge_method: str | None = None


@dataclass
class CommitStatus:
    sha: str
    context: str  # GitHub status context / check name, GitLab status name
    state: str  # success | pending | failure | error
    description: str = ""


@dataclass
class ForgeStore:
    bare: Path  # the bare repository the simulator follows
    owner: str  # GitHub owner / GitLab namespace
    name: str  # repository / project name
    default_branch: str = "main"
    required_checks: tuple[str, ...] = ()  # contexts that must be `success` on a request's head to merge
    required_approvals: int = 0

    # --- git ------------------------------------------------------------------------
    def ref(self, branch: str) -> str | None:
        """The commit `refs/heads/<branch>` names in the bare repository, or None."""
        raise NotImplementedError

    # --- requests ---------------------------------------------------------------------
    def open(self, branch: str, base: str, title: str, body: str, draft: bool = False,
             author: str = "rollout-bot") -> Request:
        """Raises Invalid when `branch` or `base` does not exist or they are equal, Conflict
        when an open request for `branch` exists."""
        raise NotImplementedError

    def get(self, number: int) -> Request:
        """Raises Invalid (404) for an unknown number."""
        raise NotImplementedError

    def requests(self, state: str = "open", branch: str | None = None, base: str | None = None) -> list[Request]:
        """state: open | merged | closed | all (GitHub's `closed` includes merged: the REST
        layer maps). Newest first."""
        raise NotImplementedError

    def edit(self, number: int, title: str | None = None, body: str | None = None, state: str | None = None,
             draft: bool | None = None) -> Request:
        """state "closed" closes without merge; "open" reopens (Conflict if another is open)."""
        raise NotImplementedError

    def add_labels(self, number: int, labels: list[str]) -> Request:
        raise NotImplementedError

    def request_reviewers(self, number: int, reviewers: list[str]) -> Request:
        raise NotImplementedError

    def approve(self, number: int, by: str) -> Request:
        raise NotImplementedError

    # --- checks -----------------------------------------------------------------------
    def set_status(self, sha: str, context: str, state: str, description: str = "") -> CommitStatus:
        raise NotImplementedError

    def statuses(self, sha: str) -> list[CommitStatus]:
        """The latest status per context on `sha`."""
        raise NotImplementedError

    def checks(self, request: Request) -> str:
        """passed | pending | failed, over `required_checks` on the request's head (a
        required context not reported yet is pending); passed when none are required."""
        raise NotImplementedError

    def mergeable(self, request: Request) -> bool | None:
        """False when merging its head into the base would conflict (git merge-tree);
        None never here (a real forge computes it lazily: clients must cope)."""
        raise NotImplementedError

    # --- merging ----------------------------------------------------------------------
    def merge(self, number: int, method: str, title: str | None = None, message: str | None = None,
              sha: str | None = None, by: str = "rollout-bot") -> str:
        """merge: a merge commit (--no-ff, parents base and head); squash: one commit on the
        base with the request's tree changes; rebase: the request's commits replayed on the
        base (new SHAs, messages and authors kept). `title`/`message` default to what the
        forge writes ("Merge pull request #N from owner/branch" + title; the squash of one
        commit: its message). Raises Unmergeable (closed/merged, draft, checks, reviews,
        conflict, `sha` not the head). Returns the new tip of the base branch."""
        raise NotImplementedError


def protect(bare: Path, branch: str) -> None:
    """Install a pre-receive hook in the bare repository that rejects every push to
    `refs/heads/<branch>` with a forge-like message ("protected branch hook declined")."""
    raise NotImplementedError
