"""A cluster pinned by a wave that went out, off the revision now (docs/inventory.md, "A
cluster that comes back"; docs/operating.md, "A pin set off by hand"): never `complete`.

- It came back on an old pin (decommissioned with its file deleted, re-provisioned under
  the same name from the old template): a late join again, judged on its own.
- A person set its pin off the revision (a commit that is no record of the rollout): `run`
  halts naming the cluster, file and commit; `rollout resume --halt` lifts it and the
  cluster is pinned again as a late join.

The pure rules first (waves/drift.py, the fold, decide), then both stories through the
CLI on a real git repo with a bare remote (the reviewer's repro)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_decide import FakeHold
from test_late_join_shared import git, rollout
from waves.decide import ADVANCE, HALT, decide, of
from waves.drift import CAME_BACK, DELETED, EDITED, UNKNOWN, Change, Drift, drifts
from waves.planner import Plan, Wave
from waves.state import Event, fold

T0 = 1_700_000_000


def _plan() -> Plan:
    waves = [Wave(1, "canary", 0, None, None, ["a", "b"]), Wave(2, "prod", 1, None, None, ["c"], after=[1])]
    return Plan("p", "v2", [], waves, {c: [] for c in "abc"}, {"a": 1, "b": 1, "c": 2})


def _out() -> list[Event]:
    """Both waves out and passed (no gates, no bake): every cluster pinned."""
    return [Event("adv1", T0, "advance", "p", "v2", "canary", ("a", "b")),
            Event("adv2", T0 + 1, "advance", "p", "v2", "prod", ("c",))]


ALL = {"a": True, "b": True, "c": True}


def test_why_a_cluster_is_off_is_read_from_the_commits_since_its_pin():
    off = {"a": ["adv1"], "b": ["adv1"], "c": ["adv2"], "d": ["adv1", "join1"]}
    changes = [  # newest first, as `git log` gives them
        Change("a", "readd", "values/a.yaml", subject="a back"),
        Change("b", "edit", "values/b.yaml", subject="b to v1 by hand"),
        Change("a", "rm", "values/a.yaml", deleted=True),
        Change("d", "old-edit", "values/d.yaml"),  # before its latest pin: not why it is off
        Change("d", "join1", "values/d.yaml"),
        Change("d", "older", "values/d.yaml", deleted=True),
        Change("a", "adv1", "values/a.yaml"),
        Change("b", "adv1", "values/b.yaml"),
        Change("e", "rm-e", "values/e.yaml", deleted=True),
    ]
    found = drifts({**off, "e": ["adv1"]}, changes, ours={"adv1", "join1"})
    assert (found["a"].kind, found["a"].commit, found["a"].pin) == (CAME_BACK, "rm", "adv1")
    assert (found["b"].kind, found["b"].commit, found["b"].file) == (EDITED, "edit", "values/b.yaml")
    assert not found["b"].record and "b to v1 by hand" in found["b"].why("v2")
    assert (found["c"].kind, found["c"].key) == (UNKNOWN, "adv2")  # nothing since its pin explains it
    assert (found["d"].kind, found["d"].commit, found["d"].pin) == (EDITED, "old-edit", "join1")
    assert (found["e"].kind, found["e"].commit) == (DELETED, "rm-e")
    assert drifts({"a": ["adv1"]}, None)["a"].kind == UNKNOWN  # the history could not be read


def test_an_edit_after_a_cluster_came_back_is_a_person_s_it_halts_never_pinned_over():
    """Re-provisioned with its file on the revision (not off: nothing to do), then on-call sets
    it back by hand (an incident): the deletion since its pin does not make that edit a
    came-back cluster the tool pins again over the person; it halts naming the edit."""
    plan, events = _plan(), _out()
    changes = [Change("b", "oncall", "values/b.yaml", subject="b to v1 (incident)"),
               Change("b", "readd", "values/b.yaml"), Change("b", "rm", "values/b.yaml", deleted=True)]
    state = fold(plan, events, T0 + 5, {**ALL, "b": False}, changes=changes)
    canary = state.wave(1)
    assert canary.late == [] and canary.rejoin == {}
    assert [(d.cluster, d.kind, d.commit) for d in canary.off] == [("b", EDITED, "oncall")]
    (halt,) = decide(plan, state, {}, FakeHold())
    assert (halt.kind, halt.off) == (HALT, (("b", "oncall"),))
    # the one commit that made it again (several files of it in that commit) is a came-back cluster still
    two = [Change("b", "readd", "values/b.yaml"), Change("b", "readd", "charts/b.yaml"),
           Change("b", "rm", "values/b.yaml", deleted=True)]
    assert drifts({"b": ["adv1"]}, two)["b"].kind == CAME_BACK


def test_a_record_of_another_policy_on_a_shared_file_is_not_why_a_cluster_is_off():
    """Policies pinning their own fields of one file (image and sidecar): q's advance is
    neither a new hand edit (p's halt, once lifted, would halt again at each of q's
    advances, blaming q) nor an edit after a cluster came back."""
    q = [Change("c", "q-adv", "values/c.yaml", subject="rollout(q): wave 2 prod -> s2", policy="q")]
    edit = [Change("c", "hand", "values/c.yaml")]
    assert (drifts({"c": ["adv2"]}, q + edit, policy="p")["c"].key) == "hand"
    back = [Change("c", "readd", "values/c.yaml"), Change("c", "rm", "values/c.yaml", deleted=True)]
    assert drifts({"c": ["adv2"]}, q + back, policy="p")["c"].kind == CAME_BACK
    # only q's records since the pin (q pins p's field too): unknown, a halt all the same
    assert drifts({"c": ["adv2"]}, q, policy="p")["c"].kind == UNKNOWN
    plan, events = _plan(), _out()
    events += [Event("halt", T0 + 6, "halt", "p", "v2", "prod", advance="adv2", off=(("c", "hand"),)),
               Event("lift", T0 + 7, "lift", "p", "v2", "prod", lifts="halt")]
    state = fold(plan, events, T0 + 8, {**ALL, "c": False}, changes=q + edit)
    assert state.wave(2).late == ["c"] and not state.wave(2).off  # lifted: pinned again, no second halt


def test_pin_changes_names_the_policy_of_a_record_from_the_commit_message(tmp_path):
    from rollout.git.history import pin_changes
    from rollout.git.repo import Git

    git(tmp_path, "init", "-qb", "main")
    (tmp_path / "c.yaml").write_text("tag: v1\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "rollout(p): wave 1 a -> v2\n\nRollout-Policy: p\nRollout-Action: advance")
    pin = git(tmp_path, "rev-parse", "HEAD").strip()
    for text, message in (("tag: v0\n", "by hand\n\nsaid: nothing"),
                          ("tag: v0\nside: s2\n", "rollout(q): wave 1 a -> s2 (!7)\n\nRollout-Policy: q\n"
                                                    "Rollout-Revision: s2\nRollout-Wave: 1\nRollout-Wave-Name: a\nRollout-Action: advance\n\n"
                                                    "See merge request x!7")):
        (tmp_path / "c.yaml").write_text(text)
        git(tmp_path, "commit", "-qam", message)
    found = pin_changes(Git(tmp_path), {"c": [pin]}, {"c": ["c.yaml"]}, pin)
    assert [(c.subject, c.policy, c.file) for c in found] == [("rollout(q): wave 1 a -> s2 (!7)", "q", "c.yaml"),
                                                               ("by hand", "", "c.yaml")]


def test_a_cluster_that_came_back_on_an_old_pin_is_a_late_join_again_never_complete():
    plan, events = _plan(), _out()
    assert fold(plan, events, T0 + 5, ALL).overall == "complete"
    back = [Change("b", "readd", "values/b.yaml"), Change("b", "rm", "values/b.yaml", deleted=True)]
    state = fold(plan, events, T0 + 5, {**ALL, "b": False}, changes=back)
    canary = state.wave(1)
    assert state.overall == "in-progress" and canary.late == ["b"] and canary.rejoin == {"b": "adv1"}
    assert not canary.off and [d.kind for d in canary.returned] == [CAME_BACK]
    (join,) = decide(plan, state, {}, FakeHold())
    assert (join.kind, join.wave, join.clusters, join.late) == (ADVANCE, 1, ("b",), True)
    # pinned again: a late join of its own (its record names the pin it replaces), judged on its own
    events.append(Event("join", T0 + 6, "advance", "p", "v2", "canary", ("b",), rejoins=(("b", "adv1"),)))
    state = fold(plan, events, T0 + 6, ALL)
    assert [(j.commit, j.clusters, j.status) for j in state.wave(1).joins] == [("join", ("b",), "passed")]
    assert state.overall == "complete"
    # the same record reaching the branch twice (a forge's squash and merge commits) is one join
    events.append(Event("join-copy", T0 + 7, "advance", "p", "v2", "canary", ("b",), rejoins=(("b", "adv1"),)))
    assert [j.commit for j in fold(plan, events, T0 + 7, ALL).wave(1).joins] == ["join"]
    # without the rejoin trailer an advance pinning nothing new is no join (as before)
    plain = _out() + [Event("again", T0 + 6, "advance", "p", "v2", "canary", ("b",))]
    assert fold(plan, plain, T0 + 6, ALL).wave(1).joins == []


def test_a_pin_set_off_by_hand_halts_and_once_lifted_the_cluster_joins_again():
    plan, events = _plan(), _out()
    edit = [Change("c", "hand", "values/c.yaml", subject="c to v1")]
    state = fold(plan, events, T0 + 5, {**ALL, "c": False}, changes=edit)
    assert state.overall == "in-progress" and [d.cluster for d in state.wave(2).off] == ["c"]
    assert state.wave(2).late == []  # the tool does not fight the person
    (halt,) = decide(plan, state, {}, FakeHold())
    assert (halt.kind, halt.wave, halt.advance, halt.clusters, halt.off) == (HALT, 2, "adv2", ("c",), (("c", "hand"),))
    assert "values/c.yaml set off v2 by hand (c to v1)" in halt.reason and "rollout resume p --halt" in halt.reason
    events.append(Event("halt", T0 + 6, "halt", "p", "v2", "prod", advance="adv2", reason=halt.reason, off=halt.off))
    state = fold(plan, events, T0 + 6, {**ALL, "c": False}, changes=edit)
    assert state.overall == "halted" and [a.kind for a in decide(plan, state, {}, FakeHold())] == ["wait"]  # no second halt
    events.append(Event("lift", T0 + 7, "lift", "p", "v2", "prod", lifts="halt"))
    state = fold(plan, events, T0 + 7, {**ALL, "c": False}, changes=edit)
    assert state.overall == "in-progress" and state.wave(2).late == ["c"] and state.wave(2).rejoin == {"c": "adv2"}
    (join,) = decide(plan, state, {}, FakeHold())
    assert (join.kind, join.clusters, join.late) == (ADVANCE, ("c",), True)
    # edited again after the lift (a new commit): halted again, never pinned over the person
    again = [Change("c", "hand2", "values/c.yaml")] + edit
    assert [(a.kind, a.off) for a in decide(plan, fold(plan, events, T0 + 8, {**ALL, "c": False}, changes=again),
                                            {}, FakeHold())] == [(HALT, (("c", "hand2"),))]


def test_a_halt_on_many_clusters_names_ten_in_its_reason_and_every_one_in_its_record():
    """A pin's template changed under 10,000 pinned clusters: one line a person reads, not 10,000 names."""
    names = [f"c{i:05}" for i in range(2_000)]
    plan = Plan("p", "v2", [], [Wave(1, "all", 0, None, None, names)], {c: [] for c in names}, dict.fromkeys(names, 1))
    events = [Event("adv1", T0, "advance", "p", "v2", "all", tuple(names))]
    state = fold(plan, events, T0 + 5, dict.fromkeys(names, False), changes=[])
    (halt,) = decide(plan, state, {}, FakeHold())
    assert "c00000, c00001" in halt.reason and "c00009 and 1990 more (" in halt.reason and "c01999" not in halt.reason
    assert len(halt.off) == len(halt.evidence) == len(halt.clusters) == 2_000


