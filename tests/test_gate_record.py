"""`rollout gate --wave N --record` records the passes `rollout run` would record, and only
those: the wave's own and its late joins', decided on everything the gate judged. Real git,
a bare remote, the real CLI for the advances; the verdicts given (the gates' observers are
tested on their own, and `gate`'s JSON of a late join's record against the simulator in
tests/test_hub_rollout.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROLLOUT, TEST_GIT_IDENTITY
from rollout.gate_check import WaveVerdict
from rollout.status import status
from rollout.step import record_gate
from test_late_join_shared import ENV, FLEET, git, published  # the same two-cluster fleet and git
from test_revert_nothing import POLICY  # the same policy: a values file per cluster

@pytest.fixture(scope="module")
def joined(tmp_path_factory):
    """canary out (dev-west) and dev-east's late join of it out, both unjudged: the remote
    as it stands (a bare repo), copied for each test."""
    root = tmp_path_factory.mktemp("gate-record")
    remote, work = published(root, {"rollouts/p.yaml": POLICY, "fleet/clusters.yaml": FLEET,
                                    "values/dev-west.yaml": "image:\n  tag: v1\n",
                                    "values/dev-east.yaml": "image:\n  tag: v1\n", "values/prod-p.yaml": "image:\n  tag: v1\n"})
    for step in ("canary", "dev-east"):
        if step == "dev-east":  # dev-east joins the fleet once canary is out: pinned as its late join
            (work / "fleet/clusters.yaml").write_text(FLEET + "  - {name: dev-east, labels: {env: dev}}\n")
            git(work, "commit", "-qam", "inventory: dev-east")
            git(work, "push", "-q")
        out = subprocess.run([*ROLLOUT, "advance", "p", "--wave", "canary"], cwd=work, capture_output=True, text=True,
                             timeout=120, env=ENV)
        assert out.returncode == 0, out.stdout + out.stderr
    return remote, git(work, "log", "-1", "--format=%H", "--grep", "(late join)$").strip()


def _verdict(state: str, reason: str, halt: bool = False) -> WaveVerdict:
    return WaveVerdict(1, "canary", state, reason, halt=halt)


@pytest.fixture
def work(joined, tmp_path, monkeypatch):
    for name, value in TEST_GIT_IDENTITY.items():  # the records, made in this process
        monkeypatch.setenv(name, value)
    remote, _ = joined
    shutil.copytree(remote, tmp_path / "remote.git")  # each test publishes to a remote of its own
    git(tmp_path, "clone", "-q", "remote.git", "work")
    return tmp_path / "work"


def _record(work: Path, wave: WaveVerdict, join: WaveVerdict | None, state=None) -> tuple[dict, list[str]]:
    """`gate --record`'s records (on `state`: as folded now), and the subjects they published."""
    state = state or status(work, "p")[1]
    before = git(work, "rev-parse", "origin/main").strip()
    recorded = record_gate(work, "p", state, 1, wave, [(out, join) for out in state.wave(1).joins_out])
    git(work, "fetch", "-q")
    return recorded, git(work, "log", "--format=%s", f"{before}..origin/main").splitlines()


@pytest.mark.parametrize("wave", [_verdict("failed", "dev-west: Degraded"),
                                  _verdict("unknown", "nothing observable past progressDeadline", halt=True)],
                         ids=["failed", "blind-past-deadline"])
def test_a_late_join_s_pass_is_not_recorded_while_its_wave_fails_or_halts_as_run_records_none(work, wave):
    """`run` reverts (or halts) a failed wave in the step it judged it and records no pass
    then; the wave's revert takes its late joins back with it. `gate --record` gave the
    decision the passes alone: it recorded the join's pass of a wave failing in the same
    judgement."""
    recorded, subjects = _record(work, wave, _verdict("passed", "dev-east: Healthy"))
    assert (recorded, subjects) == ({}, [])


def test_a_late_join_s_pass_is_recorded_while_its_wave_is_pending_and_once(work, joined):
    """As `run` records it: a late join is judged on its own, its wave pending or not. A
    `gate --record` that judged the join before another recorded it (racing) records it
    no second time; the wave's own pass, once it passed, is recorded then."""
    _, join = joined
    stale = status(work, "p")[1]
    pending, passed = _verdict("pending", "dev-west: Progressing"), _verdict("passed", "dev-east: Healthy")
    recorded, subjects = _record(work, pending, passed, stale)
    assert list(recorded) == [join] and subjects == [
        "rollout(p): wave 1 canary late join (dev-east) passed its gates (v2)"]
    assert f"Rollout-Advance: {join}\n" in git(work, "log", "-1", "--format=%B", recorded[join])
    assert _record(work, pending, passed, stale) == ({}, [])  # folded before the record: none twice
    assert status(work, "p")[1].wave(1).joins_out == []
    recorded, subjects = _record(work, _verdict("passed", "dev-west: Healthy"), None)
    assert list(recorded) == [None] and subjects == ["rollout(p): wave 1 canary passed its gates (v2)"]


def test_a_failed_late_join_records_no_pass_of_its_wave_in_the_same_judgement_as_run(work):
    """`run` reverts the join first; the wave's pass is recorded by the step after it."""
    recorded, subjects = _record(work, _verdict("passed", "dev-west: Healthy"), _verdict("failed", "dev-east: Degraded"))
    assert (recorded, subjects) == ({}, [])


def test_no_pass_is_recorded_while_a_cluster_of_the_wave_is_set_off_the_revision_by_hand_as_run_halts(work):
    """A person set dev-west back to v1 after canary pinned it: `run` halts the wave (a
    person decides) and records no pass. `gate --record` decided on a fold that read no
    pinned file, so it saw no hand edit and recorded the wave's and the join's passes."""
    (work / "values/dev-west.yaml").write_text("image:\n  tag: v1\n")
    git(work, "commit", "-qam", "dev-west back to v1 by hand")
    git(work, "push", "-q")
    assert status(work, "p", check_files=True)[1].wave(1).off  # as run and status see it
    recorded, subjects = _record(work, _verdict("passed", "dev-west: Healthy"), _verdict("passed", "dev-east: Healthy"))
    assert (recorded, subjects) == ({}, [])
