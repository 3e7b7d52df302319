"""Pull-request delivery on GitLab, for real over HTTP: `rollout simulate --scm gitlab
--protect --required-check ci/test` on a bare repository whose pre-receive hook refuses
pushes to main, driven through python-gitlab and rollout/delivery/gitlab.py. Merges are
checked in the bare repository with git."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from rollout.delivery.forge import AlreadyExists, ForgeError, ForgeSetupError, NotMergeable, Readiness
from rollout.delivery.gitlab import connect, locate
from forge.simulated import Fleet, Simulator, git

gitlab = pytest.importorskip("gitlab")

CI_VARIABLES = ("CI_API_V4_URL", "CI_PROJECT_PATH", "GITLAB_TOKEN", "ROLLOUT_GL_TOKEN")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    fleet = Fleet(tmp_path_factory.mktemp("gitlab"))
    sim = Simulator(fleet, "gitlab", "--protect", "--required-check", "ci/test")
    yield fleet, sim
    sim.stop()


@pytest.fixture
def ci(world, monkeypatch):
    """GitLab CI's variables, as the simulator's ready line printed them."""
    fleet, sim = world
    for key in CI_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    for key, value in sim.env.items():
        monkeypatch.setenv(key, value)
    return fleet, sim


def instance(sim: Simulator) -> str:
    return sim.env["CI_API_V4_URL"].removesuffix("/api/v4")


def client(sim: Simulator, login: str | None = None):
    """A plain python-gitlab project: the CI jobs and the people around the rollout."""
    token = sim.env["GITLAB_TOKEN"] + (f"/{login}" if login else "")
    return gitlab.Gitlab(instance(sim), private_token=token, per_page=2).projects.get(sim.env["CI_PROJECT_PATH"])


def knob(sim: Simulator, body: dict | None = None) -> dict:
    """The simulator's test control (not GitLab's API)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{instance(sim)}/_sim/rate-limit", data=data,
                                     headers={"PRIVATE-TOKEN": sim.env["GITLAB_TOKEN"],
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def served(sim: Simulator) -> int:
    return knob(sim)["served"]


def green(sim: Simulator, sha: str, state: str = "success", name: str = "ci/test") -> None:
    """A CI job reporting on the commit (an external commit status)."""
    client(sim).commits.get(sha, lazy=True).statuses.create({"state": state, "name": name})


def test_the_ready_line_names_the_api_the_project_and_the_token(world):
    fleet, sim = world
    assert sim.env == {"CI_API_V4_URL": f"{sim.url}/gitlab/api/v4", "CI_PROJECT_PATH": "fleet/fleet",
                       "GITLAB_TOKEN": "rollout-simulator"}
    project = client(sim)
    assert (project.id, project.path_with_namespace, project.default_branch) == (1, "fleet/fleet", "main")
    assert project.merge_method == "merge"
    gl = gitlab.Gitlab(instance(sim), private_token="rollout-simulator/alice")
    gl.auth()
    assert gl.user.username == "alice"
    with pytest.raises(gitlab.GitlabGetError) as unknown:
        gl.projects.get("fleet/elsewhere")
    assert unknown.value.response_code == 404


def test_open_find_and_a_second_open_is_already_exists(ci):
    fleet, sim = ci
    head = fleet.branch("rollout/p/v1/wave-1", {"open.txt": "1\n"}, "wave 1")
    forge = connect(fleet.work, "", None, None)
    assert (forge.name, forge.repository) == ("gitlab", "fleet/fleet")
    assert forge.find("rollout/p/v1/wave-1") is None
    opened = forge.open("rollout/p/v1/wave-1", "main", "Wave 1", "the wave", labels=("rollout", "wave-1"),
                        reviewers=("alice",))
    assert (opened.state, opened.branch, opened.head, opened.base) == ("open", "rollout/p/v1/wave-1", head, "main")
    assert opened.labels == ("rollout", "wave-1") and opened.url.endswith(f"/-/merge_requests/{opened.number}")
    mr = client(sim).mergerequests.get(opened.number)
    assert mr.labels == ["rollout", "wave-1"] and [r["username"] for r in mr.reviewers] == ["alice"]
    assert mr.description == "the wave" and mr.author["username"] == "rollout-bot"
    with pytest.raises(AlreadyExists):
        forge.open("rollout/p/v1/wave-1", "main", "Wave 1", "a racing runner")
    before = served(sim)
    assert forge.find("rollout/p/v1/wave-1") == opened
    assert served(sim) - before == 1  # one call
    assert opened in forge.open_requests("rollout/p/") and forge.open_requests("rollout/other/") == []
    forge.update(opened, "Wave 1, rebuilt", "rebuilt on main")
    assert client(sim).mergerequests.get(opened.number).title == "Wave 1, rebuilt"


def test_readiness_follows_the_required_check_pending_failed_green(ci):
    fleet, sim = ci
    head = fleet.branch("rollout/p/v1/wave-2", {"ready.txt": "1\n"}, "wave 2")
    forge = connect(fleet.work, "", None, None)
    request = forge.open("rollout/p/v1/wave-2", "main", "Wave 2", "")
    waiting = forge.readiness(request)  # ci/test never reported: the pipeline must succeed
    assert (waiting.mergeable, waiting.checks, waiting.ready) == (True, "pending", False)
    green(sim, head, "running")
    assert forge.readiness(request).reason == "checks pending: ci/test"
    green(sim, head, "failed")
    failed = forge.readiness(request)
    assert (failed.checks, failed.reason, failed.ready) == ("failed", "checks failed: ci/test", False)
    with pytest.raises(NotMergeable, match=r"405 Method Not Allowed \(ci_must_pass\)"):
        forge.merge(request, "merge", "t", "m")
    green(sim, head)
    before = served(sim)
    assert forge.readiness(request).ready
    assert served(sim) - before == 1  # mergeable: the merge request alone


def test_still_checking_is_unknown_then_known(ci):
    fleet, sim = ci
    head = fleet.branch("rollout/p/v1/checking", {"checking.txt": "1\n"}, "checking")
    forge = connect(fleet.work, "", None, None)
    request = forge.open("rollout/p/v1/checking", "main", "Checking", "")
    green(sim, head)
    knob(sim, {"mergeableUnknown": 1})
    assert forge.readiness(request) == Readiness(None, "pending", "GitLab is still checking whether it can merge")
    assert forge.readiness(request).ready


def test_a_conflict_and_a_draft_are_not_ready(ci):
    fleet, sim = ci
    fleet.branch("rollout/p/v1/wave-3", {"conflict.txt": "ours\n"}, "wave 3")
    fleet.branch("rollout/p/v1/wave-3b", {"conflict.txt": "theirs\n"}, "other")
    forge = connect(fleet.work, "", None, None)
    first = forge.open("rollout/p/v1/wave-3b", "main", "Other", "")
    green(sim, first.head)
    forge.merge(first, "merge", "other", "")
    request = forge.open("rollout/p/v1/wave-3", "main", "Wave 3", "")
    green(sim, request.head)
    assert forge.readiness(request) == Readiness(False, "none", "conflict")
    with pytest.raises(NotMergeable, match="conflict"):
        forge.merge(request, "squash", "t", "m")
    head = fleet.branch("rollout/p/v1/wave-4", {"draft.txt": "1\n"}, "wave 4")
    draft = forge.open("rollout/p/v1/wave-4", "main", "Wave 4", "", draft=True)
    green(sim, head)
    assert draft.draft and draft.title == "Wave 4" and forge.readiness(draft).reason == "draft"
    assert client(sim).mergerequests.get(draft.number).title == "Draft: Wave 4"
    forge.update(draft, "Wave 4, again", "")
    assert client(sim).mergerequests.get(draft.number).title == "Draft: Wave 4, again"


def _landed(fleet: Fleet, before_main: str) -> list[tuple[list[str], str]]:
    """The commits main gained: ([sha, parents...], message), newest first."""
    log = git(fleet.bare, "log", "--format=%H %P%x1f%B%x1e", f"{before_main}..main").stdout
    return [(entry.strip().split("\x1f")[0].split(), entry.strip().split("\x1f")[1].strip())
            for entry in log.split("\x1e") if entry.strip()]


@pytest.mark.parametrize("method", ["merge", "squash"])
def test_merge_and_squash_land_on_protected_main_with_the_trailers(ci, method):
    fleet, sim = ci
    branch = f"rollout/p/v1/merge-{method}"
    fleet.branch(branch, {f"{method}.txt": "1\n"}, f"pin {method}\n\nRollout-Wave: 1")
    head = fleet.branch(branch, {f"{method}-2.txt": "2\n"}, "second commit", start=branch)
    forge = connect(fleet.work, "", None, None)
    request = forge.open(branch, "main", f"Wave {method}", "")
    green(sim, head)
    before_main = fleet.main()
    before = served(sim)
    tip = forge.merge(request, method, f"rollout: {method}", "Rollout-Policy: p\nRollout-Wave: 1\n")
    assert served(sim) - before == 1
    assert tip == fleet.main()
    commits = _landed(fleet, before_main)
    message = f"rollout: {method}\n\nRollout-Policy: p\nRollout-Wave: 1"
    if method == "merge":  # a merge commit over the request's two commits
        assert len(commits) == 3 and commits[0][0][1:] == [before_main, head] and commits[0][1] == message
    else:  # GitLab's squash on a merge-commit project: the squash commit, then a merge commit over it
        (merge, merge_message), (squash, squash_message) = commits
        assert merge[1:] == [before_main, squash[0]] and squash[1:] == [before_main]
        assert merge_message == squash_message == message
        assert client(sim).mergerequests.get(request.number).squash_commit_sha == squash[0]
    assert git(fleet.bare, "show", f"main:{method}-2.txt").stdout == "2\n"
    merged = forge.find(branch)
    assert (merged.state, merged.merge_commit, merged.number) == ("merged", tip, request.number)
    assert forge.readiness(merged).reason == "merged"


@pytest.fixture
def fast_forward(ci):
    """The project set to GitLab's "Fast-forward merge" (as its settings page would)."""
    fleet, sim = ci
    project = client(sim)
    project.merge_method = "ff"
    project.save()
    yield fleet, sim
    project.merge_method = "merge"
    project.save()


def test_rebase_needs_a_fast_forward_project(ci):
    fleet, sim = ci
    head = fleet.branch("rollout/p/v1/rebase-refused", {"rebase-refused.txt": "1\n"}, "wave")
    forge = connect(fleet.work, "", None, None)
    request = forge.open("rollout/p/v1/rebase-refused", "main", "Refused", "")
    green(sim, head)
    before = served(sim)
    with pytest.raises(NotMergeable, match="needs the project's merge method 'Fast-forward merge'"):
        forge.merge(request, "rebase", "t", "m")
    assert served(sim) == before  # refused before any call


def test_rebase_fast_forwards_main_to_the_commits_as_they_are(fast_forward):
    fleet, sim = fast_forward
    branch = "rollout/p/v1/merge-rebase"
    first = fleet.branch(branch, {"rebase.txt": "1\n"}, "pin rebase\n\nRollout-Wave: 1")
    head = fleet.branch(branch, {"rebase-2.txt": "2\n"}, "second commit", start=branch)
    forge = connect(fleet.work, "", None, None)
    request = forge.open(branch, "main", "Wave rebase", "")
    green(sim, head)
    before_main = fleet.main()
    before = served(sim)
    tip = forge.merge(request, "rebase", "rollout: rebase", "Rollout-Wave: 1")
    assert served(sim) - before == 1
    assert tip == head == fleet.main()  # the very commits, no merge commit
    assert [c[0] for c in _landed(fleet, before_main)] == [[head, first], [first, before_main]]
    assert forge.find(branch).merge_commit == head


def test_rebase_behind_main_rebases_then_merges_once_the_rebased_head_is_green(fast_forward):
    fleet, sim = fast_forward
    forge = connect(fleet.work, "", None, None)
    branch = "rollout/p/v1/behind"
    old_head = fleet.branch(branch, {"behind.txt": "1\n"}, "pin behind\n\nRollout-Wave: 2")
    request = forge.open(branch, "main", "Behind", "")
    green(sim, old_head)
    ahead = fleet.branch("rollout/p/v1/ahead", {"ahead.txt": "1\n"}, "ahead")
    other = forge.open("rollout/p/v1/ahead", "main", "Ahead", "")
    green(sim, ahead)
    forge.merge(other, "rebase", "ahead", "")  # main moves: the first request is behind
    assert forge.readiness(request).reason.startswith("behind its target branch")
    main_before = fleet.main()
    with pytest.raises(NotMergeable, match="rebased !.* onto main"):
        forge.merge(request, "rebase", "t", "m")  # GitLab rebased it; ci/test must pass on the new head
    rebased = forge.find(branch)
    assert rebased.head != old_head and fleet.main() == main_before
    assert git(fleet.bare, "log", "-1", "--format=%B", rebased.head).stdout.strip() == "pin behind\n\nRollout-Wave: 2"
    green(sim, rebased.head)
    assert forge.merge(rebased, "rebase", "t", "m") == rebased.head == fleet.main()
    assert git(fleet.bare, "rev-parse", "main^").stdout.strip() == main_before


def test_a_moved_head_refuses_the_merge(ci):
    fleet, sim = ci
    first = fleet.branch("rollout/p/v1/moved", {"moved.txt": "1\n"}, "wave")
    forge = connect(fleet.work, "", None, None)
    request = forge.open("rollout/p/v1/moved", "main", "Moved", "")
    second = fleet.branch("rollout/p/v1/moved", {"moved.txt": "2\n"}, "someone pushed", start="rollout/p/v1/moved")
    green(sim, first)
    green(sim, second)
    main = fleet.main()
    with pytest.raises(NotMergeable, match="SHA does not match HEAD of source branch"):
        forge.merge(request, "merge", "t", "m")
    assert fleet.main() == main and forge.find("rollout/p/v1/moved").head == second


def test_closed_without_merge_is_found_and_a_person_can_merge_by_api(ci):
    fleet, sim = ci
    fleet.branch("rollout/p/v1/closed", {"closed.txt": "1\n"}, "wave")
    forge = connect(fleet.work, "", None, None)
    request = forge.open("rollout/p/v1/closed", "main", "Closed", "")
    alice = client(sim, "alice").mergerequests.get(request.number)
    alice.state_event = "close"
    alice.save()
    found = forge.find("rollout/p/v1/closed")
    assert (found.number, found.state, found.merge_commit) == (request.number, "closed", None)
    assert forge.readiness(found).reason == "closed"
    assert forge.open_requests("rollout/p/v1/closed") == []
    reopened = forge.open("rollout/p/v1/closed", "main", "Closed, again", "")
    assert forge.find("rollout/p/v1/closed") == reopened  # the open one wins over the closed one
    green(sim, reopened.head)
    mr = client(sim, "alice").mergerequests.get(reopened.number)
    mr.approve()
    mr.merge(sha=reopened.head, squash=True)
    assert forge.find("rollout/p/v1/closed").state == "merged"
    with pytest.raises(gitlab.GitlabAuthenticationError):
        client(sim).mergerequests.get(reopened.number).approve()  # the bot opened it


def test_listing_pages_with_link_headers(ci):
    fleet, sim = ci
    for n in range(3):
        fleet.branch(f"rollout/page/{n}", {f"page-{n}.txt": "1\n"}, f"page {n}")
        client(sim).mergerequests.create({"source_branch": f"rollout/page/{n}", "target_branch": "main",
                                          "title": f"page {n}"})
    listed = client(sim).mergerequests.list(state="opened", order_by="created_at", sort="asc", iterator=True)
    assert listed.total_pages > 1  # 2 a page: python-gitlab follows rel="next"
    assert [mr.source_branch for mr in listed if mr.source_branch.startswith("rollout/page/")] == \
        ["rollout/page/0", "rollout/page/1", "rollout/page/2"]
    assert [r.branch for r in connect(fleet.work, "", None, None).open_requests("rollout/page/")] == \
        ["rollout/page/0", "rollout/page/1", "rollout/page/2"]


def test_a_forced_429_with_retry_after_is_waited_out(ci):
    fleet, sim = ci
    forge = connect(fleet.work, "", None, None)
    knob(sim, {"count": 2, "retryAfter": 1})
    before = served(sim)
    started = time.monotonic()
    assert forge.find("rollout/never") is None
    assert time.monotonic() - started >= 2.0
    assert served(sim) - before == 3  # two refused, the third answered
    assert knob(sim)["forced"] == 0


def test_an_exhausted_budget_waits_for_the_reset(ci):
    fleet, sim = ci
    forge = connect(fleet.work, "", None, None)
    knob(sim, {"remaining": 1, "reset": 2})
    forge.find("rollout/never")  # spends the last request
    started = time.monotonic()
    assert forge.find("rollout/never") is None  # a 429 until the reset, waited out
    assert time.monotonic() - started >= 1.0


def test_a_wait_beyond_the_cap_stops_with_one_line(ci, monkeypatch):
    fleet, sim = ci
    forge = connect(fleet.work, "", None, None)
    knob(sim, {"remaining": 0, "reset": 3600})
    slept = []  # every sleep in this process (python-gitlab's retries, ours): it stops, it does not wait
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda seconds: (slept.append(seconds), real_sleep(seconds))[1])
    try:
        with pytest.raises(ForgeError, match="rate limited .*resets in") as stopped:
            forge.find("rollout/never")
        assert "\n" not in str(stopped.value) and sum(slept) < 5, slept
    finally:
        knob(sim, {"remaining": 2000, "reset": 60})


