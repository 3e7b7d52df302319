"""The GitLab v4 REST subset python-gitlab calls, over the forge store: the current user
and user lookup, the project (get, and edit of its merge method), merge requests (list,
create, get, update, merge, rebase, approve, approvals), commit statuses (create, list). Mounted
under a prefix (`/gitlab`), as a self-managed GitLab serves `/api/v4` under its root, so
`gitlab.Gitlab(<url>/gitlab)` works (python-gitlab appends /api/v4).

Reproduced from GitLab's REST docs (docs.gitlab.com/api/merge_requests, /api/commits
"Set the pipeline status of a commit", /api/projects "Edit a project", /api/rest "Pagination"
and "Rate limits", user/admin "User and IP rate limits: response headers") and what
python-gitlab (gitlab/client.py http_request, Retry in gitlab/utils.py, and
gitlab/v4/objects/merge_requests.py) sends and reads:

- auth: `PRIVATE-TOKEN: <t>` or `Authorization: Bearer <t>`, else 401 {"message": "401 Unauthorized"};
- the project by URL-encoded path (`fleet%2Ffleet`) or numeric id (1); 404 {"message": "404 Project Not Found"};
- parameters from the query string and the JSON (or form) body alike, as Grape merges them
  (python-gitlab sends a method's extra keywords, e.g. `mr.merge(sha=..., squash=True)`, in the query);
- lists: page/per_page (20, at most 100), X-Page, X-Per-Page, X-Total, X-Total-Pages,
  X-Next-Page, X-Prev-Page and a Link header (python-gitlab follows rel="next");
- create: 409 {"message": ["Another open merge request already exists for this source branch: !N"]};
  a title starting "Draft:" (or "[Draft]", "(Draft)") makes a draft;
- merge request: `detailed_merge_status` (not_open, checking, draft_status, conflict,
  need_rebase, ci_must_pass, ci_still_running, not_approved, mergeable), the deprecated
  `merge_status`, has_conflicts, sha, merge_commit_sha, squash_commit_sha, head_pipeline
  (the single GET only), draft, web_url, references; `include_rebase_in_progress`,
  `include_diverged_commits_count`;
- merge: 405 {"message": "405 Method Not Allowed"} while not mergeable (draft, closed,
  pipeline, approvals, conflict, a fast-forward that needs a rebase), then 409 "SHA does not
  match HEAD of source branch: <sha>"; by the project's `merge_method` (merge | rebase_merge
  | ff): a merge commit (`merge_commit_message`), with `squash` first a squash commit
  (`squash_commit_message`) on the merge base; ff moves the target to the head;
- rebase: 202 {"rebase_in_progress": true}, done at once here; a failed rebase leaves merge_error;
- approve (POST .../approve, 401 for the author) and the approval state (GET .../approvals:
  approved_by[].user.username, the approvals given on the current head: GitLab's default
  removes approvals when commits are added);
- commit statuses: pending | running | success | failed | canceled (400 otherwise); the
  statuses on a commit make its (external) pipeline, whose status is the head_pipeline's.
  A context the simulator's --required-check names must be success ("Pipelines must
  succeed", per status here rather than per pipeline);
- rate limits: every answer carries RateLimit-Name, -Limit, -Observed, -Remaining, -Reset,
  -ResetTime (as GitLab.com sends them); beyond the budget: 429 "Retry later" with
  Retry-After (python-gitlab sleeps that long and retries).

The test knob (not GitLab's) `POST <prefix>/_sim/rate-limit`:

    {"count": N, "retryAfter": S}   the next N API requests: 429 with `Retry-After: S`
    {"remaining": R, "reset": S}    the budget: R requests left, renewed in S seconds
    {"mergeableUnknown": N}         the next N GETs of a merge request say "checking"

Its answer (and `GET <prefix>/_sim/rate-limit`) counts the API requests served so far.

The token `rollout-simulator` is the user `rollout-bot`; `rollout-simulator/<login>` is
`<login>` (a second person, to approve or merge by hand). Every username exists (the
simulator's user directory is open): ids are handed out as names are first seen.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timezone
from email.utils import formatdate
from typing import Any, Callable
from urllib.parse import unquote

from rollout.simulator.forge.rest import Budget, Call, login_of, page_of
from rollout.simulator.forge.store import (CommitStatus, Conflict, ForgeStore, GitFailed, Invalid, Request,
                                           Unmergeable)
from rollout.simulator.server import TOKEN

COMMITTER = ("GitLab", "gitlab@localhost")  # who the simulated GitLab's merges are committed by
BOT = "rollout-bot"  # the user TOKEN authenticates as
LIMIT, WINDOW = 2000, 60.0  # GitLab.com's authenticated API limit: 2000 requests a minute
PROJECT_ID = 1
MERGE_METHODS = ("merge", "rebase_merge", "ff")
STATES = {"pending": "pending", "running": "pending", "success": "success", "failed": "failure",
          "canceled": "error"}  # GitLab's commit status -> the store's
DRAFT = re.compile(r"^\s*(\[draft\]|\(draft\)|draft:|draft\s+-|draft\s|wip:|\[wip\])\s*", re.IGNORECASE)


def environment(base_url: str, store: ForgeStore) -> dict[str, str]:
    """What GitLab CI would set, for the `ready` line; `base_url` is where add_routes
    mounted the instance (its API is base_url/api/v4)."""
    return {"CI_API_V4_URL": f"{base_url}/api/v4", "CI_PROJECT_PATH": f"{store.owner}/{store.name}",
            "GITLAB_TOKEN": TOKEN}


class Answer(Exception):
    """An HTTP answer other than success, raised from inside a handler."""

    def __init__(self, status: int, body: Any, headers: dict | None = None):
        super().__init__(str(body))
        self.status, self.body, self.headers = status, body, headers or {}


def message(status: int, text: str | None = None) -> Answer:
    """GitLab's usual error: {"message": "404 Project Not Found"}."""
    reasons = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               405: "Method Not Allowed", 409: "Conflict", 422: "Unprocessable Entity"}
    return Answer(status, {"message": text or f"{status} {reasons.get(status, '')}".strip()})


