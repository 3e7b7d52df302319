"""Work reused between runs (rollout/reuse.py): a step whose inputs did not change takes the
plan, what the pinned files say and the checks' verdict from the git dir. A cache filled
before a change of the policy, the inventory, a pinned file or any other file of the tree
must never decide anything after it: each scenario fills the cache, changes the repo, then
compares what a step sees and decides through the cache with what it sees and decides
with no cache at all, and the same for a second (warm) step."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import SEED_CLUSTERS, SEED_POLICY, application_yaml, fleet_yaml

T0 = 1_800_000_000
POLICY = "security-patch"
ROOT = Path(__file__).resolve().parent.parent


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def commit(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def forget_memory() -> None:
    """What one process keeps of the cache files: dropped, as between two runs."""
    from rollout.git.cache import CacheFile

    CacheFile._open.clear()


def drop_cache(repo: Path) -> None:
    for path in (repo / ".git").glob("rollout-*"):
        if path.name != "rollout-signatures.json":
            path.unlink()
    forget_memory()


def seen(repo: Path, now: int) -> dict:
    """What a `run` step sees and decides (its snapshot and decision, gates not judged),
    and what `status` shows; or the problems that refuse it."""
    from rollout.errors import InvalidInput
    from rollout.render.plan_json import render
    from rollout.render.problems import problem_line
    from rollout.session import open_session
    from rollout.status import status
    from rollout.step import Stepper

    forget_memory()
    try:  # status first: it reads the pinned files' listing before anything else does
        ws, state = status(repo, POLICY, now=now)
        shown = sorted(problem_line(p) for p in ws.problems)  # a pinned file missing or a link: warned
    except InvalidInput as err:
        shown = ["refused", *sorted(problem_line(p) for p in err.problems)]
    forget_memory()
    try:
        snap = Stepper(open_session(repo, None, writing=False), POLICY, now).snapshot()
        stepper = Stepper(open_session(repo, None, writing=False), POLICY, now)
        decided = stepper.decide({})
        ws, state = status(repo, POLICY, now=now)
    except InvalidInput as err:
        return {"refused": sorted(problem_line(p) for p in err.problems), "status warnings": shown}
    return {
        "status warnings": shown,
        "warnings": sorted(problem_line(p) for p in snap.ws.problems),
        "plan": render(snap.ws.plan, snap.ws.warnings, pretty=False),
        "waves": [(w.number, w.status, sorted(w.late)) for w in snap.state.waves],
        "decided": [(a.kind, a.wave, a.clusters, a.late, a.reason) for a in decided],
        "status": [(w.number, w.status) for w in state.waves],
        "at revision": sorted(c for c, holds in __import__("rollout.reuse").reuse.at_revision(ws).items() if holds),
        # what the step's fold read of the files (rollout.reuse.held: kept beside the checks' verdict,
        # from the checks made in the step, or the facts): the same as status's
        "step at revision": sorted(c for c, holds in (snap.ws._drift_read[0] or {}).items() if holds),
    }


def with_sources(text: str) -> str:
    """The seed policy, its Applications' repoURL taken as this repository: targeting safety
    follows each source into clusters/<name>/ and reads the files there."""
    return text.replace("  onFailure: revert\n", "  onFailure: revert\n  sourceRepos: [https://github.com/example-org/fleet-config.git]\n")


def bump_revision(repo: Path) -> None:
    path = repo / "rollouts/security-patch.yaml"
    path.write_text(path.read_text().replace("revision: v1.4.2", "revision: v1.4.3"))


def relabel(repo: Path) -> None:
    """prod-us-east moves to eu-west: the plan's waves change."""
    clusters = {**SEED_CLUSTERS, "prod-us-east": {"environment": "production", "region": "eu-west"}}
    (repo / "fleet/clusters.yaml").write_text(fleet_yaml(clusters))


def empty_wave(repo: Path) -> None:
    """A wave that claims no cluster: a valid policy whose plan warns, at the wave's line
    (a kept policy is parsed for its positions only then)."""
    path = repo / "rollouts/security-patch.yaml"
    path.write_text(path.read_text().replace("    - name: production\n", "    - name: nobody\n"
                                             "      selector: {matchLabels: {environment: nowhere}}\n"
                                             "    - name: production\n"))


