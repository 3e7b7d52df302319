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


_PINS = [[{"preset": "argocd-application", "files": "apps/{cluster}.yaml"}],
         [{"preset": "argocd-application", "files": "apps/{cluster}.yaml"},
          {"preset": "flux-helmrelease", "files": "hr/\"{cluster}\u00e9.yaml"}]]


@settings(max_examples=60)
@given(st.lists(st.tuples(text, st.dictionaries(text, text, max_size=3), st.one_of(st.none(), text)),
                min_size=1, max_size=5, unique_by=lambda t: t[0]),
       st.sampled_from(_PINS), st.booleans())
def test_targets_written_out_are_what_json_dumps_writes(clusters, pins, shared):
    """Quotes, backslashes, control characters, non-ASCII, one pin or two, label mappings
    shared or not: the written-out targets are json.dumps' text of the same dicts."""
    one: dict = {}
    made = [Cluster(n, one.setdefault(tuple(labels.items()), labels) if shared else labels, server)
            for n, labels, server in clusters]
    plan = make_plan(policy([{"name": "all"}], pin=pins), made)
    cache: dict = {}
    assert plan_json._targets_json(plan, plan.targets, cache) == [json.dumps(plan_json._target(plan, c))
                                                                   for c in plan.targets]


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


# Per distinct value what was per cluster (rollout/inventory/__init__.py, duplicates.py):
# the same findings as the entries checked one at a time.

_names = st.sampled_from(["c1", "c-2", "a.b", "prod-eu-1", "Bad_Name", "-x", "x-", "", "a" * 254, "a\nb"])
_keys = st.sampled_from(["region", "tier", "example.com/zone", "Bad Key", "-x", 1])
_values = st.one_of(st.sampled_from(["eu", "us", "no", "yes", "1.20", "a b", "x" * 64, ""]), st.integers(0, 2),
                    st.booleans(), st.none(), st.floats(0, 1), st.lists(st.just("x"), max_size=1))


def _entries(fleet):
    from rollout.inventory.entries import Entry

    return [Entry(name, "f.yaml", 0, ("clusters", i), dict(labels), ("clusters", i, "labels"))
            for i, (name, labels) in enumerate(fleet)]


@settings(max_examples=80)
@given(st.lists(st.tuples(_names, st.dictionaries(_keys, _values, max_size=3)), max_size=10))
def test_entries_checked_per_distinct_label_mapping_as_one_by_one(fleet):
    from rollout.inventory import _check_entries, _labels

    together, suspicious, shared = _entries(fleet), [], set()
    problems = _check_entries(together, suspicious, shared)
    alone_problems, alone_suspicious, alone_labels = [], [], []
    for entry in _entries(fleet):
        found, its_shared = [], set()
        alone_problems += _check_entries([entry], found, its_shared)
        alone_suspicious += [(entry.loc, key) for _, key in found]
        alone_labels.append(_labels(entry.labels, its_shared))
    assert problems == alone_problems
    assert [(entry.loc, key) for entry, key in suspicious] == alone_suspicious
    labels = [_labels(entry.labels, shared) for entry in together]
    assert labels == alone_labels
    assert labels == [{k: v for k, v in raw.items() if type(k) is str and type(v) is str} for _, raw in fleet]
    for (_, a), (_, b), la, lb in zip(fleet, fleet[1:], labels, labels[1:]):
        if list(a.items()) == list(b.items()) and all(type(x) is str for kv in a.items() for x in kv):
            assert la is lb  # one mapping for every cluster that has these labels


@given(st.lists(_names, max_size=6))
def test_names_checked_at_once_as_one_by_one(names):
    import re

    from rollout.inventory import _all_names

    one_by_one = bool(names) and all(re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", n) and len(n) <= 253
                                     for n in names)
    assert _all_names(names) == one_by_one


@settings(max_examples=80)
@given(st.lists(st.tuples(st.sampled_from(["c1", "c2", "c3"]),
                          st.one_of(st.none(), st.sampled_from(["https://a.example.com:6443", "https://A.example.com:6443/",
                                                                "https://b.example.com", "https://b.example.com:443",
                                                                "b.example.com", "http://b.example.com",
                                                                "https://c.example.com/k8s/c-1", "https://a.example.com.:6443",
                                                                "https://c.example.com./k8s/c-1"]))),
                max_size=6))
