"""GitHub pull requests over PyGithub (docs/delivery.md, "Choosing the GitHub client").

One API call per method in the steady state: PyGithub runs lazily (an object is only
fetched when a field it lacks is read), lists ask for 100 a page, and readiness() reads
the pull once (mergeable, mergeable_state) and the commit's statuses only when GitHub
says "blocked", to name the check it waits for.

Rate limits are waited out inside PyGithub's retry (urllib3): a 429, or a 403 secondary
limit, with Retry-After sleeps that long (at most MAX_WAIT s a time); a primary limit
(X-RateLimit-Remaining 0) sleeps until X-RateLimit-Reset when that is at most MAX_WAIT s
away, else the step stops with one line (the next run goes on). The token never appears
in a message: errors quote GitHub's `message` field and the status, nothing else.
"""

from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager
from pathlib import Path

from rollout.delivery.forge import (AlreadyExists, ForgeError, ForgeSetupError, NotMergeable, PullRequest, Readiness,
                                   parse_remote, token_from)

MAX_WAIT = 60.0  # seconds one rate-limit wait may last; longer and the step stops (the next run resumes)
RETRIES = 5  # per request: rate limits and 5xx
TIMEOUT = 30  # seconds per request
PUBLIC_API = "https://api.github.com"


def connect(repo: Path, remote_url: str, provider_hint: str | None, token_env: str | None) -> "GitHubForge":
    """The GitHub repository the rollout delivers to, checked with one call (GET the repo).
    GITHUB_API_URL + GITHUB_REPOSITORY (GitHub Actions sets both) win over the remote URL."""
    api, repository = locate(remote_url)
    variable = token_env or "GITHUB_TOKEN"
    token = token_from(variable, "GitHub", "pull requests", repository)
    from github import Auth, Github

    # No spacing between requests (PyGithub's default: 0.25 s, and 1 s between writes): a
    # step makes a handful, far below the ~80 writes a minute that trip a secondary limit,
    # and a limit that trips anyway is waited out by the retry.
    client = Github(base_url=api, auth=Auth.Token(token), retry=_retry(), timeout=TIMEOUT, per_page=100, lazy=True,
                    seconds_between_requests=None, seconds_between_writes=None)
    forge = GitHubForge(client, repository, api, variable)
    forge.check()
    return forge


def locate(remote_url: str) -> tuple[str, str]:
    """(API URL, owner/name): from GITHUB_API_URL / GITHUB_REPOSITORY, else the remote URL
    (https://github.com/o/r.git, git@github.com:o/r.git, ssh://git@host/o/r; a GitHub
    Enterprise host's API is https://host/api/v3)."""
    env_api = os.environ.get("GITHUB_API_URL", "").strip().rstrip("/")
    env_repo = os.environ.get("GITHUB_REPOSITORY", "").strip().strip("/")
    _root, host, path = parse_remote(remote_url or "")
    if env_repo:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", env_repo):
            raise ForgeSetupError(f"GitHub: GITHUB_REPOSITORY={env_repo!r} is not owner/name")
        return env_api or _api_of(host), env_repo
    if host and path and re.fullmatch(r"[\w.-]+/[\w.-]+", path):
        return env_api or _api_of(host), path
    raise ForgeSetupError("GitHub: cannot tell the repository: set GITHUB_REPOSITORY=owner/name (and GITHUB_API_URL "
                          "for GitHub Enterprise), or use a GitHub remote URL")


def _api_of(host: str | None) -> str:
    if host in (None, "github.com", "www.github.com", "ssh.github.com"):
        return PUBLIC_API
    return f"https://{host}/api/v3"


def _retry():
    """PyGithub's retry (403 rate limits, 5xx) plus 429, PATCH, and a cap on each wait."""
    from github import GithubRetry

    class Retry(GithubRetry):
        def get_retry_after(self, response):
            after = super().get_retry_after(response)
            return None if after is None else min(after, MAX_WAIT)

    return Retry(total=RETRIES, backoff_factor=1.0, secondary_rate_wait=MAX_WAIT, max_rate_limit_wait=MAX_WAIT,
                 status_forcelist=[*range(500, 600), 429],
                 allowed_methods=frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}))


