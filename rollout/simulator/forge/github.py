"""The GitHub REST subset PyGithub calls, over the forge store: repository, pulls (list,
create, get, edit, merge), labels, review requests and reviews, commit statuses and the
combined status, check runs (none), git refs. Mounted under a prefix (`/github`), the way
GitHub Enterprise serves its API under `/api/v3`, so `Github(base_url=<url>/github)` works.

As GitHub does: `Authorization: token|Bearer <t>` or 401 "Bad credentials"; every answer
carries X-RateLimit-Limit / -Remaining / -Reset / -Used; an exhausted primary limit is a
403 "API rate limit exceeded ..." until the reset. The test knob (not GitHub's)
`POST <prefix>/_sim/rate-limit` forces the next answers to be rate limits:

    {"count": N, "status": 429 | 403, "retryAfter": S}   the next N API requests: 429, or
                                                          403 with the secondary-limit message,
                                                          each with `Retry-After: S` (with
                                                          "after": K, the N after the next K)
    {"remaining": R, "reset": S}                          the primary budget: R requests left,
                                                          renewed in S seconds
    {"mergeableUnknown": N}                               the next N GETs of a pull report
                                                          mergeable null (GitHub computes it lazily)

Its answer (and `GET <prefix>/_sim/rate-limit`) counts the API requests served so far.

The token `rollout-simulator` is the user `rollout-bot`; `rollout-simulator/<login>` is
`<login>` (a second person, to approve or merge by hand).
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import datetime, timezone
from typing import Any, Callable

from rollout.simulator.forge.rest import Budget, Call, login_of, page_of
from rollout.simulator.forge.store import Conflict, ForgeStore, GitFailed, Invalid, Request, Review, Unmergeable
from rollout.simulator.server import TOKEN

COMMITTER = ("GitHub", "noreply@github.com")  # who GitHub's merges are committed by
BOT = "rollout-bot"  # the user TOKEN authenticates as
DOCS = "https://docs.github.com/rest"
SECONDARY = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
LIMIT = 5000


def environment(base_url: str, store: ForgeStore) -> dict[str, str]:
    """What GitHub Actions would set, for the `ready` line; `base_url` is where
    add_routes mounted the API."""
    return {"GITHUB_API_URL": base_url, "GITHUB_REPOSITORY": f"{store.owner}/{store.name}", "GITHUB_TOKEN": TOKEN}


class Answer(Exception):
    """An HTTP answer other than success, raised from inside a handler."""

    def __init__(self, status: int, message: str, errors: list | None = None, headers: dict | None = None):
        super().__init__(message)
        body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
        if errors is not None:
            body["errors"] = errors
        self.status, self.body, self.headers = status, body, headers or {}


def not_found() -> Answer:
    return Answer(404, "Not Found")


class Limits(Budget):
    """GitHub's primary budget (5000 an hour) and the forced answers the test knob asks
    for, as GitHub's headers and refusals."""

    def __init__(self):
        super().__init__(LIMIT, 3600.0)
        self.mergeable_unknown = 0

    def spend(self) -> dict[str, str]:
        within, forced = super().spend()
        headers = {"X-RateLimit-Limit": str(LIMIT), "X-RateLimit-Reset": str(math.ceil(self.reset)),
                   "X-RateLimit-Resource": "core"}
        if not within:
            headers.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Used": str(LIMIT)})
            raise Answer(403, "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
                              "please include the request ID.", headers=headers)
        headers.update({"X-RateLimit-Remaining": str(self.remaining), "X-RateLimit-Used": str(self.used)})
        if forced:
            status, retry_after = forced
            message = SECONDARY if status == 403 else f"{SECONDARY} (429 Too Many Requests)"
            raise Answer(status, message, headers={**headers, "Retry-After": str(int(retry_after))})
        return headers


