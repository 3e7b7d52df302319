"""Work whose inputs did not change, reused between runs (docs/performance.md, "Reuse").

A step that only waits on a bake, or a `status`, reads the same policy, inventory and
pinned files as the run before it. Three things are kept in the git dir
(rollout/git/cache.py), each under a key that names everything it was worked out from:

- the plan (`rollout-plans.pickle`): the inventory read and planned, keyed by the policy's
  text, each inventory file's content (the files its globs match now) and the code;
- what each pinned file says (`rollout-facts.pickle`): per file, the blob id git gives its
  content, and per cluster whether its pin holds the revision and, for an Argo CD
  Application, its name and what "at the pin" means for the gate; keyed by the plan's key
  (a new policy, revision or inventory starts afresh) and, per file, by its blob: after an
  advance only the files it changed are read again;
- the verdict of the checks on the files (`rollout-checks.pickle`, rollout/safety.py:
  destinations, identity, shared files, targeting safety): keyed by the plan's key, the
  commit's tree and the origin remote, and kept only from a clean working tree (the
  targeting checks read any file a kustomization reaches, so the whole tree stands for
  them). An advance still parses its files: the cached verdict stands in for the checks
  only until something needs the parsed files, and the real inspection done then must
  agree with it.

Gates are never cached: they are judged on every step. Everything here is verified against
what it stands for on every read; a miss is the work done as before.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from rollout.git.cache import CacheFile, packed, unpacked

PLANS = "rollout-plans.pickle"
FACTS = "rollout-facts.pickle"
CHECKS = "rollout-checks.pickle"
REGULAR = ("100644", "100755")  # git's modes of a file (120000: a link, 160000: a submodule)


@functools.cache
def code_version() -> str:
    """The sources of `rollout` and `waves` as installed, by name, size and mtime: any edit
    of the code is a new version, and nothing worked out by another is reused."""
    import waves

    digest = hashlib.sha256()
    for package in (Path(__file__).parent, Path(waves.__file__).parent):
        for folder, subfolders, files in os.walk(package):
            subfolders.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    stat = os.stat(os.path.join(folder, name))
                    digest.update(f"{folder}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _name(ws) -> str:
    return str(Path(ws.loaded.path).resolve())


# --- the plan ------------------------------------------------------------------------------


def plan_key(repo: Path, loaded, sources: list[tuple[str, str]]) -> str:
    """What a plan is worked out from: the code, the policy's text, and for each inventory
    source the files it matches now and their contents."""
    from rollout.inventory.files import expand

    digest = hashlib.sha256(f"{code_version()}\0{loaded.path}\0{loaded.text}\0".encode())
    for kind, pattern in sources:
        digest.update(f"{kind}\0{pattern}\0".encode())
        for file in expand(repo, pattern):
            try:
                content = (repo / file).read_bytes()
            except OSError:
                content = b"\0unreadable"
            digest.update(f"{file}\0{len(content)}\0".encode() + hashlib.sha1(content).digest())
    return digest.hexdigest()


def policy_key(path: Path, text: str) -> str:
    """What a validated policy is worked out from: the code and the file's text."""
    return hashlib.sha256(f"{code_version()}\0{Path(path).resolve()}\0{text}".encode()).hexdigest()


def kept_policy(git, path: Path, text: str):
    """The policy (waves.policy.RolloutPolicy) validated from this very text by this very
    code, kept beside its plan, or None: a warm step neither parses nor validates it (nor
    imports PyYAML, ~8 ms); its lines are found only if a problem needs one."""
    entry = CacheFile.of(git, PLANS).data.get(str(Path(path).resolve()))
    if isinstance(entry, dict) and entry.get("policy_key") == policy_key(path, text):
        return unpacked(entry.get("policy")).get("policy")
    return None


def _packed_policy(policy) -> bytes | None:
    """Packed apart: a policy that will not pickle, or not unpickle, costs its own reuse
    only, never the plan's beside it."""
    try:
        return packed({"policy": policy})
    except Exception:  # noqa: BLE001 - not kept: validated again next time
        return None


def planned(git, ws, key: str):
    """(clusters, inventory problems, plan, planning problems) as the same inputs gave them, or None."""
    entry = CacheFile.of(git, PLANS).data.get(_name(ws))
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    return entry["clusters"], entry["inventory"], entry["plan"], entry["planning"]