class GitHubForge:
    name = "github"

    def __init__(self, client, repository: str, api: str, token_variable: str):
        self.repository = repository
        self._client = client
        self._api = api
        self._variable = token_variable
        self._owner = repository.split("/")[0]
        self._repo = client.get_repo(repository)  # lazy: no call yet

    # --- errors -----------------------------------------------------------------------
    @contextmanager
    def _calling(self, what: str, setup: bool = False):
        """GitHub's refusals and the network's failures as one line each, no token in it."""
        from github import GithubException, RateLimitExceededException
        from requests.exceptions import RequestException

        self._wait_for_budget()
        try:
            yield
        except RateLimitExceededException as err:
            wait = getattr(err, "wait", None)
            later = f" (it resets in {int(wait)} s, longer than the {int(MAX_WAIT)} s a step waits)" if wait else ""
            raise ForgeError(f"GitHub: {what}: rate limited{later}; the next run goes on") from None
        except GithubException as err:
            message = _message(err)
            if setup and err.status == 401:
                raise ForgeSetupError(f"GitHub refused the token in ${self._variable} ({err.status} {message})") from None
            if setup and err.status == 404:
                raise ForgeSetupError(f"GitHub: no repository {self.repository} at {self._api}, or the token in "
                                      f"${self._variable} may not see it") from None
            if setup and err.status == 403:
                raise ForgeSetupError(f"GitHub: the token in ${self._variable} may not read {self.repository} "
                                      f"({err.status} {message})") from None
            raise ForgeError(f"GitHub: {what}: {err.status} {message}") from None
        except RequestException as err:
            raise ForgeError(f"GitHub: {what}: cannot reach {self._api} ({type(err).__name__})") from None

    def _wait_for_budget(self) -> None:
        """The last answer said no requests are left: wait for the reset (at most MAX_WAIT;
        beyond that the request goes and the retry reports the limit)."""
        remaining, _limit = self._client.requester.rate_limiting
        if remaining == 0:
            delay = self._client.requester.rate_limiting_resettime + 1 - time.time()
            if 0 < delay <= MAX_WAIT:
                time.sleep(delay)

    def check(self) -> None:
        """One call: the repository exists and the token may see it."""
        with self._calling(f"read {self.repository}", setup=True):
            self._repo.complete()

    def landing_problem(self, method: str) -> str | None:
        """Every GitHub merge method lands a commit made at merge time (a merge commit, a
        squash, a rebased copy): the bake is timed from the merge."""
        return None

    # --- the Forge protocol -----------------------------------------------------------
    def open_requests(self, prefix: str) -> list[PullRequest]:
        with self._calling("list pull requests"):
            pulls = self._repo.get_pulls(state="open", sort="created", direction="asc")
            return [_pull(p) for p in pulls if p.head.ref.startswith(prefix) and self._own(p)]

    def _own(self, pull) -> bool:
        """Opened from this repository's own branch, not a fork's of the same name (whose
        commits are not the rollout's)."""
        repo = pull.head.repo
        return repo is not None and repo.full_name.lower() == self.repository.lower()

    def find(self, branch: str) -> PullRequest | None:
        with self._calling(f"look up the pull request of {branch}"):
            page = self._repo.get_pulls(state="all", head=f"{self._owner}:{branch}", sort="created",
                                        direction="desc").get_page(0)
            pulls = [_pull(p) for p in page if p.head.ref == branch and self._own(p)]
        return next((p for p in pulls if p.state == "open"), pulls[0] if pulls else None)

    def open(self, branch: str, base: str, title: str, body: str, labels: tuple[str, ...] = (),
             reviewers: tuple[str, ...] = (), draft: bool = False) -> PullRequest:
        from github import GithubException

        with self._calling(f"open a pull request for {branch}"):
            try:
                pull = self._repo.create_pull(base=base, head=branch, title=title, body=body, draft=draft)
            except GithubException as err:
                if err.status == 422 and "already exists" in _message(err, detail=True):
                    raise AlreadyExists(f"GitHub: a pull request for {branch} is open already") from None
                raise
            if labels:
                pull.add_to_labels(*labels)
            if reviewers:
                pull.create_review_request(reviewers=list(reviewers))
        opened = _pull(pull)
        return PullRequest(**{**opened.__dict__, "labels": tuple(dict.fromkeys((*opened.labels, *labels)))})

    def update(self, request: PullRequest, title: str, body: str) -> None:
        with self._calling(f"update pull request #{request.number}"):
            self._repo.get_pull(request.number).edit(title=title, body=body)

    def readiness(self, request: PullRequest) -> Readiness:
        with self._calling(f"read pull request #{request.number}"):
            pull = self._repo.get_pull(request.number)
            mergeable, state = pull.mergeable, pull.mergeable_state
            if pull.merged_at is not None or pull.state != "open":
                return Readiness(False, "none", "merged" if pull.merged_at else "closed")
            if mergeable is None or state == "unknown":
                return Readiness(None, "pending", "GitHub is still computing whether it can merge")
            if state == "draft":
                return Readiness(False, "none", "draft")
            if state == "dirty" or not mergeable:
                return Readiness(False, "none", "conflict")
            if state == "behind":
                return Readiness(False, "passed", "behind its base (the branch must be up to date)")
            if state == "blocked":
                return self._blocked(pull.head.sha)
            if state == "unstable":
                return Readiness(True, "passed", "a check that is not required failed")
            return Readiness(True, "passed")

    def _blocked(self, sha: str) -> Readiness:
        """Why GitHub blocks the merge: a failed or pending commit status (one call), else
        a check run (one more), else what protection wants that no status shows."""
        commit = self._repo.get_commit(sha)
        statuses = commit.get_combined_status().statuses
        failed = [s.context for s in statuses if s.state in ("failure", "error")]
        pending = [s.context for s in statuses if s.state == "pending"]
        if not failed and not pending:
            runs = list(commit.get_check_runs())
            failed = [r.name for r in runs if r.conclusion in ("failure", "timed_out", "cancelled", "action_required")]
            pending = [r.name for r in runs if r.status != "completed"]
        if failed:
            return Readiness(True, "failed", f"checks failed: {', '.join(sorted(failed))}")
        if pending:
            return Readiness(True, "pending", f"checks pending: {', '.join(sorted(pending))}")
        return Readiness(True, "pending", "blocked by branch protection (a required check not reported yet, "
                                          "or an approving review missing)")

    def approvals(self, request: PullRequest) -> list[str]:
        """The reviews (GET .../pulls/N/reviews, chronological; one call per 100): each user's
        latest review that is not a comment, when it is APPROVED and on the request's head
        (`commit_id`): GitHub itself counts only those once "dismiss stale approvals" is on."""
        with self._calling(f"read the reviews of pull request #{request.number}"):
            latest: dict[str, tuple[str, str | None]] = {}
            for review in self._repo.get_pull(request.number).get_reviews():
                user = review.user.login if review.user is not None else None
                if user is None or review.state in ("COMMENTED", "PENDING"):
                    continue
                latest.pop(user, None)  # the newest decides, and sets the order
                latest[user] = (review.state, review.commit_id)
        return [f"github:{user}" for user, (state, commit) in latest.items()
                if state == "APPROVED" and commit == request.head]

    def merge(self, request: PullRequest, method: str, title: str, message: str) -> str:
        from github import GithubException

        with self._calling(f"merge pull request #{request.number}"):
            try:
                status = self._repo.get_pull(request.number).merge(
                    commit_title=title, commit_message=message, merge_method=method, sha=request.head)
            except GithubException as err:
                if err.status in (405, 409, 422):
                    raise NotMergeable(f"GitHub refused to merge #{request.number}: {_message(err)}") from None
                raise
            return status.sha


def _pull(pull) -> PullRequest:
    """From the fields a listed pull has (reading one it lacks would cost a call)."""
    merged = pull.merged_at is not None
    return PullRequest(number=pull.number, url=pull.html_url,
                       state="merged" if merged else "open" if pull.state == "open" else "closed",
                       branch=pull.head.ref, head=pull.head.sha, base=pull.base.ref, title=pull.title or "",
                       merge_commit=pull.merge_commit_sha if merged else None,
                       labels=tuple(label.name for label in pull.labels), draft=bool(pull.draft))


def _message(err, detail: bool = False) -> str:
    """GitHub's `message` (and with `detail` its errors' messages), one line."""
    data = err.data if isinstance(err.data, dict) else {}
    text = str(data.get("message") or "no message")
    if detail:
        details = [e.get("message", "") if isinstance(e, dict) else str(e) for e in data.get("errors") or []]
        text = " ".join([text, *details])
    return " ".join(text.split())[:300]
