"""Pull-request delivery on GitHub, for real over HTTP: `rollout simulate --scm github
--protect --required-check ci/test` on a bare repository whose pre-receive hook refuses
pushes to main, driven through PyGithub and rollout/delivery/github.py. Merges are checked
in the bare repository with git."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from rollout.delivery.forge import AlreadyExists, ForgeError, ForgeSetupError, NotMergeable
from rollout.delivery.github import connect, locate
from forge.simulated import Fleet, Simulator, git

github = pytest.importorskip("github")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    fleet = Fleet(tmp_path_factory.mktemp("github"))
    sim = Simulator(fleet, "github", "--protect", "--required-check", "ci/test")
    yield fleet, sim
    sim.stop()


@pytest.fixture
def ci(world, monkeypatch):
    """GitHub Actions' variables, as the simulator's ready line printed them."""
    fleet, sim = world
    for key in ("GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_TOKEN", "ROLLOUT_GH_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in sim.env.items():
        monkeypatch.setenv(key, value)
    return fleet, sim


def client(sim: Simulator, login: str | None = None):
    """A plain PyGithub client: the CI checks and the people around the rollout."""
    token = sim.env["GITHUB_TOKEN"] + (f"/{login}" if login else "")
    gh = github.Github(base_url=sim.env["GITHUB_API_URL"], auth=github.Auth.Token(token), per_page=2,
                       seconds_between_requests=None, seconds_between_writes=None)
    return gh.get_repo(sim.env["GITHUB_REPOSITORY"])


def knob(sim: Simulator, body: dict | None = None) -> dict:
    """The simulator's test control (not GitHub's API)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{sim.env['GITHUB_API_URL']}/_sim/rate-limit", data=data,
                                     headers={"Authorization": f"token {sim.env['GITHUB_TOKEN']}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def served(sim: Simulator) -> int:
    return knob(sim)["served"]


def green(sim: Simulator, sha: str, state: str = "success", context: str = "ci/test") -> None:
    client(sim).get_commit(sha).create_status(state, context=context, description=f"{context} {state}")


def test_the_ready_line_names_the_api_the_repository_and_the_token(world):
    fleet, sim = world
    assert sim.env == {"GITHUB_API_URL": f"{sim.url}/github", "GITHUB_REPOSITORY": "fleet/fleet",
                       "GITHUB_TOKEN": "rollout-simulator"}
    repo = client(sim)
    assert repo.full_name == "fleet/fleet" and repo.default_branch == "main"
    assert repo.get_git_ref("heads/main").object.sha == fleet.main()
    with pytest.raises(github.UnknownObjectException):
        repo.get_git_ref("heads/no-such-branch")


def test_open_find_and_a_second_open_is_already_exists(ci):
    fleet, sim = ci
    head = fleet.branch("rollout/p/v1/wave-1", {"open.txt": "1\n"}, "wave 1")
    forge = connect(fleet.work, "", None, None)
    assert (forge.name, forge.repository) == ("github", "fleet/fleet")
    assert forge.find("rollout/p/v1/wave-1") is None
    opened = forge.open("rollout/p/v1/wave-1", "main", "Wave 1", "the wave", labels=("rollout", "wave-1"),
                        reviewers=("alice",))
    assert (opened.state, opened.branch, opened.head, opened.base) == ("open", "rollout/p/v1/wave-1", head, "main")
    assert opened.labels == ("rollout", "wave-1") and opened.url.endswith(f"/pull/{opened.number}")
    pull = client(sim).get_pull(opened.number)
    assert [label.name for label in pull.labels] == ["rollout", "wave-1"]
    assert [user.login for user in pull.requested_reviewers] == ["alice"]
    with pytest.raises(AlreadyExists):
        forge.open("rollout/p/v1/wave-1", "main", "Wave 1", "a racing runner")
    before = served(sim)
    assert forge.find("rollout/p/v1/wave-1") == opened
    assert served(sim) - before == 1  # one call
    assert opened in forge.open_requests("rollout/p/") and forge.open_requests("rollout/other/") == []


def test_readiness_follows_the_required_check_pending_failed_green(ci):
    fleet, sim = ci
    head = fleet.branch("rollout/p/v1/wave-2", {"ready.txt": "1\n"}, "wave 2")
    forge = connect(fleet.work, "", None, None)
    request = forge.open("rollout/p/v1/wave-2", "main", "Wave 2", "")
    waiting = forge.readiness(request)  # ci/test never reported: GitHub blocks without naming it
    assert (waiting.mergeable, waiting.checks, waiting.ready) == (True, "pending", False)
    green(sim, head, "pending")
    assert forge.readiness(request).reason == "checks pending: ci/test"
    green(sim, head, "failure")
    failed = forge.readiness(request)
    assert (failed.checks, failed.reason, failed.ready) == ("failed", "checks failed: ci/test", False)
    with pytest.raises(NotMergeable, match='Required status check "ci/test"'):
        forge.merge(request, "merge", "t", "m")
    green(sim, head)
    before = served(sim)
    assert forge.readiness(request).ready
    assert served(sim) - before == 1  # clean: the pull alone


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
    assert forge.readiness(request) == type(forge.readiness(request))(False, "none", "conflict")
    with pytest.raises(NotMergeable):
        forge.merge(request, "squash", "t", "m")
    head = fleet.branch("rollout/p/v1/wave-4", {"draft.txt": "1\n"}, "wave 4")
    draft = forge.open("rollout/p/v1/wave-4", "main", "Wave 4", "", draft=True)
    green(sim, head)
    assert draft.draft and forge.readiness(draft).reason == "draft"


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_merge_lands_on_protected_main_as_each_method_does(ci, method):
    fleet, sim = ci
    branch = f"rollout/p/v1/merge-{method}"
    fleet.branch(branch, {f"{method}.txt": "1\n"}, f"pin {method}\n\nRollout-Wave: 1")
    head = fleet.branch(branch, {f"{method}-2.txt": "2\n"}, "second commit", start=branch)
    forge = connect(fleet.work, "", None, None)
    request = forge.open(branch, "main", f"Wave {method}", "")
    green(sim, head)
    before_main = fleet.main()
    before = served(sim)
    tip = forge.merge(request, method, f"rollout: {method}", "Rollout-Policy: p\nRollout-Wave: 1")
    assert served(sim) - before == 1
    assert tip == fleet.main()
    log = git(fleet.bare, "log", "--format=%H %P%x1f%B%x1e", f"{before_main}..main").stdout
    commits = [entry.strip().split("\x1f") for entry in log.split("\x1e") if entry.strip()]
    if method == "merge":
        assert len(commits) == 3 and commits[0][0].split()[1:] == [before_main, head]
        assert commits[0][1].strip() == "rollout: merge\n\nRollout-Policy: p\nRollout-Wave: 1"
    elif method == "squash":
        assert len(commits) == 1 and commits[0][0].split()[1:] == [before_main]
        assert commits[0][1].strip() == "rollout: squash\n\nRollout-Policy: p\nRollout-Wave: 1"
    else:  # replayed: the request's own messages, new SHAs, linear on main
        assert [c[1].strip().splitlines()[0] for c in commits] == ["second commit", "pin rebase"]
        assert commits[1][0].split()[1:] == [before_main] and head not in (c[0].split()[0] for c in commits)
    assert git(fleet.bare, "show", f"main:{method}-2.txt").stdout == "2\n"
    merged = forge.find(branch)
    assert (merged.state, merged.merge_commit, merged.number) == ("merged", tip, request.number)
    assert forge.readiness(merged).reason == "merged"


def test_a_moved_head_refuses_the_merge(ci):
    fleet, sim = ci
    first = fleet.branch("rollout/p/v1/moved", {"moved.txt": "1\n"}, "wave")
    forge = connect(fleet.work, "", None, None)
    request = forge.open("rollout/p/v1/moved", "main", "Moved", "")
    second = fleet.branch("rollout/p/v1/moved", {"moved.txt": "2\n"}, "someone pushed", start="rollout/p/v1/moved")
    green(sim, first)
    green(sim, second)
    main = fleet.main()
    with pytest.raises(NotMergeable, match="Head branch was modified"):
        forge.merge(request, "merge", "t", "m")
    assert fleet.main() == main and forge.find("rollout/p/v1/moved").head == second


def test_closed_without_merge_is_found_and_a_person_can_merge_by_api(ci):
    fleet, sim = ci
    fleet.branch("rollout/p/v1/closed", {"closed.txt": "1\n"}, "wave")
    forge = connect(fleet.work, "", None, None)
    request = forge.open("rollout/p/v1/closed", "main", "Closed", "")
    client(sim, "alice").get_pull(request.number).edit(state="closed")
    found = forge.find("rollout/p/v1/closed")
    assert (found.number, found.state, found.merge_commit) == (request.number, "closed", None)
    assert forge.open_requests("rollout/p/v1/closed") == []
    reopened = forge.open("rollout/p/v1/closed", "main", "Closed, again", "")
    assert forge.find("rollout/p/v1/closed") == reopened  # the open one wins over the closed one
    green(sim, reopened.head)
    pull = client(sim, "alice").get_pull(reopened.number)
    pull.create_review(event="APPROVE")
    assert pull.merge(merge_method="squash", sha=reopened.head).merged
    assert forge.find("rollout/p/v1/closed").state == "merged"
    with pytest.raises(github.GithubException) as own:
        client(sim).get_pull(reopened.number).create_review(event="APPROVE")  # the bot opened it
    assert own.value.status == 422


def test_listing_pages_with_link_headers(ci):
    fleet, sim = ci
    for n in range(3):
        fleet.branch(f"rollout/page/{n}", {f"page-{n}.txt": "1\n"}, f"page {n}")
        client(sim).create_pull(base="main", head=f"rollout/page/{n}", title=f"page {n}")
    listed = client(sim).get_pulls(state="open", sort="created", direction="asc")  # 2 a page
    assert [p.head.ref for p in listed if p.head.ref.startswith("rollout/page/")] == \
        ["rollout/page/0", "rollout/page/1", "rollout/page/2"]
    assert [p.branch for p in connect(fleet.work, "", None, None).open_requests("rollout/page/")] == \
        ["rollout/page/0", "rollout/page/1", "rollout/page/2"]


@pytest.mark.parametrize("status", [429, 403])
def test_a_forced_rate_limit_with_retry_after_is_waited_out(ci, status):
    fleet, sim = ci
    forge = connect(fleet.work, "", None, None)
    knob(sim, {"count": 1, "status": status, "retryAfter": 1})
    started = time.monotonic()
    assert forge.find("rollout/never") is None
    assert time.monotonic() - started >= 1.0
    assert knob(sim)["forced"] == 0


def test_an_exhausted_budget_waits_for_the_reset(ci):
    fleet, sim = ci
    forge = connect(fleet.work, "", None, None)
    knob(sim, {"remaining": 1, "reset": 2})
    forge.find("rollout/never")  # spends the last request: the answer says 0 remain
    started = time.monotonic()
    assert forge.find("rollout/never") is None  # waits for the reset instead of being refused
    assert time.monotonic() - started >= 1.0


def test_a_reset_beyond_the_cap_stops_with_one_line(ci):
    fleet, sim = ci
    forge = connect(fleet.work, "", None, None)
    knob(sim, {"remaining": 0, "reset": 3600})
    try:
        with pytest.raises(ForgeError, match="rate limited .*resets in") as stopped:
            forge.find("rollout/never")
        assert "\n" not in str(stopped.value)
    finally:
        knob(sim, {"remaining": 5000, "reset": 3600})


def test_set_up_mistakes_are_one_line_without_the_token(ci, monkeypatch):
    fleet, sim = ci
    secret = "ghp_s3cr3t-do-not-print"
    monkeypatch.setenv("GITHUB_TOKEN", secret)
    with pytest.raises(ForgeSetupError) as refused:
        connect(fleet.work, "", None, None)
    assert str(refused.value) == "GitHub refused the token in $GITHUB_TOKEN (401 Bad credentials)"
    assert secret not in repr(refused.value) and refused.value.__cause__ is None
    monkeypatch.setenv("ROLLOUT_GH_TOKEN", sim.env["GITHUB_TOKEN"])
    assert connect(fleet.work, "", None, "ROLLOUT_GH_TOKEN").repository == "fleet/fleet"  # tokenFrom
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(ForgeSetupError, match=r"no token in \$GITHUB_TOKEN"):
        connect(fleet.work, "", None, None)
    monkeypatch.setenv("GITHUB_TOKEN", sim.env["GITHUB_TOKEN"])
    monkeypatch.setenv("GITHUB_REPOSITORY", "fleet/elsewhere")
    with pytest.raises(ForgeSetupError, match="no repository fleet/elsewhere at http://127.0.0.1"):
        connect(fleet.work, "", None, None)


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
    assert fleet.branch("rollout/p/v1/allowed", {"allowed.txt": "1\n"}, "allowed")


@pytest.mark.parametrize(("remote", "api", "repository"), [
    ("https://github.com/acme/fleet.git", "https://api.github.com", "acme/fleet"),
    ("https://x-access-token@github.com/acme/fleet", "https://api.github.com", "acme/fleet"),
    ("git@github.com:acme/fleet.git", "https://api.github.com", "acme/fleet"),
    ("ssh://git@github.com/acme/fleet.git", "https://api.github.com", "acme/fleet"),
    ("https://ghe.example.com/platform/fleet.git", "https://ghe.example.com/api/v3", "platform/fleet"),
    ("git@ghe.example.com:platform/fleet.git", "https://ghe.example.com/api/v3", "platform/fleet"),
])
def test_the_repository_from_the_remote_url(monkeypatch, remote, api, repository):
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    assert locate(remote) == (api, repository)
    monkeypatch.setenv("GITHUB_REPOSITORY", "ci/wins")
    monkeypatch.setenv("GITHUB_API_URL", "https://api.example.test/")
    assert locate(remote) == ("https://api.example.test", "ci/wins")


def test_no_repository_to_be_found_is_a_set_up_error(monkeypatch):
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    for remote in ("/srv/git/fleet.git", "", "file:///srv/fleet.git"):
        with pytest.raises(ForgeSetupError, match="set GITHUB_REPOSITORY"):
            locate(remote)
    monkeypatch.setenv("GITHUB_REPOSITORY", "not a repo")
    with pytest.raises(ForgeSetupError, match="is not owner/name"):
        locate("")
