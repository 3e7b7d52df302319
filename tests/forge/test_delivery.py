"""Pull-request delivery end to end: `rollout run` against `rollout simulate --scm ...
--protect`, whose bare repository refuses every push to main (a pre-receive hook), so
that every change reaches main only through a pull request the forge merges. Driven
through the real client libraries over HTTP; the people around the rollout (who merge,
close, or change main) act through the forge's API too."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROLLOUT, racers
from forge.simulated import GIT_ENV, Fleet, Simulator, git

github = pytest.importorskip("github")

POLICY = "rollouts/security-patch.yaml"
BRANCHES = [f"rollout/security-patch/v1.4.2/wave-{n}" for n in range(1, 6)]


def fleet_with(tmp: Path, delivery: str) -> Fleet:
    """examples/fleet-config with 1-second bakes and `spec.delivery` (published before
    the simulator protects main)."""
    fleet = Fleet(tmp)
    policy = fleet.work / POLICY
    text = re.sub(r"bake: \S+", "bake: 1s", policy.read_text())
    policy.write_text(text + "  delivery:\n" + "".join(f"    {line}\n" for line in delivery.strip().splitlines()))
    git(fleet.work, "commit", "-qam", "pull-request delivery")
    git(fleet.work, "push", "-q", "origin", "HEAD:main")
    git(fleet.work, "branch", "-q", "--set-upstream-to=origin/main")
    return fleet


def rollout(fleet: Fleet, sim: Simulator, *args: str, env: dict | None = None, cwd: Path | None = None):
    return subprocess.run([*ROLLOUT, *args], cwd=cwd or fleet.work, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **GIT_ENV, **sim.env, **(env or {})})


def run(fleet: Fleet, sim: Simulator, *args: str, **kw):
    return rollout(fleet, sim, "run", "security-patch", "--kubeconfig", str(fleet.bare.parent / "kubeconfig"),
                   *args, **kw)


def repo(sim: Simulator, login: str | None = None):
    token = sim.env["GITHUB_TOKEN"] + (f"/{login}" if login else "")
    gh = github.Github(base_url=sim.env["GITHUB_API_URL"], auth=github.Auth.Token(token),
                       seconds_between_requests=None, seconds_between_writes=None)
    return gh.get_repo(sim.env["GITHUB_REPOSITORY"])


def green(sim: Simulator, branch: str) -> None:
    """The required `ci` check passes on the open request of `branch`."""
    request = next(r for r in repo(sim).get_pulls(state="open") if r.head.ref == branch)
    repo(sim).get_commit(request.head.sha).create_status("success", context="ci")


def pulls(sim: Simulator) -> list:
    return list(repo(sim).get_pulls(state="all"))


def statuses(fleet: Fleet, sim: Simulator) -> list[str]:
    git(fleet.work, "pull", "-q", "--ff-only")
    out = rollout(fleet, sim, "status", "security-patch", "--format", "json")
    return [w["status"] for w in json.loads(out.stdout)["waves"]]


def refused_push(fleet: Fleet) -> str:
    git(fleet.work, "commit", "-q", "--allow-empty", "-m", "a direct push")
    pushed = git(fleet.work, "push", "origin", "HEAD:main", check=False)
    git(fleet.work, "reset", "-q", "--hard", "HEAD^")
    assert pushed.returncode != 0
    return pushed.stderr


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_a_whole_rollout_goes_through_one_merged_pull_request_per_wave(tmp_path, method):
    fleet = fleet_with(tmp_path, f"mode: pull-request\nmergeMethod: {method}\nlabels: [rollout]")
    sim = Simulator(fleet, "github", "--protect")
    try:
        assert "protected branch hook declined" in refused_push(fleet)
        result = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "4m")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().endswith("rollout security-patch -> v1.4.2: complete")
        requests = pulls(sim)
        assert sorted(r.head.ref for r in requests) == BRANCHES  # exactly one per wave
        assert all(r.merged and [label.name for label in r.labels] == ["rollout"] for r in requests)
        assert "| `dev-eu-west` | `argocd/apps/dev-eu-west-platform.yaml` |" in \
            next(r for r in requests if r.head.ref.endswith("wave-1")).body
        first_parents = git(fleet.bare, "log", "--first-parent", "--format=%P%x09%s", "main").stdout.splitlines()
        changes = [line for line in first_parents if "rollout(" in line or "Merge" in line or "(#" in line]
        assert len(changes) == 5
        if method == "merge":  # merge commits whose second parent is the wave's own commit
            assert all(len(line.split("\t")[0].split()) == 2 for line in changes)
        else:  # squash and rebase: single-parent commits that carry the trailers
            assert all(len(line.split("\t")[0].split()) == 1 for line in changes)
        assert statuses(fleet, sim) == ["passed"] * 5
        # the gates' passes are records on rollout/records, not on the protected main
        records = git(fleet.bare, "log", "--format=%s", "rollout/records").stdout
        assert records.count("passed its gates") == 5, git(fleet.bare, "log", "--format=%H %ct %P %s", "rollout/records", "main").stdout + result.stdout + result.stderr
        assert "passed its gates" not in git(fleet.bare, "log", "--format=%s", "main").stdout
        if method == "rebase":  # once: a late join after every wave passed is not complete until it is merged
            add_dev_ap_south(fleet, sim)
            step = run(fleet, sim)
            assert step.returncode == 0 and "proposed wave 1 canary: 1 cluster" in step.stdout, step.stdout + step.stderr
            assert step.stdout.strip().endswith("rollout security-patch -> v1.4.2: proposed")
            git(fleet.work, "pull", "-q", "--ff-only")
            said = json.loads(rollout(fleet, sim, "status", "security-patch", "--format", "json").stdout)
            assert said["status"] == "in-progress"
            done = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "1m")
            assert done.stdout.strip().endswith("complete"), done.stdout + done.stderr
            # a cluster added with its files at the revision already: its late join changes no file. One
            # pull request lands it (a rebase would drop an empty commit: it is squashed), and it is judged.
            # (squash and merge land an empty commit as they are: the same steps pass, not repeated here)
            git(fleet.work, "pull", "-q", "--ff-only")
            add_dev_ap_south(fleet, sim, "dev-ap-north", "v1.4.2")
            done = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "40s")
            assert done.returncode == 0 and done.stdout.strip().endswith("complete"), done.stdout + done.stderr
            assert "wave 1 canary (late join: dev-ap-north) passed its gates" in done.stdout, done.stdout
            joins = [r for r in pulls(sim) if r.head.ref.startswith("rollout/security-patch/v1.4.2/wave-1-late-")]
            assert len(joins) == 2 and all(r.merged for r in joins)  # dev-ap-south's, and one for dev-ap-north
            said = json.loads(rollout(fleet, sim, "status", "security-patch", "--format", "json").stdout)
            assert [(j["clusters"], j["status"]) for j in said["waves"][0]["lateJoins"]][-1] == (["dev-ap-north"],
                                                                                                 "passed")
    finally:
        sim.stop()


def add_dev_ap_south(fleet: Fleet, sim: Simulator, name: str = "dev-ap-south", pinned: str = "v1.4.1") -> None:
    """A person adds dev-ap-south (canary's environment) to the fleet, through a pull request of their own;
    its files a copy of dev-eu-west's on `pinned` (the old template by default)."""
    region = name.removeprefix("dev-")
    new = {"fleet/clusters.yaml": (fleet.work / "fleet/clusters.yaml").read_text() +
           f"  - name: {name}\n    server: https://{name}.k8s.example.com:6443\n"
           f"    labels:\n      environment: dev\n      region: {region}\n"}
    for path in ("argocd/apps/dev-eu-west-platform.yaml", "clusters/dev-eu-west/kustomization.yaml"):
        text = (fleet.work / path).read_text().replace("dev-eu-west", name).replace("eu-west", region)
        new[path.replace("dev-eu-west", name)] = text.replace("v1.4.2", pinned)
    fleet.branch(f"add-{name}", new, f"add {name}")
    added = repo(sim, "alice").create_pull(base="main", head=f"add-{name}", title=f"add {name}", body="")
    added.merge(merge_method="merge")


def test_without_auto_merge_the_run_waits_and_a_persons_merge_releases_it(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request\nautoMerge: false")
    sim = Simulator(fleet, "github", "--protect")
    try:
        first = run(fleet, sim)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "proposed wave 1 canary" in first.stdout
        (request,) = pulls(sim)
        again = run(fleet, sim)
        assert f"waits for a person to merge pull request #{request.number}" in again.stdout
        assert len(pulls(sim)) == 1 and statuses(fleet, sim)[0] == "proposed"
        repo(sim, "alice").get_pull(request.number).merge(merge_method="merge")
        time.sleep(1.5)  # the bake
        after = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "8s")
        assert "proposed wave 2 region" in after.stdout + after.stderr or "proposed wave 3" in after.stdout
        assert statuses(fleet, sim)[0] == "passed"
    finally:
        sim.stop()


def test_closing_a_pull_request_halts_the_rollout(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request\nautoMerge: false")
    sim = Simulator(fleet, "github", "--protect")
    try:
        assert run(fleet, sim).returncode == 0
        (request,) = pulls(sim)
        repo(sim, "alice").get_pull(request.number).edit(state="closed")
        halted = run(fleet, sim)
        assert halted.returncode == 1
        assert (f"halted: wave 1 canary: pull request #{request.number} ({request.html_url}) was closed without "
                "merge") in halted.stdout
        assert halted.stdout.strip().endswith("halted")
        assert len(pulls(sim)) == 1  # nothing proposed again
    finally:
        sim.stop()


def race(tmp: Path, fleet: Fleet, sim: Simulator, branches) -> list[str]:
    """`racers(4)` clones (4 by hand, 2 in CI) step at once, round after round, until one
    says complete; after every round the forge holds at most one request per branch
    (`branches()`: every request's head branch). Returns those branches."""
    clones = []
    for n in range(racers(4)):
        clones.append(tmp / f"runner-{n}")
        git(tmp, "clone", "-q", str(fleet.bare), str(clones[-1]))
    deadline = time.monotonic() + 240
    with ThreadPoolExecutor(len(clones)) as pool:
        while time.monotonic() < deadline:
            results = list(pool.map(lambda c: run(fleet, sim, cwd=c), clones))
            assert not any("internal error" in r.stderr or "Traceback" in r.stderr for r in results), results
            heads = branches()
            assert len(heads) == len(set(heads)), heads  # never two requests for one wave
            if any(r.stdout.strip().endswith("complete") for r in results):
                return heads
            time.sleep(0.5)
    raise AssertionError("the racing runners did not complete the rollout in 240 s")


def test_racing_runners_open_one_pull_request_per_wave(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request\nmergeMethod: squash")
    sim = Simulator(fleet, "github", "--protect")
    try:
        assert sorted(race(tmp_path, fleet, sim, lambda: [r.head.ref for r in pulls(sim)])) == BRANCHES
        assert statuses(fleet, sim) == ["passed"] * 5
    finally:
        sim.stop()


def test_a_rate_limit_is_waited_out(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request")
    sim = Simulator(fleet, "github", "--protect")
    try:
        import urllib.request

        request = urllib.request.Request(f"{sim.env['GITHUB_API_URL']}/_sim/rate-limit",
                                         data=json.dumps({"count": 2, "status": 429, "retryAfter": 1}).encode(),
                                         headers={"Authorization": f"token {sim.env['GITHUB_TOKEN']}",
                                                  "Content-Type": "application/json"})
        urllib.request.urlopen(request).read()
        started = time.monotonic()
        result = run(fleet, sim)
        assert result.returncode == 0, result.stdout + result.stderr
        assert time.monotonic() - started >= 2  # two waits of Retry-After: 1
        assert "proposed wave 1 canary" in result.stdout
    finally:
        sim.stop()


def test_main_moving_under_an_open_pull_request_rebuilds_it_or_halts_on_a_conflict(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request\nautoMerge: false")
    sim = Simulator(fleet, "github", "--protect")
    try:
        assert run(fleet, sim).returncode == 0
        people = repo(sim, "alice")

        def merged_by_a_person(branch: str, files: dict[str, str]) -> str:
            fleet.branch(branch, files, f"a person's change: {branch}")
            pull = people.create_pull(base="main", head=branch, title=branch, body="")
            pull.merge(merge_method="merge")
            return fleet.main()

        def message(ref: str) -> str:  # exactly as the commit holds it
            return git(fleet.bare, "cat-file", "commit", ref).stdout.split("\n\n", 1)[1]

        proposed = message(BRANCHES[0])
        main = merged_by_a_person("docs", {"NOTES.md": "a person's notes\n"})
        moved = run(fleet, sim)
        assert f"rebuilt {BRANCHES[0]} on main {main[:12]}" in moved.stdout, moved.stdout + moved.stderr
        assert git(fleet.bare, "rev-parse", f"{BRANCHES[0]}^").stdout.strip() == main
        assert message(BRANCHES[0]) == proposed  # byte for byte: no newline more per rebuild
        assert len(pulls(sim)) == 2  # the rebuild kept its pull request
        body = next(r for r in pulls(sim) if r.head.ref == BRANCHES[0]).body
        assert f"on `main` at `{main[:12]}`" in body  # the body tells the new base
        # a person changes the line right above the pinned one: git's merge conflicts (touching
        # hunks); the pinned field is carried onto the new main, the person's line kept
        app = fleet.work / "argocd/apps/dev-eu-west-platform.yaml"
        git(fleet.work, "checkout", "-q", "origin/main")
        beside = app.read_text().replace("fleet-config.git\n", "fleet-config\n")  # the same repository
        assert beside != app.read_text() and "fleet-config\n    targetRevision: v1.4.1\n" in beside
        main = merged_by_a_person("beside", {"argocd/apps/dev-eu-west-platform.yaml": beside})
        git(fleet.work, "checkout", "-q", "main")
        carried = run(fleet, sim)
        assert carried.returncode == 0, carried.stdout + carried.stderr
        assert f"rebuilt {BRANCHES[0]} on main {main[:12]} (pull request #1; its pinned fields carried: git's merge " \
               "conflicted beside them)" in carried.stdout, carried.stdout
        assert git(fleet.bare, "rev-parse", f"{BRANCHES[0]}^").stdout.strip() == main
        assert message(BRANCHES[0]) == proposed
        rebuilt = git(fleet.bare, "show", f"{BRANCHES[0]}:argocd/apps/dev-eu-west-platform.yaml").stdout
        assert rebuilt == beside.replace("targetRevision: v1.4.1\n", "targetRevision: v1.4.2\n")  # byte for byte
        assert git(fleet.bare, "diff", "--name-only", main, BRANCHES[0]).stdout.split() == [
            "argocd/apps/dev-eu-west-platform.yaml", "argocd/apps/dev-us-east-platform.yaml"]
        # a person pins the same field to something else: the change no longer applies
        git(fleet.work, "checkout", "-q", "origin/main")
        text = app.read_text().replace("targetRevision: v1.4.1", "targetRevision: v1.4.1-hotfix")
        assert text != app.read_text()
        merged_by_a_person("hotfix", {"argocd/apps/dev-eu-west-platform.yaml": text})
        git(fleet.work, "checkout", "-q", "main")
        conflict = run(fleet, sim)
        assert conflict.returncode == 1
        assert f"halted: wave 1 canary: conflict: {BRANCHES[0]} no longer applies to main" in conflict.stdout
    finally:
        sim.stop()


def test_a_failed_wave_is_reverted_through_an_urgent_pull_request(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request\nmergeMethod: squash")
    sim = Simulator(fleet, "github", "--protect", "--fault", "dev-eu-west:degraded@v1.4.2")
    try:
        result = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "2m")
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout.strip().endswith("reverted")
        revert = next(r for r in pulls(sim) if r.head.ref.endswith("wave-1-revert"))
        assert revert.merged and {"rollout-revert", "urgent"} <= {label.name for label in revert.labels}
        assert statuses(fleet, sim)[0] == "reverted"
        assert "revert wave 1 canary" in git(fleet.bare, "log", "-1", "--format=%s", "main").stdout
    finally:
        sim.stop()


def test_a_retry_on_a_protected_main_is_a_record_and_the_new_epoch_has_branches_of_its_own(tmp_path):
    """Issue 18: a reverted revision retried once its cause is fixed. The retry is a record
    on rollout/records (main is protected); epoch 2's pull requests are on branches of their
    own, never locked by epoch 1's."""
    fleet = fleet_with(tmp_path, "mode: pull-request\nmergeMethod: squash")
    sim = Simulator(fleet, "github", "--protect", "--fault", "dev-eu-west:degraded@v1.4.2")
    try:
        failed = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "2m")
        assert failed.returncode == 1 and failed.stdout.strip().endswith("reverted"), failed.stdout + failed.stderr
    finally:
        sim.stop()
    sim = Simulator(fleet, "github", "--protect")  # the node is fixed: no fault any more
    try:
        git(fleet.work, "pull", "-q", "--ff-only")
        retried = rollout(fleet, sim, "retry", "security-patch", "--reason", "dev-eu-west's node replaced")
        assert retried.returncode == 0, retried.stdout + retried.stderr
        assert "Rollout-Action: retry" in git(fleet.bare, "log", "-1", "--format=%B", "rollout/records").stdout
        assert "retry" not in git(fleet.bare, "log", "--format=%s", "main").stdout
        done = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "4m")
        assert done.returncode == 0 and done.stdout.strip().endswith("complete"), done.stdout + done.stderr
        branches = sorted(r.head.ref for r in pulls(sim) if r.merged)
        assert [b for b in branches if "/epoch-2/" in b] == \
            [f"rollout/security-patch/v1.4.2/epoch-2/wave-{n}" for n in range(1, 6)]
        state = json.loads(rollout(fleet, sim, "status", "security-patch", "--format", "json").stdout)
        assert state["epoch"] == 2 and [w["status"] for w in state["waves"]] == ["passed"] * 5
    finally:
        sim.stop()


def test_a_halt_on_a_protected_main_is_a_record_that_sticks_until_lifted(tmp_path):
    """Issue 18: `onFailure: halt` under pull-request delivery: the halt is a record on
    rollout/records (main is protected), every later step says halted, and the lift is a
    record there too."""
    fleet = fleet_with(tmp_path, "mode: pull-request\nmergeMethod: squash")
    policy = fleet.work / POLICY
    policy.write_text(policy.read_text().replace("onFailure: revert", "onFailure: halt"))
    git(fleet.work, "commit", "-qam", "halt on failure")
    git(fleet.work, "push", "-q", "origin", "HEAD:main")
    sim = Simulator(fleet, "github", "--protect", "--fault", "dev-eu-west:degraded@v1.4.2")
    try:
        failed = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "2m")
        assert failed.returncode == 1 and failed.stdout.strip().endswith("v1.4.2: failed"), failed.stdout + failed.stderr
        records = git(fleet.bare, "log", "--format=%s", "rollout/records").stdout
        assert "rollout(security-patch): halt at wave 1 canary (v1.4.2)" in records
        assert "halt at" not in git(fleet.bare, "log", "--format=%s", "main").stdout
        held = run(fleet, sim)
        assert held.returncode == 1 and held.stdout.strip().endswith("v1.4.2: halted"), held.stdout + held.stderr
        assert [r.head.ref for r in pulls(sim)] == [BRANCHES[0]]  # nothing more proposed
        git(fleet.work, "pull", "-q", "--ff-only")
        lifted = rollout(fleet, sim, "resume", "security-patch", "--halt", "--reason", "looked at it")
        assert lifted.returncode == 0 and "lifted the halt at wave 1 canary" in lifted.stdout, lifted.stderr
        assert "lift the halt at wave 1 canary" in git(fleet.bare, "log", "-1", "--format=%s", "rollout/records").stdout
        again = run(fleet, sim)  # judged afresh: still degraded, halted again by a new record
        assert again.returncode == 1 and again.stdout.strip().endswith("v1.4.2: failed"), again.stdout + again.stderr
        assert git(fleet.bare, "log", "--format=%s", "rollout/records").stdout.count(": halt at wave 1") == 2
    finally:
        sim.stop()


def test_reverts_may_be_pushed_while_advances_go_through_pull_requests(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request\nrevert: push")
    sim = Simulator(fleet, "github", "--fault", "dev-eu-west:degraded@v1.4.2")  # the bot may push (reverts only)
    try:
        result = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "2m")
        assert result.returncode == 1 and result.stdout.strip().endswith("reverted"), result.stdout + result.stderr
        assert [r.head.ref for r in pulls(sim)] == [BRANCHES[0]]  # the advance's; the revert was pushed
        subject, parents = git(fleet.bare, "log", "-1", "--format=%s%x09%P", "main").stdout.strip().split("\t")
        assert subject == "rollout(security-patch): revert wave 1 canary (v1.4.2)" and len(parents.split()) == 1
    finally:
        sim.stop()


def test_a_missing_token_is_a_set_up_error_before_anything_is_written(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request")
    sim = Simulator(fleet, "github", "--protect")
    try:
        before = git(fleet.bare, "for-each-ref").stdout
        result = run(fleet, sim, env={"GITHUB_TOKEN": ""})
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip() == "rollout: GitHub: no token in $GITHUB_TOKEN (one that may open and merge " \
                                        "pull requests in fleet/fleet)"
        wrong = run(fleet, sim, env={"GITHUB_TOKEN": "not-the-token"})
        assert wrong.returncode == 2 and "not-the-token" not in wrong.stdout + wrong.stderr
        assert git(fleet.bare, "for-each-ref").stdout == before  # no branch, no record
    finally:
        sim.stop()


def test_a_pause_is_recorded_beside_a_protected_main_and_holds_every_runner(tmp_path):
    """main refuses pushes, so `pause` commits to rollout/records; `status` shows it and
    `run` starts nothing new until `resume` (recorded there too) lifts it."""
    fleet = fleet_with(tmp_path, "mode: pull-request")
    sim = Simulator(fleet, "github", "--protect")
    try:
        before = fleet.main()
        paused = rollout(fleet, sim, "pause", "security-patch", "--reason", "incident 42", "--by", "alice")
        assert paused.returncode == 0, paused.stdout + paused.stderr
        assert fleet.main() == before
        assert "pause" in git(fleet.bare, "log", "-1", "--format=%s", "rollout/records").stdout
        git(fleet.work, "fetch", "-q", "origin")
        shown = json.loads(rollout(fleet, sim, "status", "security-patch", "--format", "json").stdout)
        assert [(p["by"], p["reason"]) for p in shown["paused"]] == [("alice", "incident 42")]
        held = run(fleet, sim)
        assert held.returncode == 0, held.stdout + held.stderr
        assert pulls(sim) == [] and "paused" in held.stdout
        resumed = rollout(fleet, sim, "resume", "security-patch")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "proposed wave 1 canary" in run(fleet, sim).stdout
        assert [r.head.ref for r in pulls(sim)] == BRANCHES[:1]
    finally:
        sim.stop()


def served(sim: Simulator) -> int:
    """API requests the simulated GitHub has answered so far (its test knob)."""
    import urllib.request

    request = urllib.request.Request(f"{sim.env['GITHUB_API_URL']}/_sim/rate-limit",
                                     headers={"Authorization": f"token {sim.env['GITHUB_TOKEN']}"})
    return json.loads(urllib.request.urlopen(request).read())["served"]


def test_a_waiting_step_costs_two_api_calls_however_many_runs_wait(tmp_path):
    """The steady state (a pull request waits for a person): one call checks the token and
    the repository, one lists the open pull requests; none per cluster, none per re-run."""
    fleet = fleet_with(tmp_path, "mode: pull-request\nautoMerge: false")
    sim = Simulator(fleet, "github", "--protect")
    try:
        assert "proposed wave 1 canary" in run(fleet, sim).stdout
        costs = []
        for _ in range(3):
            before = served(sim)
            assert "waits for a person to merge" in run(fleet, sim).stdout
            costs.append(served(sim) - before)
        assert costs == [2, 2, 2]
    finally:
        sim.stop()


def canary_needs_approval(fleet: Fleet) -> None:
    """The example policy's canary marked `approval: required`, pushed."""
    policy = fleet.work / POLICY
    policy.write_text(policy.read_text().replace("      bake: 1s\n", "      bake: 1s\n      approval: required\n", 1))
    git(fleet.work, "commit", "-qam", "canary needs approval")
    git(fleet.work, "push", "-q", "origin", "HEAD:main")


def test_an_approval_and_a_late_join_each_travel_as_their_own_pull_request(tmp_path):
    """`approve` on a protected main is a pull request (branch ...-approve) that the next
    step merges; a cluster that joins a wave already out (added through a person's pull
    request) is pinned through a late-join pull request of its own."""
    fleet = fleet_with(tmp_path, "mode: pull-request\nmergeMethod: squash")
    canary_needs_approval(fleet)
    sim = Simulator(fleet, "github", "--protect")
    try:
        until(fleet, sim, "waits for `rollout approve --wave 1`")
        approved = rollout(fleet, sim, "approve", "security-patch", "--wave", "1", "--by", "alice@example.com")
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert "pull request #2" in approved.stdout and "wave-1-approve" in approved.stdout
        after = run(fleet, sim)
        assert "merged pull request #2 (approve of wave 1 canary)" in after.stdout, after.stdout + after.stderr
        assert "proposed wave 2 region-eu-west" in after.stdout
        git(fleet.work, "pull", "-q", "--ff-only")
        status = json.loads(rollout(fleet, sim, "status", "security-patch", "--format", "json").stdout)
        assert status["waves"][0]["approvedBy"] == "alice@example.com"

        add_dev_ap_south(fleet, sim)  # a person's pull request
        until(fleet, sim, "proposed wave 1 canary")
        late = [r for r in pulls(sim) if "-late-" in r.head.ref]
        assert len(late) == 1 and late[0].head.ref.startswith("rollout/security-patch/v1.4.2/wave-1-late-")
        assert "`dev-ap-south`" in late[0].body and "`dev-eu-west`" not in late[0].body
        result = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "3m")
        assert result.stdout.strip().endswith("complete"), result.stdout + result.stderr
        # wave 2's request, open when dev-ap-south joined canary, is merged (wave 2 starts) only once that late
        # join passed: what waits for a wave waits for its late joins
        out = result.stdout
        assert "waits: waiting for the late join of wave 1 canary (dev-ap-south) is " in out, out
        assert out.index("(advance of wave 2 region-eu-west)") > \
            out.index("wave 1 canary (late join: dev-ap-south) passed its gates"), out
        git(fleet.work, "pull", "-q", "--ff-only")
        assert "targetRevision: v1.4.2" in (fleet.work / "argocd/apps/dev-ap-south-platform.yaml").read_text()
        heads = [r.head.ref for r in pulls(sim)]
        assert len(heads) == len(set(heads)) == 5 + 1 + 1 + 1  # the waves, the approval, the person's, the late join
    finally:
        sim.stop()


def test_a_step_stopped_between_the_branch_and_its_pull_request_is_finished_by_the_next(tmp_path):
    """The forge fails the pull request's creation (past every retry) after the branch
    was pushed: the step stops with one line, and the next one finds the branch without a
    pull request and opens it, once."""
    import urllib.request

    fleet = fleet_with(tmp_path, "mode: pull-request")
    sim = Simulator(fleet, "github", "--protect")
    try:
        # the step's first two calls (the token check, the look-up) pass; its create fails 6 times
        knob = {"after": 2, "count": 6, "status": 429, "retryAfter": 1}
        urllib.request.urlopen(urllib.request.Request(
            f"{sim.env['GITHUB_API_URL']}/_sim/rate-limit", data=json.dumps(knob).encode(),
            headers={"Authorization": f"token {sim.env['GITHUB_TOKEN']}", "Content-Type": "application/json"})).read()
        stopped = run(fleet, sim)
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        assert "GitHub: open a pull request for" in stopped.stderr + stopped.stdout
        assert "Traceback" not in stopped.stderr and sim.env["GITHUB_TOKEN"] not in stopped.stderr
        assert git(fleet.bare, "rev-parse", "--verify", f"refs/heads/{BRANCHES[0]}", check=False).returncode == 0
        assert pulls(sim) == []
        finished = run(fleet, sim)
        assert finished.returncode == 0, finished.stdout + finished.stderr
        assert f"wave 1 canary: opened " in finished.stdout and f"for {BRANCHES[0]}" in finished.stdout
        assert [r.head.ref for r in pulls(sim)] == BRANCHES[:1]
        assert len(pulls(sim)) == 1 and run(fleet, sim).returncode == 0 and len(pulls(sim)) == 1
    finally:
        sim.stop()


def until(fleet: Fleet, sim: Simulator, text: str, seconds: float = 90):
    """Step until a step's output says `text`; that step."""
    deadline = time.monotonic() + seconds
    while text not in (step := run(fleet, sim)).stdout:
        assert "Traceback" not in step.stderr and time.monotonic() < deadline, step.stdout + step.stderr
        time.sleep(0.5)
    return step


def test_while_a_revert_waits_in_its_pull_request_the_wave_is_judged_no_more(tmp_path):
    """A flapping gate must not pass a failed wave, nor advance its dependents, while its
    revert is only proposed: every step says `reverting` (exit 1) until the revert merges."""
    fleet = fleet_with(tmp_path, "mode: pull-request\nautoMerge: false")
    sim = Simulator(fleet, "github", "--protect", "--fault", "dev-eu-west:degraded@v1.4.2")
    try:
        until(fleet, sim, "proposed wave 1 canary")
        (advance,) = pulls(sim)
        repo(sim, "alice").get_pull(advance.number).merge(merge_method="merge")
        failed = until(fleet, sim, "proposed the revert of wave 1 canary")
        assert failed.returncode == 1 and failed.stdout.strip().endswith("reverting")
        records = git(fleet.bare, "log", "--format=%s", "rollout/records", check=False).stdout
        for _ in range(2):
            waiting = run(fleet, sim)
            assert waiting.returncode == 1, waiting.stdout + waiting.stderr
            assert "wave 1 canary: its revert waits in pull request #2" in waiting.stdout
            assert waiting.stdout.strip().endswith("reverting")
        assert len(pulls(sim)) == 2  # nothing else proposed
        assert git(fleet.bare, "log", "--format=%s", "rollout/records", check=False).stdout == records
        repo(sim, "alice").get_pull(2).merge(merge_method="merge")
        done = run(fleet, sim)
        assert done.returncode == 1 and done.stdout.strip().endswith("reverted"), done.stdout
    finally:
        sim.stop()


def test_one_closed_pull_request_stops_the_merge_of_the_others(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request")
    sim = Simulator(fleet, "github", "--protect")
    try:
        until(fleet, sim, "proposed wave 2 region-eu-west")
        both = {r.head.ref: r for r in pulls(sim) if r.state == "open"}
        assert sorted(both) == BRANCHES[1:3]
        repo(sim, "alice").get_pull(both[BRANCHES[1]].number).edit(state="closed")
        halted = run(fleet, sim)
        assert halted.returncode == 1 and halted.stdout.strip().endswith("halted")
        assert not repo(sim).get_pull(both[BRANCHES[2]].number).merged  # its sibling waits too
    finally:
        sim.stop()


def test_a_pull_request_of_a_superseded_revision_is_pointed_out(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request\nautoMerge: false")
    sim = Simulator(fleet, "github", "--protect")
    try:
        until(fleet, sim, "proposed wave 1 canary")
        (old,) = pulls(sim)
        git(fleet.work, "pull", "-q", "--ff-only")
        text = (fleet.work / POLICY).read_text().replace("revision: v1.4.2", "revision: v1.4.3")
        fleet.branch("v1.4.3", {POLICY: text}, "security-patch: v1.4.3 instead")
        repo(sim, "alice").create_pull(base="main", head="v1.4.3", title="v1.4.3", body="").merge(merge_method="merge")
        git(fleet.work, "checkout", "-q", "main")
        until(fleet, sim, "proposed wave 1 canary")
        noted = run(fleet, sim)
        assert (f"pull request #{old.number} ({old.html_url}) proposes another revision of security-patch "
                f"({BRANCHES[0]}): close it") in noted.stdout, noted.stdout + noted.stderr
        assert not repo(sim).get_pull(old.number).merged
    finally:
        sim.stop()


def test_a_pause_holds_a_proposed_wave_whose_pull_request_is_ready(tmp_path):
    """A pause holds every start: the pull request of a wave proposed before the pause is
    not merged while it stands (merging it is the wave's start), and is after `resume`."""
    fleet = fleet_with(tmp_path, "mode: pull-request")
    sim = Simulator(fleet, "github", "--protect")
    try:
        assert "proposed wave 1 canary" in run(fleet, sim).stdout
        paused = rollout(fleet, sim, "pause", "security-patch", "--reason", "incident 42", "--by", "alice")
        assert paused.returncode == 0, paused.stdout + paused.stderr
        before = fleet.main()
        held = run(fleet, sim)
        assert held.returncode == 0, held.stdout + held.stderr
        assert fleet.main() == before and "paused" in held.stdout
        assert [r.merged for r in pulls(sim)] == [False]
        assert rollout(fleet, sim, "resume", "security-patch").returncode == 0
        assert "merged" in run(fleet, sim).stdout and fleet.main() != before
    finally:
        sim.stop()


def test_a_halt_holds_a_proposed_wave_whose_pull_request_turns_ready(tmp_path):
    """Waves 2 and 3 are proposed together after the canary; wave 2's request merges first and
    its gate fails (`onFailure: halt`). Wave 3's request, ready only later, is not merged
    while the halt stands: merging it is its wave's start (as a pause holds it)."""
    fleet = fleet_with(tmp_path, "mode: pull-request")
    policy = fleet.work / POLICY
    policy.write_text(policy.read_text().replace("onFailure: revert", "onFailure: halt"))
    git(fleet.work, "commit", "-qam", "halt on failure")
    git(fleet.work, "push", "-q", "origin", "HEAD:main")
    sim = Simulator(fleet, "github", "--protect", "--required-check", "ci",
                    "--fault", "staging-eu-west:sync-failed@v1.4.2", "--poll", "0s")  # follows each merge at once
    later = {"ROLLOUT_NOW": str(int(time.time()) + 60)}  # past each 1-second bake, well within progressDeadline

    try:
        assert "proposed wave 1 canary" in run(fleet, sim).stdout
        green(sim, BRANCHES[0])
        assert "merged" in run(fleet, sim).stdout
        step = run(fleet, sim, env=later)  # the canary passed: waves 2 and 3 proposed
        assert "proposed wave 2" in step.stdout and "proposed wave 3" in step.stdout, step.stdout + step.stderr
        green(sim, BRANCHES[1])  # wave 3's checks still pending
        failed = run(fleet, sim, "--wait", "--interval", "1s", "--timeout", "1m", env=later)
        assert failed.stdout.strip().endswith("v1.4.2: failed"), failed.stdout + failed.stderr
        before = fleet.main()
        run(fleet, sim, env=later)  # (before the fix: wave 3's branch rebuilt on the moved main, to merge once green)
        green(sim, BRANCHES[2])
        held = run(fleet, sim, env=later)
        assert held.returncode == 1 and held.stdout.strip().endswith("v1.4.2: halted"), held.stdout + held.stderr
        assert fleet.main() == before and f"{BRANCHES[2]} waits: security-patch -> v1.4.2 is halted" in held.stdout
        assert not next(r for r in pulls(sim) if r.head.ref == BRANCHES[2]).merged
    finally:
        sim.stop()


def test_a_revert_waiting_in_its_pull_request_holds_a_sibling_s_merge(tmp_path):
    """As above under `onFailure: revert`: while wave 2's revert waits in its request (its
    checks pending), wave 3's ready request is not merged: the revision failed."""
    fleet = fleet_with(tmp_path, "mode: pull-request")
    sim = Simulator(fleet, "github", "--protect", "--required-check", "ci",
                    "--fault", "staging-eu-west:sync-failed@v1.4.2", "--poll", "0s")
    later = {"ROLLOUT_NOW": str(int(time.time()) + 60)}

    try:
        assert "proposed wave 1 canary" in run(fleet, sim).stdout
        green(sim, BRANCHES[0])
        assert "merged" in run(fleet, sim).stdout
        step = run(fleet, sim, env=later)
        assert "proposed wave 3" in step.stdout, step.stdout + step.stderr
        green(sim, BRANCHES[1])
        for _ in range(20):  # wave 2 merged, then its gate fails: its revert proposed
            step = run(fleet, sim, env=later)
            if "revert" in step.stdout:
                break
        assert "proposed the revert of wave 2" in step.stdout, step.stdout + step.stderr
        before = fleet.main()
        run(fleet, sim, env=later)  # (before the fix: wave 3's branch rebuilt on the moved main, to merge once green)
        green(sim, BRANCHES[2])
        held = run(fleet, sim, env=later)
        assert held.returncode == 1 and f"{BRANCHES[2]} waits: the revert of wave region-eu-west waits" in held.stdout, \
            held.stdout + held.stderr
        assert fleet.main() == before and not next(r for r in pulls(sim) if r.head.ref == BRANCHES[2]).merged
    finally:
        sim.stop()


def test_a_sibling_advance_is_not_merged_in_the_step_that_reverts_its_sibling(tmp_path):
    """`run` judges the waves out before it merges an advance (its wave's start): wave 3's
    request, ready in the very step whose verdict fails wave 2, is not merged there (push
    delivery starts nothing in a step where a wave fails). Before: `tend` merged it first."""
    fleet = fleet_with(tmp_path, "mode: pull-request")
    sim = Simulator(fleet, "github", "--protect", "--required-check", "ci",
                    "--fault", "staging-eu-west:sync-failed@v1.4.2", "--poll", "0s", "--sync-delay", "15s")
    later = {"ROLLOUT_NOW": str(int(time.time()) + 60)}
    kubeconfig = str(fleet.bare.parent / "kubeconfig")

    try:
        run(fleet, sim)
        green(sim, BRANCHES[0])
        run(fleet, sim)
        for _ in range(60):  # the canary passes: waves 2 and 3 proposed together
            if "proposed wave 2" in run(fleet, sim, env=later).stdout:
                break
            time.sleep(1)
        green(sim, BRANCHES[1])
        assert "merged pull request #2" in run(fleet, sim, env=later).stdout  # wave 2 out, still syncing
        assert "rebuilt" in run(fleet, sim, env=later).stdout  # wave 3's branch on the moved main
        green(sim, BRANCHES[2])
        for _ in range(60):  # wave 2's gate fails now (as `rollout gate` reads it), nothing recorded yet
            gate = rollout(fleet, sim, "gate", "security-patch", "--wave", "2", "--kubeconfig", kubeconfig, env=later)
            if gate.returncode == 1:
                break
            time.sleep(1)
        step = run(fleet, sim, env=later)
        assert "revert of wave 2" in step.stdout, step.stdout + step.stderr
        wave3 = next(r for r in pulls(sim) if r.head.ref == BRANCHES[2])
        assert not wave3.merged, step.stdout  # on main: merged in this very step, before wave 2 was judged
    finally:
        sim.stop()