def bad_policy_field(repo: Path) -> None:
    path = repo / "rollouts/security-patch.yaml"
    path.write_text(path.read_text().replace("  onFailure: revert\n", "  onFailure: revert\n  bogus: 1\n"))


def pin_by_hand(repo: Path) -> None:
    (repo / "argocd/apps/staging-us-east-platform.yaml").write_text(application_yaml("staging-us-east", "v1.4.2"))


def wrong_destination(repo: Path) -> None:
    path = repo / "argocd/apps/prod-eu-west-platform.yaml"
    path.write_text(path.read_text().replace("https://prod-eu-west.", "https://prod-us-east."))


def broken_yaml(repo: Path) -> None:
    (repo / "argocd/apps/dev-eu-west-platform.yaml").write_text("spec: [unclosed\n")


def foreign_base(repo: Path) -> None:
    """Not a pinned file: prod-us-east's folder now includes prod-eu-west's, which only
    targeting safety (reading the tree beyond the pinned files) sees."""
    path = repo / "clusters/prod-us-east/kustomization.yaml"
    path.write_text(path.read_text().replace("  - ../../base\n", "  - ../../base\n  - ../prod-eu-west\n"))


def delete_pinned(repo: Path) -> None:
    (repo / "argocd/apps/dev-eu-west-platform.yaml").unlink()


def link_pinned(repo: Path) -> None:
    """The file's content kept, through a link: the same text, but no file to write a pin into."""
    path = repo / "argocd/apps/dev-eu-west-platform.yaml"
    path.rename(repo / "argocd/dev-eu-west-platform.yaml")
    path.symlink_to("../dev-eu-west-platform.yaml")


def link_folder(repo: Path) -> None:
    """Every pinned file still read through the folder's link, which git does not follow."""
    (repo / "argocd/apps").rename(repo / "argocd/apps-real")
    (repo / "argocd/apps").symlink_to("apps-real")


def hidden_and_deleted(flag: str):
    """A pinned file git is told not to look at (`git update-index --skip-worktree` or
    `--assume-unchanged`), then deleted: git's own stat check does not see it gone."""
    def change(repo: Path) -> None:
        git(repo, "update-index", flag, "argocd/apps/dev-eu-west-platform.yaml")
        delete_pinned(repo)
    return change


def deleted_unseen_by_fsmonitor(repo: Path) -> None:
    """A file monitor (core.fsmonitor: a hook, watchman's) that has not told git of the
    deletion yet (here: never does): git takes its word and stats nothing."""
    hook = repo / ".git/fsmonitor-says-nothing"
    hook.write_text("#!/bin/sh\nprintf 'token\\0'\n")
    hook.chmod(0o755)
    git(repo, "config", "core.fsmonitor", str(hook))
    git(repo, "status", "--porcelain")  # the index takes the monitor's token: every entry valid by its word
    delete_pinned(repo)


def advance_wave(repo: Path) -> None:
    from rollout.advance import advance

    advance(repo, POLICY, now=T0)


CHANGES = {
    "nothing": (None, True),
    "the policy's revision": (bump_revision, True),
    "the policy, a wave that claims no cluster": (empty_wave, True),
    "the policy, an unknown field": (bad_policy_field, True),
    "an inventory label": (relabel, True),
    "a pinned file, by hand": (pin_by_hand, True),
    "a pinned file's destination": (wrong_destination, True),
    "a pinned file, broken": (broken_yaml, True),
    "a file targeting reads, not pinned": (foreign_base, True),
    "a wave advanced": (advance_wave, False),  # advance commits itself
    "a pinned file, uncommitted": (pin_by_hand, False),
    "the policy, uncommitted": (bump_revision, False),
    # in the working tree only: `status` reads git's listing of the pinned files for what they
    # say; where it shows each tracked and unmodified, the files are not listed again
    "a pinned file deleted, uncommitted": (delete_pinned, False),
    "a pinned file made a link, uncommitted": (link_pinned, False),
    "a pinned file made a link": (link_pinned, True),  # git tracks the link: unmodified, but no file
    "the pinned files' folder made a link, uncommitted": (link_folder, False),
    "a pinned file deleted, skip-worktree": (hidden_and_deleted("--skip-worktree"), False),
    "a pinned file deleted, assume-unchanged": (hidden_and_deleted("--assume-unchanged"), False),
    "a pinned file deleted, a file monitor not told": (deleted_unseen_by_fsmonitor, False),
}


