"""The planner: claiming, groupBy, batches, dependencies, numbering, constraints."""

from __future__ import annotations

import pytest

from waves.inventory import Cluster
from waves.planner import make_plan
from waves.policy import RolloutPolicy
from waves.problems import ProblemError, format_loc

from conftest import SEED_CLUSTERS


def policy(waves, **spec) -> RolloutPolicy:
    return RolloutPolicy.model_validate(
        {
            "apiVersion": "rollout/v1alpha1",
            "kind": "RolloutPolicy",
            "metadata": {"name": "p"},
            "spec": {
                "revision": "v2",
                "inventory": [{"fleet": "fleet.yaml"}],
                "pin": [{"preset": "argocd-application", "files": "apps/{cluster}.yaml"}],
                "waves": waves,
                **spec,
            },
        }
    )


def clusters(spec: dict[str, dict[str, str]]) -> list[Cluster]:
    return [Cluster(name, labels) for name, labels in spec.items()]


SEED = clusters(SEED_CLUSTERS)
SEED_WAVES = [
    {"name": "canary", "selector": {"matchLabels": {"environment": "dev"}}, "bake": "30m"},
    {"name": "region", "groupBy": "region", "selector": {"matchLabels": {"environment": "staging"}},
     "after": ["canary"], "bake": "1h"},
    {"name": "production", "after": ["region"], "maxClusters": 1},
]


def summary(plan):
    return [(w.number, w.name, w.clusters, w.after) for w in plan.waves]


def errors_of(pol, inventory) -> list[str]:
    with pytest.raises(ProblemError) as caught:
        make_plan(pol, inventory)
    return [f"{format_loc(p.loc)}: {p.message}" for p in caught.value.problems if p.is_error]


def test_seed_fleet_plan_is_exactly_the_documented_one():
    plan = make_plan(policy(SEED_WAVES, constraints={"isolateBy": ["compliance"], "maxWaveSize": 50}), SEED)
    assert summary(plan) == [
        (1, "canary", ["dev-eu-west", "dev-us-east"], []),
        (2, "region-eu-west", ["staging-eu-west"], [1]),
        (3, "region-us-east", ["staging-us-east"], [1]),
        (4, "production/1", ["prod-eu-west"], [2, 3]),
        (5, "production/2", ["prod-us-east"], [4]),
    ]
    assert [w.bake_seconds for w in plan.waves] == [1800, 3600, 3600, 0, 0]


def test_first_matching_wave_claims_a_cluster():
    waves = [
        {"name": "eu", "selector": {"matchLabels": {"region": "eu-west"}}},
        {"name": "dev", "selector": {"matchLabels": {"environment": "dev"}}},
        {"name": "rest"},
    ]
    plan = make_plan(policy(waves), SEED)
    assert plan.wave("eu").clusters == ["dev-eu-west", "prod-eu-west", "staging-eu-west"]
    assert plan.wave("dev").clusters == ["dev-us-east"]
    assert plan.wave("rest").clusters == ["prod-us-east", "staging-us-east"]


def test_default_after_is_the_previous_wave_and_first_wave_waits_for_nothing():
    waves = [{"name": "a", "selector": {"matchLabels": {"environment": "dev"}}},
             {"name": "b", "selector": {"matchLabels": {"environment": "staging"}}},
             {"name": "c"}]
    assert [w.after for w in make_plan(policy(waves), SEED).waves] == [[], [1], [2]]


def test_percent_batches_round_up_and_run_in_sequence():
    fleet = clusters({f"c{i:02d}": {"environment": "production"} for i in range(10)})
    plan = make_plan(policy([{"name": "prod", "maxClusters": "25%"}]), fleet)
    assert [w.name for w in plan.waves] == ["prod/1", "prod/2", "prod/3", "prod/4"]
    assert [len(w.clusters) for w in plan.waves] == [3, 3, 3, 1]
    assert [w.after for w in plan.waves] == [[], [1], [2], [3]]
    assert sum((w.clusters for w in plan.waves), []) == sorted(c.name for c in fleet)


def test_a_wave_that_fits_in_one_batch_keeps_its_name():
    plan = make_plan(policy([{"name": "all", "maxClusters": 50}]), SEED)
    assert [w.name for w in plan.waves] == ["all"]