def test_set_up_mistakes_are_one_line_without_the_token(ci, monkeypatch):
    fleet, sim = ci
    secret = "glpat-s3cr3t-do-not-print"
    monkeypatch.setenv("GITLAB_TOKEN", secret)
    with pytest.raises(ForgeSetupError) as refused:
        connect(fleet.work, "", None, None)
    assert str(refused.value) == "GitLab refused the token in $GITLAB_TOKEN (401 Unauthorized)"
    assert secret not in repr(refused.value) and refused.value.__cause__ is None
    monkeypatch.setenv("ROLLOUT_GL_TOKEN", sim.env["GITLAB_TOKEN"])
    assert connect(fleet.work, "", None, "ROLLOUT_GL_TOKEN").repository == "fleet/fleet"  # tokenFrom
    monkeypatch.delenv("GITLAB_TOKEN")
    with pytest.raises(ForgeSetupError, match=r"no token in \$GITLAB_TOKEN"):
        connect(fleet.work, "", None, None)
    monkeypatch.setenv("GITLAB_TOKEN", sim.env["GITLAB_TOKEN"])
    monkeypatch.setenv("CI_PROJECT_PATH", "fleet/elsewhere")
    with pytest.raises(ForgeSetupError, match="no project fleet/elsewhere at http://127.0.0.1") as unknown:
        connect(fleet.work, "", None, None)
    assert "\n" not in str(unknown.value) and sim.env["GITLAB_TOKEN"] not in str(unknown.value)