def test_servers_compared_as_text_when_keyed_as_one_by_one(fleet):
    """Two entries are one server when their keys are; the first entry of that key
    that has another name is the one named (duplicates: keyed one by one, or not)."""
    from rollout.inventory.duplicates import duplicates
    from rollout.inventory.entries import Entry
    from rollout.targeting.urls import server_key

    entries = [Entry(name, "f.yaml", 0, ("clusters", i), {}, (), server) for i, (name, server) in enumerate(fleet)]
    first: dict[str, str] = {}
    expected = []
    for name, server in fleet:
        if server:
            other = first.setdefault(server_key(server), name)
            if other != name:
                expected.append(f"cluster {name}: API server {server} is also cluster {other}'s")
    problems = duplicates([("fleet", entries)], lambda entry, loc: None)
    assert [p.message.split(" (")[0] for p in problems] == expected


_PIN_PATHS = ["apps/a.yaml", "apps/b.yaml", "apps/link.yaml", "apps/dirlink.yaml", "apps/dangling.yaml", "apps/sub.yaml",
              "Apps/a.yaml", "apps/A.yaml", "root.yaml", "none.yaml", "nofolder/x.yaml", "apps//a.yaml", "./apps/a.yaml",
              "apps/a.yaml/", "apps/sub.yaml/inner.yaml", "root.yaml/x.yaml", "apps/sub.yaml/../a.yaml",
              "apps/dirlink.yaml/inner.yaml", "apps/dirlink.yaml/none.yaml", "apps/dirlink.yaml/../a.yaml",
              "linked/a.yaml", "./linked/b.yaml", "linked/sub.yaml/inner.yaml", "apps/sub.yaml/up/a.yaml"]


@pytest.fixture(scope="module")
def pin_tree(tmp_path_factory):
    repo = tmp_path_factory.mktemp("pins")
    (repo / "apps/sub.yaml").mkdir(parents=True)
    (repo / "apps/a.yaml").write_text("a")
    (repo / "apps/sub.yaml/inner.yaml").write_text("i")
    (repo / "root.yaml").write_text("r")
    (repo / "apps/link.yaml").symlink_to("a.yaml")
    (repo / "apps/dirlink.yaml").symlink_to("sub.yaml")
    (repo / "apps/dangling.yaml").symlink_to("gone.yaml")
    (repo / "linked").symlink_to("apps")
    (repo / "apps/sub.yaml/up").symlink_to("..")
    return repo


@settings(max_examples=40)
@given(st.lists(st.sampled_from(_PIN_PATHS), max_size=8))
def test_pinned_files_listed_per_folder_are_found_as_a_stat_finds_them(pin_tree, paths):
    """Files count; a file in a folder that is a symbolic link (or is below one) is refused
    naming the link, once per link (git keeps the link: a pin written through it would put
    a folder of the pinned files alone in its place); a symbolic link (to a file, a folder, or nothing) is
    refused as a link (a pin is written into a file); folders, other cases and missing
    folders are missing: what os.path.islink and os.path.isfile say of each, one by one."""
    import os
    from types import SimpleNamespace

    from waves.planner import PinTarget
    from rollout.workspace import check_pin_files

    plan = SimpleNamespace(pins={f"c{i}": [PinTarget("argocd-application", path, "f", 0)] for i, path in enumerate(paths)})
    problems = check_pin_files(pin_tree, plan)

    def folder_links(path):  # the folders on its path that are links, outermost first
        parts = path.split("/")[:-1]
        return [f for f in ("/".join(parts[:i]) for i in range(1, len(parts) + 1))
                if f and os.path.islink(os.path.join(pin_tree, f))]

    below: dict[str, list[str]] = {}  # outermost link -> the pinned paths below it: one problem each link
    for path in sorted(set(paths)):
        if folder_links(path):
            below.setdefault(folder_links(path)[0], []).append(path)
    through = [path for files in below.values() for path in files]
    assert [p.message.split(": a symbolic link")[0] for p in problems[:len(below)]] == [str(pin_tree / f) for f in sorted(below)]
    for problem, link in zip(problems, sorted(below)):
        files = below[link]
        clusters = [f"c{i}" for f in files for i, p in enumerate(paths) if p == f]
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        assert (f"(to {os.readlink(pin_tree / link)}), not a folder, holding {len(files)} pinned "
                f"file{'s' if len(files) > 1 else ''} ({shown}; the pin") in problem.message
        assert problem.message.split("; the pin")[1].split("): git keeps")[0] in (
            f" for cluster {clusters[0]}", "s for clusters " + ", ".join(clusters[:3])
            + (f" and {len(clusters) - 3} more" if len(clusters) > 3 else ""))
    problems = problems[len(below):]
    links = sorted({path for path in paths if path not in through and os.path.islink(os.path.join(pin_tree, path))})
    missing = sorted({path for path in paths if path not in links and path not in through
                      and not os.path.isfile(os.path.join(pin_tree, path))})  # a path as given: `a.yaml/` is no file
    assert [p.message.split(": a symbolic link")[0] for p in problems[:len(links)]] == [str(pin_tree / path) for path in links]
    problems = problems[len(links):]
    assert [p.message.split(": file not found")[0] for p in problems] == [str(pin_tree / path) for path in missing]
    for problem, path in zip(problems, missing):
        assert problem.message.endswith(f"(the pin for cluster {', '.join(f'c{i}' for i, p in enumerate(paths) if p == path)})")


