"""GitLab merge requests over python-gitlab (docs/delivery.md, "Choosing the GitLab client").

One API call per method in the steady state: objects are fetched lazily (`lazy=True`: a
merge request's merge or update goes straight to its URL), lists ask for 100 a page, and
readiness() reads the merge request once (detailed_merge_status, head_pipeline) and the
head's commit statuses only when GitLab says the pipeline is what it waits for, to name
the check.

Rate limits are waited out inside python-gitlab's own retry (`obey_rate_limit`, on by
default): a 429 sleeps for its Retry-After (else until RateLimit-Reset), at most RETRIES
times a request (python-gitlab's default is 10); a wait longer than MAX_WAIT s stops the
step with one line instead (the next run goes on). 5xx and dropped connections are
retried too (`retry_transient_errors`). The token never appears in a message: errors
quote GitLab's `message` (or `error`) and the status, nothing else.

Merge methods, as GitLab has them (its project decides; a request can only ask to squash):
    merge   PUT merge with squash=false: a merge commit whose message is title + blank line
            + message (on a fast-forward project: the target moves to the head, no commit)
    squash  PUT merge with squash=true: a squash commit with that message on the merge base,
            then (a merge-commit project) a merge commit with the same message
    rebase  the commits land as they are: needs the project's merge method "Fast-forward
            merge" (ff). PUT merge fast-forwards the target to the head; when GitLab says
            the source must be rebased first (need_rebase), PUT rebase (GitLab replays the
            commits on the target: new SHAs, messages kept) and, once done, merge the new
            head; a required pipeline on the rebased head makes that wait for the next run.
The pull-request delivery refuses every fast-forward (rebase, and merge on an ff project)
before it writes anything (landing_problem): the landed commit would carry the time it was
proposed, not merged, and the bake is timed by it. The forge can still do them.
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
RETRIES = 5  # per request: rate limits and transient errors (python-gitlab's max_retries)
TIMEOUT = 30  # seconds per request
REBASE_WAIT = 30.0  # seconds a GitLab rebase may take before the step leaves it to the next run
PUBLIC = "https://gitlab.com"
DRAFT = re.compile(r"^\s*(\[draft\]|\(draft\)|draft:|draft\s+-|draft\s)\s*", re.IGNORECASE)
COMPUTING = ("checking", "unchecked", "preparing", "approvals_syncing", "cannot_be_merged_recheck",
             "cannot_be_merged_rechecking")


def connect(repo: Path, remote_url: str, provider_hint: str | None, token_env: str | None) -> "GitLabForge":
    """The GitLab project the rollout delivers to, checked with one call (GET the project).
    CI_API_V4_URL + CI_PROJECT_PATH (GitLab CI sets both) win over the remote URL."""
    url, path = locate(remote_url)
    variable = token_env or "GITLAB_TOKEN"
    token = token_from(variable, "GitLab", "merge requests", path)
    forge = GitLabForge(_client(url, token), path, url, variable)
    forge.check()
    return forge


def locate(remote_url: str) -> tuple[str, str]:
    """(instance URL, group/project): from CI_API_V4_URL / CI_PROJECT_PATH, else the remote
    URL (https://gitlab.example.com/group/sub/project.git, git@host:group/project.git,
    ssh://git@host:2222/group/project). The instance URL is what python-gitlab takes: the
    API's without /api/v4."""
    env_api = os.environ.get("CI_API_V4_URL", "").strip().rstrip("/")
    env_path = os.environ.get("CI_PROJECT_PATH", "").strip().strip("/")
    root, _host, path = parse_remote(remote_url or "")
    if env_api.endswith("/api/v4"):
        env_api = env_api[: -len("/api/v4")]
    if env_path:
        if not _is_project(env_path):
            raise ForgeSetupError(f"GitLab: CI_PROJECT_PATH={env_path!r} is not group/project")
        return env_api or root or PUBLIC, env_path
    if root and path and _is_project(path):
        return env_api or root, path
    raise ForgeSetupError("GitLab: cannot tell the project: set CI_PROJECT_PATH=group/project (and CI_API_V4_URL "
                          "for a self-managed GitLab), or use a GitLab remote URL")


def _is_project(path: str) -> bool:
    return re.fullmatch(r"[\w.-]+(/[\w.-]+)+", path) is not None


class RateLimited(Exception):
    """A 429 whose wait is longer than a step waits."""

    def __init__(self, wait: float):
        super().__init__(f"rate limited for {wait:.0f} s")
        self.wait = wait


def _retry_after(headers) -> float | None:
    """The wait a 429 asks for, as python-gitlab reads it: Retry-After, else RateLimit-Reset."""
    try:
        if "Retry-After" in headers:
            return float(headers["Retry-After"])
        if "RateLimit-Reset" in headers:
            return max(0.0, float(headers["RateLimit-Reset"]) - time.time())
    except ValueError:
        return None
    return None


def _cap_wait(response, *args, **kwargs):
    """A requests response hook: a 429 asking for more than MAX_WAIT s stops the request
    here (python-gitlab would sleep that long); shorter waits go on to its retry."""
    if response.status_code == 429:
        wait = _retry_after(response.headers)
        if wait is not None and wait > MAX_WAIT:
            raise RateLimited(wait)
    return response


def _client(url: str, token: str):
    import gitlab
    import requests

    class Client(gitlab.Gitlab):
        """python-gitlab with fewer retries a request than its default 10."""

        def http_request(self, *args, max_retries: int = RETRIES, **kwargs):
            return super().http_request(*args, max_retries=max_retries, **kwargs)

    session = requests.Session()
    session.hooks["response"].append(_cap_wait)
    return Client(url, private_token=token, retry_transient_errors=True, timeout=TIMEOUT, per_page=100,
                  session=session)


class GitLabForge:
    name = "gitlab"

    def __init__(self, client, repository: str, url: str, token_variable: str):
        self.repository = repository
        self._gl = client
        self._url = url
        self._variable = token_variable
        self._project = client.projects.get(repository, lazy=True)  # no call yet
        self._merge_method = "merge"

    # --- errors -----------------------------------------------------------------------
    @contextmanager
    def _calling(self, what: str, setup: bool = False):
        """GitLab's refusals and the network's failures as one line each, no token in it."""
        from gitlab.exceptions import GitlabError
        from requests.exceptions import RequestException

        try:
            yield
        except RateLimited as err:
            raise ForgeError(f"GitLab: {what}: rate limited (it resets in {int(err.wait)} s, longer than the "
                             f"{int(MAX_WAIT)} s a step waits); the next run goes on") from None
        except GitlabError as err:
            code, message = err.response_code, _message(err)
            if code == 429:
                raise ForgeError(f"GitLab: {what}: rate limited ({RETRIES} waits were not enough); the next run "
                                 "goes on") from None
            if setup and code == 401:
                raise ForgeSetupError(f"GitLab refused the token in ${self._variable} ({message})") from None
            if setup and code == 404:
                raise ForgeSetupError(f"GitLab: no project {self.repository} at {self._url}, or the token in "
                                      f"${self._variable} may not see it") from None
            if setup and code == 403:
                raise ForgeSetupError(f"GitLab: the token in ${self._variable} may not read {self.repository} "
                                      f"({message})") from None
            raise ForgeError(f"GitLab: {what}: {message}") from None
        except RequestException as err:
            raise ForgeError(f"GitLab: {what}: cannot reach {self._url} ({type(err).__name__})") from None

    def check(self) -> None:
        """One call: the project exists and the token may see it (and its merge method)."""
        with self._calling(f"read {self.repository}", setup=True):
            self._project = self._gl.projects.get(self.repository)
            self._merge_method = getattr(self._project, "merge_method", None) or "merge"

    def landing_problem(self, method: str) -> str | None:
        """A fast-forward lands the wave's own commit, dated when it was proposed: the bake
        would count the time the merge request waited (git keeps no merge time for it)."""
        if method == "squash":  # a squash commit made at merge time, fast-forwarded or merged
            return None
        if method == "rebase" or self._merge_method == "ff":
            how = ("mergeMethod rebase fast-forwards" if method == "rebase" else
                   f"{self.repository} merges by fast-forward, which")
            return (f"GitLab: {how} the branch to the wave's own commit, dated when it was proposed, so the "
                    "bake would count the time the merge request waited: use mergeMethod squash (a commit made "
                    "at merge time)" + ("" if method == "rebase" else ", or merge commits in the project's settings"))
        return None

    # --- the Forge protocol -----------------------------------------------------------
    def open_requests(self, prefix: str) -> list[PullRequest]:
        with self._calling("list merge requests"):
            listed = self._project.mergerequests.list(state="opened", order_by="created_at", sort="asc",
                                                      per_page=100, iterator=True)
            # from the project's own branches, not a fork's of the same name
            return [_request(mr) for mr in listed if mr.source_branch.startswith(prefix)
                    and mr.source_project_id == mr.target_project_id]

    def find(self, branch: str) -> PullRequest | None:
        with self._calling(f"look up the merge request of {branch}"):
            page = self._project.mergerequests.list(state="all", source_branch=branch, order_by="created_at",
                                                    sort="desc", per_page=20, get_all=False)
            found = [_request(mr) for mr in page if mr.source_branch == branch
                     and mr.source_project_id == mr.target_project_id]
        return next((r for r in found if r.state == "open"), found[0] if found else None)

    def open(self, branch: str, base: str, title: str, body: str, labels: tuple[str, ...] = (),
             reviewers: tuple[str, ...] = (), draft: bool = False) -> PullRequest:
        from gitlab.exceptions import GitlabError

        with self._calling(f"open a merge request for {branch}"):
            data: dict = {"source_branch": branch, "target_branch": base, "title": _drafted(title, draft),
                          "description": body}
            if labels:
                data["labels"] = list(labels)
            if reviewers:
                data["reviewer_ids"] = [self._user_id(name) for name in reviewers]
            try:
                mr = self._project.mergerequests.create(data)
            except GitlabError as err:
                if err.response_code == 409 and "already exists" in _message(err):
                    raise AlreadyExists(f"GitLab: a merge request for {branch} is open already") from None
                raise
        return _request(mr)

    def _user_id(self, username: str) -> int:
        """A reviewer's id (GitLab asks for ids): one lookup a name."""
        users = self._gl.users.list(username=username, get_all=False)
        if not users:
            raise ForgeError(f"GitLab: no user {username} to ask for a review (spec.delivery.reviewers)")
        return users[0].id

    def update(self, request: PullRequest, title: str, body: str) -> None:
        with self._calling(f"update merge request !{request.number}"):
            self._project.mergerequests.update(request.number, {"title": _drafted(title, request.draft),
                                                                "description": body})

    def readiness(self, request: PullRequest) -> Readiness:
        with self._calling(f"read merge request !{request.number}"):
            mr = self._project.mergerequests.get(request.number)
            if mr.state in ("merged", "closed"):
                return Readiness(False, "none", mr.state)
            status = _detailed_status(mr)
            if status in COMPUTING:
                return Readiness(None, "pending", "GitLab is still checking whether it can merge")
            if status == "draft_status" or (status != "mergeable" and _is_draft(mr)):
                return Readiness(False, "none", "draft")
            if status == "conflict":
                return Readiness(False, "none", "conflict")
            if status == "need_rebase":
                return Readiness(False, "passed", "behind its target branch (the project merges fast-forward: "
                                                  "rebase first)")
            if status in ("ci_must_pass", "ci_still_running"):
                return self._pipeline(mr)
            if status == "not_approved":
                return Readiness(True, "pending", "approvals missing")
            if status == "mergeable":
                pipeline = getattr(mr, "head_pipeline", None) or {}
                if pipeline.get("status") == "failed":
                    return Readiness(True, "passed", "a pipeline that is not required failed")
                return Readiness(True, "passed")
            if status == "not_open":
                return Readiness(False, "none", "closed")
            return Readiness(False, "none", f"GitLab blocks the merge ({status})")

    def _pipeline(self, mr) -> Readiness:
        """Why GitLab waits for the pipeline: the failed or pending commit statuses on the
        head (one call), else the head pipeline's own status."""
        statuses = self._project.commits.get(mr.sha, lazy=True).statuses.list(per_page=100, get_all=False)
        failed = sorted({s.name for s in statuses if s.status in ("failed", "canceled")})
        pending = sorted({s.name for s in statuses
                          if s.status not in ("success", "failed", "canceled", "skipped", "manual")})
        if failed:
            return Readiness(True, "failed", f"checks failed: {', '.join(failed)}")
        if pending:
            return Readiness(True, "pending", f"checks pending: {', '.join(pending)}")
        pipeline = getattr(mr, "head_pipeline", None) or {}
        if pipeline.get("status") in ("failed", "canceled"):
            return Readiness(True, "failed", f"the pipeline {pipeline['status']}")
        return Readiness(True, "pending", "the pipeline must succeed first (a required check not reported yet)")

    def approvals(self, request: PullRequest) -> list[str]:
        """The merge request's approvals (GET .../merge_requests/:iid/approvals, one call):
        `approved_by[].user.username`. GitLab keeps no commit per approval: that they are of
        the current head is the project's "remove all approvals when commits are added to the
        source branch" (GitLab's default), which the rollout's rebuilds (a push) rely on."""
        with self._calling(f"read the approvals of merge request !{request.number}"):
            state = self._project.mergerequests.get(request.number, lazy=True).approvals.get()
        users = [entry.get("user") or {} for entry in getattr(state, "approved_by", None) or []]
        return [f"gitlab:{user['username']}" for user in users if user.get("username")]

    def merge(self, request: PullRequest, method: str, title: str, message: str) -> str:
        from gitlab.exceptions import GitlabError

        text = f"{title}\n\n{message.strip()}" if message.strip() else title
        if method == "rebase" and self._merge_method != "ff":
            raise NotMergeable(f"GitLab merges {self.repository} with merge commits (merge method "
                               f"{self._merge_method}): mergeMethod rebase needs the project's merge method "
                               "'Fast-forward merge'")
        data = {"sha": request.head, "squash": method == "squash"}
        if method == "merge":
            data["merge_commit_message"] = text
        elif method == "squash":
            data.update(squash_commit_message=text, merge_commit_message=text)
        with self._calling(f"merge merge request !{request.number}"):
            try:
                return self._merge(request.number, data)
            except GitlabError as err:
                if err.response_code not in (405, 406, 409, 422):
                    raise
                code, refusal = err.response_code, _message(err)
            current = self._project.mergerequests.get(request.number)
            status = _detailed_status(current)
            if method == "rebase" and status == "need_rebase" and current.sha == request.head:
                return self._rebase_and_merge(request, data)
            why = "" if code == 409 else f" ({status})"
            raise NotMergeable(f"GitLab refused to merge !{request.number}: {refusal}{why}")

    def _merge(self, iid: int, data: dict) -> str:
        """PUT merge; the commit now on the target: the merge commit, else (fast-forward) the
        squash commit or the head."""
        merged = self._gl.http_put(f"{self._project.mergerequests.path}/{iid}/merge", post_data=data)
        return merged.get("merge_commit_sha") or merged.get("squash_commit_sha") or merged["sha"]

    def _rebase_and_merge(self, request: PullRequest, data: dict) -> str:
        """GitLab's rebase (asynchronous: polled until done), then the merge of the new head."""
        from gitlab.exceptions import GitlabError

        path = f"{self._project.mergerequests.path}/{request.number}"
        self._gl.http_put(f"{path}/rebase")
        deadline = time.monotonic() + REBASE_WAIT
        while True:
            mr = self._project.mergerequests.get(request.number, include_rebase_in_progress=True)
            if not getattr(mr, "rebase_in_progress", False):
                break
            if time.monotonic() > deadline:
                raise NotMergeable(f"GitLab is still rebasing !{request.number}; the next run merges it")
            time.sleep(0.5)
        if getattr(mr, "merge_error", None):
            raise NotMergeable(f"GitLab could not rebase !{request.number}: {' '.join(str(mr.merge_error).split())}")
        try:
            return self._merge(request.number, {**data, "sha": mr.sha})
        except GitlabError as err:
            if err.response_code not in (405, 406, 409, 422):
                raise
            raise NotMergeable(f"GitLab rebased !{request.number} onto {mr.target_branch} ({mr.sha[:12]}); it merges "
                               f"once GitLab lets it ({_message(err)}, {_detailed_status(mr)})") from None


def _drafted(title: str, draft: bool) -> str:
    """GitLab marks a draft by its title."""
    return f"Draft: {title}" if draft and not DRAFT.match(title) else title


def _is_draft(mr) -> bool:
    return bool(getattr(mr, "draft", False) or getattr(mr, "work_in_progress", False))


def _detailed_status(mr) -> str:
    """detailed_merge_status (GitLab 15.6+), else the older merge_status."""
    status = getattr(mr, "detailed_merge_status", None)
    if status:
        return status
    old = getattr(mr, "merge_status", "unchecked")
    return {"can_be_merged": "mergeable", "cannot_be_merged": "conflict"}.get(old, old)


def _request(mr) -> PullRequest:
    """From the fields a listed merge request has (reading one it lacks would cost a call)."""
    state = {"opened": "open", "locked": "open", "merged": "merged"}.get(mr.state, "closed")
    draft = _is_draft(mr)
    title = mr.title or ""
    if draft:
        title = DRAFT.sub("", title, count=1)
    merged = state == "merged"
    labels = tuple(label["name"] if isinstance(label, dict) else str(label) for label in mr.labels or ())
    return PullRequest(noun="merge request", sigil="!", number=mr.iid, url=mr.web_url, state=state, branch=mr.source_branch, head=mr.sha,
                       base=mr.target_branch, title=title,
                       merge_commit=(mr.merge_commit_sha or getattr(mr, "squash_commit_sha", None) or mr.sha)
                       if merged else None,
                       labels=labels, draft=draft)


def _message(err) -> str:
    """GitLab's `message` (a string, a list, or field -> messages), one line, with the status."""
    text = err.error_message
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if isinstance(text, list):
        text = "; ".join(map(str, text))
    elif isinstance(text, dict):
        text = "; ".join(f"{k} {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in text.items())
    text = " ".join(str(text or "no message").split())[:300]
    code = err.response_code
    return text if code is None or text.startswith(str(code)) else f"{code} {text}"