def keep_plan(git, ws, key: str, inventory_problems: list, planning: list) -> None:
    """Keep a plan that was made without errors (one per policy file: the newest)."""
    cache = CacheFile.of(git, PLANS)
    cache.data[_name(ws)] = {"key": key, "clusters": ws.clusters, "inventory": inventory_problems,
                             "plan": ws.plan, "planning": planning, "policy": _packed_policy(ws.loaded.policy),
                             "policy_key": policy_key(ws.loaded.path, ws.loaded.text)}
    cache.save()


# --- what the pinned files say ------------------------------------------------------------


class Pinned(NamedTuple):
    """What one pin of one cluster finds in its file now (kept as a plain tuple)."""

    holds: bool  # the pinned field holds the revision (False: it does not, or the pin finds nothing)
    application: tuple | None = None  # an Application pin: (its name, what "at the pin" means: argocd's judge)
    generated: bool = False  # an ApplicationSet list element: Argo CD generates the cluster's Application


def pinned_facts(pin, text: str | None, located, cluster: str, labels: dict, revision: str, file: str,
                 current=None, pinned: bool = False) -> Pinned:
    """What the pin finds in the parsed file (`located`; None: unreadable or broken).
    `pinned`: `current` is the pin already applied to this text (rollout/safety.py's)."""
    from rollout.manifests.edit import PinError, read_pin

    if located is None:
        return Pinned(False)
    if not pinned:
        try:
            current = read_pin(text, pin, cluster, labels, file, located=located)
        except PinError:
            current = None
    holds = current is not None and current.old == revision
    if pin.preset == "argocd-applicationset-list":
        return Pinned(holds, generated=True)
    return Pinned(holds, pinned_application(pin, located, cluster, labels))


def found_values(ws, clusters) -> dict[str, tuple[str, str | None]]:
    """cluster -> (file, what its pinned field holds now; None: the pin finds nothing there,
    or the file is missing or broken) of its first pin off the revision (its first pin when
    all hold it), for `clusters` only: the few off the revision (waves/drift.py's `found`),
    never the whole fleet; nothing is read when there are none. The files the checks just
    parsed are not read again. A cluster the plan does not pin is left out."""
    from rollout.manifests.document import read_manifest
    from rollout.manifests.edit import PinError, parse, read_pin
    from rollout.yamlfile import YamlError
    from waves.templates import MissingLabel

    plan, policy = ws.plan, ws.loaded.policy
    wanted = [c for c in dict.fromkeys(clusters) if plan.pins.get(c)]
    if not wanted:
        return {}
    labels = {c.name: c.labels for c in plan.targets}
    parsed: dict[str, tuple] = {}
    inspection = ws.inspection
    if inspection is not None and not getattr(inspection, "stands_in", False):
        parsed = {t.file: (t.text, t.located) for t in inspection.targets}
    out: dict[str, tuple[str, str | None]] = {}
    for cluster in wanted:
        for target in plan.pins[cluster]:
            if target.file not in parsed:
                try:
                    text = read_manifest(ws.repo / target.file)
                    parsed[target.file] = (text, parse(text, target.file))
                except (YamlError, PinError, OSError):
                    parsed[target.file] = (None, None)
            text, located = parsed[target.file]
            value = None
            if located is not None:
                try:
                    value = read_pin(text, policy.spec.pin[target.pin_index], cluster, labels.get(cluster, {}),
                                     target.file, located=located).old
                except (PinError, MissingLabel):
                    value = None
            out.setdefault(cluster, (target.file, value))
            if value != plan.revision:
                out[cluster] = (target.file, value)
                break
    return out


def pinned_application(pin, located, cluster: str, labels: dict) -> tuple[str | None, dict] | None:
    """(the Application's name, what "at the pin" means) for a pin of an Application
    (argocd-application, argocd-application-image) in its parsed file; None for other pins."""
    from rollout.manifests.edit import PinError, find_document
    from waves.pins.argocd_application import pinned_source_indexes
    from waves.pins.base import PinTargetError

    if pin.preset not in ("argocd-application", "argocd-application-image"):
        return None
    try:
        doc = located.documents[find_document(located, pin, cluster, labels)]
    except PinError:
        return None
    try:
        at_pin: dict = {"sources": pinned_source_indexes(pin, doc)}
        if pin.preset == "argocd-application-image":
            steps, path = pin.source_steps(doc), pin.locate(doc, cluster, labels)
            value = doc
            for step in path:
                value = value[step]
            at_pin["fields"] = {tuple(path[len(steps):]): value}
    except (PinTargetError, KeyError, IndexError, TypeError):
        at_pin = {}  # validate refuses such a pin; judge with what the status shows
    return (doc.get("metadata") or {}).get("name"), at_pin