def test_group_by_and_batches_combine_and_groups_run_in_parallel():
    fleet = clusters({f"{r}-{i}": {"region": r} for r in ("eu", "us") for i in range(3)})
    plan = make_plan(policy([{"name": "first", "selector": {"matchLabels": {"region": "none"}}},
                             {"name": "p", "groupBy": "region", "maxClusters": 2}]), fleet)
    assert [(w.number, w.name, w.after) for w in plan.waves] == [
        (1, "first", []), (2, "p-eu/1", [1]), (3, "p-eu/2", [2]), (4, "p-us/1", [1]), (5, "p-us/2", [4]),
    ]
    assert plan.wave("first").empty
    assert [p.message for p in plan.warnings] == ["wave first claims no cluster"]


def test_after_a_grouped_wave_means_all_its_parts_listed_without_redundant_edges():
    fleet = clusters({f"{r}-{i}": {"region": r, "tier": t} for r in ("eu", "us") for i, t in enumerate("ab")})
    waves = [{"name": "g", "groupBy": "region", "selector": {"matchLabels": {"tier": "a"}}, "maxClusters": 1},
             {"name": "rest", "after": ["g"]}]
    plan = make_plan(policy(waves), fleet)
    assert summary(plan)[-1] == (3, "rest", ["eu-1", "us-1"], [1, 2])


def test_after_may_name_one_part_of_a_grouped_wave():
    waves = [*SEED_WAVES[:2], {"name": "production", "after": ["region-eu-west"]}]
    plan = make_plan(policy(waves), SEED)
    assert plan.wave("production").after == [plan.wave("region-eu-west").number]


def test_an_empty_wave_keeps_its_number_and_is_waited_for_like_any_other():
    """Issue 24: a wave that claims nobody is planned, empty, at its place: the waves after
    it keep their numbers (`--wave 3` is `rest` whether or not a qa cluster exists)."""
    waves = [{"name": "dev", "selector": {"matchLabels": {"environment": "dev"}}},
             {"name": "nobody", "selector": {"matchLabels": {"environment": "qa"}}},
             {"name": "rest"}]
    plan = make_plan(policy(waves), SEED)
    assert [(w.number, w.name, w.clusters, w.after) for w in plan.waves] == [
        (1, "dev", ["dev-eu-west", "dev-us-east"], []), (2, "nobody", [], [1]),
        (3, "rest", ["prod-eu-west", "prod-us-east", "staging-eu-west", "staging-us-east"], [2])]
    assert [w.empty for w in plan.waves] == [False, True, False]
    assert [p.message for p in plan.warnings] == ["wave nobody claims no cluster"]
    qa = make_plan(policy(waves), SEED + clusters({"qa-1": {"environment": "qa"}}))
    assert [(w.number, w.name, w.after) for w in qa.waves] == [(w.number, w.name, w.after) for w in plan.waves]


def test_an_empty_grouped_or_batched_wave_is_one_empty_wave_under_its_own_name():
    waves = [{"name": "dev", "selector": {"matchLabels": {"environment": "dev"}}},
             {"name": "qa", "selector": {"matchLabels": {"environment": "qa"}}, "groupBy": "region", "maxClusters": 1},
             {"name": "rest", "after": ["qa"]}]
    plan = make_plan(policy(waves), SEED)
    assert [(w.number, w.name, w.group, w.batch, w.after) for w in plan.waves] == [
        (1, "dev", None, None, []), (2, "qa", None, None, [1]), (3, "rest", None, None, [2])]


def test_unclaimed_in_scope_cluster_is_an_error_naming_it():
    waves = [{"name": "dev", "selector": {"matchLabels": {"environment": "dev"}}}]
    errors = errors_of(policy(waves), SEED)
    assert len(errors) == 4
    assert any("cluster prod-eu-west is in scope but no wave's selector matches it" in e for e in errors)


def test_targets_limit_scope_and_an_empty_scope_is_an_error():
    plan = make_plan(policy([{"name": "all"}], targets={"matchLabels": {"region": "eu-west"}}), SEED)
    assert [c.name for c in plan.targets] == ["dev-eu-west", "prod-eu-west", "staging-eu-west"]
    errors = errors_of(policy([{"name": "all"}], targets={"matchLabels": {"region": "mars"}}), SEED)
    assert errors == ["spec.targets: no cluster of the 6 in the inventory is in scope"]


def test_unknown_after_is_reported_at_its_position():
    waves = [{"name": "a"}, {"name": "b", "after": ["a", "nope"]}]
    assert errors_of(policy(waves), SEED) == ["spec.waves[1].after[1]: unknown wave 'nope' (waves: a, b)"]


