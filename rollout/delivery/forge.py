"""What the pull-request delivery needs of a forge (GitHub, GitLab): one small
interface, one module per forge (github.py, gitlab.py), each a thin layer over the
forge's well-kept client library (PyGithub, python-gitlab). Every method is one API
call in the steady state, and none is ever made per cluster.

A forge module offers:

    connect(repo: Path, remote_url: str, provider_hint: str | None, token_env: str | None) -> Forge
        Finds the forge the way CI does: GITHUB_API_URL + GITHUB_REPOSITORY (GitLab:
        CI_API_V4_URL + CI_PROJECT_PATH), else from the remote URL. The token comes from
        GITHUB_TOKEN / GITLAB_TOKEN, or the variable `token_env` names; it is never printed.
        Raises ForgeSetupError (exit 2, before anything is written) when the token is
        missing, refused (401/403 that is not a rate limit), or the repository is unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from rollout.workspace import UsageError


class ForgeSetupError(UsageError):
    """An operator's set-up mistake (token missing or refused, repository unknown): one
    line, exit 2, nothing written."""


class ForgeError(Exception):
    """The forge refused or failed (after the retries for rate limits and 5xx): one line,
    no token in it; the rollout stops here and the next run starts over (exit 1)."""


class AlreadyExists(ForgeError):
    """An open pull request for this head branch exists already (a racing runner opened it)."""


class NotMergeable(ForgeError):
    """The forge refused the merge (head moved, conflict, checks, protection)."""


@dataclass(frozen=True)
class PullRequest:
    number: int  # GitHub's number, GitLab's iid
    url: str  # the web page people open
    state: str  # open | merged | closed (closed without merge)
    branch: str  # head (source) branch
    head: str  # head commit SHA
    base: str  # target branch
    title: str = ""
    merge_commit: str | None = None  # once merged: the commit on the target branch
    labels: tuple[str, ...] = ()
    draft: bool = False
    noun: str = "pull request"  # how its forge names it: "pull request #12", "merge request !12"
    sigil: str = "#"

    @property
    def tag(self) -> str:
        """#12, !12: how the forge's own messages link it."""
        return f"{self.sigil}{self.number}"

    @property
    def ref(self) -> str:
        return f"{self.noun} {self.tag}"


@dataclass(frozen=True)
class Readiness:
    """Whether a pull request may be merged now, as the forge reports it."""

    mergeable: bool | None  # None: the forge is still computing it (ask again next step)
    checks: str  # passed | pending | failed | none (no required checks reported)
    reason: str = ""  # one line for the log when not ready: "checks pending: ci/test", "conflict"

    @property
    def ready(self) -> bool:
        return self.mergeable is True and self.checks in ("passed", "none")


class Forge(Protocol):
    name: str  # "github" | "gitlab"
    repository: str  # owner/name or group/project, for messages

    def landing_problem(self, method: str) -> str | None:
        """Why merging with `method` here would hide when the change landed (the bake is
        timed by the commit that lands it), or None. Asked once, before anything is written."""

    def open_requests(self, prefix: str) -> list[PullRequest]:
        """Open pull requests whose head branch starts with `prefix` (one call per 100)."""

    def find(self, branch: str) -> PullRequest | None:
        """The pull request whose head is `branch`: the open one if any, else the newest
        merged or closed one; None if there never was one (one call)."""

    def open(self, branch: str, base: str, title: str, body: str, labels: tuple[str, ...] = (),
             reviewers: tuple[str, ...] = (), draft: bool = False) -> PullRequest:
        """Open a pull request from `branch` into `base`, then label it and request reviews.
        Raises AlreadyExists when the forge says an open one for `branch` exists."""

    def update(self, request: PullRequest, title: str, body: str) -> None:
        """Rewrite the title and body (after a rebuild on a moved base)."""

    def readiness(self, request: PullRequest) -> Readiness:
        """Mergeable? Required checks (commit statuses / check runs / pipelines) on its head green?"""

    def approvals(self, request: PullRequest) -> list[str]:
        """Who approves the request's current head (`request.head`), as forge identities
        (`github:LOGIN`, `gitlab:USERNAME`), in the order they approved (one call per 100).
        Under spec.trust an approval request merges only when one of them is an approver."""

    def merge(self, request: PullRequest, method: str, title: str, message: str) -> str:
        """Merge with `method` (merge | squash | rebase) as the forge does, only if the head
        is still `request.head`; `title` and `message` become the merge or squash commit's
        message (so the rollout's trailers survive). Returns the commit now on the base
        branch. Raises NotMergeable when the forge refuses."""