def pinned(ws, git=None, clusters=None) -> dict[str, list[Pinned]]:
    """cluster -> what each of its pins finds, for `clusters` (default: every cluster the
    plan pins): from the facts kept for the files' blobs (`git`), reading only the files
    not seen before (the ones the workspace inspected are not read again)."""
    return {c: [Pinned._make(f) for f in facts] for c, facts in _known(ws, git, clusters).items()}


def at_revision(ws, git=None) -> dict[str, bool]:
    """Which clusters' files hold the revision now (every pin of the cluster does)."""
    if ws.pinned is None:
        store, listing, _ = _store(ws, git)
        if listing is not None and store["listing"] == listing:
            return dict(store["holds"])  # kept for these very files: not even the facts are unpacked
    return {cluster: all(f[0] for f in facts) if len(facts) != 1 else facts[0][0]
            for cluster, facts in _known(ws, git, None).items()}


def _store(ws, git) -> tuple[dict | None, str | None, dict[str, str]]:
    """(the facts kept for this policy and plan key, the pinned files' listing digest, their
    blobs): looked at once per workspace."""
    if git is None or ws.plan_key is None:
        return None, None, {}
    found = getattr(ws, "_facts_store", None)
    if found is None:
        cache = CacheFile.of(git, FACTS)
        store = cache.data.get(_name(ws))
        if not isinstance(store, dict) or store.get("key") != ws.plan_key:  # another policy, revision, inventory, code
            store = cache.data[_name(ws)] = {"key": ws.plan_key, "files": packed({}), "listing": None,
                                             "clusters": packed({}), "holds": {}}
        specs = store.get("specs")
        if specs is None:  # the plan's, kept under its key: 10,000 pins are not gone through on a warm look
            specs = store["specs"] = _specs(_pinned_files(ws.plan))
        found = ws._facts_store = (store, *_listing(git, lambda: _pinned_files(ws.plan), specs, store["listing"]))
    return found


def _pinned_files(plan) -> list[str]:
    return sorted({t.file for targets in plan.pins.values() for t in targets})


def _specs(files: list[str]) -> list[str]:
    """The pathspecs git lists the pinned files by: their folders (all of the tree beyond 64)."""
    folders = sorted({f.rpartition("/")[0] for f in files})
    return ["--", *[f"{d}/" if d else "." for d in folders]] if len(folders) <= 64 else []


def _known(ws, git, clusters) -> dict[str, list[tuple]]:
    if ws.pinned is None:
        ws.pinned = _facts(ws, git, list(ws.plan.pins)) if clusters is None else {}
        if clusters is None:
            return ws.pinned
    wanted = list(ws.plan.pins) if clusters is None else [c for c in clusters if c in ws.plan.pins]
    todo = [c for c in wanted if c not in ws.pinned]
    if todo:
        ws.pinned.update(_facts(ws, git, todo))
    return {c: ws.pinned[c] for c in wanted}


def _facts(ws, git, clusters: list[str]) -> dict[str, list[tuple]]:
    """cluster -> its pins' facts as tuples. Kept, per policy file, under the plan's key:
    `files` {file: (blob, {cluster NUL pin index: facts})} (packed: read only when the
    listing differs), and `clusters`, every cluster's facts (packed), and `holds`, whether
    each holds the revision, under `listing`: the index entries of the pinned files'
    folders, all of the pinned files tracked and unmodified (then no file needs a look)."""
    plan = ws.plan
    store, listing, blobs = _store(ws, git)
    cache = CacheFile.of(git, FACTS) if store is not None else None
    if listing is not None and store["listing"] == listing:
        kept = unpacked(store["clusters"])
        if all(c in kept for c in clusters):
            return kept if len(clusters) == len(kept) else {c: kept[c] for c in clusters}
    if listing is not None and not blobs:  # the quick look gave no blobs: the files' own are needed now
        listing, blobs = _listing(git, lambda: _pinned_files(plan), store["specs"])
    kept = unpacked(store["files"]) if store is not None else {}
    out, fresh = _read(ws, clusters, kept, blobs)
    if cache is not None:
        for file, facts in fresh.items():
            if file not in blobs:  # changed in the working tree (no blob yet), or untracked: not kept
                kept.pop(file, None)
                continue
            if kept.get(file, (None,))[0] != blobs[file]:
                kept[file] = (blobs[file], {})
            kept[file][1].update(facts)
        store["files"] = packed(kept) if fresh else store["files"]
        if listing is not None and len(out) == len(plan.pins):
            store["listing"], store["clusters"] = listing, packed(out)
            store["holds"] = {c: all(f[0] for f in facts) for c, facts in out.items()}
        if fresh or listing is not None:
            cache.save()
    return out