def test_what_a_revert_took_back_is_no_hand_edit():
    """A late join reverted on its own (or a wave) is off the revision by its revert: `reverted`, no halt."""
    plan = _plan()
    events = _out() + [Event("join", T0 + 2, "advance", "p", "v2", "canary", ("b",), rejoins=(("b", "adv1"),)),
                       Event("rv", T0 + 3, "revert", "p", "v2", "canary", ("b",), advance="join")]
    state = fold(plan, events, T0 + 5, {**ALL, "b": False}, changes=[Change("b", "rv", "values/b.yaml")])
    assert state.overall == "reverted" and not state.wave(1).off and not state.wave(1).late
    assert not of(decide(plan, state, {}, FakeHold()), HALT)
    # a wave's revert likewise, also of a cluster another wave out claims now (its label changed)
    moved = Plan("p", "v2", [], [Wave(1, "canary", 0, None, None, ["a"]),
                                 Wave(2, "prod", 1, None, None, ["b", "c"], after=[1])],
                 {c: [] for c in "abc"}, {"a": 1, "b": 2, "c": 2})
    events = _out() + [Event("rv", T0 + 3, "revert", "p", "v2", "canary", ("a", "b"), advance="adv1")]
    state = fold(moved, events, T0 + 5, {"a": False, "b": False, "c": True}, changes=[Change("b", "rv", "b.yaml")])
    assert state.overall == "reverted" and not state.wave(2).off
    assert not of(decide(moved, state, {}, FakeHold()), HALT)


