"""Epochs (issue 18): a rollout is its policy, revision and epoch. Setting a policy back to
a revision the fleet ran before rolls it out afresh; `rollout retry` starts a new epoch of
a reverted revision. Real git: a bare remote and clones; the clock is ROLLOUT_NOW."""

from __future__ import annotations

import json
import time

from test_engine import Fleet, fleet, git, git_identity, pinned, rollout  # noqa: F401  (fixtures)

from conftest import SEED_CLUSTERS

HOUR = 3600


def status(repo) -> dict:
    result = rollout(repo, "status", "security-patch", "--format", "json", now=int(time.time()) + 100 * HOUR)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def to_complete(repo) -> list[str]:
    """Advance whatever may go, the bakes skipped by the clock, until the rollout is complete."""
    subjects = []
    for step in range(1, 12):
        result = rollout(repo, "advance", "security-patch", "--format", "json", now=int(time.time()) + step * 2 * HOUR)
        assert result.returncode == 0, result.stdout + result.stderr
        subjects += [f"{w['number']} {w['name']}" for w in json.loads(result.stdout)["waves"]]
        if status(repo)["status"] == "complete":
            return subjects
    raise AssertionError(f"never complete: {status(repo)}")


def set_revision(repo, revision: str) -> None:
    policy = repo / "rollouts/security-patch.yaml"
    text = policy.read_text()
    current = next(line for line in text.splitlines() if line.strip().startswith("revision:"))
    policy.write_text(text.replace(current, f"  revision: {revision}"))
    git(repo, "commit", "-qam", f"security-patch -> {revision}")
    git(repo, "push", "-q")


def test_going_back_to_an_earlier_revision_rolls_it_out_afresh_through_every_wave(fleet):
    a = fleet.clone("a")
    waves = to_complete(a)
    assert [w.split()[0] for w in waves] == ["1", "2", "3", "4", "5"]
    set_revision(a, "v1.5.0")
    to_complete(a)
    assert all(pinned(a, c) == "v1.5.0" for c in SEED_CLUSTERS)

    set_revision(a, "v1.4.2")  # back: the most common emergency move
    before = status(a)
    assert before["status"] == "not-started" and before["epoch"] == 3, before  # not `complete` from epoch 1
    assert [(e["number"], e["revision"]) for e in before["epochs"]] == [(1, "v1.4.2"), (2, "v1.5.0")]
    table = rollout(a, "status", "security-patch")
    assert "epoch 3: not started yet" in table.stdout and "earlier: epoch 1 v1.4.2" in table.stdout

    again = to_complete(a)
    assert [w.split()[0] for w in again] == ["1", "2", "3", "4", "5"]  # every wave, in order, with its bake
    assert all(pinned(a, c) == "v1.4.2" for c in SEED_CLUSTERS)
    message = git(a, "log", "-1", "--format=%B", "--grep=wave 1 canary -> v1.4.2")
    assert "Rollout-Epoch: 3" in message
    done = status(a)
    assert done["status"] == "complete" and done["epoch"] == 3 and done["epochs"][-1]["number"] == 3


def test_a_wave_whose_files_already_hold_the_revision_still_gets_its_advance_and_bake(fleet):
    a = fleet.clone("a")
    to_complete(a)
    set_revision(a, "v1.5.0")
    assert rollout(a, "advance", "security-patch", "--wave", "1").returncode == 0  # only the canary moves
    set_revision(a, "v1.4.2")  # the rest of the fleet still holds v1.4.2
    result = rollout(a, "advance", "security-patch", "--format", "json", now=int(time.time()))
    assert [w["number"] for w in json.loads(result.stdout)["waves"]] == [1], result.stdout
    state = status(a)
    assert state["epoch"] == 3 and [w["status"] for w in state["waves"]][1:] == ["pending"] * 4
    # wave 2's files hold v1.4.2 already: it still goes, as an empty advance commit with its own bake
    to_complete(a)
    log = git(a, "log", "--format=%s", "-12")
    assert "rollout(security-patch): wave 2 region-eu-west -> v1.4.2" in log


