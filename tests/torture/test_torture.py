"""The torture harnesses at CI size (~45 s together); `python -m tests.torture` runs them
big (docs/reliability.md)."""

from __future__ import annotations

from torture.fuzz import fuzz
from torture.kill import kill_trials
from torture.race import race


def test_kill_9_early_and_late_leaves_no_stuck_checkout_and_no_half_commit(tmp_path):
    tally = kill_trials(tmp_path, trials=6, seed=7, hits=4, most=18)  # a loaded machine misses more: more trials
    figures = tally.figures()
    assert tally.stuck == [] and tally.half_commits == [] and tally.status_errors == [], (figures, tally.stuck)
    assert tally.doubled == []
    assert figures["kills that hit a live run"] >= 4, figures  # the harness does kill live runs


def test_racing_runners_land_one_commit_per_wave_and_only_its_pusher_claims_it(tmp_path):
    tally = race(tmp_path, rounds=2, runners=3)
    assert tally.failures == [] and tally.claims == [] and tally.doubled == [], tally
    assert tally.half_commits == [] and tally.non_ff == 0


def test_fuzzed_policies_inventories_and_manifests_give_located_lines_never_internal_errors(tmp_path):
    tally = fuzz(tmp_path, examples=40, strict=True)  # strict: the first failure shrinks and fails
    assert tally.figures()["internal errors"] == 0 and tally.figures()["unlocated messages"] == 0
    assert tally.exits[2] > 0 and tally.exits[0] > 0, tally.figures()  # both valid and invalid inputs were tried