def test_many_pinned_files_missing_or_linked_are_one_line_per_pin_entry_a_few_one_each(tmp_path):
    """A folder of 10,000 pinned files deleted: one line for the pin entry (how many, the
    first three files and clusters), not 10,000; eleven files that are links: one line too;
    ten or fewer of either for a pin entry: one line each, naming the file, as before."""
    from types import SimpleNamespace

    from waves.planner import PinTarget
    from rollout.workspace import ONE_BY_ONE, check_pin_files

    (tmp_path / "links").mkdir()
    (tmp_path / "real.yaml").write_text("a: 1\n")
    for i in range(ONE_BY_ONE + 1):
        (tmp_path / f"links/l{i:02}.yaml").symlink_to("../real.yaml")
    pins = {f"c{i:05}": [PinTarget("argocd-application", f"apps/c{i:05}.yaml", "f", 0)] for i in range(10_000)}
    pins.update({f"l{i:02}": [PinTarget("yaml-field", f"links/l{i:02}.yaml", "f", 1)] for i in range(ONE_BY_ONE + 1)})
    pins.update({f"m{i}": [PinTarget("yaml-field", f"few/m{i}.yaml", "f", 2)] for i in range(ONE_BY_ONE)})
    problems = check_pin_files(tmp_path, SimpleNamespace(pins=pins))
    assert all(p.is_error and "\n" not in p.message for p in problems)
    assert sorted(p.loc[2] for p in problems) == [0, 1] + [2] * ONE_BY_ONE
    (apps,) = (p.message for p in problems if p.loc[2] == 0)
    assert apps == (f"{tmp_path}: 10000 pinned files (apps/c00000.yaml, apps/c00001.yaml, apps/c00002.yaml and 9997 "
                    "more; the pins for clusters c00000, c00001, c00002 and 9997 more): files not found")
    (links,) = (p.message for p in problems if p.loc[2] == 1)
    assert links.startswith(f"{tmp_path}: 11 pinned files (links/l00.yaml, links/l01.yaml, links/l02.yaml and 8 "
                            "more; the pins for clusters l00, l01, l02 and 8 more): symbolic links, not files"), links
    few = sorted(p.message for p in problems if p.loc[2] == 2)
    assert few[0] == f"{tmp_path / 'few/m0.yaml'}: file not found (the pin for cluster m0)"


def test_a_folder_link_over_many_clusters_is_one_line_naming_the_link_and_how_many(tmp_path):
    """10,000 clusters' files below one linked folder, two more (one file shared by two
    clusters) below another: one problem per link, one line each, naming the link, its
    target, how many pinned files are below it and the first three, then how many more."""
    from types import SimpleNamespace

    from waves.planner import PinTarget
    from rollout.workspace import check_pin_files

    (tmp_path / "apps-real").mkdir()
    (tmp_path / "apps").symlink_to("apps-real")
    (tmp_path / "team/values").mkdir(parents=True)
    (tmp_path / "team/values/ok.yaml").write_text("a: 1\n")
    (tmp_path / "team/linked").symlink_to("values")
    pins = {f"c{i:05}": [PinTarget("argocd-application", f"apps/c{i:05}/app.yaml", "f", 0)] for i in range(10_000)}
    pins.update({"t1": [PinTarget("yaml-field", "team/linked/shared.yaml", "f", 1)],
                 "t2": [PinTarget("yaml-field", "team/linked/shared.yaml", "f", 1)],
                 "t3": [PinTarget("yaml-field", "team/values/ok.yaml", "f", 1)]})
    problems = check_pin_files(tmp_path, SimpleNamespace(pins=pins))
    assert [p.loc for p in problems] == [("spec", "pin", 0, "files"), ("spec", "pin", 1, "files")]
    assert all(p.is_error and "\n" not in p.message for p in problems)
    apps, team = (p.message for p in problems)
    assert apps.startswith(f"{tmp_path / 'apps'}: a symbolic link (to apps-real), not a folder, holding 10000 pinned "
                           "files (apps/c00000/app.yaml, apps/c00001/app.yaml, apps/c00002/app.yaml and 9997 more; the "
                           "pins for clusters c00000, c00001, c00002 and 9997 more): git keeps the link"), apps
    assert team.startswith(f"{tmp_path / 'team/linked'}: a symbolic link (to values), not a folder, holding 1 pinned "
                           "file (team/linked/shared.yaml; the pins for clusters t1, t2): git keeps the link"), team

