"""rollout/delivery/carry.py: a pull request's pinned fields carried onto a moved base where
git's merge conflicts only beside them (tests/forge/test_delivery.py runs it through a forge)."""

from __future__ import annotations

import subprocess

from hypothesis import given
from hypothesis import strategies as st

from rollout.delivery.carry import carried_text
from rollout.manifests.edit import pin_text
from waves.pins.yaml_field import YamlFieldPin

PIN = YamlFieldPin.model_validate({"preset": "yaml-field", "files": "versions.yaml", "field": "clusters.{cluster}"})


def values(versions: dict[str, str]) -> str:
    """A values file of one line per cluster: parallel waves pin adjacent lines of it."""
    return "# one line per cluster\nclusters:\n" + "".join(f"  {c}: {v}\n" for c, v in versions.items())


def targets(*clusters: str) -> list:
    return [(PIN, c, {}) for c in clusters]


def test_a_pin_beside_a_line_the_base_changed_is_carried_where_git_conflicts():
    parent = values({"eu": "v1", "us": "v1", "ap": "v1"})
    changed = values({"eu": "v1", "us": "v2", "ap": "v1"})  # this wave's pull request: us
    base = values({"eu": "v2", "us": "v1", "ap": "v1"})  # the other wave's, merged first: eu, the line above
    assert not _git_merges(parent, changed, base)  # touching hunks: git's merge conflicts
    assert carried_text(parent, changed, base, targets("us"), "versions.yaml") == values({"eu": "v2", "us": "v2", "ap": "v1"})


def test_nothing_is_carried_when_the_field_changed_on_both_sides_or_the_change_did_more():
    parent = values({"eu": "v1", "us": "v1"})
    changed = values({"eu": "v1", "us": "v2"})
    assert carried_text(parent, changed, values({"eu": "v1", "us": "v1-hotfix"}), targets("us"), "versions.yaml") is None
    more = changed.replace("# one line per cluster", "# one line per cluster (edited)")
    assert carried_text(parent, more, values({"eu": "v2", "us": "v1"}), targets("us"), "versions.yaml") is None
    # a field of a cluster the change does not name: not what the change did
    assert carried_text(parent, changed, values({"eu": "v2", "us": "v1"}), targets("eu"), "versions.yaml") is None
    assert carried_text(parent, changed, values({"eu": "v2", "us": "v1"}), [], "versions.yaml") is None


def test_a_revert_carries_the_old_spelling_back_byte_for_byte():
    parent = '# one line per cluster\nclusters:\n  eu: "v1"\n  us: v2\n'
    changed = '# one line per cluster\nclusters:\n  eu: v2\n  us: v2\n'  # an advance made it plain...
    base = '# one line per cluster\nclusters:\n  eu: v2\n  us: v3\n'
    # ...its revert restores the quotes; the us line beside it, changed meanwhile, is kept
    assert carried_text(changed, parent, base, targets("eu"), "versions.yaml") == \
        '# one line per cluster\nclusters:\n  eu: "v1"\n  us: v3\n'


VERSIONS = st.sampled_from(["v1", "v2", "v3", '"v4"', "'v5'"])
FLEETS = st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e", "f"]), VERSIONS, min_size=2)


@given(data=st.data(), fleet=FLEETS)
def test_what_is_carried_is_the_base_with_the_changes_fields_set_and_nothing_else(data, fleet):
    """For any file of one line per cluster, a change the editor made pinning some
    clusters, and a base that changed only other clusters' lines: the carried text is the
    base with the change's fields set, as the editor sets them on the base itself; every
    other line is the base's."""
    clusters = sorted(fleet)
    ours = data.draw(st.lists(st.sampled_from(clusters), min_size=1, unique=True))
    theirs = [c for c in data.draw(st.lists(st.sampled_from(clusters), unique=True)) if c not in ours]
    parent = values(fleet)
    base = values({c: ("v8" if c in theirs else v) for c, v in fleet.items()})
    changed, remade = parent, base
    for c in ours:
        changed = pin_text(changed, PIN, c, {}, "v9", "versions.yaml").text
        remade = pin_text(remade, PIN, c, {}, "v9", "versions.yaml").text
    carried = carried_text(parent, changed, base, targets(*ours), "versions.yaml")
    assert carried == remade
    kept = [line for line in base.splitlines() if not any(line.startswith(f"  {c}:") for c in ours)]
    assert [line for line in carried.splitlines() if not any(line.startswith(f"  {c}:") for c in ours)] == kept


