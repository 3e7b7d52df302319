"""The states a kill can leave a checkout in, made with real git, and what the next run
does with them: finish the move when the state is explained by it, refuse otherwise,
never touch a lock a live process holds."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from torture.fleet import Fleet, git, rollout


@pytest.fixture
def fleet(tmp_path):
    return Fleet(tmp_path)


def published_wave_1(fleet: Fleet):
    """Wave 1 advanced and pushed from another clone; `a` still on the commit before."""
    a, b = fleet.clone("a"), fleet.clone("b")
    result = rollout(b, "advance", "security-patch", "--wave", "1")
    assert result.returncode == 0, result.stderr
    git(a, "fetch", "-q")
    old, new = git(a, "rev-parse", "HEAD").strip(), git(a, "rev-parse", "origin/main").strip()
    changed = git(a, "diff", "--name-only", old, new).split()
    assert len(changed) == 2
    return a, old, new, changed


def half_merged(a, new: str, changed: list[str], stale_lock: bool = True) -> None:
    """What a kill -9 of `git merge --ff-only` leaves: one file rewritten, the rest not,
    the index and branch on the old commit, index.lock behind."""
    first = changed[0]
    (a / first).write_bytes(subprocess.run(["git", "show", f"{new}:{first}"], cwd=a, capture_output=True).stdout)
    if stale_lock:
        (a / ".git/index.lock").write_bytes(b"")


def test_a_half_done_git_merge_towards_a_published_rollout_commit_is_finished(fleet):
    a, old, new, changed = published_wave_1(fleet)
    half_merged(a, new, changed)
    status = rollout(a, "status", "security-patch", "--format", "json")
    result = rollout(a, "advance", "security-patch", "--wave", "1", "--format", "json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["waves"] == []
    assert any("interrupted run had published" in n and "stale index.lock" in n for n in outcome["notes"]), outcome
    assert git(a, "rev-parse", "HEAD").strip() == new
    assert git(a, "status", "--porcelain") == ""
    assert not (a / ".git/index.lock").exists()
    assert status.returncode == 0  # status reads; it never fails on such a checkout


def test_a_lock_held_by_a_live_process_is_never_removed(fleet):
    a, old, new, changed = published_wave_1(fleet)
    half_merged(a, new, changed, stale_lock=False)
    lock = a / ".git/index.lock"
    holder = subprocess.Popen([sys.executable, "-c", f"f = open({str(lock)!r}, 'w'); import time; time.sleep(60)"])
    try:
        deadline = time.monotonic() + 10
        while not lock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        result = rollout(a, "advance", "security-patch", "--wave", "1")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"held by process {holder.pid}" in result.stderr
        assert lock.exists() and git(a, "rev-parse", "HEAD").strip() == old
    finally:
        holder.kill()
        holder.wait()
    result = rollout(a, "advance", "security-patch", "--wave", "1")  # the holder is gone: now it is stale
    assert result.returncode == 0, result.stderr
    assert git(a, "rev-parse", "HEAD").strip() == new and git(a, "status", "--porcelain") == ""


def test_changes_the_move_does_not_explain_are_still_refused(fleet):
    a, old, new, changed = published_wave_1(fleet)
    half_merged(a, new, changed)
    (a / changed[1]).write_text("edited by hand\n")
    result = rollout(a, "advance", "security-patch", "--wave", "1")
    assert result.returncode == 2 and "uncommitted changes" in result.stderr, result.stderr
    assert (a / changed[1]).read_text() == "edited by hand\n", "nothing of the user's is overwritten"
    assert git(a, "rev-parse", "HEAD").strip() == old
    (a / "notes.txt").write_text("mine\n")
    (a / ".git/index.lock").unlink()
    git(a, "checkout", "--", changed[1])
    result = rollout(a, "advance", "security-patch", "--wave", "1")
    assert result.returncode == 2 and "notes.txt" in result.stderr, "an untracked file of the user's is not explained"


def test_a_journaled_move_cut_short_is_rolled_forward_by_status(fleet):
    """Our own move, killed after the journal and one file: the next command finishes it."""
    a, old, new, changed = published_wave_1(fleet)
    (a / ".git/rollout-move").write_text(json.dumps({"branch": "main", "old": old, "new": new, "pid": 999999999}))
    half_merged(a, new, changed, stale_lock=False)
    leftover = (a / changed[1]).parent / f".{(a / changed[1]).name}.rollout-999999999~"
    leftover.write_text("half written")
    (a / ".git/index.lock").write_bytes(b"")  # taken by the killed run
    result = rollout(a, "status", "security-patch", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "finished moving main" in result.stderr
    assert json.loads(result.stdout)["waves"][0]["status"] in ("advanced", "passed")
    assert git(a, "rev-parse", "HEAD").strip() == new
    assert git(a, "status", "--porcelain") == "" and not leftover.exists()
    assert not (a / ".git/rollout-move").exists() and not (a / ".git/index.lock").exists()


@pytest.mark.parametrize("ref", ["refs/heads/main.lock", "refs/remotes/origin/main.lock", "packed-refs.lock"])
def test_a_ref_lock_a_killed_git_left_is_removed_one_a_live_process_holds_is_not(fleet, ref):
    a = fleet.clone("a")
    lock = a / ".git" / ref
    lock.write_text("0" * 40 + "\n")  # what a git killed mid-update leaves
    result = rollout(a, "advance", "security-patch", "--wave", "1", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert any("left by a killed git command" in note for note in json.loads(result.stdout)["notes"])
    assert not lock.exists() and git(a, "rev-parse", "HEAD").strip() == fleet.remote_head()

    holder = subprocess.Popen([sys.executable, "-c", f"f = open({str(lock)!r}, 'w'); import time; time.sleep(60)"])
    try:
        deadline = time.monotonic() + 10
        while not lock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        rollout(a, "advance", "security-patch", "--wave", "2", "--force")
        assert lock.exists(), "a lock a live process holds is never removed"
    finally:
        holder.kill()
        holder.wait()