def invalid(text: str) -> Answer:
    """Grape's parameter validation: 400 {"error": "..."}."""
    return Answer(400, {"error": text})


class Limits(Budget):
    """GitLab's RateLimit-* headers, and 429 with Retry-After beyond the budget."""

    def __init__(self):
        super().__init__(LIMIT, WINDOW)
        self.mergeable_unknown = 0

    def spend(self) -> dict[str, str]:
        within, forced = super().spend()
        headers = {"RateLimit-Name": "throttle_authenticated_api", "RateLimit-Limit": str(LIMIT),
                   "RateLimit-Observed": str(self.used), "RateLimit-Remaining": str(self.remaining),
                   "RateLimit-Reset": str(int(self.reset)), "RateLimit-ResetTime": formatdate(self.reset, usegmt=True)}
        if not within:
            raise Answer(429, "Retry later\n", {**headers, "RateLimit-Observed": str(LIMIT + 1),
                                                "Retry-After": str(self.until_reset())})
        if forced:
            raise Answer(429, "Retry later\n", {**headers, "Retry-After": str(int(forced[1]))})
        return headers


def _time(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def _list(value: Any) -> list[str]:
    """A list parameter, given as a JSON list or comma-separated."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


class GitLab:
    """The REST layer over one store."""

    def __init__(self, store: ForgeStore):
        self.store = store
        self.limits = Limits()
        self.served = 0  # API requests answered (the knob's GET shows it: tests count calls)
        self.path = f"{store.owner}/{store.name}"
        self.merge_method = "merge"  # the project's: merge | rebase_merge | ff
        self.users: dict[str, int] = {BOT: 1}
        self.native: dict[int, str] = {}  # commit status id -> GitLab's state (running, canceled, ...)
        self.merge_errors: dict[int, str] = {}
        self.rebasing: set[int] = set()

    # --- the JSON GitLab answers with -------------------------------------------------
    def user_id(self, username: str) -> int:
        return self.users.setdefault(username, len(self.users) + 1)

    def user(self, call: Call, username: str) -> dict:
        return {"id": self.user_id(username), "username": username, "name": username, "state": "active",
                "locked": False, "avatar_url": None, "web_url": f"{call.web}/{username}"}

    def username(self, user_id: int) -> str | None:
        return next((name for name, n in self.users.items() if n == user_id), None)

    def project(self, call: Call) -> dict:
        namespace = {"id": 2, "name": self.store.owner, "path": self.store.owner, "kind": "group",
                     "full_path": self.store.owner, "web_url": f"{call.web}/groups/{self.store.owner}"}
        return {"id": PROJECT_ID, "name": self.store.name, "path": self.store.name,
                "name_with_namespace": f"{self.store.owner} / {self.store.name}", "path_with_namespace": self.path,
                "namespace": namespace, "default_branch": self.store.default_branch, "visibility": "private",
                "web_url": f"{call.web}/{self.path}", "http_url_to_repo": str(self.store.bare),
                "ssh_url_to_repo": str(self.store.bare), "archived": False, "merge_method": self.merge_method,
                "squash_option": "default_off", "merge_requests_enabled": True,
                "only_allow_merge_if_pipeline_succeeds": bool(self.store.required_checks),
                "approvals_before_merge": self.store.required_approvals,
                "permissions": {"project_access": {"access_level": 30, "notification_level": 3},
                                "group_access": None}}

    def pipeline(self, call: Call, request: Request) -> dict | None:
        """The head's (external) pipeline, made of the latest status per name on it."""
        head = self.store.head(request)
        latest = self.store.statuses(head) if head else []
        if not latest:
            return None
        states = {self.native.get(s.id, "pending") for s in latest}
        status = next((s for s in ("failed", "canceled", "running", "pending") if s in states), "success")
        number = min(s.id for s in latest)
        return {"id": number, "iid": number, "project_id": PROJECT_ID, "sha": head, "ref": request.branch,
                "status": status, "source": "external", "created_at": _time(min(s.created for s in latest)),
                "updated_at": _time(max(s.created for s in latest)),
                "web_url": f"{call.web}/{self.path}/-/pipelines/{number}"}

    def detailed_status(self, request: Request) -> str:
        """GitLab's detailed_merge_status, in GitLab's order of precedence."""
        if request.state != "open":
            return "not_open"
        if request.draft:
            return "draft_status"
        if not self.store.mergeable(request):
            return "conflict"
        if self.merge_method != "merge" and self.store.behind(request):
            return "need_rebase"
        checks = self.store.checks(request)
        if checks != "passed":
            head = self.store.head(request)
            states = {s.context: self.native.get(s.id) for s in self.store.statuses(head or "")}
            required = [states.get(c) for c in self.store.required_checks]
            waiting = checks == "pending" and any(s in ("pending", "running") for s in required)
            return "ci_still_running" if waiting else "ci_must_pass"
        if len(request.approvals) < self.store.required_approvals:
            return "not_approved"
        return "mergeable"

    def merge_request(self, call: Call, request: Request, detail: bool = False) -> dict:
        n = request.number
        head = self.store.head(request)
        state = {"open": "opened"}.get(request.state, request.state)
        if detail and request.state == "open" and self.limits.mergeable_unknown > 0:
            self.limits.mergeable_unknown -= 1
            detailed = "checking"
        else:
            detailed = self.detailed_status(request)
        merge_status = ("checking" if detailed == "checking" else
                        "can_be_merged" if detailed not in ("conflict", "need_rebase") else "cannot_be_merged")
        merged_by = self.user(call, request.merged_by) if request.merged_by else None
        base_sha = self.store.ref(request.base)
        body = {
            "id": 1000 + n, "iid": n, "project_id": PROJECT_ID, "title": request.title,
            "description": request.body, "state": state, "created_at": _time(request.created),
            "updated_at": _time(request.updated), "merged_at": _time(request.merged_at),
            "closed_at": _time(request.closed_at) if request.state == "closed" else None,
            "merged_by": merged_by, "merge_user": merged_by, "closed_by": None,
            "target_branch": request.base, "source_branch": request.branch, "author": self.user(call, request.author),
            "assignee": None, "assignees": [], "reviewers": [self.user(call, r) for r in request.reviewers],
            "source_project_id": PROJECT_ID, "target_project_id": PROJECT_ID, "labels": list(request.labels),
            "draft": request.draft, "work_in_progress": request.draft, "milestone": None,
            "merge_when_pipeline_succeeds": False, "merge_status": merge_status, "detailed_merge_status": detailed,
            "sha": head, "merge_commit_sha": request.merge_commit if request.state == "merged" else None,
            "squash_commit_sha": request.squash_commit if request.state == "merged" else None,
            "user_notes_count": 0, "discussion_locked": None, "should_remove_source_branch": None,
            "force_remove_source_branch": False, "squash": False, "squash_on_merge": False,
            "has_conflicts": detailed == "conflict", "blocking_discussions_resolved": True,
            "web_url": f"{call.web}/{self.path}/-/merge_requests/{n}",
            "references": {"short": f"!{n}", "relative": f"!{n}", "full": f"{self.path}!{n}"},
            "time_stats": {"time_estimate": 0, "total_time_spent": 0}, "task_completion_status": {"count": 0,
                                                                                                  "completed_count": 0},
            "approvals_before_merge": None,
        }
        if detail:  # only the single merge request carries these, as on GitLab
            pipeline = self.pipeline(call, request) if request.state == "open" else None
            body.update({
                "head_pipeline": pipeline, "pipeline": pipeline, "merge_error": self.merge_errors.get(n),
                "first_contribution": False, "changes_count": str(len(self.store._commits(base_sha, head)))
                if head and base_sha and request.state == "open" else None,
                "diff_refs": {"base_sha": base_sha, "head_sha": head, "start_sha": base_sha},
                "user": {"can_merge": True}})
            if _bool(call.query.get("include_rebase_in_progress")):
                body["rebase_in_progress"] = n in self.rebasing
            if _bool(call.query.get("include_diverged_commits_count")):
                body["diverged_commits_count"] = (len(self.store._commits(head, base_sha))
                                                  if head and base_sha and request.state == "open" else 0)
        return body

    def status(self, call: Call, status: CommitStatus, ref: str | None = None) -> dict:
        state = self.native.get(status.id, "pending")
        return {"id": status.id, "sha": status.sha, "ref": ref, "status": state, "name": status.context,
                "target_url": status.target_url, "description": status.description or None,
                "created_at": _time(status.created), "started_at": _time(status.created)
                if state != "pending" else None, "finished_at": _time(status.created)
                if state in ("success", "failed", "canceled") else None, "allow_failure": False,
                "coverage": None, "pipeline_id": None, "author": self.user(call, BOT)}

    # --- endpoints --------------------------------------------------------------------
    def request_of(self, call: Call) -> Request:
        try:
            return self.store.get(int(call.match["iid"]))
        except (Invalid, ValueError):
            raise message(404, "404 Not found") from None

    def get_user(self, call: Call):
        return 200, {**self.user(call, call.user), "is_admin": False, "bot": call.user == BOT}

    def list_users(self, call: Call):
        name = call.query.get("username")
        if name is None:
            return self.page(call, [self.user(call, n) for n in self.users], lambda u: u)
        known = re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) is not None
        return 200, [self.user(call, name)] if known else []

    def get_project(self, call: Call):
        return 200, self.project(call)

    def edit_project(self, call: Call):
        method = call.query.get("merge_method")
        if method is not None:
            if method not in MERGE_METHODS:
                raise invalid("merge_method does not have a valid value")
            self.merge_method = method
        return 200, self.project(call)

    def page(self, call: Call, items: list, render: Callable[[Any], dict]):
        """One page of `items`, with GitLab's X-* pagination headers and Link header."""
        try:
            per_page = min(max(int(call.query.get("per_page", 20)), 1), 100)
            page = max(int(call.query.get("page", 1)), 1)
        except ValueError:
            raise invalid("page is invalid") from None
        chosen, last = page_of(items, page, per_page)
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)),
                   "X-Total-Pages": str(last), "X-Next-Page": str(page + 1) if page < last else "",
                   "X-Prev-Page": str(page - 1) if page > 1 else ""}
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)):
            if (rel == "prev" and page > 1) or (rel == "next" and page < last) or rel in ("first", "last"):
                url = call.url.update_query(page=str(number), per_page=str(per_page))
                links.append(f'<{url}>; rel="{rel}"')
        headers["Link"] = ", ".join(links)
        return 200, [render(item) for item in chosen], headers

    def list_merge_requests(self, call: Call):
        q = call.query
        state = q.get("state", "all")
        if state not in ("opened", "closed", "locked", "merged", "all"):
            raise invalid("state does not have a valid value")
        chosen = [] if state == "locked" else self.store.requests(
            {"opened": "open"}.get(state, state), branch=q.get("source_branch") or None,
            base=q.get("target_branch") or None)
        order = q.get("order_by", "created_at")
        if order not in ("created_at", "updated_at", "title", "merged_at"):
            raise invalid("order_by does not have a valid value")
        key: Callable[[Request], Any] = {"updated_at": lambda r: r.updated, "title": lambda r: r.title,
                                         "merged_at": lambda r: r.merged_at or 0}.get(order, lambda r: r.number)
        chosen = sorted(chosen, key=key, reverse=q.get("sort", "desc") != "asc")
        return self.page(call, chosen, lambda r: self.merge_request(call, r))

    def create_merge_request(self, call: Call):
        q = call.query
        for key in ("source_branch", "target_branch", "title"):
            if not q.get(key):
                raise invalid(f"{key} is missing")
        branch, base, title = str(q["source_branch"]), str(q["target_branch"]), str(q["title"])
        if self.store.ref(branch) is None:
            raise message(404, "404 Branch Not Found")
        if self.store.ref(base) is None:
            raise Answer(422, {"message": [f"Target branch \"{base}\" does not exist"]})
        if branch == base:
            raise Answer(422, {"message": ["Branch conflict You can't use same project/branch for source and target"]})
        reviewers = self.reviewers(q.get("reviewer_ids"))
        try:
            request = self.store.open(branch, base, title, str(q.get("description") or ""),
                                      draft=bool(DRAFT.match(title)) or _bool(q.get("draft")), author=call.user)
        except Conflict:
            number = next(r.number for r in self.store.requests("open", branch=branch))
            raise Answer(409, {"message": [f"Another open merge request already exists for this source branch: "
                                           f"!{number}"]}) from None
        if labels := _list(q.get("labels")):
            self.store.add_labels(request.number, labels)
        if reviewers:
            self.store.request_reviewers(request.number, reviewers)
        return 201, self.merge_request(call, request, detail=True)

    def reviewers(self, ids: Any) -> list[str]:
        names = []
        for value in _list(ids):
            name = self.username(int(value)) if value.isdigit() else None
            if name is None:
                raise Answer(422, {"message": {"reviewers": [f"user {value} not found"]}})
            names.append(name)
        return names

    def get_merge_request(self, call: Call):
        return 200, self.merge_request(call, self.request_of(call), detail=True)

    def update_merge_request(self, call: Call):
        request = self.request_of(call)
        q = call.query
        event = q.get("state_event")
        if event not in (None, "close", "reopen"):
            raise invalid("state_event does not have a valid value")
        title = None if q.get("title") is None else str(q["title"])
        try:
            self.store.edit(request.number, title=title,
                            body=None if q.get("description") is None else str(q["description"]),
                            state={"close": "closed", "reopen": "open", None: None}[event],
                            draft=None if title is None else bool(DRAFT.match(title)))
        except Conflict:
            raise Answer(409, {"message": ["Another open merge request already exists for this source branch"]}) \
                from None
        except Invalid as err:
            raise Answer(422, {"message": [str(err)]}) from None
        if "labels" in q:
            request.labels = []
        self.store.add_labels(request.number, _list(q.get("labels")) + _list(q.get("add_labels")))
        if "reviewer_ids" in q:
            request.reviewers = []
            self.store.request_reviewers(request.number, self.reviewers(q.get("reviewer_ids")))
        return 200, self.merge_request(call, request, detail=True)

    def merge(self, call: Call):
        request = self.request_of(call)
        q = call.query
        if self.detailed_status(request) != "mergeable":  # GitLab checks mergeability before the sha
            raise message(405)
        squash = _bool(q.get("squash"))
        try:
            self.store.land(request.number, sha=q.get("sha") or None, by=call.user, squash=squash,
                            squash_message=q.get("squash_commit_message") or None,
                            merge_message=q.get("merge_commit_message") or None, project_method=self.merge_method)
        except Unmergeable as refused:
            if refused.reason == "head moved":
                raise message(409, f"SHA does not match HEAD of source branch: {self.store.head(request)}") from None
            if refused.reason in ("conflict", "need rebase"):
                raise message(422, "Branch cannot be merged") from None
            raise message(405) from None
        self.merge_errors.pop(request.number, None)
        return 200, self.merge_request(call, request, detail=True)

    def rebase(self, call: Call):
        request = self.request_of(call)
        if request.state != "open":
            raise message(403, "403 Forbidden - Cannot push to source branch")
        try:
            self.store.rebase_source(request.number, by=call.user)
            self.merge_errors.pop(request.number, None)
        except Unmergeable:
            self.merge_errors[request.number] = "Rebase failed: Rebase locally, resolve all conflicts, then push the branch."
        return 202, {"rebase_in_progress": True}

    def approve(self, call: Call):
        request = self.request_of(call)
        if request.state != "open":
            raise message(401)
        if call.user == request.author:
            raise message(401, "401 Unauthorized")  # GitLab: authors may not approve their own
        sha = call.query.get("sha")
        if sha and sha != self.store.head(request):
            raise message(409, "SHA does not match HEAD of source branch")
        self.store.approve(request.number, call.user)
        return 201, self.approval_state(call, request)

    def approval_state(self, call: Call, request: Request) -> dict:
        """GitLab's merge request approval state (GET .../approvals, and POST .../approve's
        answer). Who approved: the approvals given on the current head, as GitLab keeps them
        with "Remove all approvals when commits are added to the source branch" (its default)."""
        approved = self.store.approved_on_head(request) if request.state == "open" else list(request.approvals)
        required = self.store.required_approvals
        return {"id": 1000 + request.number, "iid": request.number, "project_id": PROJECT_ID,
                "title": request.title, "description": request.body,
                "state": {"open": "opened"}.get(request.state, request.state),
                "created_at": _time(request.created), "updated_at": _time(request.updated),
                "merge_status": "can_be_merged", "approved": len(approved) >= required,
                "approvals_required": required, "approvals_left": max(required - len(approved), 0),
                "require_password_to_approve": False,
                "approved_by": [{"user": self.user(call, u)} for u in approved],
                "suggested_approvers": [], "approvers": [], "approver_groups": [],
                "user_has_approved": call.user in approved, "user_can_approve": call.user != request.author,
                "approval_rules_left": [], "has_approval_rules": False, "merge_request_approvers_available": False,
                "multiple_approval_rules_available": False}

    def get_approvals(self, call: Call):
        """GET .../merge_requests/:iid/approvals (python-gitlab: mr.approvals.get())."""
        return 200, self.approval_state(call, self.request_of(call))

    def commit_sha(self, sha: str) -> str:
        resolved = self.store._git("rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}", check=False).stdout.strip()
        if not resolved:
            raise message(404, "404 Commit Not Found")
        return resolved

    def create_status(self, call: Call):
        sha = self.commit_sha(call.match["sha"])
        q = call.query
        state = q.get("state")
        if state is None:
            raise invalid("state is missing")
        if state not in STATES:
            raise invalid("state does not have a valid value")
        name = str(q.get("name") or q.get("context") or "default")
        status = self.store.set_status(sha, name, STATES[state], str(q.get("description") or ""),
                                       q.get("target_url"))
        self.native[status.id] = state
        return 201, self.status(call, status, q.get("ref"))

    def list_statuses(self, call: Call):
        sha = self.commit_sha(call.match["sha"])
        q = call.query
        chosen = self.store.all_statuses(sha) if _bool(q.get("all")) else self.store.statuses(sha)
        if q.get("name"):
            chosen = [s for s in chosen if s.context == q["name"]]
        return self.page(call, chosen, lambda s: self.status(call, s, q.get("ref")))

    def control(self, call: Call):
        """The test knob (not GitLab's): forced rate limits, mergeability still being checked."""
        body = call.body if isinstance(call.body, dict) else {}
        try:
            self.limits.control(body, (429,))
        except ValueError as err:
            raise invalid(str(err)) from None
        if "mergeableUnknown" in body:
            self.limits.mergeable_unknown = int(body["mergeableUnknown"])
        return 200, {"served": self.served, "forced": len(self.limits.forced), "remaining": self.limits.remaining,
                     "reset": int(self.limits.reset), "mergeableUnknown": self.limits.mergeable_unknown}


