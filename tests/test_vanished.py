"""Clusters that leave the inventory after their wave went out (docs/inventory.md, "A cluster
once pinned stays judged"): the wave is judged on what its advance pinned, never `empty`;
what cannot be judged any more is `unknown` (it waits, and halts past progressDeadline),
never a pass, never a failure; `rollout revert` still restores what the advance pinned."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROLLOUT, TEST_GIT_IDENTITY
from test_decide import FakeHold, ancestors, plans
from waves.decide import ADVANCE, HALT, VERIFY, WAIT, Verdict, decide, of
from waves.inventory import Cluster
from waves.planner import Plan, Wave, make_plan
from waves.policy import RolloutPolicy
from waves.recorded import with_waves_out
from waves.state import EMPTY, OUT, Event, fold, ready

T0 = 1_700_000_000
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fleet-config"


def _vanish(plan: Plan, gone: set[str]) -> Plan:
    """The same policy planned once `gone` left the inventory: their waves lose them."""
    waves = [replace(w, clusters=[c for c in w.clusters if c not in gone]) for w in plan.waves]
    return replace(plan, waves=waves, wave_of={c: n for c, n in plan.wave_of.items() if c not in gone},
                   down={c: why for c, why in plan.down.items() if c not in gone})


@settings(max_examples=150, deadline=None)
@given(plan=plans(), data=st.data())
def test_a_wave_that_went_out_is_never_empty_and_never_passes_unjudged(plan, data):
    """Whatever leaves the inventory after the waves went out: every wave with an advance
    record is out on what it pinned (`pinned`, `gone`), never `empty`; while its gates are
    blind (what gate_check says of a cluster it cannot judge) nothing passes it, and no wave
    after it advances, directly or through empty waves."""
    drawn = {w.number for w in plan.waves if w.clusters and data.draw(st.booleans())}
    # a history the tool can make: a wave went out only once every wave it waits for had passed
    # (a pass record each), so what is out and not judged is the frontier of what went out
    closed = drawn | {d for n in drawn for d in ancestors(plan, n) if plan.wave(d).clusters}
    passed = {d for n in closed for d in ancestors(plan, n)} & closed
    advanced = [w for w in plan.waves if w.number in closed]
    events = [Event(f"adv{w.number}", T0 - 10_000 if w.number in passed else T0, "advance", "p", "v2", w.name,
                    tuple(w.clusters)) for w in advanced]
    events += [Event(f"ver{n}", T0 - 5_000, "verify", "p", "v2", plan.wave(n).name, advance=f"adv{n}")
               for n in sorted(passed)]
    events.sort(key=lambda e: e.time)
    gone = data.draw(st.sets(st.sampled_from(sorted(plan.wave_of) or ["none"])))
    now = T0 + data.draw(st.sampled_from([0, 30, 700]))
    after = _vanish(plan, gone)
    state = fold(after, events, now)
    for wave in advanced:
        ws = state.wave(wave.number)
        assert ws.status != EMPTY and ws.status in OUT
        assert ws.pinned == wave.clusters
        assert ws.gone == [c for c in wave.clusters if c in gone]
    halt = data.draw(st.booleans())
    verdicts = {w.number: Verdict("unknown", "cannot observe (test)", w.advance_commit, halt=halt)
                for w in state.waves if w.status in ("baking", "verifying")}
    actions = decide(after, state, verdicts, FakeHold())
    assert not of(actions, VERIFY)
    unjudged = {w.number for w in advanced if w.gates and w.number not in passed}  # no gates: passes after its bake
    for action in of(actions, ADVANCE):
        assert action.late or not (ancestors(after, action.wave) & unjudged)
    for number in ready(after, state):
        assert not (ancestors(after, number) & unjudged)
    if halt and verdicts:
        assert {a.wave for a in of(actions, HALT)} == set(verdicts) and not of(actions, ADVANCE)


def test_a_canary_whose_clusters_all_left_holds_the_waves_after_it():
    """The repro: the canary went out, its clusters left the inventory, it was never judged."""
    waves = [Wave(1, "canary", 0, None, None, [], gates=({"argocd": {}},), bake_seconds=60),
             Wave(2, "rest", 1, None, None, ["c"], after=[1])]
    plan = Plan("p", "v2", [], waves, {"c": []}, {"c": 2})
    assert fold(plan, [], T0).wave(1).status == EMPTY  # never advanced: empty, it holds nothing
    events = [Event("adv1", T0, "advance", "p", "v2", "canary", ("a", "b"))]
    state = fold(plan, events, T0 + 120)
    canary = state.wave(1)
    assert (canary.status, canary.pinned, canary.gone, canary.late) == ("verifying", ["a", "b"], ["a", "b"], [])
    assert state.overall == "in-progress" and ready(plan, state) == []
    blind = Verdict("unknown", "cannot observe", "adv1")
    assert [(a.kind, a.wave) for a in decide(plan, state, {1: blind}, FakeHold())] == [(WAIT, 1)]
    halted = decide(plan, state, {1: replace(blind, halt=True)}, FakeHold())
    assert [(a.kind, a.wave, a.advance) for a in halted] == [(HALT, 1, "adv1")]


def _policy(waves: list[dict]) -> RolloutPolicy:
    return RolloutPolicy.model_validate({
        "apiVersion": "rollout/v1alpha1", "kind": "RolloutPolicy", "metadata": {"name": "p"},
        "spec": {"revision": "v2", "inventory": [{"fleet": "f.yaml"}], "gates": [{"argocd": {}}],
                 "pin": [{"preset": "flux-helmrelease", "files": "{cluster}.yaml"}], "waves": waves}})


def test_batches_renumbered_by_a_departure_go_out_one_at_a_time():
    """`maxClusters: 1`. (a) p-a went out as production/1, unjudged, and left: what is left of
    the entry is one un-batched `production` (p-b), which waits for production/1 planned back.
    (b) production/1 (p-a) passed, production/2 (p-b) is out, p-a leaves: the batches shift
    (production/1 = p-b, production/2 = p-c): p-b, pinned already, is no late join of
    production/1, and p-c waits until production/2 passed. (c) a cluster added to the fleet
    joins a batch out only once that batch passed."""
    policy = _policy([{"name": "production", "maxClusters": 1}])
    a1 = Event("a1", T0, "advance", "p", "v2", "production/1", ("p-a",), number=1)
    plan = with_waves_out(make_plan(policy, [Cluster("p-b")]), policy, [a1])
    assert [(w.name, w.clusters) for w in plan.waves] == [("production", ["p-b"]), ("production/1", [])]
    state = fold(plan, [a1], T0 + 10)
    blind = {2: Verdict("unknown", "cannot observe", "a1")}
    assert not of(decide(plan, state, blind, FakeHold()), ADVANCE)

    events = [a1, Event("v1", T0 + 5, "verify", "p", "v2", "production/1", advance="a1"),
              Event("a2", T0 + 6, "advance", "p", "v2", "production/2", ("p-b",), number=2)]
    plan = with_waves_out(make_plan(policy, [Cluster("p-b"), Cluster("p-c")]), policy, events)
    state = fold(plan, events, T0 + 10)
    assert (state.wave(1).late, state.wave(2).late) == ([], ["p-c"])
    actions = decide(plan, state, {2: Verdict("pending", "p-b: Progressing", "a2")}, FakeHold())
    assert not of(actions, ADVANCE)
    assert [a.reason for a in of(actions, WAIT) if a.wave == 2] == [
        "late join (p-c) waits until the batch passed (one batch at a time)"]
    passed = decide(plan, state, {2: Verdict("passed", "ok", "a2")}, FakeHold())
    assert [(a.kind, a.wave) for a in passed] == [(VERIFY, 2), (WAIT, 2)]  # its pass recorded; p-c joins next step
    after = fold(plan, events + [Event("v2", T0 + 20, "verify", "p", "v2", "production/2", advance="a2")], T0 + 30)
    assert [(a.kind, a.wave, a.clusters, a.late) for a in of(decide(plan, after, {}, FakeHold()), ADVANCE)] == [
        (ADVANCE, 2, ("p-c",), True)]

    plan = make_plan(policy, [Cluster("p-0"), Cluster("p-a"), Cluster("p-b")])
    state = fold(plan, [a1], T0 + 10)
    assert state.wave(1).late == ["p-0"] and not of(decide(plan, state, {}, FakeHold()), ADVANCE)


def test_a_group_whose_clusters_all_left_is_planned_back_and_what_waits_for_it_waits():
    """groupBy makes no wave for a group with no cluster: region-eu went out, its cluster
    left, and without its records the plan has no region-eu: production (after: region)
    would wait for region-us alone. Planned back from its records, it holds production."""
    policy = _policy([{"name": "region", "groupBy": "region", "selector": {"matchLabels": {"env": "staging"}}},
                      {"name": "production", "after": ["region"]}, {"name": "rest"}])
    fleet = {"s-eu": {"env": "staging", "region": "eu"}, "s-us": {"env": "staging", "region": "us"},
             "p": {"env": "prod"}}
    events = [Event("a1", T0, "advance", "p", "v2", "region-eu", ("s-eu",), number=1),
              Event("a2", T0, "advance", "p", "v2", "region-us", ("s-us",), number=2),
              Event("v2", T0 + 10, "verify", "p", "v2", "region-us", advance="a2")]
    planned = make_plan(policy, [Cluster(n, labels) for n, labels in fleet.items()])
    assert with_waves_out(planned, policy, events) is planned  # nothing missing: the plan itself
    del fleet["s-eu"]
    now = make_plan(policy, [Cluster(n, labels) for n, labels in fleet.items()])
    assert [w.name for w in now.waves] == ["region-us", "production", "rest"]
    plan = with_waves_out(now, policy, events)
    assert [(w.number, w.name, w.clusters, w.after) for w in plan.waves] == [
        (1, "region-us", ["s-us"], []), (2, "production", ["p"], [1, 4]), (3, "rest", [], [2]),
        (4, "region-eu", [], [])]
    assert plan.wave("region-eu").gates == policy.spec.gates
    state = fold(plan, events, T0 + 20)
    eu = state.wave("region-eu")
    assert (eu.status, eu.pinned, eu.gone) == ("verifying", ["s-eu"], ["s-eu"])
    assert ready(plan, state) == [] and ready(now, fold(now, events, T0 + 20)) == [2]  # the false pass it stops
    blind = Verdict("unknown", "cannot observe", "a1")
    assert [(a.kind, a.wave) for a in decide(plan, state, {4: blind}, FakeHold())] == [(WAIT, 4)]
    # a later epoch (a retry) plans nothing back: its records are the earlier epoch's
    retried = events + [Event("r", T0 + 30, "retry", "p", "v2", "", epoch=2)]
    assert with_waves_out(now, policy, retried) is now


def test_a_batch_renumbered_by_a_departure_does_not_pin_the_next_batch_s_cluster_early():
    """production, one cluster at a time: p-a went out as production/1 and left the
    inventory; the planner now makes p-b production/1, which would read as a late join of
    the batch out and be pinned at once, before anything of production/1 was judged. A wave
    that cannot be judged takes no late join until it passed."""
    policy = _policy([{"name": "production", "maxClusters": 1}])
    events = [Event("a1", T0, "advance", "p", "v2", "production/1", ("p-a",), number=1)]
    now = with_waves_out(make_plan(policy, [Cluster("p-b"), Cluster("p-c")]), policy, events)
    state = fold(now, events, T0 + 10)
    batch = state.wave("production/1")
    assert (batch.status, batch.late, batch.gone) == ("verifying", ["p-b"], ["p-a"])
    blind = Verdict("unknown", "cannot observe", "a1")
    actions = decide(now, state, {1: blind}, FakeHold())
    assert not of(actions, ADVANCE)
    assert [(a.kind, a.wave, a.reason) for a in actions] == [
        (WAIT, 1, "cannot observe"),
        (WAIT, 1, "late join (p-b) waits: the wave cannot be judged, clusters it pinned left the inventory (p-a)")]
    # once it passed (before they left), a late join goes as any does
    passed = fold(now, events + [Event("v1", T0 + 5, "verify", "p", "v2", "production/1", advance="a1")], T0 + 10)
    assert [(a.kind, a.clusters, a.late) for a in of(decide(now, passed, {}, FakeHold()), ADVANCE)][0] == (
        ADVANCE, ("p-b",), True)


# --- the CLI, on a real repo with a bare remote ---------------------------------------------

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: hub, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: hub, context: {cluster: hub, user: u}}]
current-context: hub
"""


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env={**os.environ, **TEST_GIT_IDENTITY}).stdout