def _read(ws, clusters: list[str], kept: dict, blobs: dict[str, str]) -> tuple[dict, dict]:
    """(cluster -> facts, file -> the facts worked out afresh): from `kept` where the file's
    blob is the one they were worked out from, else from the file itself."""
    from rollout.manifests.document import read_manifest
    from rollout.manifests.edit import PinError, parse
    from rollout.yamlfile import YamlError, bulk

    policy, plan, repo = ws.loaded.policy, ws.plan, ws.repo
    labels = {c.name: c.labels for c in plan.targets}
    parsed: dict[str, tuple] = {}  # file -> (text, located or None)
    applied: dict[tuple, object] = {}  # (cluster, pin index) -> the pin applied by the inspection
    inspection = ws.inspection
    if inspection is not None and not getattr(inspection, "stands_in", False):
        parsed = {t.file: (t.text, t.located) for t in inspection.targets}
        applied = {(t.cluster, t.pin_index): t.current for t in inspection.targets}
    fresh: dict[str, dict[str, tuple]] = {}
    out: dict[str, list[tuple]] = {}
    with bulk():
        for cluster in clusters:
            facts = []
            for target in plan.pins[cluster]:
                key = f"{cluster}\0{target.pin_index}"
                entry = kept.get(target.file)
                seen = entry[1].get(key) if entry is not None and entry[0] == blobs.get(target.file) else None
                if seen is None:
                    if target.file not in parsed:
                        try:
                            text = read_manifest(repo / target.file)
                            parsed[target.file] = (text, parse(text, target.file))
                        except (YamlError, PinError):
                            parsed[target.file] = (None, None)
                    text, located = parsed[target.file]
                    done = (cluster, target.pin_index) in applied
                    seen = tuple(pinned_facts(policy.spec.pin[target.pin_index], text, located, cluster,
                                              labels[cluster], plan.revision, target.file,
                                              applied.get((cluster, target.pin_index)), pinned=done))
                    fresh.setdefault(target.file, {})[key] = seen
                facts.append(seen)
            out[cluster] = facts
    return out, fresh


def files_tracked(git, ws) -> bool:
    """Whether git's listing of the pinned files (the one `at_revision` reads: `_listing`)
    shows each as a regular file, tracked, unmodified in the working tree and looked at by
    `git diff-files`: then each exists as a file, neither a link nor below one (a file
    deleted, a link in its place, a link on its folder's path are each a modification to
    git), which is what `check_pin_files` (rollout/workspace.py) checks by listing the folders."""
    return _store(ws, git)[1] is not None


def _listing(git, files, specs: list[str], known: str | None = None) -> tuple[str | None, dict[str, str]]:
    """(a digest of the index entries of the files' folders, or None when one of `files` is
    untracked, modified, not a regular file or hidden from git's stat check; path -> blob id
    of each of `files` that git tracks as a regular file and that is not modified in the
    working tree: git's own stat check, `git diff-files`). When the digest is `known` (it was
    whole then) and nothing in those folders is modified, the entries are the same: no need
    to look at them one by one (the blobs are not given then). `files()`: the pinned files,
    asked for only when the entries are looked at; `specs`: their folders (`_specs`)."""
    # `-v`: each entry's tag; `H` only is looked at by diff-files (`h`: assume-unchanged, `S`:
    # skip-worktree, whose files git does not stat: a deletion there is not told)
    # fsmonitor off: git would take a file monitor's (a hook's, a daemon's) word for what did
    # not change, stat nothing, and miss a file deleted or made a link it has not told yet
    out, changed = git.run_together(("ls-files", "-s", "-v", "-z", *specs),
                                    ("-c", "core.fsmonitor=false", "diff-files", "--name-only", "--relative", "-z",
                                     *specs))
    modified = changed.split("\0")
    digest = hashlib.sha256(out.encode()).hexdigest()
    if digest == known and not any(modified):
        return digest, {}
    wanted = set(files())
    found = {}
    for entry in out.split("\0"):
        if entry:
            meta, path = entry.split("\t", 1)
            tag, mode, blob, stage = meta.split()
            if path in wanted and tag == "H" and stage == "0" and mode in REGULAR:  # 0: not in a conflicted merge
                found[path] = blob
    for path in modified:
        found.pop(path, None)
    return (digest if len(found) == len(wanted) else None), found


