"""Review repro (not collected: ~75 s; run it by path): under pull-request delivery `run`
tends (merges ready advance requests) before it judges the waves out, so a sibling's
advance is merged in the very step whose judgement reverts its sibling; push delivery's
decide starts nothing in a step where a wave fails. Fails on main at 1293315.

    PYTHONPATH=. python -m pytest -q tests/forge/repro_tend_before_judge.py
"""

import time

from forge.simulated import Simulator
from forge.test_delivery import BRANCHES, fleet_with, pulls, repo, rollout, run


def test_a_sibling_advance_is_not_merged_in_the_step_that_reverts_its_sibling(tmp_path):
    fleet = fleet_with(tmp_path, "mode: pull-request")
    sim = Simulator(fleet, "github", "--protect", "--required-check", "ci",
                    "--fault", "staging-eu-west:sync-failed@v1.4.2", "--poll", "0s", "--sync-delay", "15s")
    later = {"ROLLOUT_NOW": str(int(time.time()) + 60)}
    kubeconfig = str(fleet.bare.parent / "kubeconfig")

    def green(branch):
        request = next(r for r in repo(sim).get_pulls(state="open") if r.head.ref == branch)
        repo(sim).get_commit(request.head.sha).create_status("success", context="ci")

    try:
        run(fleet, sim)
        green(BRANCHES[0])
        run(fleet, sim)
        for _ in range(60):  # the canary passes: waves 2 and 3 proposed together
            if "proposed wave 2" in run(fleet, sim, env=later).stdout:
                break
            time.sleep(1)
        green(BRANCHES[1])
        assert "merged pull request #2" in run(fleet, sim, env=later).stdout  # wave 2 out, still syncing
        assert "rebuilt" in run(fleet, sim, env=later).stdout  # wave 3's branch on the moved main
        green(BRANCHES[2])
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