FORGES = {"github": "rollout.delivery.github", "gitlab": "rollout.delivery.gitlab"}
# What locates a forge and its token (a connection is reused while none of them changes).
_SHA = re.compile(r"[0-9a-f]{7,64}")
VARIABLES = ("GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_TOKEN", "CI_API_V4_URL", "CI_PROJECT_PATH", "GITLAB_TOKEN")


def parse_remote(url: str) -> tuple[str | None, str | None, str | None]:
    """(web root, host, path) of a git remote URL: https://host[:port]/a/b.git,
    git@host:a/b.git, ssh://git@host[:port]/a/b. The web root is scheme://host[:port] for
    an http(s) remote, https://host for an ssh one; the path has no .git. (None, None,
    None) for a local path or a file:// URL."""
    import re
    from urllib.parse import urlsplit

    scp = re.fullmatch(r"(?:[^@/]+@)?([^:/]+):(?!//)(.+)", url)  # git@github.com:o/r.git
    if scp and "://" not in url:
        host, path, root = scp.group(1).lower(), scp.group(2), f"https://{scp.group(1).lower()}"
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ssh", "git") or not parts.hostname:
            return None, None, None
        host, path = parts.hostname.lower(), parts.path
        port = f":{parts.port}" if parts.port and parts.scheme in ("http", "https") else ""
        root = f"{parts.scheme}://{host}{port}" if parts.scheme in ("http", "https") else f"https://{host}"
    return root, host, path.strip("/").removesuffix(".git")


@dataclass(frozen=True)
class WebLinks:
    """The web pages of a repository on its forge (the report page links commits and pull
    requests): https only, from the remote URL, never its credentials (parse_remote drops them)."""

    forge: str  # github | gitlab
    base: str  # https://host[:port]/owner/name

    def commit(self, sha: str) -> str | None:
        if not _SHA.fullmatch(sha or ""):
            return None
        return f"{self.base}/commit/{sha}" if self.forge == "github" else f"{self.base}/-/commit/{sha}"

    def request(self, number: int) -> str:
        return f"{self.base}/pull/{number}" if self.forge == "github" else f"{self.base}/-/merge_requests/{number}"

    def branch(self, name: str) -> str:
        from urllib.parse import quote

        return f"{self.base}/tree/{quote(name)}" if self.forge == "github" else f"{self.base}/-/tree/{quote(name)}"


def web_links(remote_url: str, provider: str | None = None) -> WebLinks | None:
    """Where a remote's commits are on the web, when it is on a forge we know: `provider`
    (spec.delivery.provider), else the host's name (github, gitlab). None for a local path,
    an unknown host or a plain-http remote."""
    from urllib.parse import quote

    root, host, path = parse_remote(remote_url or "")
    if root is None or not root.startswith("https://") or not path:
        return None
    forge = provider or next((name for name in FORGES if name in host), None)
    return WebLinks(forge, f"{root}/{quote(path)}") if forge in FORGES else None


def token_from(variable: str, forge: str, requests: str, repository: str) -> str:
    """The token in $variable, never printed; its absence is a set-up error (exit 2)."""
    import os

    token = os.environ.get(variable, "").strip()
    if not token:
        raise ForgeSetupError(f"{forge}: no token in ${variable} (one that may open and merge {requests} "
                              f"in {repository})")
    return token


def provider_of(hint: str | None, remote_url: str) -> str:
    """The forge: spec.delivery.provider, else the CI's variables, else the remote's host."""
    import os

    if hint:
        return hint
    if os.environ.get("GITHUB_API_URL") and os.environ.get("GITHUB_REPOSITORY"):
        return "github"
    if os.environ.get("CI_API_V4_URL") and os.environ.get("CI_PROJECT_PATH"):
        return "gitlab"
    host = remote_url.lower()
    for name in FORGES:
        if name in host:
            return name
    raise ForgeSetupError("pull-request delivery: cannot tell the forge from the remote URL or the CI variables: "
                          "set spec.delivery.provider (github or gitlab)")


def connect(repo, remote_url: str, hint: str | None, token_env: str | None) -> Forge:
    import importlib

    provider = provider_of(hint, remote_url)
    return importlib.import_module(FORGES[provider]).connect(repo, remote_url, provider, token_env)
