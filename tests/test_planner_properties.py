"""Invariants of planning, over generated fleets and policies (hypothesis)."""

from __future__ import annotations


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import examples
from waves.inventory import Cluster
from waves.planner import make_plan
from waves.policy import RolloutPolicy
from waves.problems import ProblemError

ENVS = ["dev", "staging", "production"]
REGIONS = ["us-east", "eu-west", "ap-south"]

fleets = st.dictionaries(
    keys=st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True),
    values=st.fixed_dictionaries({"environment": st.sampled_from(ENVS), "region": st.sampled_from(REGIONS)}),
    min_size=1,
    max_size=40,
)

wave_specs = st.lists(
    st.fixed_dictionaries(
        {
            "selector": st.one_of(
                st.none(),
                st.builds(lambda e: {"matchLabels": {"environment": e}}, st.sampled_from(ENVS)),
                st.builds(lambda r: {"matchExpressions": [{"key": "region", "operator": "In", "values": r}]},
                          st.lists(st.sampled_from(REGIONS), min_size=1, unique=True)),
            ),
            "groupBy": st.sampled_from([None, "region", "environment"]),
            "maxClusters": st.sampled_from([None, 1, 2, 5, "25%", "50%"]),
            "after": st.sampled_from([None, "first", "all-before"]),
        }
    ),
    min_size=1,
    max_size=5,
)


def build_policy(specs) -> RolloutPolicy:
    waves = []
    for index, spec in enumerate(specs):
        wave = {"name": f"w{index}"}
        for key in ("selector", "groupBy", "maxClusters"):
            if spec[key] is not None:
                wave[key] = spec[key]
        if spec["after"] == "first" and index > 0:
            wave["after"] = ["w0"]
        elif spec["after"] == "all-before":
            wave["after"] = [f"w{i}" for i in range(index)]
        waves.append(wave)
    waves.append({"name": "rest"})  # claims whatever is left, so every cluster is claimed
    return RolloutPolicy.model_validate(
        {"apiVersion": "rollout/v1alpha1", "kind": "RolloutPolicy", "metadata": {"name": "p"},
         "spec": {"revision": "v1", "inventory": [{"fleet": "f.yaml"}],
                  "pin": [{"preset": "flux-helmrelease", "files": "{cluster}.yaml"}], "waves": waves}}
    )


def inventory(fleet) -> list[Cluster]:
    return [Cluster(name, labels) for name, labels in fleet.items()]


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets, wave_specs, st.randoms(use_true_random=False))
def test_every_cluster_in_exactly_one_wave_order_respects_after_and_inventory_order_does_not_matter(fleet, specs, rnd):
    pol = build_policy(specs)
    clusters = inventory(fleet)
    try:
        plan = make_plan(pol, clusters)
    except ProblemError as err:
        # The only failures these policies can produce: a groupBy label missing (never,
        # every cluster has both labels) — so none at all.
        raise AssertionError([p.message for p in err.problems]) from None

    placed = [name for wave in plan.waves for name in wave.clusters]
    assert sorted(placed) == sorted(fleet), "every in-scope cluster is in exactly one wave"
    assert all(wave.clusters == sorted(wave.clusters) for wave in plan.waves)
    assert [w.number for w in plan.waves] == list(range(1, len(plan.waves) + 1))
    for wave in plan.waves:
        assert all(dep < wave.number for dep in wave.after), "numbering respects after"
        if not wave.clusters:  # a policy wave that claims nobody: one empty wave, under its own name
            assert wave.name == pol.spec.waves[wave.spec_index].name
            assert [w.spec_index for w in plan.waves].count(wave.spec_index) == 1
    assert {w.spec_index for w in plan.waves} == set(range(len(pol.spec.waves))), "every policy wave is planned"

    # A wave waits (transitively) for every part of every wave it names in `after`.
    reach = {w.number: set(w.after) for w in plan.waves}
    for w in plan.waves:
        for dep in list(reach[w.number]):
            reach[w.number] |= reach[dep]
    spec_of = {w.number: w.spec_index for w in plan.waves}
    for w in plan.waves:
        wave_spec = pol.spec.waves[w.spec_index]
        named = wave_spec.after if wave_spec.after is not None else ([pol.spec.waves[w.spec_index - 1].name] if w.spec_index else [])
        for ref in named:
            ref_index = next(i for i, s in enumerate(pol.spec.waves) if s.name == ref)
            for other in plan.waves:
                if spec_of[other.number] == ref_index:
                    assert other.number in reach[w.number]

    shuffled = list(clusters)
    rnd.shuffle(shuffled)
    again = make_plan(pol, shuffled)
    assert [(w.number, w.name, w.clusters, w.after) for w in again.waves] == [
        (w.number, w.name, w.clusters, w.after) for w in plan.waves
    ]