@pytest.fixture
def repo(published_seed_repo) -> Path:
    repo = published_seed_repo
    path = repo / "rollouts/security-patch.yaml"
    path.write_text(with_sources(path.read_text()))
    (repo / "base").mkdir()
    (repo / "base/kustomization.yaml").write_text("resources: [namespace.yaml]\n")
    (repo / "base/namespace.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: platform}\n")
    commit(repo, "sources")
    git(repo, "push", "-q")
    return repo


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_step_through_the_cache_sees_and_decides_what_one_without_it_does(repo, change):
    from rollout.reuse import CHECKS, FACTS, PLANS

    before = seen(repo, T0 + 60)  # fills the cache
    assert "refused" not in before, before
    assert {p.name for p in (repo / ".git").glob("rollout-*")} >= {PLANS, FACTS, CHECKS}
    if change == "nothing":
        assert seen(repo, T0 + 60) == before
        return
    apply, committed = CHANGES[change]
    apply(repo)
    if committed:
        commit(repo)
    through_cache = seen(repo, T0 + 120)  # the cache of before the change is there
    warm = seen(repo, T0 + 120)  # and the cache this very state left
    drop_cache(repo)
    fresh = seen(repo, T0 + 120)
    assert through_cache == fresh
    assert warm == fresh
    assert fresh != before or change == "a wave advanced"  # the change shows (an advance shows in waves)


def test_the_change_shows_where_it_should(repo):
    """The scenarios above are not vacuous: each change is seen as what it is."""
    base = seen(repo, T0)
    assert base["at revision"] == [] and "refused" not in base
    foreign_base(repo)
    commit(repo)
    refused = seen(repo, T0)["refused"]
    assert any("prod-eu-west" in line and "prod-us-east" in line for line in refused), refused
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    pin_by_hand(repo)
    assert seen(repo, T0)["at revision"] == ["staging-us-east"]  # uncommitted: its blob is not git's yet
    commit(repo)
    cold, warm = seen(repo, T0), seen(repo, T0)
    assert cold["at revision"] == cold["step at revision"] == warm["step at revision"] == ["staging-us-east"]
    empty_wave(repo)
    commit(repo)
    first, again = seen(repo, T0)["warnings"], seen(repo, T0)["warnings"]  # again: through the kept policy
    assert first == again and any(":20: spec.waves[2]: warning: wave nobody claims no cluster" in w for w in first), first


def test_a_warm_step_reads_no_pinned_file_and_takes_the_checks_verdict(repo):
    """What makes a waiting step cheap: nothing is parsed again."""
    from rollout.git.repo import Git
    from rollout.reuse import StandIn, pinned
    from rollout.workspace import load_workspace

    load_workspace(repo, POLICY, check_files=True, reuse=Git(repo))
    forget_memory()
    pinned(load_workspace(repo, POLICY, check_files=True, reuse=Git(repo)), Git(repo))
    forget_memory()
    ws = load_workspace(repo, POLICY, check_files=True, reuse=Git(repo))
    assert isinstance(ws.inspection, StandIn) and ws.inspection._real is None
    for app in (repo / "argocd/apps").iterdir():
        app.chmod(0)  # unreadable: a read would fail
    try:
        facts = pinned(ws, Git(repo))
    finally:
        for app in (repo / "argocd/apps").iterdir():
            app.chmod(0o644)
    assert len(facts) == len(SEED_CLUSTERS) and all(not f[0].holds for f in facts.values())
    assert all(f[0].application[0] == f"{c}-platform" for c, f in facts.items())
    # an advance needs the parsed files: the real inspection, which must agree with the verdict
    assert [t.cluster for t in ws.inspection.targets] == sorted(SEED_CLUSTERS)


