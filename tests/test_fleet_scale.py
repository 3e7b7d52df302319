"""What the fleet-scale work (issue 21, docs/performance.md) changed must read the same:
the plan's JSON written a few thousand targets at a time is the document it was, byte for
byte, and the inventory keeps only text labels whether or not it copies the mapping."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings, strategies as st

from waves.inventory import Cluster
from waves.planner import make_plan
from waves.problems import Problem
from rollout.render import plan_json

from test_planner import SEED_WAVES, policy


def fleet(n: int) -> list[Cluster]:
    envs = ("dev", "staging", "production")
    return [Cluster(f"c{i:05d}", {"environment": envs[i % 3], "region": ("eu-west", "us-east")[i % 2],
                                  **({"zz": "ü"} if i % 7 == 0 else {})},
                    None if i % 5 == 0 else f"https://c{i}.example.com")
            for i in range(n)]


@pytest.mark.parametrize("n", [1, plan_json._CHUNK - 1, plan_json._CHUNK, 2 * plan_json._CHUNK + 3])
def test_the_compact_plan_written_in_chunks_is_the_whole_document(n):
    waves = [dict(w, maxClusters="50%") if w["name"] == "production" else w for w in SEED_WAVES]
    plan = make_plan(policy(waves), fleet(n))
    warnings = [Problem("a warning, with \"quotes\" and ü", ("spec", "waves", 0), severity="warning")]
    out = io.StringIO()
    plan_json.write(out, plan, warnings, pretty=False)
    assert out.getvalue() == json.dumps(plan_json.plan_dict(plan, warnings))
    assert plan_json.render(plan, warnings, pretty=True) == json.dumps(plan_json.plan_dict(plan, warnings), indent=2)


text = st.text(st.characters(codec="utf-8"), max_size=8)


@settings(max_examples=60)
@given(st.lists(st.tuples(text, st.dictionaries(text, text, max_size=3), st.one_of(st.none(), text)),
                min_size=1, max_size=5, unique_by=lambda t: t[0]))
def test_a_target_written_out_is_what_json_dumps_writes(clusters):
    """Quotes, backslashes, control characters, non-ASCII: the written-out target is
    json.dumps' text of the same dict."""
    plan = make_plan(policy([{"name": "all"}]), [Cluster(n, labels, server) for n, labels, server in clusters])
    cache: dict = {}
    for cluster in plan.targets:
        assert plan_json._target_json(plan, cluster, cache) == json.dumps(plan_json._target(plan, cluster))


labels = st.dictionaries(st.sampled_from(["region", "tier", "zone"]),
                         st.one_of(st.sampled_from(["eu", "us"]), st.integers(0, 3), st.booleans(),
                                   st.lists(st.just("x"), max_size=1)), max_size=3)


@settings(max_examples=40)
@given(st.lists(labels, min_size=1, max_size=4))
def test_a_cluster_keeps_its_text_labels_only(tmp_path_factory, all_labels):
    """The parsed mapping is kept as it is when every label is text, else filtered: either
    way a cluster's labels are its text labels (the others are problems of their own)."""
    from rollout.inventory import load_inventory

    repo = tmp_path_factory.mktemp("inv")
    lines = ["apiVersion: rollout/v1alpha1", "kind: Fleet", "clusters:"]
    for i, mapping in enumerate(all_labels):
        lines += [f"  - name: c{i}", f"    labels: {json.dumps(mapping)}"]
    (repo / "fleet.yaml").write_text("\n".join(lines) + "\n")
    clusters, _ = load_inventory(repo, [("fleet", "fleet.yaml")])
    assert {c.name: c.labels for c in clusters} == {
        f"c{i}": {k: v for k, v in mapping.items() if isinstance(v, str)} for i, mapping in enumerate(all_labels)}