def _published(tmp_path: Path) -> Path:
    """A clone of the fleet-config example, its remote a bare repo beside it."""
    src = tmp_path / "src"
    shutil.copytree(EXAMPLE, src)
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "init")):
        _git(src, *args)
    _git(tmp_path, "clone", "-q", "--bare", str(src), str(tmp_path / "remote.git"))
    _git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(tmp_path / "work"))
    return tmp_path / "work"


def _rollout(cwd: Path, *args: str, now: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **TEST_GIT_IDENTITY, "COLUMNS": "200"}
    env.pop("ROLLOUT_NOW", None)
    if now is not None:
        env["ROLLOUT_NOW"] = str(now)
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env)


def _ok(cwd: Path, *args: str, now: int | None = None) -> str:
    result = _rollout(cwd, *args, now=now)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_canary_gone_from_the_inventory_is_out_unknown_halted_and_revertable(tmp_path):
    work = _published(tmp_path)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)  # the gates' context; nothing of the canary is asked of it
    apps = ["argocd/apps/dev-eu-west-platform.yaml", "argocd/apps/dev-us-east-platform.yaml"]
    before = {f: (work / f).read_text() for f in apps}

    _ok(work, "advance", "security-patch", "--wave", "1")
    advance = _git(work, "rev-parse", "HEAD").strip()
    at = int(_git(work, "log", "-1", "--format=%ct").strip())
    # a new dev cluster joins canary late (its own advance commit, judged on its own)
    fleet = work / "fleet" / "clusters.yaml"
    fleet.write_text(fleet.read_text().replace("clusters:\n", "clusters:\n  - name: dev-ap-south\n    server: "
                                               "https://dev-ap-south.k8s.example.com:6443\n    labels:\n      "
                                               "environment: dev\n      region: ap-south\n", 1))
    (work / "clusters/dev-ap-south").mkdir()
    for new, old in (("clusters/dev-ap-south/kustomization.yaml", "clusters/dev-us-east/kustomization.yaml"),
                     ("argocd/apps/dev-ap-south-platform.yaml", "argocd/apps/dev-us-east-platform.yaml")):
        (work / new).write_text(_git(work, "show", f"{advance}^:{old}").replace("us-east", "ap-south"))
    apps.append("argocd/apps/dev-ap-south-platform.yaml")
    before[apps[-1]] = (work / apps[-1]).read_text()
    _git(work, "add", "-A")
    _git(work, "commit", "-qm", "dev-ap-south")
    _git(work, "push", "-q")
    assert "late join, 1 cluster" in _ok(work, "advance", "security-patch")
    join = _git(work, "rev-parse", "HEAD").strip()
    # then every dev cluster leaves the inventory
    text = re.sub(r"  - name: dev-[a-z-]+\n(?:    .*\n)*", "", fleet.read_text())
    assert "dev-" not in text
    fleet.write_text(text)
    _git(work, "commit", "-qam", "dev clusters decommissioned")
    _git(work, "push", "-q")

    status = json.loads(_ok(work, "status", "security-patch", "--format", "json"))
    canary = status["waves"][0]
    assert status["status"] == "in-progress"
    assert (canary["status"], canary["advanceCommit"]) == ("baking", advance)
    assert canary["pinned"] == canary["gone"] == ["dev-eu-west", "dev-us-east", "dev-ap-south"]
    assert [(j["commit"], j["status"]) for j in canary["lateJoins"]] == [(join, "baking")]
    assert [w["status"] for w in status["waves"][1:]] == ["pending"] * 4
    shown = _rollout(work, "status", "security-patch")
    assert shown.returncode == 0 and "gone from the inventory: dev-eu-west, dev-us-east, dev-ap-south" in shown.stdout
    # the planner's warning, as true of the rollout: it went out, judged on what it pinned
    assert f"wave canary claims no cluster now, but it went out ({advance[:12]}): it is baking, judged on the " \
           "3 clusters it pinned (gone from the inventory: dev-eu-west, dev-us-east, dev-ap-south)" in shown.stderr
    assert "3 clusters pinned, gone" in _ok(work, "status", "security-patch", "--format", "mermaid")

    # inside progressDeadline (20m): unknown, it waits; nothing advances, nothing is written
    tip = _git(work, "rev-parse", "origin/main").strip()
    waiting = _rollout(work, "run", "security-patch", "--kubeconfig", str(kubeconfig), "--format", "json",
                       now=at + 600)
    step = json.loads(waiting.stdout)
    assert step["advanced"] == [] and step["verified"] == [], waiting.stdout
    verdict, joined = step["gates"]
    assert (verdict["name"], verdict["state"], verdict["halt"]) == ("canary", "unknown", False)
    assert "dev-eu-west, dev-us-east: cannot be judged" in verdict["reason"]
    assert "`rollout revert security-patch --wave canary`" in verdict["reason"]
    assert {c["state"] for c in verdict["checks"]} == {"unknown"}
    assert (joined["name"], joined["state"]) == ("canary late join (dev-ap-south)", "unknown")
    assert [(c["cluster"], c["state"]) for c in joined["checks"]] == [("dev-ap-south", "unknown")]
    _git(work, "fetch", "-q")
    assert _git(work, "rev-parse", "origin/main").strip() == tip

    # past it (and past the bake): halted, never passed; the regions stay pending
    halted = _rollout(work, "run", "security-patch", "--kubeconfig", str(kubeconfig), "--format", "json",
                      now=at + 1900)
    step = json.loads(halted.stdout)
    assert halted.returncode == 1 and step["status"] == "halted", halted.stdout
    assert step["advanced"] == [] and step["verified"] == [] and step["reverted"] == []
    status = json.loads(_ok(work, "status", "security-patch", "--format", "json", now=at + 1900))
    assert status["status"] == "halted" and status["waves"][0]["status"] == "halted"
    assert [w["status"] for w in status["waves"][1:]] == ["pending"] * 4

    # the way out: revert the wave (its files still in Git), then retry afresh
    _ok(work, "revert", "security-patch", "--wave", "canary", "--reason", "dev clusters decommissioned",
        now=at + 1900)
    assert {f: (work / f).read_text() for f in apps} == before
    assert _git(work, "show", "--stat", "--format=", "HEAD").count("|") == 3  # the late join's file too
    assert json.loads(_ok(work, "status", "security-patch", "--format", "json", now=at + 1900))["status"] == "reverted"
    _ok(work, "retry", "security-patch", "--reason", "without the dev clusters", now=at + 1901)
    fresh = json.loads(_ok(work, "status", "security-patch", "--format", "json", now=at + 1902))
    assert [w["status"] for w in fresh["waves"]] == ["empty"] + ["pending"] * 4  # a new epoch: nothing went out


