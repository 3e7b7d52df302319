"""Three half-truths of a status, each made true (pure: the fold, the records' messages and
the renderers on plain data):

- a revert that left some clusters on the revision names them in its record, and the
  reverted wave shows them (`still on v2 after the revert`), never an all-clear;
- a wave that went out and whose clusters all left the inventory shows what it pinned,
  never `0 clusters`, and the `claims no cluster` warning says it went out;
- a plan whose every wave claims no cluster is `empty`, and `run --wait` stops on it."""

from __future__ import annotations

from hypothesis import given, strategies as st

from waves.planner import Plan, Wave
from waves.problems import Problem
from waves.state import EMPTY, Event, fold
from rollout.git.history import listed_files, parse_event, revert_message
from rollout.render import html, status_graph, status_markdown
from rollout.render.status import state_dict, status_warnings, wave_rows
from rollout.run import Step, _final

T0 = 1_800_000_000
A, R = "a" * 40, "r" * 40


def _plan(*sizes: int) -> Plan:
    waves = [Wave(n, f"w{n}", n - 1, None, None, [f"c{n}-{i}" for i in range(size)], after=[n - 1] if n > 1 else [], bake_seconds=600)
             for n, size in enumerate(sizes, start=1)]
    wave_of = {c: w.number for w in waves for c in w.clusters}
    return Plan("p", "v2", [], waves, {c: [] for c in wave_of}, wave_of)


def _event(action: str, wave: str, commit: str, clusters=(), left=(), time: int = T0) -> Event:
    return Event(commit, time, action, "p", "v2", wave, tuple(clusters), left=tuple(left))


# 1. a revert that leaves clusters on the revision

def test_a_revert_record_names_what_it_left_and_reads_back_while_an_older_one_reads_as_before():
    message = revert_message("p", "v2", 1, "canary", [("dev-east", "values/dev-east.yaml")], "degraded",
                             "sha256:0", A, left=[("dev-west", "values/dev-west.yaml held v2 already when it was "
                                                               "pinned")])
    assert ("Leaves 1 cluster on v2 (this revert cannot take it back; a person decides):\n"
            "- dev-west stays on v2: values/dev-west.yaml held v2 already when it was pinned\n") in message
    event = parse_event(R, T0, message)
    assert (event.action, event.clusters, event.left) == ("revert", ("dev-east",), ("dev-west",))
    assert listed_files(message) == {"dev-east": ["values/dev-east.yaml"]}  # the left lines are no pins
    older = revert_message("p", "v2", 1, "canary", [("dev-east", "values/dev-east.yaml")], "degraded", "sha256:0", A)
    assert "Leaves" not in older and "Rollout-Left-On-Revision" not in older
    assert parse_event(R, T0, older).left == ()


@given(left=st.sets(st.sampled_from(["c1-0", "c1-1", "c1-2", "gone-1"])),
       now_on=st.dictionaries(st.sampled_from(["c1-0", "c1-1", "c1-2"]), st.booleans()))
def test_a_reverted_wave_shows_what_is_still_on_the_revision(left, now_on):
    """Still on it: what the revert record left (unless the files say it is off now; a
    cluster gone from the inventory has its record only), and what the files say is on it."""
    plan = _plan(3, 1)
    pinned = ["c1-0", "c1-1", "c1-2", "gone-1"]
    events = [_event("advance", "w1", A, pinned), _event("revert", "w1", R, [c for c in pinned if c not in left],
                                                         sorted(left), T0 + 5)]
    state = fold(plan, events, T0 + 10, at_revision=dict(now_on))
    wave = state.wave(1)
    expected = {c for c in left if now_on.get(c, True)} | {c for c, on in now_on.items() if on}
    assert wave.status == "reverted" and set(wave.on_revision) == expected
    row = wave_rows(plan, state)[0]
    as_json = state_dict(plan, state)["waves"][0]
    assert as_json["clustersStillOnRevision"] == wave.on_revision
    line = next(x for x in status_markdown.render(plan, state).splitlines() if x.startswith("| 1 | w1 |"))
    if expected:
        assert "still on v2 after the revert: " in row["why"] and "still on v2 after the revert: " in line
        assert all(f"`{c}`" in line for c in expected), line
    else:
        assert "still on" not in row["why"] and "still on" not in line
    assert state.wave(2).on_revision == []  # pending: nothing to say