# --- the checks on the files --------------------------------------------------------------


def checks_key(git, ws) -> str | None:
    """What the checks on the files read: the plan's inputs, every file of the commit's tree
    (with the working tree clean: nothing staged, modified or untracked) and the origin
    remote (the URL by which sources mean this repository). None: the tree is not clean."""
    from rollout.targeting import origin_url

    if ws.plan_key is None:
        return None
    head, _, tree = git.run("rev-parse", "HEAD", "HEAD^{tree}", check=False).strip().partition("\n")
    if not tree or (git.clean_at != head and git.dirty()):  # a session that just saw it clean at HEAD: no 2nd look
        return None
    origin = origin_url(ws.repo)
    return hashlib.sha256(f"{ws.plan_key}\0{tree}\0{origin}\0{Path(ws.repo).resolve()}".encode()).hexdigest()


class StandIn:
    """The checks' verdict kept for the same inputs: its problems are those the checks gave
    them. The parsed files (an advance edits them) are made by a real inspection the first
    time anything asks for them, and that inspection must agree with the verdict."""

    stands_in = True

    def __init__(self, problems: list, inspect, locate):
        self.problems = problems
        self._inspect, self._locate = inspect, locate
        self._real = None

    @property
    def real(self):
        if self._real is None:
            real = self._inspect()
            if sorted(map(repr, real.problems)) != sorted(map(repr, self.problems)):
                from rollout.errors import InvalidInput

                raise InvalidInput([self._locate(p) for p in real.problems] + [_disagree()])
            self._real = real
        return self._real

    @property
    def targets(self) -> list:
        return self.real.targets

    @property
    def sources(self) -> list:
        return self.real.sources

    def by_cluster(self, cluster: str) -> list:
        return self.real.by_cluster(cluster)


def _disagree():
    from waves.problems import Problem

    return Problem("the checks kept in the git dir (rollout-checks.pickle) disagree with the files: remove it and "
                   "report this as a bug", (), "")


def checked(git, ws, inspect, locate):
    """The checks on the files (`inspect()`, rollout/safety.py), or their verdict kept for the
    same inputs (a StandIn); a verdict without errors is kept for the next run."""
    key = ws._checks_key = checks_key(git, ws)  # what `held` keeps beside the verdict is for the same inputs
    cache = CacheFile.of(git, CHECKS)
    entry = cache.data.get(_name(ws))
    if key is not None and isinstance(entry, dict) and entry.get("key") == key:
        return StandIn(list(entry["problems"]), inspect, locate)
    real = inspect()
    if key is not None and not any(p.is_error for p in real.problems):
        cache.data[_name(ws)] = {"key": key, "problems": list(real.problems)}
        cache.save()
    return real


def held(ws, git) -> dict[str, bool]:
    """`at_revision`, kept beside the checks' verdict for the same inputs (the plan's, and the
    tree at HEAD, clean: `checks_key`) as the clusters off the revision: a step that only
    waits knows it without a git process (the fold asks it of every step: waves/drift.py)."""
    key = getattr(ws, "_checks_key", None)
    cache = CacheFile.of(git, CHECKS) if key is not None else None
    entry = cache.data.get(_name(ws)) if cache is not None else None
    if isinstance(entry, dict) and entry.get("key") == key and isinstance(entry.get("off"), list):
        off = set(entry["off"])
        return {cluster: cluster not in off for cluster in ws.plan.pins}
    found = _inspected_holds(ws) or at_revision(ws, git)
    if isinstance(entry, dict) and entry.get("key") == key:
        entry["off"] = sorted(c for c, holds in found.items() if not holds)
        cache.save()
    return found


def _inspected_holds(ws) -> dict[str, bool] | None:
    """`at_revision` from the checks just made on the files (their pin applied to each file:
    `pinned_facts`' rule, `current.old` is the revision), reading nothing again; None when
    they were not made here (kept: a StandIn) or do not cover every cluster of the plan."""
    inspection = ws.inspection
    if inspection is None or getattr(inspection, "stands_in", False):
        return None
    revision = ws.plan.revision
    out: dict[str, bool] = {}
    for t in inspection.targets:
        holds = t.located is not None and t.current is not None and t.current.old == revision
        out[t.cluster] = out.get(t.cluster, True) and holds
    return out if all(c in out for c in ws.plan.pins) else None