def test_retry_starts_a_new_epoch_of_a_reverted_revision_and_only_then(fleet):
    a = fleet.clone("a")
    assert rollout(a, "retry", "security-patch", "--reason", "x").returncode == 2  # not started: nothing to retry
    assert rollout(a, "advance", "security-patch").returncode == 0
    refused = rollout(a, "retry", "security-patch", "--reason", "node fixed")
    assert refused.returncode == 2 and "in-progress (epoch 1)" in refused.stderr and "Traceback" not in refused.stderr
    assert rollout(a, "revert", "security-patch", "--wave", "1", "--reason", "5xx up").returncode == 0
    assert all(pinned(a, c) != "v1.4.2" for c in ("dev-us-east", "dev-eu-west"))
    assert rollout(a, "retry", "security-patch", "--reason", " ").returncode == 2
    head = git(a, "rev-parse", "HEAD").strip()
    retried = rollout(a, "retry", "security-patch", "--reason", "the node pool is fixed", "--by", "alice")
    assert retried.returncode == 0, retried.stderr
    assert "retried security-patch -> v1.4.2: epoch 2 starts at" in retried.stdout and "pushed" in retried.stdout
    message = git(fleet.remote, "log", "-1", "--format=%B", "main")
    assert "Rollout-Action: retry" in message and "Rollout-Epoch: 2" in message and "Rollout-Retried-By: alice" in message
    assert git(a, "diff", "--stat", head, "HEAD") == ""  # a record, no file touched
    state = status(a)
    assert state["status"] == "not-started" and state["epoch"] == 2
    assert state["epochs"][0]["reverted"] and state["epochs"][1]["retried"]
    assert rollout(a, "retry", "security-patch", "--reason", "again").returncode == 2  # not reverted now
    to_complete(a)
    assert all(pinned(a, c) == "v1.4.2" for c in SEED_CLUSTERS)


def test_a_revert_in_a_retried_epoch_goes_back_past_the_earlier_epochs_pin(fleet):
    """The canary passed in epoch 1 and kept the revision; epoch 2's advance of it changed no
    file. Reverting it in epoch 2 must still take it off the revision: back to its pin from
    before epoch 1, not to epoch 2's 'previous' value, which is the revision itself."""
    a = fleet.clone("a")
    original = {c: pinned(a, c) for c in SEED_CLUSTERS}
    assert rollout(a, "advance", "security-patch").returncode == 0  # wave 1
    soon = int(time.time()) + 2 * HOUR
    assert rollout(a, "advance", "security-patch", now=soon).returncode == 0  # waves 2 and 3
    assert rollout(a, "revert", "security-patch", "--wave", "2", "--reason", "eu-west 5xx").returncode == 0
    later = soon + 2 * HOUR  # wave 3's bake over: a retry waits for a sibling out and unjudged
    assert rollout(a, "retry", "security-patch", "--reason", "eu-west fixed", now=later).returncode == 0
    assert rollout(a, "advance", "security-patch", now=later).returncode == 0  # epoch 2, wave 1: its files hold it already
    assert pinned(a, "dev-us-east") == "v1.4.2"
    reverted = rollout(a, "revert", "security-patch", "--wave", "1", "--reason", "canary broke in epoch 2")
    assert reverted.returncode == 0, reverted.stderr
    assert pinned(a, "dev-us-east") == original["dev-us-east"] != "v1.4.2"
    assert pinned(a, "dev-eu-west") == original["dev-eu-west"]


def sibling_reverted(a) -> int:
    """The canary out, then waves 2 and 3 side by side, wave 2 reverted (wave 3 baking):
    the start's time."""
    start = int(time.time())
    assert rollout(a, "advance", "security-patch").returncode == 0
    assert rollout(a, "advance", "security-patch", now=start + 31 * 60).returncode == 0  # waves 2 and 3
    assert rollout(a, "revert", "security-patch", "--wave", "2", "--reason", "5xx up").returncode == 0
    return start


def test_retry_waits_for_a_sibling_still_out_and_unjudged(fleet):
    """Waves 2 and 3 run side by side; wave 2 is reverted while wave 3 still bakes. A retry
    then would start epoch 2 from the canary while wave 3's clusters sit on the revision,
    never judged (epoch 1's events count for nothing): refused until wave 3 is judged."""
    a = fleet.clone("a")
    start = sibling_reverted(a)
    refused = rollout(a, "retry", "security-patch", "--reason", "fixed", now=start + 32 * 60)
    assert refused.returncode == 1, refused.stdout + refused.stderr  # not now, as advance's "must wait": exit 1
    assert "wave 3 region-us-east is still out and not judged (baking)" in refused.stderr
    assert status(a)["epoch"] == 1
    retried = rollout(a, "retry", "security-patch", "--reason", "fixed", now=start + 92 * 60)  # its bake is over
    assert retried.returncode == 0, retried.stdout + retried.stderr


