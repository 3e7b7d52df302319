"""ROLLOUT_NOW (issue 18, case 7): a pinned clock skips bakes, so it is for rehearsals only
(the demo, a remote that is a local path), it is written into every commit made under it,
and a writing run towards any other remote refuses it, exit 2, before anything is done."""

from __future__ import annotations

import time

from test_engine import Fleet, fleet, git, git_identity, rollout  # noqa: F401  (fixtures)


def test_commits_made_under_a_pinned_clock_say_so(fleet):
    a = fleet.clone("a")
    now = int(time.time()) + 7200
    assert rollout(a, "advance", "security-patch", now=now).returncode == 0
    assert f"Rollout-Clock-Override: {now}" in git(a, "log", "-1", "--format=%B")
    assert rollout(a, "advance", "security-patch").returncode == 0  # a real clock: bake not over, nothing
    assert rollout(a, "revert", "security-patch", "--wave", "1", "--reason", "x").returncode == 0
    assert "Rollout-Clock-Override" not in git(a, "log", "-1", "--format=%B")


def test_a_pinned_clock_towards_a_real_remote_is_refused_before_anything_is_done(fleet):
    a = fleet.clone("a")
    git(a, "remote", "set-url", "origin", "https://git.example.com/platform/fleet-config.git")
    head = git(a, "rev-parse", "HEAD")
    for args in (["advance", "security-patch"], ["run", "security-patch"],
                 ["revert", "security-patch", "--all", "--reason", "x"], ["pause", "security-patch", "--reason", "x"]):
        result = rollout(a, *args, now=int(time.time()) + 7200)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "ROLLOUT_NOW is set" in lines[0] and "https://git.example.com" in lines[0], lines
        assert git(a, "rev-parse", "HEAD") == head
    # reading is harmless: status honours it
    assert rollout(a, "status", "security-patch", now=int(time.time()) + 7200).returncode == 0
