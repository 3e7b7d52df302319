"""Pull-request delivery end to end on GitLab: `rollout run` against `rollout simulate
--scm gitlab --protect` (a pre-receive hook refuses every push to main), driven through
python-gitlab over HTTP; the people around the rollout act through GitLab's API too.
The GitHub twin of these tests, and more, is test_delivery.py."""

from __future__ import annotations

import time

import pytest

from forge.simulated import Simulator, git
from forge.test_delivery import BRANCHES, fleet_with, race, refused_push, run, statuses

gitlab = pytest.importorskip("gitlab")


def project(sim: Simulator, login: str | None = None):
    token = sim.env["GITLAB_TOKEN"] + (f"/{login}" if login else "")
    return gitlab.Gitlab(sim.env["CI_API_V4_URL"].removesuffix("/api/v4"), private_token=token).projects.get(
        sim.env["CI_PROJECT_PATH"])


def requests(sim: Simulator) -> list:
    return project(sim).mergerequests.list(state="all", get_all=True)


@pytest.mark.parametrize("method, project_merge_method", [("merge", "merge"), ("squash", "merge"), ("squash", "ff")])
def test_a_whole_rollout_goes_through_one_merged_merge_request_per_wave(tmp_path, method, project_merge_method):
    fleet = fleet_with(tmp_path, f"mode: pull-request\nprovider: gitlab\nmergeMethod: {method}\nlabels: [rollout]")
    sim = Simulator(fleet, "gitlab", "--protect")
    try:
        settings = project(sim)
        settings.merge_method = project_merge_method
        settings.save()
        assert "protected branch hook declined" in refused_push(fleet)
        result = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "4m")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().endswith("rollout security-patch -> v1.4.2: complete")
        merged = requests(sim)
        assert sorted(r.source_branch for r in merged) == BRANCHES  # exactly one per wave
        assert all(r.state == "merged" and r.labels == ["rollout"] for r in merged)
        log = git(fleet.bare, "log", "--format=%H %P%x09%B%x00", "main").stdout
        assert log.count("Rollout-Action: advance") >= 5  # the trailers reached main, whatever the method
        if project_merge_method == "ff":  # fast-forward: squash commits, no merge commits
            assert all(len(entry.split("\t")[0].split()) <= 2 for entry in log.split("\x00") if entry.strip())
        assert statuses(fleet, sim) == ["passed"] * 5
        records = git(fleet.bare, "log", "--format=%s", "rollout/records").stdout
        assert records.count("passed its gates") == 5
    finally:
        sim.stop()


def test_without_auto_merge_a_persons_merge_releases_the_wave_and_closing_the_next_halts(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request\nautoMerge: false")
    sim = Simulator(fleet, "gitlab", "--protect")
    try:
        assert "proposed wave 1 canary" in run(fleet, sim).stdout
        (request,) = requests(sim)
        assert f"waits for a person to merge merge request !{request.iid}" in run(fleet, sim).stdout
        project(sim, "alice").mergerequests.get(request.iid).merge()
        time.sleep(1.5)  # the bake
        after = run(fleet, sim)
        assert after.returncode == 0, after.stdout + after.stderr
        assert statuses(fleet, sim)[0] == "passed"
        assert "proposed wave 2 region-eu-west" in after.stdout
        second = next(r for r in requests(sim) if r.source_branch == BRANCHES[1])
        closing = project(sim, "alice").mergerequests.get(second.iid)
        closing.state_event = "close"
        closing.save()
        halted = run(fleet, sim)
        assert halted.returncode == 1
        assert f"was closed without merge" in halted.stdout and halted.stdout.strip().endswith("halted")
    finally:
        sim.stop()


@pytest.mark.parametrize("method, project_merge_method", [("rebase", "ff"), ("merge", "ff"), ("rebase", "merge")])
def test_a_merge_that_would_land_the_proposed_commit_itself_is_refused_before_anything_is_written(
        tmp_path, method, project_merge_method):
    """A fast-forward lands the wave's own commit, dated when it was proposed: the bake
    would count the time the merge request waited. Exit 2, nothing pushed or opened."""
    fleet = fleet_with(tmp_path, f"mode: pull-request\nprovider: gitlab\nmergeMethod: {method}")
    sim = Simulator(fleet, "gitlab", "--protect")
    try:
        settings = project(sim)
        settings.merge_method = project_merge_method
        settings.save()
        before = git(fleet.bare, "for-each-ref", "--format=%(refname) %(objectname)").stdout
        refused = run(fleet, sim)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert "dated when it was proposed" in line and "use mergeMethod squash" in line
        assert requests(sim) == []
        assert git(fleet.bare, "for-each-ref", "--format=%(refname) %(objectname)").stdout == before
    finally:
        sim.stop()


def test_racing_runners_open_one_merge_request_per_wave(tmp_path):
    """GitLab answers a second merge request for an open source branch with 409: the
    runner that loses takes the open one."""
    fleet = fleet_with(tmp_path, "mode: pull-request\nmergeMethod: squash")
    sim = Simulator(fleet, "gitlab", "--protect")
    try:
        assert sorted(race(tmp_path, fleet, sim, lambda: [r.source_branch for r in requests(sim)])) == BRANCHES
        assert statuses(fleet, sim) == ["passed"] * 5
    finally:
        sim.stop()