def test_a_halted_rollout_may_be_retried_with_a_sibling_out(fleet):
    """Halted, run records no pass of the sibling: a person decides, and retry is one way."""
    a = fleet.clone("a")
    start = int(time.time())
    assert rollout(a, "advance", "security-patch").returncode == 0
    assert rollout(a, "advance", "security-patch", now=start + 31 * 60).returncode == 0  # waves 2 and 3
    path = a / "argocd/apps/staging-eu-west-platform.yaml"
    path.write_text(path.read_text().replace("v1.4.2", "v1.4.1"))  # set back by hand: run halts
    git(a, "commit", "-qam", "hand edit")
    git(a, "push", "-q")
    assert "halted" in rollout(a, "run", "security-patch", now=start + 32 * 60).stdout
    retried = rollout(a, "retry", "security-patch", "--reason", "fixed", now=start + 32 * 60)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    # said: the waves out stay on the revision, unjudged until epoch 2 reaches them
    assert ("still out and not judged in epoch 1: wave 2 region-eu-west (halted), wave 3 region-us-east (baking): "
            "their clusters stay on v1.4.2") in " ".join(retried.stdout.split()), retried.stdout


def test_a_retry_of_a_halt_on_a_hot_fix_says_the_new_epoch_pins_it_back(fleet):
    """A person hot-fixed a canary cluster to a newer revision: `run` halts on it. A retry
    rolls the revision out afresh, so the new epoch pins that cluster back (a downgrade):
    the retry says so, as lifting the halt does; a cluster whose file holds the revision
    again is not named."""
    a = fleet.clone("a")
    start = int(time.time())
    assert rollout(a, "advance", "security-patch").returncode == 0  # wave 1 canary: dev-eu-west, dev-us-east
    for cluster, value in (("dev-eu-west", "v1.5.0"), ("dev-us-east", "v1.4.1")):
        path = a / f"argocd/apps/{cluster}-platform.yaml"
        path.write_text(path.read_text().replace("v1.4.2", value))
    git(a, "commit", "-qam", "hot-fix dev-eu-west, dev-us-east set back")
    git(a, "push", "-q")
    assert "halted" in rollout(a, "run", "security-patch", now=start + 60).stdout
    path = a / "argocd/apps/dev-us-east-platform.yaml"
    path.write_text(path.read_text().replace("v1.4.1", "v1.4.2"))  # put back by hand before the retry
    git(a, "commit", "-qam", "dev-us-east back on v1.4.2")
    git(a, "push", "-q")
    retried = rollout(a, "retry", "security-patch", "--reason", "the hot-fix is upstream now", now=start + 120)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert ("dev-eu-west (argocd/apps/dev-eu-west-platform.yaml holds v1.5.0) is pinned to v1.4.2 again when wave 1 "
            "canary goes out in epoch 2") in retried.stdout, retried.stdout
    assert "dev-us-east" not in retried.stdout


def test_after_a_retry_what_an_earlier_epoch_left_on_the_revision_is_shown_and_revert_all_says_it_stays(fleet):
    """Epoch 1: wave 2 reverted, waves 1 and 3 passed. The retry's epoch 2 starts from the
    canary, every wave pending, yet the canary's and wave 3's clusters run the revision
    (epoch 1's pins): status says so for each such wave, never a plain `pending`, and
    `revert --all` before anything is out says what it leaves on the revision."""
    a = fleet.clone("a")
    start = sibling_reverted(a)
    retried = rollout(a, "retry", "security-patch", "--reason", "fixed", now=start + 92 * 60)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    shown = status(a)
    assert shown["epoch"] == 2 and {w["status"] for w in shown["waves"]} == {"pending"}
    ahead = {w["name"]: w["clustersAlreadyOnRevision"] for w in shown["waves"]}
    assert ahead.pop("canary") == ["dev-eu-west", "dev-us-east"] and ahead.pop("region-us-east") == ["staging-us-east"]
    assert not any(ahead.values()), ahead  # wave 2's revert took it back; production was never out
    table = rollout(a, "status", "security-patch", now=start + 93 * 60).stdout
    assert "already on v1.4.2, not advanced in epoch 2 (pinned before it, or by hand): dev-eu-west, dev-us-east" in table
    reverted = rollout(a, "revert", "security-patch", "--all", "--reason", "stop it all", now=start + 93 * 60)
    assert reverted.returncode == 0, reverted.stdout + reverted.stderr
    assert "no wave of security-patch -> v1.4.2 is out (epoch 2): nothing to revert" in reverted.stdout
    assert ("wave 1 canary is not out in epoch 2, yet its files hold v1.4.2 for dev-eu-west, dev-us-east: pinned "
            "before this epoch") in reverted.stdout
    assert "wave 3 region-us-east is not out in epoch 2, yet its files hold v1.4.2 for staging-us-east" in reverted.stdout
    assert pinned(a, "dev-eu-west") == "v1.4.2"  # left, as said