def test_a_canary_decommissioned_with_its_files_is_reverted_as_nothing_to_restore(tmp_path):
    """Both canary clusters removed from the fleet and their files deleted: nothing of them
    holds the revision, so the revert is recorded, saying so, not stuck for ever."""
    work = _published(tmp_path)
    _ok(work, "advance", "security-patch", "--wave", "1")
    at = int(_git(work, "log", "-1", "--format=%ct").strip())
    fleet = work / "fleet" / "clusters.yaml"
    text = fleet.read_text()
    for cluster in ("dev-eu-west", "dev-us-east"):
        text = re.sub(rf"  - name: {cluster}\n(?:    .*\n)*", "", text)
        _git(work, "rm", "-rq", f"argocd/apps/{cluster}-platform.yaml")
    fleet.write_text(text)
    _git(work, "commit", "-qam", "dev clusters decommissioned")
    _git(work, "push", "-q")
    back = _rollout(work, "revert", "security-patch", "--wave", "canary", "--reason", "decommissioned", now=at + 60)
    assert back.returncode == 0, back.stdout + back.stderr
    assert "argocd/apps/dev-eu-west-platform.yaml was deleted since: off v1.4.2, left alone" in back.stdout
    assert "Rollout-Action: revert" in _git(work, "log", "-1", "--format=%B")
    status = json.loads(_rollout(work, "status", "security-patch", "-f", "json", now=at + 120).stdout)
    assert (status["waves"][0]["name"], status["waves"][0]["status"]) == ("canary", "reverted")
    assert not status["waves"][0].get("clustersStillOnRevision")