def _git_merges(parent: str, ours: str, theirs: str) -> bool:
    """Whether `git merge-file` merges the two changes of `parent` without a conflict."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        files = [Path(tmp, name) for name in ("ours", "parent", "theirs")]
        for path, text in zip(files, (ours, parent, theirs)):
            path.write_text(text)
        return subprocess.run(["git", "merge-file", "-p", *map(str, files)], capture_output=True).returncode == 0


def test_a_branch_of_two_commits_is_carried_whole_or_not_at_all(tmp_path, monkeypatch):
    """The rollout's commit pinned `us` in other.yaml (versions.yaml held the revision
    already); a person's commit on top, with the same trailers, re-spelled `us` in
    versions.yaml, and main changed the line beside it (git's merge conflicts). The change
    to carry is the branch's since it left main, not its tip commit's alone: carrying
    the tip's diff onto main dropped other.yaml's pin, a pull request naming `us` that
    pins it in one file of two."""
    from types import SimpleNamespace

    from rollout.delivery.carry import carried
    from rollout.git.repo import Git
    from waves.inventory import Cluster
    from waves.planner import PinTarget

    for key, value in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                       "GIT_COMMITTER_EMAIL": "t@example.com"}.items():
        monkeypatch.setenv(key, value)
    other = YamlFieldPin.model_validate({"preset": "yaml-field", "files": "other.yaml", "field": "clusters.{cluster}"})
    git = Git(tmp_path)
    git.run("init", "-q")

    def commit(files: dict[str, str], message: str) -> str:
        for name, text in files.items():
            (tmp_path / name).write_text(text)
        git.run("add", "-A")
        git.run("commit", "-q", "-m", message)
        return git.run("rev-parse", "HEAD").strip()

    fork = commit({"versions.yaml": values({"eu": "v1", "us": "v2"}), "other.yaml": values({"us": "v1"})}, "fleet")
    ours = commit({"other.yaml": values({"us": "v2"})}, "rollout: us -> v2")
    tip = commit({"versions.yaml": values({"eu": "v1", "us": '"v2"'})}, "rollout: us -> v2")
    git.run("checkout", "-q", "-b", "main", fork)
    main = commit({"versions.yaml": values({"eu": "v3", "us": "v2"})}, "eu -> v3, beside us")
    assert git.merge_tree(main, tip) is None  # touching hunks: git's merge conflicts
    ws = SimpleNamespace(plan=SimpleNamespace(
        pins={"us": [PinTarget("yaml-field", "other.yaml", "clusters.us", 0),
                     PinTarget("yaml-field", "versions.yaml", "clusters.us", 1)]},
        targets=[Cluster("us", {})]), loaded=SimpleNamespace(policy=SimpleNamespace(spec=SimpleNamespace(pin=[other, PIN]))))
    flight = {"commit": tip, "parent": ours, "event": SimpleNamespace(clusters=("us",))}
    assert carried(git, ws, flight, main) == {"other.yaml": values({"us": "v2"}).encode(),
                                              "versions.yaml": values({"eu": "v3", "us": '"v2"'}).encode()}
    # the usual branch, one commit on main's old tip: carried, both files
    flight = {"commit": ours, "parent": fork, "event": SimpleNamespace(clusters=("us",))}
    assert git.merge_tree(main, ours) is not None  # (git merges this one itself)
    assert carried(git, ws, flight, main) == {"other.yaml": values({"us": "v2"}).encode()}