def _time(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHub:
    """The REST layer over one store."""

    def __init__(self, store: ForgeStore):
        self.store = store
        self.limits = Limits()
        self.served = 0  # API requests answered (the knob's GET shows it: tests count calls)
        self.full_name = f"{store.owner}/{store.name}"

    # --- the JSON GitHub answers with -------------------------------------------------
    def user(self, call: Call, login: str) -> dict:
        return {"login": login, "id": sum(map(ord, login)), "node_id": f"U_{login}", "type": "User",
                "site_admin": False, "url": f"{call.api}/users/{login}", "html_url": f"{call.web}/{login}"}

    def repo_url(self, call: Call) -> str:
        return f"{call.api}/repos/{self.full_name}"

    def repository(self, call: Call) -> dict:
        return {"id": 1, "node_id": "R_fleet", "name": self.store.name, "full_name": self.full_name,
                "owner": {**self.user(call, self.store.owner), "type": "Organization"}, "private": True,
                "html_url": f"{call.web}/{self.full_name}", "url": self.repo_url(call),
                "clone_url": str(self.store.bare), "default_branch": self.store.default_branch, "fork": False,
                "archived": False, "disabled": False, "allow_merge_commit": True, "allow_squash_merge": True,
                "allow_rebase_merge": True, "allow_auto_merge": False, "delete_branch_on_merge": False,
                "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True}}

    def label(self, call: Call, name: str) -> dict:
        return {"id": sum(map(ord, name)), "node_id": f"L_{name}", "url": f"{self.repo_url(call)}/labels/{name}",
                "name": name, "color": "ededed", "default": False, "description": None}

    def mergeable_state(self, request: Request, mergeable: bool | None) -> str:
        if request.state != "open" or mergeable is None:
            return "unknown"
        if request.draft:
            return "draft"
        if not mergeable:
            return "dirty"
        if self.store.checks(request) != "passed" or len(request.approvals) < self.store.required_approvals:
            return "blocked"
        head = self.store.head(request)
        if any(s.state in ("failure", "error") for s in self.store.statuses(head or "")):
            return "unstable"  # a check that is not required failed
        return "clean"

    def pull(self, call: Call, request: Request, detail: bool = False) -> dict:
        repo_url, n = self.repo_url(call), request.number
        head = self.store.head(request)
        base_sha = self.store.ref(request.base)
        owner = self.user(call, self.store.owner)
        repository = self.repository(call)
        body = {
            "url": f"{repo_url}/pulls/{n}", "id": 1000 + n, "node_id": f"PR_{n}",
            "html_url": f"{call.web}/{self.full_name}/pull/{n}", "diff_url": f"{call.web}/{self.full_name}/pull/{n}.diff",
            "patch_url": f"{call.web}/{self.full_name}/pull/{n}.patch", "issue_url": f"{repo_url}/issues/{n}",
            "commits_url": f"{repo_url}/pulls/{n}/commits", "comments_url": f"{repo_url}/issues/{n}/comments",
            "review_comments_url": f"{repo_url}/pulls/{n}/comments", "statuses_url": f"{repo_url}/statuses/{head}",
            "number": n, "state": "open" if request.state == "open" else "closed", "locked": False,
            "title": request.title, "body": request.body, "user": self.user(call, request.author),
            "labels": [self.label(call, name) for name in request.labels],
            "created_at": _time(request.created), "updated_at": _time(request.updated),
            "closed_at": _time(request.closed_at), "merged_at": _time(request.merged_at),
            "merge_commit_sha": request.merge_commit, "assignee": None, "assignees": [],
            "requested_reviewers": [self.user(call, r) for r in request.reviewers], "requested_teams": [],
            "draft": request.draft, "author_association": "MEMBER", "auto_merge": None,
            "head": {"label": f"{self.store.owner}:{request.branch}", "ref": request.branch, "sha": head,
                     "user": owner, "repo": repository},
            "base": {"label": f"{self.store.owner}:{request.base}", "ref": request.base, "sha": base_sha,
                     "user": owner, "repo": repository},
        }
        if detail:  # only the single pull carries these, as on GitHub
            if request.state != "open":
                mergeable = None
            elif self.limits.mergeable_unknown > 0:
                self.limits.mergeable_unknown -= 1
                mergeable = None
            else:
                mergeable = self.store.mergeable(request)
            body.update({
                "merged": request.state == "merged", "mergeable": mergeable, "rebaseable": mergeable,
                "mergeable_state": self.mergeable_state(request, mergeable),
                "merged_by": self.user(call, request.merged_by) if request.merged_by else None,
                "comments": 0, "review_comments": 0, "maintainer_can_modify": False,
                "commits": len(self.store._commits(base_sha, head)) if head and base_sha else 0,
                "additions": 0, "deletions": 0, "changed_files": 0})
        return body

    def status(self, call: Call, status) -> dict:
        return {"url": f"{self.repo_url(call)}/statuses/{status.sha}", "id": status.id, "node_id": f"S_{status.id}",
                "state": status.state, "description": status.description or None, "target_url": status.target_url,
                "context": status.context, "created_at": _time(status.created), "updated_at": _time(status.created),
                "avatar_url": None, "creator": self.user(call, BOT)}

    def commit_sha(self, sha: str) -> str:
        resolved = self.store._git("rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}", check=False).stdout.strip()
        if not resolved:
            raise Answer(422, f"No commit found for SHA: {sha}")
        return resolved

    # --- endpoints ----------------------------------------------------------------------
    def get_repository(self, call: Call):
        return 200, self.repository(call)

    def list_pulls(self, call: Call):
        q = call.query
        state = q.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise Answer(422, "Validation Failed", [{"resource": "Issue", "field": "state", "code": "invalid"}])
        chosen = self.store.requests("all" if state == "closed" else state, base=q.get("base") or None)
        if state == "closed":
            chosen = [r for r in chosen if r.state != "open"]
        if head := q.get("head"):
            owner, _, branch = head.rpartition(":")
            chosen = [r for r in chosen if r.branch == branch and owner in ("", self.store.owner)]
        sort = q.get("sort", "created")
        key: Callable[[Request], Any] = (lambda r: r.updated) if sort == "updated" else (lambda r: r.number)
        direction = q.get("direction", "desc" if sort in ("created", "updated") else "asc")
        chosen = sorted(chosen, key=key, reverse=direction == "desc")
        return self.page(call, chosen, lambda r: self.pull(call, r))

    def page(self, call: Call, items: list, render: Callable[[Any], dict]):
        """One page of `items`, with the Link header GitHub sends (PyGithub follows rel=next)."""
        try:
            per_page = min(max(int(call.query.get("per_page", 30)), 1), 100)
            page = max(int(call.query.get("page", 1)), 1)
        except ValueError:
            raise Answer(422, "Validation Failed", [{"field": "per_page", "code": "invalid"}]) from None
        chosen, last = page_of(items, page, per_page)
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (rel == "prev" and page > 1) or (rel == "next" and page < last) or (rel in ("last", "first") and last > 1):
                url = call.url.update_query(page=str(number), per_page=str(per_page))
                links.append(f'<{url}>; rel="{rel}"')
        return 200, [render(item) for item in chosen], ({"Link": ", ".join(links)} if links else {})

    def create_pull(self, call: Call):
        body = call.body if isinstance(call.body, dict) else {}
        title, head, base = body.get("title"), body.get("head") or "", body.get("base") or ""
        owner, _, branch = head.rpartition(":")
        if not title or not branch or not base:
            missing = [k for k in ("title", "head", "base") if not body.get(k)]
            raise Answer(422, "Validation Failed",
                         [{"resource": "PullRequest", "field": k, "code": "missing_field"} for k in missing])
        if owner not in ("", self.store.owner) or self.store.ref(branch) is None:
            raise Answer(422, "Validation Failed", [{"resource": "PullRequest", "field": "head", "code": "invalid"}])
        if self.store.ref(base) is None:
            raise Answer(422, "Validation Failed", [{"resource": "PullRequest", "field": "base", "code": "invalid"}])
        if self.store.ref(branch) and not self.store._commits(self.store.ref(base), self.store.ref(branch)):
            raise Answer(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                     "message": f"No commits between {base} and {branch}"}])
        try:
            request = self.store.open(branch, base, title, body.get("body") or "", draft=bool(body.get("draft")),
                                      author=call.user)
        except Conflict:
            raise Answer(422, "Validation Failed", [{
                "resource": "PullRequest", "code": "custom",
                "message": f"A pull request already exists for {self.store.owner}:{branch}."}]) from None
        return 201, self.pull(call, request, detail=True)

    def request_of(self, call: Call) -> Request:
        try:
            return self.store.get(int(call.match["number"]))
        except (Invalid, ValueError):
            raise not_found() from None

    def get_pull(self, call: Call):
        return 200, self.pull(call, self.request_of(call), detail=True)

    def edit_pull(self, call: Call):
        request = self.request_of(call)
        body = call.body if isinstance(call.body, dict) else {}
        state = body.get("state")
        if state not in (None, "open", "closed"):
            raise Answer(422, "Validation Failed", [{"resource": "PullRequest", "field": "state", "code": "invalid"}])
        try:
            self.store.edit(request.number, title=body.get("title"), body=body.get("body"), state=state)
        except Conflict:
            raise Answer(422, "Validation Failed", [{
                "resource": "PullRequest", "code": "custom",
                "message": f"A pull request already exists for {self.store.owner}:{request.branch}."}]) from None
        except Invalid as err:
            raise Answer(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                     "message": str(err)}]) from None
        return 200, self.pull(call, request, detail=True)

    def merge_pull(self, call: Call):
        request = self.request_of(call)
        body = call.body if isinstance(call.body, dict) else {}
        method = body.get("merge_method", "merge")
        if method not in ("merge", "squash", "rebase"):
            raise Answer(422, "Validation Failed", [{"resource": "PullRequest", "field": "merge_method",
                                                     "code": "invalid"}])
        try:
            sha = self.store.merge(request.number, method, title=body.get("commit_title"),
                                   message=body.get("commit_message"), sha=body.get("sha"), by=call.user)
        except Unmergeable as refused:
            raise self.refusal(request, refused.reason) from None
        return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}

    def refusal(self, request: Request, reason: str) -> Answer:
        """GitHub's answer to a refused merge."""
        if reason == "head moved":
            return Answer(409, "Head branch was modified. Review and try the merge again.")
        if reason == "checks":
            missing = [c for c, _ in self.store.unmet_checks(request)]
            return Answer(405, f'Required status check "{missing[0]}" is expected.' if missing
                          else "Required status checks have not succeeded.")
        if reason == "reviews":
            n = self.store.required_approvals
            return Answer(405, f"At least {n} approving review{'s are' if n > 1 else ' is'} required by reviewers "
                               "with write access.")
        if reason == "draft":
            return Answer(405, "Pull Request is still a draft")
        return Answer(405, "Pull Request is not mergeable")

    def add_labels(self, call: Call):
        request = self.request_of(call)
        body = call.body
        labels = body.get("labels", []) if isinstance(body, dict) else body if isinstance(body, list) else []
        labels = [label["name"] if isinstance(label, dict) else str(label) for label in labels]
        self.store.add_labels(request.number, labels)
        return 200, [self.label(call, name) for name in request.labels]

    def request_reviewers(self, call: Call):
        request = self.request_of(call)
        reviewers = (call.body or {}).get("reviewers", []) if isinstance(call.body, dict) else []
        if request.author in reviewers:
            raise Answer(422, "Review cannot be requested from pull request author.")
        self.store.request_reviewers(request.number, list(reviewers))
        return 201, self.pull(call, request)

    def review(self, call: Call, request: Request, review: Review) -> dict:
        return {"id": review.id, "node_id": f"PRR_{review.id}", "user": self.user(call, review.user),
                "body": review.body, "state": review.state, "commit_id": review.commit,
                "submitted_at": _time(review.submitted),
                "html_url": f"{call.web}/{self.full_name}/pull/{request.number}#pullrequestreview-{review.id}",
                "pull_request_url": f"{self.repo_url(call)}/pulls/{request.number}",
                "author_association": "MEMBER"}

    def list_reviews(self, call: Call):
        """GET .../pulls/N/reviews: every review, in chronological order (as GitHub lists them)."""
        request = self.request_of(call)
        return self.page(call, list(request.reviews), lambda r: self.review(call, request, r))

    def create_review(self, call: Call):
        request = self.request_of(call)
        body = call.body if isinstance(call.body, dict) else {}
        event = body.get("event", "COMMENT")
        states = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
        if event not in states:
            raise Answer(422, "Unprocessable Entity", [f"event: {event} is not one of APPROVE, REQUEST_CHANGES, COMMENT"])
        if event == "APPROVE" and call.user == request.author:
            raise Answer(422, "Unprocessable Entity", ["Can not approve your own pull request"])
        commit = body.get("commit_id") or None
        if commit is not None:
            commit = self.commit_sha(commit)
        review = self.store.review(request.number, call.user, states[event], str(body.get("body") or ""), commit)
        return 200, self.review(call, request, review)

    def create_status(self, call: Call):
        sha = self.commit_sha(call.match["sha"])
        body = call.body if isinstance(call.body, dict) else {}
        try:
            status = self.store.set_status(sha, body.get("context") or "default", body.get("state") or "",
                                           body.get("description") or "", body.get("target_url"))
        except Invalid:
            raise Answer(422, "Validation Failed", [{"resource": "Status", "field": "state", "code": "custom",
                                                     "message": "state is not included in the list"}]) from None
        return 201, self.status(call, status)

    def list_statuses(self, call: Call):
        sha = self.commit_sha(call.match["sha"])
        return self.page(call, self.store.all_statuses(sha), lambda s: self.status(call, s))

    def combined_status(self, call: Call):
        sha = self.commit_sha(call.match["sha"])
        latest = self.store.statuses(sha)
        states = {s.state for s in latest}
        state = ("failure" if states & {"failure", "error"} else
                 "pending" if not latest or "pending" in states else "success")
        return 200, {"state": state, "statuses": [self.status(call, s) for s in latest], "sha": sha,
                     "total_count": len(latest), "repository": self.repository(call),
                     "commit_url": f"{self.repo_url(call)}/commits/{sha}",
                     "url": f"{self.repo_url(call)}/commits/{sha}/status"}

    def check_runs(self, call: Call):
        self.commit_sha(call.match["sha"])
        return 200, {"total_count": 0, "check_runs": []}

    def get_commit(self, call: Call):
        sha = self.commit_sha(call.match["sha"])
        fields = self.store._git("show", "-s", "--format=%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B",
                                 sha).stdout.split("\x00")
        tree, parents, an, ae, ad, cn, ce, cd, message = fields
        url = f"{self.repo_url(call)}/commits/{sha}"
        return 200, {"sha": sha, "node_id": f"C_{sha}", "url": url, "html_url": f"{call.web}/{self.full_name}/commit/{sha}",
                     "commit": {"message": message.rstrip("\n"), "tree": {"sha": tree},
                                "author": {"name": an, "email": ae, "date": ad},
                                "committer": {"name": cn, "email": ce, "date": cd}, "url": url},
                     "parents": [{"sha": p, "url": f"{self.repo_url(call)}/commits/{p}"} for p in parents.split()],
                     "author": None, "committer": None, "files": [], "stats": {"additions": 0, "deletions": 0,
                                                                             "total": 0}}

    def get_ref(self, call: Call):
        ref = call.match["ref"]
        if not ref.startswith("heads/"):
            raise not_found()
        sha = self.store.ref(ref[len("heads/"):])
        if sha is None:
            raise not_found()
        return 200, {"ref": f"refs/{ref}", "node_id": f"REF_{ref}", "url": f"{self.repo_url(call)}/git/refs/{ref}",
                     "object": {"type": "commit", "sha": sha, "url": f"{self.repo_url(call)}/git/commits/{sha}"}}

    def rate_limit(self, call: Call):
        core = {"limit": LIMIT, "remaining": self.limits.remaining, "reset": math.ceil(self.limits.reset),
                "used": LIMIT - self.limits.remaining}
        return 200, {"resources": {"core": core}, "rate": core}

    def get_user(self, call: Call):
        return 200, self.user(call, call.user)

    def control(self, call: Call):
        """The test knob (not GitHub's): forced rate limits, lazily computed mergeability."""
        body = call.body if isinstance(call.body, dict) else {}
        try:
            self.limits.control(body, (403, 429))
        except ValueError as err:
            raise Answer(422, str(err)) from None
        if "mergeableUnknown" in body:
            self.limits.mergeable_unknown = int(body["mergeableUnknown"])
        return 200, {"served": self.served, "forced": len(self.limits.forced), "remaining": self.limits.remaining,
                     "reset": math.ceil(self.limits.reset), "mergeableUnknown": self.limits.mergeable_unknown}