def test_one_pinned_file_deleted_does_not_block_the_urgent_revert_of_the_others(tmp_path):
    """dev-us-east's Application file is deleted while the cluster stays in the fleet: the load
    refuses it for what would write a pin (`validate`, `advance`), and the revert still takes
    dev-eu-west back, saying the deleted file is off the revision."""
    work = _published(tmp_path)
    kept = (work / "argocd/apps/dev-eu-west-platform.yaml").read_text()
    _ok(work, "advance", "security-patch", "--wave", "1")
    _git(work, "rm", "-q", "argocd/apps/dev-us-east-platform.yaml")
    _git(work, "commit", "-qm", "dev-us-east's Application removed by hand")
    _git(work, "push", "-q")
    assert _rollout(work, "validate", "security-patch").returncode == 2
    back = _rollout(work, "revert", "security-patch", "--wave", "canary", "--reason", "dev-eu-west degraded")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "argocd/apps/dev-us-east-platform.yaml was deleted since: off v1.4.2, left alone" in back.stdout
    assert (work / "argocd/apps/dev-eu-west-platform.yaml").read_text() == kept


def test_a_region_wave_whose_cluster_left_is_shown_judged_and_reverted_by_name(tmp_path):
    """region-eu-west went out (forced past canary), then staging-eu-west left the fleet:
    the planner makes no region-eu-west any more; status, run and revert still know it."""
    work = _published(tmp_path)
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    app = "argocd/apps/staging-eu-west-platform.yaml"
    before = (work / app).read_text()
    _ok(work, "advance", "security-patch", "--wave", "region-eu-west", "--force")
    at = int(_git(work, "log", "-1", "--format=%ct").strip())
    fleet = work / "fleet" / "clusters.yaml"
    fleet.write_text(re.sub(r"  - name: staging-eu-west\n(?:    .*\n)*", "", fleet.read_text()))
    _git(work, "commit", "-qam", "staging-eu-west decommissioned")
    _git(work, "push", "-q")

    status = json.loads(_ok(work, "status", "security-patch", "--format", "json", now=at + 60))
    assert [(w["number"], w["name"], w["status"]) for w in status["waves"]] == [
        (1, "canary", "pending"), (2, "region-us-east", "pending"), (3, "production/1", "pending"),
        (4, "production/2", "pending"), (5, "region-eu-west", "baking")]
    assert status["waves"][-1]["gone"] == ["staging-eu-west"]
    step = json.loads(_rollout(work, "run", "security-patch", "--kubeconfig", str(tmp_path / "kubeconfig"),
                               "--format", "json", now=at + 4000).stdout)  # past its bake and deadline
    (verdict,) = [g for g in step["gates"] if g["name"] == "region-eu-west"]
    assert verdict["state"] == "unknown" and verdict["halt"] and step["verified"] == []
    assert step["status"] == "halted" and step["advanced"] == []
    _ok(work, "revert", "security-patch", "--wave", "region-eu-west", "--reason", "gone", now=at + 4000)
    assert (work / app).read_text() == before