def test_a_verdict_that_disagrees_with_the_files_refuses(repo):
    """A cache that lies (here: edited by hand to say `no problem` of a broken file) is
    caught as soon as the parsed files are needed."""
    from rollout.errors import InvalidInput
    from rollout.git.cache import CacheFile
    from rollout.git.repo import Git
    from rollout.reuse import CHECKS
    from rollout.workspace import load_workspace

    wrong_destination(repo)
    commit(repo)
    ws = load_workspace(repo, POLICY, check_files=True, reuse=Git(repo))
    assert ws.errors  # refused, and not kept
    forget_memory()
    cache = CacheFile.of(Git(repo), CHECKS)
    assert not cache.data
    from rollout.reuse import checks_key

    ws.plan = load_workspace(repo, POLICY, reuse=Git(repo)).plan
    cache.data[str((repo / "rollouts/security-patch.yaml").resolve())] = {"key": checks_key(Git(repo), ws),
                                                                          "problems": []}
    cache.save()
    forget_memory()
    lied = load_workspace(repo, POLICY, check_files=True, reuse=Git(repo))
    assert not lied.errors  # the verdict stands in ...
    with pytest.raises(InvalidInput) as refused:
        lied.inspection.targets  # ... until the files are parsed: then it is checked
    assert any("refusing to pin the wrong cluster" in p.message for p in refused.value.problems)


def test_a_cache_file_of_anything_but_waves_data_is_not_read(repo, tmp_path):
    import pickle

    from rollout.git.cache import CacheFile
    from rollout.git.repo import Git
    from rollout.reuse import PLANS

    marker = tmp_path / "ran"
    (Git(repo).git_dir() / PLANS).write_bytes(pickle.dumps({"x": subprocess.Popen}))
    forget_memory()
    assert CacheFile.of(Git(repo), PLANS).data == {}
    (Git(repo).git_dir() / PLANS).write_bytes(b"\x80\x05torn")
    forget_memory()
    assert CacheFile.of(Git(repo), PLANS).data == {}
    assert not marker.exists()


def test_what_a_step_writes_is_decided_on_files_read_afresh(repo):
    """A step only looks through the cache: the moment its decision writes (here the
    canary's advance), the plan and the checks are read afresh and decide again. A kept
    plan that lies (made to say another revision) may mislead a look, never a write."""
    from rollout.git.cache import CacheFile
    from rollout.git.repo import Git
    from rollout.observers.kube import Kube
    from rollout.reuse import PLANS
    from rollout.run import step
    from rollout.workspace import load_workspace

    seen(repo, T0)
    cache = CacheFile.of(Git(repo), PLANS)
    entry = cache.data[str((repo / "rollouts/security-patch.yaml").resolve())]
    entry["plan"].revision = "v9.9.9"
    cache.save()
    forget_memory()
    assert load_workspace(repo, POLICY, reuse=Git(repo)).plan.revision == "v9.9.9"  # the lie is live
    forget_memory()
    result = step(repo, POLICY, Kube(None))
    assert [a["name"] for a in result.advanced] == ["canary"] and result.revision == "v1.4.2"
    pinned = (repo / "argocd/apps/dev-us-east-platform.yaml").read_text()
    assert "targetRevision: v1.4.2" in pinned and "v9.9.9" not in pinned
    assert "v9.9.9" not in git(repo, "log", "-1", "--format=%B")


def test_a_warm_status_takes_the_kept_policy(repo):
    """The policy validated from the same text by the same code is kept beside its plan: a
    warm `status` neither parses it (PyYAML is not even imported) nor validates it, and
    shows the same. (A kept policy's warnings still name their lines: "the policy, a wave
    that claims no cluster" above.)"""
    import sys

    code = ("import sys\nfrom rollout.cli import main\nsys.argv = ['rollout', 'status', 'security-patch']\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
            "print('yaml' in sys.modules, file=sys.stderr)")
    cold, warm = (subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
                  for _ in range(2))
    assert cold.returncode == 0 and warm.returncode == 0, cold.stderr + warm.stderr
    assert (cold.stderr, warm.stderr) == ("True\n", "False\n")  # PyYAML: read the policy cold, not warm
    assert warm.stdout == cold.stdout and "canary" in cold.stdout