def test_dependency_cycle_is_reported_with_the_cycle():
    waves = [{"name": "a", "selector": {"matchLabels": {"environment": "dev"}}, "after": ["c"]},
             {"name": "b", "selector": {"matchLabels": {"environment": "staging"}}},
             {"name": "c"}]
    (error,) = errors_of(policy(waves), SEED)
    assert "dependency cycle: a -> b -> c -> a" in error


def test_duplicate_wave_names_are_an_error():
    errors = errors_of(policy([{"name": "a", "selector": {}}, {"name": "a"}]), SEED)
    assert "spec.waves[1].name: wave name 'a' is used twice" in errors


def test_group_by_label_missing_on_a_cluster_is_an_error():
    waves = [{"name": "g", "groupBy": "compliance"}]
    errors = errors_of(policy(waves), SEED)
    assert len(errors) == 5 and all("has no such label" in e for e in errors)


def test_isolate_by_rejects_a_wave_mixing_values_absent_counting_as_a_value():
    waves = [{"name": "prod", "selector": {"matchLabels": {"environment": "production"}}}, {"name": "rest"}]
    errors = errors_of(policy(waves, constraints={"isolateBy": ["compliance"]}), SEED)
    assert errors == [
        "spec.waves[0]: wave prod mixes values of isolated label 'compliance' "
        "(compliance=(absent): prod-us-east; compliance=gdpr: prod-eu-west)"
    ]
    # Clusters that all lack the label do not mix: the seed canary is fine.
    make_plan(policy(SEED_WAVES, constraints={"isolateBy": ["compliance"]}), SEED)


def test_max_wave_size_is_a_hard_limit():
    errors = errors_of(policy([{"name": "all"}], constraints={"maxWaveSize": 5}), SEED)
    assert errors == ["spec.constraints.maxWaveSize: wave all has 6 clusters, more than maxWaveSize 5: "
                      "split it with maxClusters or groupBy"]


def test_pins_render_per_cluster_templates_and_missing_labels_are_errors():
    pol = policy([{"name": "all"}], pin=[{"preset": "kustomize-image", "image": "app",
                                          "files": "envs/{labels.region}/{cluster}/kustomization.yaml"}])
    plan = make_plan(pol, SEED)
    (target,) = plan.pins["prod-eu-west"]
    assert (target.file, target.field) == ("envs/eu-west/prod-eu-west/kustomization.yaml", "images[name=app].newTag")
    pol = policy([{"name": "all"}], pin=[{"preset": "flux-helmrelease", "files": "{labels.compliance}/{cluster}.yaml"}])
    errors = errors_of(pol, SEED)
    assert len(errors) == 5
    assert "cluster dev-eu-west has no label 'compliance', which the template '{labels.compliance}/{cluster}.yaml' uses" in errors[0]


def test_an_empty_label_that_empties_a_part_of_a_pinned_path_is_an_error_naming_the_path():
    """`apps/{labels.team}/x.yaml` with `team: ""` is `apps//x.yaml`, which the file system
    reads as `apps/x.yaml`: another file than the template means. Refused when planned."""
    fleet = clusters({"a": {"team": "web"}, "b": {"team": ""}})
    pol = policy([{"name": "all"}], pin=[{"preset": "argocd-application", "files": "apps/{labels.team}/{cluster}.yaml"}])
    assert errors_of(pol, fleet) == [
        "spec.pin[0].files: cluster b has an empty label 'team', which makes the template "
        "'apps/{labels.team}/{cluster}.yaml' the path 'apps//b.yaml': not a file in the repository "
        "(give the label a value, or leave it out of the template)"]
    first = policy([{"name": "all"}], pin=[{"preset": "argocd-application", "files": "{labels.team}/{cluster}.yaml"}])
    assert "the path '/b.yaml'" in errors_of(first, fleet)[0]
    # dots an empty label leaves alone in a part: `./b.yaml` is `b.yaml` to the file system
    dots = policy([{"name": "all"}], pin=[{"preset": "argocd-application", "files": "{labels.team}./{cluster}.yaml"}])
    assert "an empty label 'team', which makes the template '{labels.team}./{cluster}.yaml' the path './b.yaml'" \
        in errors_of(dots, fleet)[0]
    # a path that is the label alone is left empty whole: still the path, not the field, is named
    whole = policy([{"name": "all"}], pin=[{"preset": "argocd-application", "files": "{labels.team}"}])
    assert errors_of(whole, fleet) == [
        "spec.pin[0].files: cluster b has an empty label 'team', which makes the template '{labels.team}' the "
        "path '': not a file in the repository (give the label a value, or leave it out of the template)"]
    # an empty value inside a part leaves the path plain: planned as written
    inside = policy([{"name": "all"}], pin=[{"preset": "argocd-application", "files": "apps/{labels.team}-{cluster}.yaml"}])
    assert [t.file for t in make_plan(inside, fleet).pins["b"]] == ["apps/-b.yaml"]