@settings(max_examples=examples(100), deadline=None)
@given(fleets, st.sampled_from([1, 2, 3, 7, "10%", "33%", "100%"]))
def test_batches_never_exceed_max_clusters_and_keep_name_order(fleet, max_clusters):
    pol = build_policy([{"selector": None, "groupBy": None, "maxClusters": max_clusters, "after": None}])
    plan = make_plan(pol, inventory(fleet))
    limit = max_clusters if isinstance(max_clusters, int) else max(1, -(-len(fleet) * int(max_clusters[:-1]) // 100))
    assert all(len(w.clusters) <= limit for w in plan.waves)
    assert [c for w in plan.waves for c in w.clusters] == sorted(fleet)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets, wave_specs, st.data())
def test_a_policy_waves_number_does_not_depend_on_whether_an_earlier_wave_is_empty(fleet, specs, data):
    """Issue 24: `--wave N` means the same wave whether or not an earlier wave finds any
    cluster. A wave `special` is put among the generated ones; its clusters (labels no
    other generated selector names, and claimed before the catch-all `rest`) join or
    leave the fleet: every planned wave keeps its number, name and `after`, and `special`
    is the one planned wave of its place, with clusters or empty."""
    at = data.draw(st.integers(0, len(specs)), label="special's place")
    after = data.draw(st.sampled_from([None, "first", "all-before"]), label="special's after")
    specs = [dict(s) for s in specs]
    for spec in specs[:at]:  # a selector-less wave before it would claim its clusters too
        if spec["selector"] is None:
            spec["selector"] = {"matchLabels": {"environment": "dev"}}
    specs.insert(at, {"selector": {"matchLabels": {"tier": "special"}}, "groupBy": None, "maxClusters": None,
                      "after": after})
    pol = build_policy(specs)
    special = {f"special{i}": {"environment": "special", "region": "special", "tier": "special"}
               for i in range(data.draw(st.integers(1, 3), label="special clusters"))}
    without = make_plan(pol, inventory(fleet))
    with_special = make_plan(pol, inventory({**fleet, **special}))
    name = f"w{at}"
    assert without.wave(name).empty and with_special.wave(name).clusters == sorted(special)
    assert [(w.number, w.name, w.after) for w in without.waves] == \
        [(w.number, w.name, w.after) for w in with_special.waves]


def _outcome(policy, clusters):
    """What a plan says, comparable: its waves, pins and warnings, or its problems."""
    try:
        plan = make_plan(policy, clusters)
    except ProblemError as err:
        return ("refused", [(p.message, p.loc) for p in err.problems])
    return ("planned", [(w.number, w.name, w.clusters, w.after, w.shared, w.windows) for w in plan.waves], plan.pins,
            plan.wave_of, [c.name for c in plan.targets], [(p.message, p.loc) for p in plan.warnings])


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys=st.from_regex(r"[a-z][a-z0-9]{0,4}", fullmatch=True),
                       values=st.fixed_dictionaries({"environment": st.sampled_from(ENVS)},
                                                    optional={"region": st.sampled_from(REGIONS)}),
                       min_size=1, max_size=30),
       wave_specs,
       st.sampled_from(["{cluster}.yaml", "{labels.region}/{cluster}.yaml", "shared/{labels.environment}.yaml",
                        "all.yaml", "{cluster}/{cluster}.yaml"]),
       st.sampled_from([None, {"matchLabels": {"environment": "production"}},
                        {"matchExpressions": [{"key": "region", "operator": "Exists"}]}]),
       st.booleans())
def test_clusters_sharing_one_label_mapping_plan_as_each_with_its_own(fleet, specs, files, targets, isolate):
    """The inventory gives every cluster with the same labels one mapping (rollout/inventory),
    and the planner decides per distinct mapping (scope, claim): the plan, or its
    refusal, is the one made from a copy per cluster."""
    pol = build_policy(specs).model_dump(mode="json", exclude_none=True)
    pol["spec"]["pin"] = [{"preset": "argocd-application", "files": files}]
    if targets is not None:
        pol["spec"]["targets"] = targets
    if isolate:
        pol["spec"]["constraints"] = {"isolateBy": ["region"]}
    pol = RolloutPolicy.model_validate(pol)
    mappings: dict[tuple, dict] = {}
    shared = [Cluster(name, mappings.setdefault(tuple(sorted(labels.items())), dict(labels)))
              for name, labels in fleet.items()]
    own = [Cluster(name, dict(labels)) for name, labels in fleet.items()]
    assert _outcome(pol, shared) == _outcome(pol, own)
    try:
        plan = make_plan(pol, shared)
    except ProblemError:
        return
    spec = pol.spec
    # one by one, as the rules say: in scope when the targets match, in the first wave whose selector matches
    assert [c.name for c in plan.targets] == sorted(c.name for c in shared if spec.targets is None
                                                    or spec.targets.matches(c.labels))
    index_of = {w.number: w.spec_index for w in plan.waves}
    for cluster in plan.targets:
        first = next(i for i, w in enumerate(spec.waves) if w.selector is None or w.selector.matches(cluster.labels))
        assert index_of[plan.wave_of[cluster.name]] == first


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,6}[a-z0-9])?", fullmatch=True), min_size=1, max_size=12, unique=True),
       st.sampled_from(["{cluster}.yaml", "apps/{cluster}/{cluster}.yaml", "{cluster}", "a{cluster}b{cluster}c"]))