RICH_SPEC = """\
  windows:
    - {kind: allow, schedule: "0 9 * * 1-4", duration: 6h, timeZone: Europe/Berlin}
  notify:
    - slack: {urlFrom: {env: SLACK_WEBHOOK_URL}}
      events: [failed, reverted]
      linkTemplate: "https://git.example.com/org/fleet/commit/{commit}"
    - webhook: {urlFrom: {env: ROLLOUT_HOOK_URL}, headers: {X-Team: platform}}
  delivery: {mode: pull-request, provider: github, mergeMethod: squash, labels: [rollout]}
  trust:
    allowedSigners: .rollout/allowed_signers
    approvers: [github:alice, carol@example.com]
    forges: [noreply@github.com]
  gates:
    - argocd: {context: hub}
    - kstatus: {kinds: [Deployment], revisionFrom: "spec.template.spec.containers[0].image"}
    - prometheus: {url: "http://prometheus:9090", query: "sum(rate(errors[5m]))", max: 0.01}
  onFailure: {action: halt, scope: rollout}
  maxFailures: "10%"
"""


@pytest.mark.parametrize("source", ["seed, with every optional part", *sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*/rollouts/*.yaml"))])
def test_a_kept_policy_is_the_policy(source, tmp_path):
    """What keep_plan packs is what kept_policy gives back, equal field for field, for the
    examples' policies and one with windows, notify, delivery, trust and three gates."""
    from rollout.git.cache import unpacked
    from rollout.policy_file import load_policy
    from rollout.reuse import _packed_policy

    if source.startswith("seed"):
        path = tmp_path / "security-patch.yaml"
        path.write_text(SEED_POLICY.replace("  onFailure: revert\n", RICH_SPEC))
    else:
        path = ROOT / source
    loaded = load_policy(path)
    assert loaded.policy is not None, loaded.problems
    kept = unpacked(_packed_policy(loaded.policy)).get("policy")
    assert kept == loaded.policy and kept is not loaded.policy


_FIRST_USE_IN_THREADS = r"""
import pickle, sys, threading
import yaml
from pydantic import ValidationError
from waves.gates.verdict import Verdict
from waves.model_config import DEFERRED
from waves.policy import RolloutPolicy

good = yaml.safe_load(open(sys.argv[1]))
bad = {**good, "spec": {**good["spec"], "wavez": []}}  # a typo: refused, deferred or not
kept = pickle.loads(pickle.dumps(RolloutPolicy.model_validate(good)))  # as a kept policy comes back
assert not DEFERRED or Verdict.__pydantic_complete__ is False, "Verdict built before its first use"
start, results = threading.Barrier(16), []

def first_use(i):
    start.wait()
    try:
        if i % 2:
            RolloutPolicy.model_validate(bad)
            results.append("typo accepted")
        else:
            results.append(RolloutPolicy.model_validate(good) == kept
                           and Verdict(state="passed", reason="r").state == "passed")
    except ValidationError as err:
        results.append("wavez" in str(err) if i % 2 else f"refused: {err}")

threads = [threading.Thread(target=first_use, args=(i,)) for i in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print(results)
assert results == [True] * 16, results
"""


def test_models_built_on_first_use_validate_as_before_even_sixteen_threads_at_once(tmp_path):
    """waves/model_config.py: validators are built on first use (a kept policy is never
    validated again). In a fresh process, the first validations, sixteen threads at once
    (the observers run in threads), still refuse an unknown key and give the same policy,
    and a verdict made there is whole: no thread uses a model half built."""
    done = subprocess.run([__import__("sys").executable, "-c", _FIRST_USE_IN_THREADS,
                           str(ROOT / "examples/fleet-config/rollouts/security-patch.yaml")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