def test_a_label_missing_from_the_name_of_the_pinned_document_is_an_error_naming_it():
    """`name: "{labels.app}-platform"` for a cluster without `app`: the plan passed, and
    `validate` and `advance` stopped with an internal error (MissingLabel) when the editor
    looked for the document."""
    fleet = clusters({"a": {"app": "web"}, "b": {}, "c": {"app": ""}})
    pol = policy([{"name": "all"}], pin=[{"preset": "argocd-application", "files": "apps/{cluster}.yaml",
                                          "name": "{labels.app}-platform"}])
    assert errors_of(pol, fleet) == [
        "spec.pin[0].name: cluster b has no label 'app', which the template '{labels.app}-platform' uses"]
    # an empty value names a document still ("-platform"): the editor finds it or says it is not there
    assert [t.file for t in make_plan(pol, [fleet[0], fleet[2]]).pins["c"]] == ["apps/c.yaml"]


def test_an_empty_label_that_empties_a_key_of_a_pinned_field_is_an_error():
    fleet = clusters({"a": {"team": "web"}, "b": {"team": ""}})
    pol = policy([{"name": "all"}], pin=[{"preset": "yaml-field", "files": "apps/{cluster}.yaml",
                                          "field": "spec.teams.{labels.team}.tag", "create": True}])
    assert errors_of(pol, fleet) == [
        "spec.pin[0].field: cluster b has an empty label 'team', which makes the template "
        "'spec.teams.{labels.team}.tag' a field with an empty key (give the label a value, or leave it out of the template)"]
    assert make_plan(pol, fleet[:1]).pins["a"][0].field == "spec.teams.web.tag"


@pytest.mark.parametrize("gate, field", [
    ({"argocd": {"context": "{labels.ctx}"}}, "argocd.context"),
    ({"argocd": {"context": "hub", "application": "{labels.ctx}"}}, "argocd.application"),
    ({"flux": {"context": "{labels.ctx}", "kind": "HelmRelease", "name": "app"}}, "flux.context"),
    ({"kstatus": {"context": "{cluster}", "namespace": "{labels.ctx}",
                  "revisionFrom": "spec.template.spec.containers[0].image"}}, "kstatus.namespace"),
    ({"fleet": {"cluster": "{labels.ctx}", "gitRepo": "guestbook"}}, "fleet.cluster"),
    ({"prometheus": {"url": "http://p:9090", "query": 'up{ctx="{labels.ctx}"}', "min": 1}}, "prometheus.query"),
])
def test_a_gate_template_a_cluster_lacks_a_label_for_is_an_error_never_a_guess_at_where_to_look(gate, field):
    """`context: "{labels.ctx}"` for a cluster without `ctx` was the kubeconfig's current
    context when judged (another cluster's Applications); the plan refuses it."""
    fleet = clusters({"a": {"ctx": "a"}, "b": {}, "c": {}})
    assert errors_of(policy([{"name": "all"}], gates=[gate]), fleet) == [
        f"spec.gates[0].{field}: clusters b, c have no label 'ctx', which the {field.split('.')[0]} gate's "
        f"{field.split('.')[1]} '{next(v for v in gate[field.split('.')[0]].values() if 'labels.ctx' in str(v))}' "
        "uses: the gate would not know where to look for them"]
    assert make_plan(policy([{"name": "all"}], gates=[gate]), fleet[:1]).waves[0].gates


def test_a_gate_template_an_empty_label_leaves_empty_is_an_error_and_one_line_for_many_clusters():
    fleet = clusters({**{f"c{i:02}": {"ctx": ""} for i in range(12)}, "named": {"ctx": "hub-2"}})
    waves = [{"name": "one", "selector": {"matchLabels": {"ctx": ""}}, "gates": [{"argocd": {"context": "{labels.ctx}"}}]},
             {"name": "rest"}]
    assert errors_of(policy(waves), fleet) == [
        "spec.waves[0].gates[0].argocd.context: clusters c00, c01, c02, c03, c04 and 7 more have an empty label "
        "'ctx', which leaves the argocd gate's context '{labels.ctx}' empty: the gate would not know where to "
        "look for them"]
    # an empty label inside a longer value leaves it a value: planned
    inside = [{**waves[0], "gates": [{"argocd": {"context": "hub", "application": "{labels.ctx}-app"}}]}, waves[1]]
    assert make_plan(policy(inside), fleet).waves[0].clusters == [f"c{i:02}" for i in range(12)]