def test_every_status_format_names_the_cluster_and_why():
    from rollout.render.status import state_dict, wave_rows
    from rollout.render.status_graph import mermaid
    from rollout.render.status_markdown import render as markdown

    plan = _plan()
    back = [Change("b", "readd", "values/b.yaml"), Change("b", "rm000000000000", "values/b.yaml", deleted=True),
            Change("c", "hand00000000000", "values/c.yaml", subject="c by hand")]
    state = fold(plan, _out(), T0 + 5, {**ALL, "b": False, "c": False}, changes=back)
    waves = state_dict(plan, state)["waves"]
    assert [(d["cluster"], d["why"], d["joinsAgain"]) for d in waves[0]["offRevision"]] == [("b", "came-back", True)]
    assert [(d["cluster"], d["why"], d["commit"]) for d in waves[1]["offRevision"]] == [
        ("c", "edited", "hand00000000000")]
    rows = wave_rows(plan, state)  # run's table and `run --wait`'s live view
    assert "pinned again as a late join: b" in rows[0]["why"] and "(a person decides): c" in rows[1]["why"]
    text = markdown(plan, state)
    assert "**in-progress**" in text and "c: values/c.yaml set off v2 by hand00000000 (c by hand)" in text
    assert "1 off v2 since pinned" in mermaid(plan, state)