def test_a_live_cluster_deleted_from_the_hub_is_not_dropped_from_its_wave_s_gate(tmp_path):
    """The gate path, with the simulator's hub (ClusterProfiles) and Argo CD: dev-us-east's
    object is deleted after canary pinned it; the hub still answers (not the hub-away path,
    where the records' labels are used). dev-eu-west passes its gate and canary is still
    unknown (on main it passed on dev-eu-west alone), halted past progressDeadline, never
    passed, nothing after it advanced."""
    pytest.importorskip("kubernetes")
    from test_hub_rollout import _kubeconfigs, _policy
    from test_simulator import GIT_ENV, Running, published

    remote, work = published(tmp_path, "fleet-config", _policy)
    fleet = tmp_path / "hub-fleet.yaml"
    fleet.write_text((work / "fleet/clusters.yaml").read_text())
    sim = Running(remote, tmp_path / "kubeconfig", "--hub", str(fleet))
    env = {**os.environ, **GIT_ENV}
    env.pop("ROLLOUT_NOW", None)
    try:
        up, _ = _kubeconfigs(sim, tmp_path)

        def run(now: int | None = None) -> dict:
            result = subprocess.run([*ROLLOUT, "run", "security-patch", "--kubeconfig", str(up), "--format", "json"],
                                    cwd=work, capture_output=True, text=True, timeout=120,
                                    env={**env, **({"ROLLOUT_NOW": str(now)} if now else {})})
            assert result.returncode in (0, 1), result.stdout + result.stderr
            return json.loads(result.stdout)

        assert [a["name"] for a in run()["advanced"]] == ["canary"]
        knob = urllib.request.Request(sim.ready.split()[1] + "/_sim/hub", method="POST",
                                      data=json.dumps({"down": {}, "absent": ["dev-us-east"]}).encode())
        urllib.request.urlopen(knob).read()
        for _ in range(30):  # until the simulator's Argo CD synced dev-eu-west at the pin
            step = run()
            (canary,) = [g for g in step["gates"] if g["name"] == "canary"]
            seen = {c["cluster"]: c["state"] for c in canary["checks"]}
            if seen.get("dev-eu-west") == "passed":
                break
        assert seen == {"dev-eu-west": "passed", "dev-us-east": "unknown"}, canary
        assert canary["state"] == "unknown" and step["verified"] == [] and step["advanced"] == []
        assert "dev-us-east: cannot be judged" in canary["reason"]
        status = json.loads(subprocess.run([*ROLLOUT, "status", "security-patch", "--kubeconfig", str(up), "--format",
                                            "json"], cwd=work, capture_output=True, text=True, env=env).stdout)
        assert status["waves"][0]["gone"] == ["dev-us-east"] and status["status"] == "in-progress"
        at = int(_git(remote, "log", "-1", "--format=%ct", "--grep", "wave 1 canary -> ", "main").strip())
        halted = run(now=at + 3600)  # past progressDeadline: halted, not failed, not passed
        assert halted["status"] == "halted" and halted["reverted"] == [] and halted["advanced"] == []
        subjects = _git(remote, "log", "--format=%s", "main").splitlines()
        assert subjects[0] == "rollout(security-patch): halt at wave 1 canary (v1.4.2)"
        assert not [s for s in subjects if "region" in s or "passed its gates" in s]
    finally:
        sim.stop()