def test_the_hook_refuses_a_plain_push_to_main_but_not_to_a_rollout_branch(world):
    fleet, _ = world
    git(fleet.work, "fetch", "-q", "origin")
    git(fleet.work, "checkout", "-q", "-B", "main", "origin/main")
    (fleet.work / "direct.txt").write_text("x\n")
    git(fleet.work, "add", "-A")
    git(fleet.work, "commit", "-qm", "direct")
    main = fleet.main()
    pushed = git(fleet.work, "push", "origin", "main", check=False)
    assert pushed.returncode != 0 and "protected branch hook declined" in pushed.stderr
    assert fleet.main() == main


@pytest.mark.parametrize(("remote", "url", "project"), [
    ("https://gitlab.com/acme/fleet.git", "https://gitlab.com", "acme/fleet"),
    ("https://oauth2:tok@gitlab.com/acme/fleet", "https://gitlab.com", "acme/fleet"),
    ("git@gitlab.com:acme/fleet.git", "https://gitlab.com", "acme/fleet"),
    ("https://gitlab.example.com/group/sub/project.git", "https://gitlab.example.com", "group/sub/project"),
    ("git@gitlab.example.com:group/project.git", "https://gitlab.example.com", "group/project"),
    ("ssh://git@gitlab.example.com:2222/group/project.git", "https://gitlab.example.com", "group/project"),
    ("http://gitlab.internal:8080/platform/fleet.git", "http://gitlab.internal:8080", "platform/fleet"),
])
def test_the_project_from_the_remote_url(monkeypatch, remote, url, project):
    monkeypatch.delenv("CI_API_V4_URL", raising=False)
    monkeypatch.delenv("CI_PROJECT_PATH", raising=False)
    assert locate(remote) == (url, project)
    monkeypatch.setenv("CI_PROJECT_PATH", "ci/group/wins")
    monkeypatch.setenv("CI_API_V4_URL", "https://gitlab.example.test/api/v4/")
    assert locate(remote) == ("https://gitlab.example.test", "ci/group/wins")


def test_no_project_to_be_found_is_a_set_up_error(monkeypatch):
    monkeypatch.delenv("CI_API_V4_URL", raising=False)
    monkeypatch.delenv("CI_PROJECT_PATH", raising=False)
    for remote in ("/srv/git/fleet.git", "", "file:///srv/fleet.git", "https://gitlab.com/fleet"):
        with pytest.raises(ForgeSetupError, match="set CI_PROJECT_PATH"):
            locate(remote)
    monkeypatch.setenv("CI_PROJECT_PATH", "not a project")
    with pytest.raises(ForgeSetupError, match="is not group/project"):
        locate("")