# --- the reviewer's repro, through the CLI on a real repo with a bare remote --------------

POLICY = """\
apiVersion: rollout/v1alpha1
kind: RolloutPolicy
metadata: {name: p}
spec:
  revision: v2
  inventory:
    - fleet: fleet/clusters.yaml
  pin:
    - preset: yaml-field
      files: values/{cluster}.yaml
      field: image.tag
  waves:
    - {name: canary, selector: {matchLabels: {env: dev}}, bake: 0s}
    - {name: prod, selector: {matchLabels: {env: prod}}, after: [canary], bake: 0s}
"""
HEAD = "apiVersion: rollout/v1alpha1\nkind: Fleet\nmetadata: {name: f}\nclusters:\n"
EAST = "  - {name: dev-east, labels: {env: dev}}\n"
ALL_FLEET = HEAD + "  - {name: dev-west, labels: {env: dev}}\n" + EAST + "  - {name: prod-p, labels: {env: prod}}\n"
V1 = "image:\n  tag: v1\n"


@pytest.fixture
def work(tmp_path) -> Path:
    """Both waves out (canary advanced, prod by `run`), pushed to a bare remote."""
    source = tmp_path / "source"
    files = {"rollouts/p.yaml": POLICY, "fleet/clusters.yaml": ALL_FLEET}
    files.update({f"values/{c}.yaml": V1 for c in ("dev-west", "dev-east", "prod-p")})
    for path, text in files.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(text)
    git(source, "init", "-qb", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "init")
    git(tmp_path, "clone", "-q", "--bare", str(source), "remote.git")
    git(tmp_path, "clone", "-q", "remote.git", "work")
    work = tmp_path / "work"
    _ok(work, "advance", "p", "--wave", "canary")
    return work