def test_a_revert_of_a_wave_whose_folder_was_deleted_says_it_once_not_once_per_cluster(tmp_path):
    """Twelve clusters decommissioned with their files after their wave went out: the
    revert says so in one line (how many files, the first three and their clusters), not
    twelve; the record names each cluster still (status reads it)."""
    from conftest import fleet_yaml, make_seed_repo

    clusters = {f"dev-{i:02}": {"environment": "dev", "region": "us-east"} for i in range(12)}
    clusters["stage-00"] = {"environment": "staging", "region": "us-east"}
    src = make_seed_repo(tmp_path / "src", clusters=clusters).root
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "init")):
        _git(src, *args)
    _git(tmp_path, "clone", "-q", "--bare", str(src), str(tmp_path / "remote.git"))
    _git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(tmp_path / "work"))
    work = tmp_path / "work"
    _ok(work, "advance", "security-patch", "--wave", "1")
    at = int(_git(work, "log", "-1", "--format=%ct").strip())
    (work / "fleet/clusters.yaml").write_text(fleet_yaml({"stage-00": clusters["stage-00"]}))
    for i in range(12):
        _git(work, "rm", "-q", f"argocd/apps/dev-{i:02}-platform.yaml")
    _git(work, "commit", "-qam", "the dev clusters decommissioned")
    _git(work, "push", "-q")
    back = _rollout(work, "revert", "security-patch", "--wave", "1", "--reason", "decommissioned", now=at + 60)
    assert back.returncode == 0, back.stdout + back.stderr
    said = [line for line in back.stdout.splitlines() if "deleted since" in line]
    assert len(said) == 1 and said[0].strip().startswith(
        "12 pinned files (argocd/apps/dev-00-platform.yaml, argocd/apps/dev-01-platform.yaml, argocd/apps/dev-02-"
        "platform.yaml and 9 more; the pins for clusters dev-00, dev-01, dev-02 and 9 more) deleted since: off v1.4.2, "
        "left alone"), back.stdout
    record = _git(work, "log", "-1", "--format=%B")
    assert "Rollout-Action: revert" in record and all(f"dev-{i:02}" in record for i in range(12))