def test_an_empty_label_in_a_promql_matcher_is_an_error_it_would_select_the_series_without_the_label():
    """`cluster="{labels.c}"` with `c: ""` is `cluster=""`, which PromQL reads as "no cluster
    label": the fleet's aggregates, any cluster's series but the one judged."""
    gate = {"prometheus": {"url": "http://p:9090", "query": 'sum(rate(errors{cluster="{labels.c}"}[5m]))', "max": 0.01}}
    fleet = clusters({"a": {"c": "a"}, "b": {"c": ""}})
    assert errors_of(policy([{"name": "all"}], gates=[gate]), fleet) == [
        "spec.gates[0].prometheus.query: cluster b has an empty label 'c', which the prometheus gate's query "
        "'sum(rate(errors{cluster=\"{labels.c}\"}[5m]))' uses: an empty value there leaves the matcher =\"\": it "
        "selects the series without that label, any cluster's"]
    assert make_plan(policy([{"name": "all"}], gates=[gate]), fleet[:1]).waves[0].clusters == ["a"]


def test_an_empty_label_in_a_promql_query_is_one_line_for_a_fleet_and_refused_only_where_it_selects_amiss():
    """The query names `{cluster}` too, as most do: the refusal was one line per cluster
    (keyed by the query each got). And an empty label that leaves a matcher's value
    something else (`job="api{labels.suffix}"` is `job="api"`) is the user's to write: it
    was refused with the message of `cluster=""`; a regular expression it leaves matching
    the empty string, a string it leaves empty or a metric's name it changes are not."""
    def query(q: str):
        return policy([{"name": "all"}], gates=[{"prometheus": {"url": "http://p:9090", "query": q, "max": 0.01}}])

    fleet = clusters({f"c{i:05}": {"team": "", "suffix": ""} for i in range(10_000)})
    assert errors_of(query('sum(rate(errors{cluster="{cluster}",team="{labels.team}"}[5m]))'), fleet) == [
        "spec.gates[0].prometheus.query: clusters c00000, c00001, c00002, c00003, c00004 and 9995 more have an empty "
        "label 'team', which the prometheus gate's query 'sum(rate(errors{cluster=\"{cluster}\",team=\"{labels.team}\"}"
        "[5m]))' uses: an empty value there leaves the matcher =\"\": it selects the series without that label, any "
        "cluster's"]
    fleet = fleet[:3]
    for legit in ('sum(rate(errors{cluster="{cluster}",job="api{labels.suffix}"}[5m]))',
                  'sum(rate(errors{job=~"api-{labels.suffix}.+"}[5m]))', "up{job='a{labels.suffix}\\'b'}"):
        assert len(make_plan(query(legit), fleet).waves[0].clusters) == 3, legit
    refused = {'up{job=~"{labels.team}.*"}': "leaves the regular expression '.*', which matches the empty string: it "
                                               "selects the series without that label, any cluster's",
               'up{job=~"a|{labels.team}"}': "leaves the regular expression 'a|', which matches the empty string",
               "up{team!='{labels.team}'}": "leaves the matcher !=\"\": it selects every series with that label",
               'label_replace(up, "x", "{labels.team}", "", "")': "leaves a string of the query empty",
               'rate(errors_{labels.team}_total[5m])': ", outside a label matcher's string, changes what the query asks"}
    for q, why in refused.items():
        (error,) = errors_of(query(q), fleet)
        assert f"have an empty label 'team', which the prometheus gate's query {q!r} uses: an empty value there" \
               f"{'' if why.startswith(',') else ' '}{why}" in error, error


def test_gates_default_to_spec_gates_and_a_wave_may_replace_them():
    waves = [{"name": "dev", "selector": {"matchLabels": {"environment": "dev"}}, "gates": [], "approval": "required"},
             {"name": "rest"}]
    plan = make_plan(policy(waves, gates=[{"argocd": {"context": "hub"}}]), SEED)
    assert plan.waves[0].gates == () and plan.waves[0].approval == "required"
    assert [g.argocd.context for g in plan.waves[1].gates] == ["hub"]