def _user_of(header: str | None) -> str | None:
    """The login a token stands for, or None when it is not the simulator's."""
    scheme, _, token = (header or "").partition(" ")
    return login_of(token, BOT) if scheme.lower() in ("token", "bearer") else None


def add_routes(app, store: ForgeStore, prefix: str) -> GitHub:
    """Mount the API under `prefix` (e.g. "/github") on the simulator's aiohttp app."""
    from aiohttp import web

    github = GitHub(store)

    def wrap(handler: Callable[[Call], tuple], limited: bool = True):
        async def serve(request):
            headers: dict[str, str] = {"X-GitHub-Media-Type": "github.v3; format=json"}
            try:
                user = _user_of(request.headers.get("Authorization"))
                if user is None:
                    raise Answer(401, "Bad credentials")
                if limited:
                    github.served += 1
                    headers.update(github.limits.spend())
                repo = request.match_info.get("repo")
                if repo is not None and f"{request.match_info['owner']}/{repo}".lower() != github.full_name.lower():
                    raise not_found()
                body = None
                if request.can_read_body:
                    try:
                        body = await request.json()
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        raise Answer(400, "Problems parsing JSON") from None
                root = f"{request.scheme}://{request.host}"
                call = Call(dict(request.match_info), dict(request.query), body, f"{root}{prefix}",
                            f"{root}{prefix}/web", user, request.url)
                answer = await asyncio.to_thread(handler, call)  # git runs off the event loop
                status, payload = answer[0], answer[1]
                headers.update(answer[2] if len(answer) > 2 else {})
            except Answer as answer:
                status, payload = answer.status, answer.body
                headers.update(answer.headers)
            except GitFailed as err:
                status, payload = 500, {"message": f"Server Error: {err}", "documentation_url": DOCS}
            return web.json_response(payload, status=status, headers=headers)
        return serve

    repo = prefix + "/repos/{owner}/{repo}"
    routes = [
        ("GET", repo, github.get_repository),
        ("GET", repo + "/pulls", github.list_pulls),
        ("POST", repo + "/pulls", github.create_pull),
        ("GET", repo + "/pulls/{number}", github.get_pull),
        ("PATCH", repo + "/pulls/{number}", github.edit_pull),
        ("PUT", repo + "/pulls/{number}/merge", github.merge_pull),
        ("POST", repo + "/pulls/{number}/requested_reviewers", github.request_reviewers),
        ("GET", repo + "/pulls/{number}/reviews", github.list_reviews),
        ("POST", repo + "/pulls/{number}/reviews", github.create_review),
        ("POST", repo + "/issues/{number}/labels", github.add_labels),
        ("POST", repo + "/statuses/{sha}", github.create_status),
        ("GET", repo + "/statuses/{sha}", github.list_statuses),
        ("GET", repo + "/commits/{sha}", github.get_commit),
        ("GET", repo + "/commits/{sha}/status", github.combined_status),
        ("GET", repo + "/commits/{sha}/statuses", github.list_statuses),
        ("GET", repo + "/commits/{sha}/check-runs", github.check_runs),
        ("GET", repo + "/git/ref/{ref:heads/.+}", github.get_ref),
        ("GET", repo + "/git/refs/{ref:heads/.+}", github.get_ref),
        ("GET", prefix + "/user", github.get_user),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, wrap(handler))
    app.router.add_get(prefix + "/rate_limit", wrap(github.rate_limit, limited=False))
    app.router.add_post(prefix + "/_sim/rate-limit", wrap(github.control, limited=False))
    app.router.add_get(prefix + "/_sim/rate-limit", wrap(github.control, limited=False))

    async def unknown(request):
        return web.json_response({"message": "Not Found", "documentation_url": DOCS, "status": "404"}, status=404)

    app.router.add_route("*", prefix + "/{tail:.*}", unknown)
    return github