def test_a_late_join_reverted_on_its_own_shows_what_its_revert_left():
    plan = _plan(3, 1)
    join = "j" * 40
    events = [_event("advance", "w1", A, ["c1-0"]), _event("advance", "w1", join, ["c1-1", "c1-2"], time=T0 + 5),
              Event(R, T0 + 9, "revert", "p", "v2", "w1", ("c1-1",), advance=join, left=("c1-2",))]
    state = fold(plan, events, T0 + 10, at_revision={"c1-0": True, "c1-1": False, "c1-2": True})
    wave = state.wave(1)
    assert (wave.status, wave.on_revision, [(j.status, j.on_revision) for j in wave.joins]) == (
        "baking", [], [("reverted", ["c1-2"])])
    assert "late join (c1-1, c1-2) reverted, still on v2 after the revert: c1-2" in wave_rows(plan, state)[0]["why"]
    assert state_dict(plan, state)["waves"][0]["lateJoins"][0]["clustersStillOnRevision"] == ["c1-2"]
    line = next(x for x in status_markdown.render(plan, state).splitlines() if x.startswith("| 1 | w1 |"))
    assert "late join (c1-1, c1-2) still on v2 after the revert: `c1-2`" in line, line
    # the files say it is off now (set back by hand): nothing to say
    fixed = fold(plan, events, T0 + 10, at_revision={"c1-0": True, "c1-1": False, "c1-2": False})
    assert fixed.wave(1).joins[0].on_revision == [] and "still on" not in wave_rows(plan, fixed)[0]["why"]


# 2. a wave out whose clusters all left the inventory

def test_a_wave_out_whose_clusters_all_left_shows_what_it_pinned_and_is_warned_of_truthfully():
    plan = _plan(0, 1)  # w1 claims no cluster now: its two clusters left since it went out
    state = fold(plan, [_event("advance", "w1", A, ["gone-a", "gone-b"])], T0 + 10)
    assert state.wave(1).status == "baking" and state.wave(1).gone == ["gone-a", "gone-b"]
    picture = status_graph.mermaid(plan, state)
    assert "1 w1<br/>2 clusters pinned, gone · <b>baking</b>" in picture and "0 clusters" not in picture
    svg = html.dag_svg(plan, {1: "baking", 2: "pending"}, state)
    assert "baking, 2 clusters pinned, gone</title>" in svg and "baking · 2 pinned, gone</text>" in svg
    assert "0 clusters" not in svg
    warned = Problem("wave w1 claims no cluster", ("spec", "waves", 0), severity="warning")
    other = Problem("wave w2 claims no cluster", ("spec", "waves", 1), severity="warning")
    said = status_warnings(state, [warned, other])
    assert [p.message for p in said] == [
        f"wave w1 claims no cluster now, but it went out ({A[:12]}): it is baking, judged on the 2 clusters it "
        "pinned (gone from the inventory: gone-a, gone-b)",
        "wave w2 claims no cluster"]  # never advanced: empty, as the plan says
    assert said[0].loc == warned.loc and said[0].severity == "warning"
    reverted = fold(plan, [_event("advance", "w1", A, ["gone-a", "gone-b"]), _event("revert", "w1", R, time=T0 + 5)],
                    T0 + 10)
    assert status_warnings(reverted, [warned])[0].message == (
        f"wave w1 claims no cluster now, but it went out ({A[:12]}): it is reverted, of the 2 clusters it pinned "
        "(gone from the inventory: gone-a, gone-b)")
    # never advanced: as the plan says it
    empty = fold(plan, [], T0)
    assert "1 w1<br/>0 clusters · <b>empty</b>" in status_graph.mermaid(plan, empty)
    assert [p.message for p in status_warnings(empty, [warned])] == ["wave w1 claims no cluster"]


# 3. a plan whose every wave claims no cluster

@given(sizes=st.lists(st.sampled_from([0, 0, 1]), min_size=1, max_size=5))
def test_a_plan_of_empty_waves_is_empty_and_run_wait_stops_on_it(sizes):
    plan = _plan(*sizes)
    overall = fold(plan, [], T0).overall
    assert overall == (EMPTY if not any(sizes) else "not-started")
    assert _final(Step(status=overall)) is (overall == EMPTY)