def _token(headers) -> str | None:
    if token := headers.get("PRIVATE-TOKEN"):
        return token
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def add_routes(app, store: ForgeStore, prefix: str) -> GitLab:
    """Mount the instance under `prefix` (e.g. "/gitlab"; the API at prefix/api/v4) on the
    simulator's aiohttp app. One route takes the whole API: the handlers are found from the
    raw (still URL-encoded) path, so that a project id `fleet%2Ffleet` stays one segment."""
    from aiohttp import web

    gitlab = GitLab(store)
    project = r"/projects/(?P<project>[^/]+)"
    mr = project + r"/merge_requests/(?P<iid>[^/]+)"
    routes: list[tuple[str, re.Pattern, Callable[[Call], tuple]]] = [
        (method, re.compile(pattern + r"/?"), handler) for method, pattern, handler in [
            ("GET", r"/user", gitlab.get_user),
            ("GET", r"/users", gitlab.list_users),
            ("GET", project, gitlab.get_project),
            ("PUT", project, gitlab.edit_project),
            ("GET", project + r"/merge_requests", gitlab.list_merge_requests),
            ("POST", project + r"/merge_requests", gitlab.create_merge_request),
            ("GET", mr, gitlab.get_merge_request),
            ("PUT", mr, gitlab.update_merge_request),
            ("PUT", mr + r"/merge", gitlab.merge),
            ("PUT", mr + r"/rebase", gitlab.rebase),
            ("POST", mr + r"/approve", gitlab.approve),
            ("GET", mr + r"/approvals", gitlab.get_approvals),
            ("POST", project + r"/statuses/(?P<sha>[^/]+)", gitlab.create_status),
            ("GET", project + r"/repository/commits/(?P<sha>[^/]+)/statuses", gitlab.list_statuses),
        ]]

    def route(method: str, path: str):
        found = None
        for verb, pattern, handler in routes:
            matched = pattern.fullmatch(path)
            if matched:
                if verb == method:
                    return handler, {k: unquote(v) for k, v in matched.groupdict().items()}
                found = found or "method"
        raise message(405) if found else Answer(404, {"error": "404 Not Found"})

    async def parameters(request) -> Any:
        if not request.can_read_body:
            return None
        if request.content_type == "application/json":
            try:
                return await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise invalid("The provided content-type 'application/json' is not supported.") from None
        return dict(await request.post())

    def wrap(limited: bool, fixed: Callable[[Call], tuple] | None = None):
        async def serve(request):
            headers: dict[str, str] = {}
            try:
                user = login_of(_token(request.headers), BOT)
                if user is None:
                    raise message(401, "401 Unauthorized")
                if limited:
                    gitlab.served += 1
                    headers.update(gitlab.limits.spend())
                if fixed is not None:
                    handler, match = fixed, {}
                else:
                    path = request.rel_url.raw_path[len(prefix + "/api/v4"):] or "/"
                    handler, match = route(request.method, path)
                    if "project" in match and match["project"].lower() not in (gitlab.path.lower(), str(PROJECT_ID)):
                        raise message(404, "404 Project Not Found")
                body = await parameters(request)
                params = {**request.query, **(body if isinstance(body, dict) else {})}
                root = f"{request.scheme}://{request.host}"
                call = Call(match, params, body, f"{root}{prefix}/api/v4", f"{root}{prefix}", user, request.url)
                answer = await asyncio.to_thread(handler, call)  # git runs off the event loop
                status, payload = answer[0], answer[1]
                headers.update(answer[2] if len(answer) > 2 else {})
            except Answer as answer:
                status, payload = answer.status, answer.body
                headers.update(answer.headers)
            except GitFailed:
                status, payload = 500, {"message": "500 Internal Server Error"}
            if isinstance(payload, str):
                return web.Response(text=payload, status=status, headers=headers, content_type="text/plain")
            return web.json_response(payload, status=status, headers=headers)
        return serve

    app.router.add_post(prefix + "/_sim/rate-limit", wrap(False, gitlab.control))
    app.router.add_get(prefix + "/_sim/rate-limit", wrap(False, gitlab.control))
    app.router.add_route("*", prefix + "/api/v4/{tail:.*}", wrap(True))

    async def unknown(request):
        return web.json_response({"error": "404 Not Found"}, status=404)

    app.router.add_route("*", prefix + "/{tail:.*}", unknown)
    return gitlab