def _ok(work: Path, *args: str) -> str:
    result = rollout(work, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _status(work: Path) -> dict:
    return json.loads(_ok(work, "status", "p", "-f", "json"))


def _push(work: Path, message: str) -> None:
    git(work, "add", "-A")
    git(work, "commit", "-qm", message)
    git(work, "push", "-q")


def test_a_decommissioned_canary_cluster_back_on_the_old_pin_is_pinned_again_as_a_late_join(work):
    (work / "fleet/clusters.yaml").write_text(ALL_FLEET.replace(EAST, ""))
    git(work, "rm", "-q", "values/dev-east.yaml")
    _push(work, "dev-east decommissioned")
    _ok(work, "run", "p")  # prod out; dev-east gone with its file
    (work / "fleet/clusters.yaml").write_text(ALL_FLEET)
    (work / "values/dev-east.yaml").write_text(V1)  # re-provisioned from the old template
    _push(work, "dev-east back")

    status = _status(work)
    canary = status["waves"][0]
    assert status["status"] == "in-progress"  # main: `complete`, dev-east on v1
    assert canary["late"] == ["dev-east"]
    assert [(d["cluster"], d["why"], d["joinsAgain"]) for d in canary["offRevision"]] == [
        ("dev-east", "came-back", True)]
    assert "deleted by" in canary["offRevision"][0]["reason"]

    out = _ok(work, "run", "p")
    # (its last line: `complete`, or `advanced` when the commit's second is after the step's clock: bake 0s)
    assert "advanced wave 1 canary: 1 cluster, 1 file" in out, out
    git(work, "pull", "-q")
    assert (work / "values/dev-east.yaml").read_text() == "image:\n  tag: v2\n"
    message = git(work, "log", "-1", "--format=%B")
    assert "(late join)" in message and "Rollout-Rejoins: dev-east=" in message
    status = _status(work)
    assert status["status"] == "complete"
    assert [(j["clusters"], j["status"]) for j in status["waves"][0]["lateJoins"]] == [(["dev-east"], "passed")]


def test_a_pin_set_off_by_hand_halts_run_until_a_person_lifts_it(work):
    _ok(work, "run", "p")  # prod out: complete
    (work / "values/dev-east.yaml").write_text(V1)
    _push(work, "dev-east to v1 by hand")
    edit = git(work, "rev-parse", "HEAD").strip()

    status = _status(work)
    assert status["status"] == "in-progress"  # main: `complete`
    (off,) = status["waves"][0]["offRevision"]
    assert (off["cluster"], off["why"], off["commit"], off["file"]) == ("dev-east", "edited", edit,
                                                                         "values/dev-east.yaml")
    halted = rollout(work, "run", "p")
    assert halted.returncode == 1 and halted.stdout.splitlines()[-1].endswith("halted"), halted.stdout
    again = rollout(work, "run", "p", "--wait", "--timeout", "30s", "--interval", "0s")
    assert again.returncode == 1 and again.stdout.splitlines()[-1].endswith("halted"), again.stdout
    git(work, "pull", "-q")
    assert (work / "values/dev-east.yaml").read_text() == V1  # the tool does not fight the person
    (record,) = [m for m in git(work, "log", "--format=%B%x00").split("\0") if "Rollout-Action: halt" in m]  # one halt
    assert f"Rollout-Off-Revision: dev-east={edit}" in record and "values/dev-east.yaml" in record
    assert _status(work)["status"] == "halted"

    _ok(work, "resume", "p", "--halt", "--reason", "dev-east is meant to run v2")
    out = _ok(work, "run", "p")
    assert "advanced wave 1 canary: 1 cluster, 1 file" in out, out
    git(work, "pull", "-q")
    assert (work / "values/dev-east.yaml").read_text() == "image:\n  tag: v2\n"
    assert "Rollout-Rejoins: dev-east=" in git(work, "log", "-1", "--format=%B")
    assert _status(work)["status"] == "complete"


# --- what the pinned field holds now: a hot-fix to a newer revision, pinned back on a lift ----

NEWER = "image:\n  tag: v2.1\n"  # on-call's hot-fix, newer than the rollout's v2


def test_a_pin_hot_fixed_to_a_newer_value_is_named_everywhere_and_lifting_the_halt_says_it_pins_it_back(work):
    _ok(work, "run", "p")  # prod out: complete
    (work / "values/dev-east.yaml").write_text(NEWER)
    _push(work, "dev-east hot-fixed to v2.1")
    edit = git(work, "rev-parse", "HEAD").strip()

    (off,) = _status(work)["waves"][0]["offRevision"]
    assert (off["cluster"], off["why"], off["commit"], off["found"]) == ("dev-east", "edited", edit, "v2.1")
    assert off["reason"].startswith("dev-east: values/dev-east.yaml holds v2.1, not v2: set off by ")
    table = _ok(work, "status", "p")
    assert f"wave 1 canary: dev-east: values/dev-east.yaml holds v2.1, not v2: set off by {edit[:12]}" in table, table
    assert "`dev-east` (holds v2.1)" in _ok(work, "status", "p", "-f", "markdown")

    halted = rollout(work, "run", "p")
    assert halted.returncode == 1 and "values/dev-east.yaml holds v2.1, not v2" in halted.stdout, halted.stdout
    git(work, "pull", "-q")
    (record,) = [m for m in git(work, "log", "--format=%B%x00").split("\0") if "Rollout-Action: halt" in m]
    assert "values/dev-east.yaml holds v2.1, not v2" in record and f"Rollout-Off-Revision: dev-east={edit}" in record

    lifted = _ok(work, "resume", "p", "--halt", "--reason", "dev-east is meant to run v2")
    assert ("dev-east (values/dev-east.yaml holds v2.1) is pinned back to v2 by the next run, as a late join of "
            "wave 1 canary; to keep it out of this rollout, take it out of the plan instead") in lifted, lifted
    assert lifted.count("pinned back") == 1
    _ok(work, "run", "p")  # what the line said: pinned back over v2.1
    git(work, "pull", "-q")
    assert (work / "values/dev-east.yaml").read_text() == "image:\n  tag: v2\n"


def test_what_a_pinned_field_holds_is_read_only_for_a_cluster_off_the_revision(work, monkeypatch):
    """A step where every pin holds reads no pinned file for it (a warm `status` opens none);
    with one cluster set off, only that cluster's file."""
    from rollout.status import status

    _ok(work, "run", "p")  # complete
    status(work, "p")  # the facts kept: a second look needs no pinned file
    assert _opened_values(lambda: status(work, "p")) == set()
    (work / "values/dev-east.yaml").write_text(NEWER)
    _push(work, "dev-east hot-fixed to v2.1")
    status(work, "p")
    opened = _opened_values(lambda: status(work, "p"))
    (drift,) = status(work, "p")[1].wave(1).off
    assert opened == {"dev-east.yaml"} and (drift.found, drift.found_file) == ("v2.1", "values/dev-east.yaml")


_WATCHED: list[set] = []


def _opened_values(look) -> set:
    """The files under values/ that `look()` opens, seen by an audit hook (Python's own `open` event)."""
    import sys

    if not hasattr(_opened_values, "hooked"):
        def hook(event, args):
            if event == "open" and _WATCHED and isinstance(args[0], (str, Path)) and "/values/" in str(args[0]):
                _WATCHED[-1].add(Path(args[0]).name)

        sys.addaudithook(hook)
        _opened_values.hooked = True
    _WATCHED.append(set())
    try:
        look()
    finally:
        seen = _WATCHED.pop()
    return seen


def test_what_the_next_run_does_with_a_cluster_a_lifted_halt_names():
    from waves.drift import pin_back

    newer = pin_back("a", "v2", ("values/a.yaml", "v2.1"), (1, "canary"))
    assert newer.startswith("a (values/a.yaml holds v2.1) is pinned back to v2 by the next run, "
                            "as a late join of wave 1 canary")
    assert pin_back("a", "v2", ("values/a.yaml", "v2"), (1, "canary")) == \
        "a (values/a.yaml holds v2 again): the next run pins nothing for it"
    assert "no wave of the plan" in pin_back("a", "v2", None, None)
    nothing = pin_back("a", "v2", ("values/a.yaml", None), (1, "c"))
    assert nothing.startswith("a: the pin finds nothing in values/a.yaml (missing, or its pinned field gone): the "
                              "next run cannot pin it back to v2")  # never "pinned back": there is nothing to write
    later = Drift("a", EDITED, "adv1", "edit2-sha-0123456", "values/a.yaml")  # an edit since the halt: a new halt
    assert pin_back("a", "v2", ("values/a.yaml", "v2.2"), (1, "canary"), later).startswith(
        "a (values/a.yaml holds v2.2) was set off again by edit2-sha-01 since the halt: the next run halts on it again")
    # the fold carries the value read into every line that names the cluster
    plan, events = _plan(), _out()
    edit = [Change("c", "hand", "values/c.yaml", subject="c to v3")]
    state = fold(plan, events, T0 + 5, {**ALL, "c": False}, changes=edit, found={"c": ("values/c.yaml", "v3")})
    (halt,) = decide(plan, state, {}, FakeHold())
    assert "c: values/c.yaml holds v3, not v2: set off by hand (c to v3)" in halt.reason
    events.append(Event("halt", T0 + 6, "halt", "p", "v2", "prod", advance="adv2", reason=halt.reason, off=halt.off))
    assert fold(plan, events, T0 + 6, {**ALL, "c": False}, changes=edit).wave(2).halt_off == (("c", "hand"),)
    events.append(Event("lift", T0 + 7, "lift", "p", "v2", "prod", lifts="halt"))
    assert fold(plan, events, T0 + 7, {**ALL, "c": False}, changes=edit).wave(2).halt_off == ()


def test_a_lift_says_the_next_run_halts_again_on_a_cluster_set_off_again_since_its_halt(work):
    """The halt named dev-east's first edit; a second edit since is a new key (a new halt):
    lifting the first must not say the next run pins it back, for it halts on the second."""
    _ok(work, "run", "p")  # complete
    (work / "values/dev-east.yaml").write_text(NEWER)
    _push(work, "dev-east hot-fixed to v2.1")
    assert rollout(work, "run", "p").returncode == 1  # halts naming the first edit
    git(work, "pull", "-q")
    (work / "values/dev-east.yaml").write_text("image:\n  tag: v2.2\n")
    _push(work, "dev-east hot-fixed again to v2.2")
    again = git(work, "rev-parse", "HEAD").strip()

    lifted = _ok(work, "resume", "p", "--halt", "--reason", "the first edit is understood")
    assert "pinned back" not in lifted, lifted
    assert (f"dev-east (values/dev-east.yaml holds v2.2) was set off again by {again[:12]} since the halt: "
            "the next run halts on it again and pins nothing for it") in lifted, lifted
    halted = rollout(work, "run", "p")  # what the line said: a new halt, the file left as the person made it
    assert halted.returncode == 1 and again[:12] in halted.stdout, halted.stdout
    git(work, "pull", "-q")
    assert (work / "values/dev-east.yaml").read_text() == "image:\n  tag: v2.2\n"


def test_the_json_names_what_a_pinned_field_holds_only_when_it_was_read():
    """`offRevision[].found`: the value, or null when the pin finds nothing in its file (or the
    file is missing); left out when it was not read (status from the advance records with the
    hub away), so that null never means two things."""
    from types import SimpleNamespace

    from rollout.render.status import _drift_dict

    state = SimpleNamespace(revision="v2")
    read = Drift("a", EDITED, "pin1", "edit1", "values/a.yaml", found="v2.1", found_file="values/a.yaml")
    nothing = Drift("b", EDITED, "pin1", "edit1", "values/b.yaml", found=None, found_file="values/b.yaml")
    unread = Drift("c", EDITED, "pin1", "edit1", "values/c.yaml")
    assert _drift_dict(state, read, False)["found"] == "v2.1"
    assert "found" in _drift_dict(state, nothing, False) and _drift_dict(state, nothing, False)["found"] is None
    assert "found" not in _drift_dict(state, unread, False)

