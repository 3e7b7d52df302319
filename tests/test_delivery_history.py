"""The state fold under pull-request delivery, on real git histories: the trailers are
found after a forge's own lines, a change merged with a merge commit is timed by the
merge (the bake starts when it reaches the branch), records on `rollout/records` count."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from rollout.git.history import history_refs, parse_event, read_events
from rollout.git.repo import Git

T0 = 1_700_000_000
IDENT = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}


def git(cwd: Path, *args: str, when: int | None = None) -> str:
    env = {**os.environ, **IDENT}
    if when is not None:
        env |= {"GIT_COMMITTER_DATE": f"@{T0 + when} +0000", "GIT_AUTHOR_DATE": f"@{T0 + when} +0000"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


TRAILERS = ("Rollout-Policy: p\nRollout-Revision: v2\nRollout-Wave: 1\nRollout-Wave-Name: canary\n"
            "Rollout-Action: advance\nRollout-Clusters: a,b")


def test_trailers_are_found_before_a_forges_own_lines():
    message = f"rollout(p): wave 1 canary -> v2 (!7)\n\nPins v2\n\n{TRAILERS}\n\nSee merge request fleet/config!7\n"
    event = parse_event("c" * 40, 5, message)
    assert (event.action, event.wave, event.clusters) == ("advance", "canary", ("a", "b"))
    # GitHub's squash of several commits: "* subject" bullets, the trailers inside
    squashed = f"title (#3)\n\n* rollout(p): wave 1 canary -> v2\n\nPins v2\n\n{TRAILERS}\n\n* fix typo\n"
    assert parse_event("c" * 40, 5, squashed).wave == "canary"
    assert parse_event("c" * 40, 5, "Merge pull request #3 from fleet/rollout/p/v2/wave-1\n\ntitle\n") is None


def test_a_change_merged_with_a_merge_commit_takes_the_merges_time(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "start", when=1000)
    git(repo, "checkout", "-q", "-b", "rollout/p/v2/wave-1")
    git(repo, "commit", "-q", "--allow-empty", "-m", f"rollout(p): wave 1 canary -> v2\n\n{TRAILERS}", when=2000)
    proposal = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "a person's change", when=3000)
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #1", "rollout/p/v2/wave-1", when=5000)
    git(repo, "commit", "-q", "--allow-empty", "-m", "later", when=6000)
    (plain,) = read_events(Git(repo), "HEAD", "p")
    assert (plain.commit, plain.time) == (proposal, T0 + 2000)  # the commit's own time
    (arrived,) = read_events(Git(repo), "HEAD", "p", arrivals_for="v2")
    assert (arrived.commit, arrived.time) == (proposal, T0 + 5000)  # when it reached main
    # a change on the first-parent line keeps its own time
    git(repo, "commit", "-q", "--allow-empty", "-m", f"rollout(p): revert\n\n{TRAILERS.replace('advance', 'revert')}",
        when=7000)
    events = read_events(Git(repo), "HEAD", "p", arrivals_for="v2")
    assert [(e.action, e.time - T0) for e in events] == [("advance", 5000), ("revert", 7000)]


def test_records_on_the_records_branch_are_read_beside_head(tmp_path):
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(work))
    git(work, "commit", "-q", "--allow-empty", "-m", f"rollout(p): wave 1\n\n{TRAILERS}")
    git(work, "push", "-q", "origin", "main")
    record = git(work, "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m",
                 f"rollout(p): wave 1 canary passed\n\n{TRAILERS.replace('advance', 'verify')}").strip()
    # published as another runner would: by URL, so this clone's remote-tracking refs stay as they were
    git(work, "push", "-q", str(remote), f"{record}:refs/heads/rollout/records")
    repo = Git(work)
    assert history_refs(repo, "origin") == ["HEAD"]  # not fetched yet
    from rollout.git.repo import Upstream

    repo.fetch(Upstream("origin", "main"))
    refs = history_refs(repo, "origin")
    assert refs == ["HEAD", "refs/remotes/origin/rollout/records"]
    assert [e.action for e in read_events(repo, refs, "p")] == ["advance", "verify"]


def test_a_change_on_the_records_branch_alone_is_not_on_the_branch(tmp_path):
    """An advance merged into rollout/records (a pull request retargeted by mistake) never
    reached the branch the controllers follow: it is not an event; a record there is."""
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(work))
    git(work, "commit", "-q", "--allow-empty", "-m", "fleet")
    git(work, "push", "-q", "origin", "main")
    advance = git(work, "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", f"rollout(p): wave 1\n\n{TRAILERS}").strip()
    record = git(work, "commit-tree", "HEAD^{tree}", "-p", advance, "-m",
                 f"rollout(p): wave 1 canary passed\n\n{TRAILERS.replace('advance', 'verify')}").strip()
    git(work, "push", "-q", "origin", f"{record}:refs/heads/rollout/records")
    repo = Git(work)
    from rollout.git.repo import Upstream

    repo.fetch(Upstream("origin", "main"))
    events = read_events(repo, history_refs(repo, "origin"), "p")
    assert [(e.action, e.commit) for e in events] == [("verify", record)]