def test_paths_named_after_the_cluster_alone_are_the_general_path_s_and_never_shared(names, files):
    """The planner's short cuts for a pin whose file names only the cluster: its paths
    are what the general path (a second pin that reads a label forces it) makes, and no
    two clusters share one, so no shared-field unit is looked for."""
    from waves.planner import _units

    fleet = [Cluster(name, {"region": "eu"}) for name in names]
    spec = build_policy([]).model_dump(mode="json", exclude_none=True)
    spec["spec"]["pin"] = [{"preset": "argocd-application", "files": files}]
    alone = RolloutPolicy.model_validate(spec)
    spec["spec"]["pin"].append({"preset": "argocd-application", "files": "{labels.region}/all.yaml"})
    general = RolloutPolicy.model_validate(spec)
    fast, slow = make_plan(alone, fleet), make_plan(general, fleet)
    assert fast.pins == {name: targets[:1] for name, targets in slow.pins.items()}
    paths = [targets[0].file for targets in fast.pins.values()]
    assert len(set(paths)) == len(paths) and _units(alone, fast.targets, fast.pins) == {}


# A pinned path's parts: plain text, the cluster's name, a label, or a mix in one part.
_PARTS = st.lists(st.lists(st.sampled_from(["apps", "x", "{cluster}", "{labels.team}", "{labels.site}", "-", ".yaml", "."]),
                           min_size=1, max_size=3).map("".join), min_size=1, max_size=4).map("/".join)
_VALUES = st.sampled_from(["", "web", "a.b", "eu-west-1"])


@given(template=_PARTS, team=_VALUES, site=_VALUES)
def test_a_rendered_path_template_is_a_plain_path_or_names_the_empty_label(template, team, site):
    """What render_path gives has no empty part (never `apps//x`, `/x`, `x/`: another file
    to the file system), and no `.` or `..` part a label made (`./x`); what it refuses names
    a label the template uses and the cluster left empty. (A `.` written in the template
    itself is the validator's: spec.pin[N].files refuses it.)"""
    from waves.templates import EmptyLabel, render, render_path

    labels = {"team": team, "site": site}
    try:
        path = render_path(template, "c1", labels)
    except EmptyLabel as empty:
        assert labels[empty.key] == "" and {"", ".", ".."} & set(empty.path.split("/"))
        # named by a part it empties: that part holds it and nothing else but other empty labels (and dots)
        assert any("{labels." + empty.key + "}" in part and render(part, "c1", labels) in ("", ".", "..")
                   for part in template.split("/"))
    else:
        assert "" not in path.split("/")
        assert all(render(part, "c1", labels) not in (".", "..") for part in template.split("/") if "{labels." in part)
        assert path == template.replace("{cluster}", "c1").replace("{labels.team}", team).replace("{labels.site}", site)


@given(template=st.lists(st.sampled_from(["*", "?", "-", "eu", "{labels.team}", "{cluster}"]), min_size=1,
                          max_size=4).map("".join),
       team=_VALUES)
def test_a_rendered_identity_pattern_never_turns_into_match_anything(template, team):
    """render_pattern refuses exactly what an empty label leaves as nothing but wildcards
    (`*`, `?`: `?*` matches any value but ""); any other pattern is the template filled in
    (an empty one matches "" alone), and a template of wildcards alone is the author's."""
    from waves.templates import EmptyLabel, render, render_pattern

    filled = render(template, "c1", {"team": team})
    try:
        pattern = render_pattern(template, "c1", {"team": team})
    except EmptyLabel as empty:
        assert empty.key == "team" and team == "" and filled and set(filled) <= {"*", "?"} and "{labels.team}" in template
    else:
        assert pattern == filled and (not pattern or set(pattern) - {"*", "?"} or "{labels.team}" not in template
                                      or team != "")
