"""Checks on the files themselves, before anything is written (`validate`, `advance`):

* every pin finds its document and field (a pin that finds nothing is an error, not a
  silent skip);
* an Argo CD Application's destination is the cluster the inventory names (the seed's
  war story: a US Application file pointing at an EU cluster);
* the policy's `identity` block: each cluster's `cluster-identity` literals agree with
  its labels;
* clusters that pin one field together are in one wave (a file may serve several
  clusters, each with its own field: a Fleet bundle's targets, an ApplicationSet list);
* targeting safety: each cluster's source, followed through the repository, deploys
  that cluster's own configuration (rollout/targeting/).

`inspect` parses each pinned file once; `advance` reuses the parse to edit.
"""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from waves import fleet_targets
from waves.pins.base import PinTargetError, format_steps
from waves.problems import POLICY, Problem, few
from waves.templates import EMPTY, EmptyLabel, MissingLabel, render, render_path, render_pattern
from rollout.yamlfile import bulk
from rollout.manifests.document import read_manifest
from rollout.manifests.edit import PinError, PinResult, find_document, parse, pin_text
from rollout.yamlfile import Located, YamlError, read_text



@dataclass
class Target:
    """One cluster's pin in one file, with the file as it is now."""

    cluster: str
    pin_index: int
    file: str
    text: str | None = None
    located: Located | None = None
    current: PinResult | None = None  # where the value is and what it holds now


@dataclass
class Inspection:
    targets: list[Target] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sources: list = field(default_factory=list)  # rollout.targeting.Source: followed or not, and why

    def by_cluster(self, cluster: str) -> list[Target]:
        return [t for t in self.targets if t.cluster == cluster]


def inspect(repo: Path, policy, plan, clusters: list[str] | None = None, files: dict[str, str] | None = None,
            inventory: list | None = None) -> Inspection:
    """Parse the pinned files of `clusters` (default: all in scope) and check them.
    `files` overrides what is read from disk (path -> text); `inventory` is every
    cluster (default: the plan's), for checks that name the cluster a file belongs to."""
    with bulk():
        return _inspect(repo, policy, plan, clusters, files, inventory)


def _inspect(repo: Path, policy, plan, clusters, files, inventory=None) -> Inspection:
    result = Inspection()
    by_name = {c.name: c for c in plan.targets}
    wanted = clusters if clusters is not None else [c.name for c in plan.targets]
    texts: dict[str, str | None] = dict(files or {})
    parsed: dict[str, Located | PinError] = {}

    def load(file: str):
        if file not in texts:
            try:
                texts[file] = read_manifest(repo / file)  # a BOM is kept for the write back
            except YamlError as err:
                texts[file] = None
                parsed[file] = PinError(err.message, err.line)
        if file not in parsed:
            try:
                parsed[file] = parse(texts[file], file)
            except PinError as err:
                parsed[file] = err
        return texts[file], parsed[file]

    result.problems += _revision_checks(policy)
    for name in wanted:
        cluster = by_name[name]
        for target in plan.pins[name]:
            pin = policy.spec.pin[target.pin_index]
            text, located = load(target.file)
            item = Target(name, target.pin_index, target.file, text)
            result.targets.append(item)
            if isinstance(located, PinError):
                result.problems.append(_problem(target.file, located, target.field))
                continue
            item.located = located
            try:
                item.current = pin_text(text, pin, name, cluster.labels, policy.spec.revision, target.file, located=located)
            except PinError as err:
                result.problems.append(_problem(target.file, err, err.field or target.field, f"cluster {name}: "))
                continue
            if pin.preset in ("argocd-application", "argocd-application-image"):  # both pin an Application
                result.problems += _destination(target.file, located, pin, cluster)
            elif pin.preset == "argocd-applicationset-list":
                result.problems += _element_destination(target.file, located, pin, cluster)
            result.problems += _fleet_target(target.file, located, pin, cluster)

    result.problems += _shared_fields(plan, result.targets)
    result.problems += _judged_twice(policy, plan, result.targets, by_name)
    result.problems += _fleet_reach(policy, plan, result.targets, by_name, inventory)
    result.problems += _gitrepo_reach(policy, plan, result.targets, by_name, inventory)
    if policy.spec.identity is not None and policy.spec.identity.files:
        result.problems += _identity(repo, policy.spec.identity, [by_name[n] for n in wanted], texts)
    result.problems += _targeting(repo, policy, plan, [by_name[n] for n in wanted], result, inventory)
    return result


def _targeting(repo: Path, policy, plan, wanted, result: Inspection, inventory) -> list[Problem]:
    from rollout.targeting import check

    labels = {c.name: c.labels for c in wanted}
    documents = {}
    for item in result.targets:
        if item.located is not None and item.current is not None:
            index = find_document(item.located, policy.spec.pin[item.pin_index], item.cluster, labels[item.cluster])
            documents[(item.cluster, item.pin_index)] = (item.file, item.located.documents, index)
    report = check(repo, policy, plan, wanted, inventory, lambda cluster, pin: documents.get((cluster, pin)))
    result.sources = report.sources
    return report.problems


def _revision_checks(policy) -> list[Problem]:
    """A pin refuses a revision its field cannot hold (a digest pin needs a digest)."""
    problems = []
    for index, pin in enumerate(policy.spec.pin):
        try:
            pin.check_revision(policy.spec.revision)
        except PinTargetError as err:
            problems.append(Problem(f"pin {index} ({pin.preset}) cannot write this revision: {err}",
                                    ("spec", "revision"), POLICY))
    return problems


def _problem(file: str, err: PinError, field: str, prefix: str = "") -> Problem:
    return Problem(f"{prefix}{err.message}", (field,), file, line=err.line)


def _destination(file: str, located: Located, pin, cluster) -> list[Problem]:
    index = find_document(located, pin, cluster.name, cluster.labels)
    doc = located.documents[index]
    destination = (doc.get("spec") or {}).get("destination") or {}
    if not isinstance(destination, dict):
        return []
    server, name = destination.get("server"), destination.get("name")
    problems = []
    loc = ("spec", "destination")
    # An inventory without servers (kustomize folders) leaves only the name to compare.
    if server is not None and cluster.server is not None and server != cluster.server:
        problems.append(Problem(
            f"Application for cluster {cluster.name} deploys to {server}, but the inventory gives "
            f"{cluster.server} for {cluster.name}: refusing to pin the wrong cluster",
            ("spec.destination.server",), file, line=located.line(loc + ("server",), index)))
    if name is not None and name != cluster.name:
        problems.append(Problem(
            f"Application for cluster {cluster.name} deploys to cluster name {name!r}: refusing to pin the wrong cluster",
            ("spec.destination.name",), file, line=located.line(loc + ("name",), index)))
    return problems


def _element_destination(file: str, located: Located, pin, cluster) -> list[Problem]:
    """The Application an ApplicationSet makes from this cluster's element must deploy to
    this cluster, as an Application file must (`_destination`)."""
    index = find_document(located, pin, cluster.name, cluster.labels)
    try:
        destination = pin.destination(located.documents[index], cluster.name)
    except (PinTargetError, KeyError, IndexError, TypeError):
        return []  # the edit reports why the element cannot be pinned
    problems = []
    server, name = destination.get("server"), destination.get("name")
    if server is not None and cluster.server is not None and server[0] != cluster.server:
        problems.append(Problem(
            f"the ApplicationSet's Application for cluster {cluster.name} deploys to {server[0]}, but the inventory "
            f"gives {cluster.server} for {cluster.name}: refusing to pin the wrong cluster",
            (format_steps(server[1]),), file, line=located.line(tuple(server[1]), index)))
    if name is not None and name[0] != cluster.name:
        problems.append(Problem(
            f"the ApplicationSet's Application for cluster {cluster.name} deploys to cluster name {name[0]!r}: "
            "refusing to pin the wrong cluster", (format_steps(name[1]),), file, line=located.line(tuple(name[1]), index)))
    return problems


def _fleet_path(file: str, located: Located, pin, cluster) -> tuple[int, list] | None:
    """The document and resolved path of a pin into a Fleet bundle's fleet.yaml; None
    for any other pin."""
    if posixpath.basename(file) not in ("fleet.yaml", "fleet.yml"):
        return None
    index = find_document(located, pin, cluster.name, cluster.labels)
    doc = located.documents[index]
    if "kind" in doc if isinstance(doc, dict) else True:
        return None  # a Kubernetes object, not a bundle's options
    try:
        return index, pin.locate(doc, cluster.name, cluster.labels)
    except PinTargetError:
        return None  # reported by the edit already


def _fleet_target(file: str, located: Located, pin, cluster) -> list[Problem]:
    """A value in a Fleet bundle must take effect on this cluster as Fleet applies the
    bundle's targets (waves/fleet_targets.py): else the advance would call the cluster
    pinned while Fleet deploys it something else."""
    found = _fleet_path(file, located, pin, cluster)
    if found is None:
        return []
    index, path = found
    why = fleet_targets.check(located.documents[index], path, cluster.name, cluster.labels)
    if why is None:
        return []
    at = ("targetCustomizations", path[1]) if len(path) > 1 and path[0] == "targetCustomizations" else tuple(path[:1])
    return [Problem(f"cluster {cluster.name}: {why}", (format_steps(list(at)),), file,
                    line=located.line(at, index) or located.line(("targetCustomizations",), index))]


def _fleet_reach(policy, plan, targets: list[Target], by_name: dict, inventory: list | None) -> list[Problem]:
    """Writing a value of a Fleet bundle moves every cluster it takes effect on: those
    must be exactly the clusters of one wave that pin it, none out of scope, none of
    another wave, none the pin does not name (waves/fleet_targets.reaches over the
    whole inventory)."""
    clusters = inventory if inventory is not None else plan.targets
    pinned: dict[tuple, tuple[dict, set[str]]] = {}
    for t in targets:
        if t.located is None or t.current is None:
            continue
        found = _fleet_path(t.file, t.located, policy.spec.pin[t.pin_index], by_name[t.cluster])
        if found is not None:
            key = (t.file, found[0], tuple(found[1]))
            pinned.setdefault(key, (t.located.documents[found[0]], set()))[1].add(t.cluster)
    problems = []
    for (file, index, path), (doc, names) in sorted(pinned.items(), key=lambda kv: kv[0][:2] + (str(kv[0][2]),)):
        waves = {plan.wave_of[n] for n in names}
        extra, blind = [], []
        for cluster in clusters:
            if cluster.name in names:
                continue
            verdict = fleet_targets.reaches(doc, list(path), cluster.name, cluster.labels)
            if isinstance(verdict, str):
                blind.append(cluster.name)
            elif verdict and not (cluster.name in plan.wave_of and plan.wave_of[cluster.name] in waves
                                  and any(x.file == file for x in plan.pins.get(cluster.name, ()))):
                wave = plan.wave_of.get(cluster.name)
                extra.append(f"{cluster.name} ({'out of scope' if wave is None else 'wave ' + plan.wave(wave).name})")
        field = format_steps(list(path))
        if extra or blind:
            what = (f"also moves {', '.join(extra[:5])}{' and more' if len(extra) > 5 else ''}, which "
                    f"{'is' if len(extra) == 1 else 'are'} not pinned with it" if extra else
                    f"may also move {', '.join(blind[:5])}: a cluster group decides, which rollout cannot see")
            hint = "pin the value per target (targetCustomizations[name=...])" if path[0] != "targetCustomizations" \
                else "give those clusters a target of their own, or put them in this wave"
            problems.append(Problem(f"writing {field} for {', '.join(sorted(names))} {what}: {hint}", (field,), file,
                                    line=_line_of(doc, path, targets, file)))
    return problems


def _gitrepo_reach(policy, plan, targets: list[Target], by_name: dict, inventory: list | None) -> list[Problem]:
    """A Fleet GitRepo pinned for a cluster (`fleet-gitrepo`) deploys to the clusters its
    `spec.targets` select: the cluster it is pinned for must be one, and every other one
    must be pinned with it in its wave (waves/fleet_targets.gitrepo_reaches over the
    whole inventory). A GitRepo file copied for another cluster and not re-targeted would
    otherwise move the wrong cluster while the rollout called this one pinned."""
    clusters = inventory if inventory is not None else plan.targets
    pinned: dict[tuple[str, int], tuple[dict, int | None, list[str]]] = {}
    for t in targets:
        if t.located is None or t.current is None or policy.spec.pin[t.pin_index].preset != "fleet-gitrepo":
            continue
        index = find_document(t.located, policy.spec.pin[t.pin_index], t.cluster, by_name[t.cluster].labels)
        entry = pinned.setdefault((t.file, index), (t.located.documents[index], t.located.line(("spec",), index), []))
        if t.cluster not in entry[2]:
            entry[2].append(t.cluster)
    problems = []
    objects: dict[tuple, list[tuple[str, int | None]]] = {}  # GitRepos live on the manager: one per name
    for (file, index), (doc, line, names) in sorted(pinned.items()):
        metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        if metadata.get("name"):
            objects.setdefault((metadata.get("namespace") or "fleet-local", metadata["name"]), []).append((file, line))
    for (namespace, name), places in sorted(objects.items()):
        if len(places) > 1:
            file, line = places[-1]
            problems.append(Problem(
                f"GitRepo {namespace}/{name} is pinned in {len(places)} files ({', '.join(f for f, _ in places)}): on "
                "the Fleet manager they are one object, the last applied winning; give each its own name",
                ("metadata.name",), file, line=line))
    for (file, index), (doc, line, names) in sorted(pinned.items()):
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        what = f"GitRepo {name}" if name else "the GitRepo"
        waves = {plan.wave_of[n] for n in names}
        for cluster in names:
            verdict = fleet_targets.gitrepo_reaches(doc, cluster, by_name[cluster].labels)
            if verdict is not True:
                labels = fleet_targets.labels_text(by_name[cluster].labels)
                why = f"{what} {verdict}" if isinstance(verdict, str) else \
                    f"the spec.targets of {what} do not select cluster {cluster} (its labels: {labels})"
                problems.append(Problem(f"cluster {cluster}: {why}: the revision would not reach it",
                                        ("spec.targets",), file, line=line))
        extra = []
        for cluster in clusters:
            if cluster.name in names:
                continue
            verdict = fleet_targets.gitrepo_reaches(doc, cluster.name, cluster.labels)
            if verdict is True and not (plan.wave_of.get(cluster.name) in waves
                                        and any(x.file == file for x in plan.pins.get(cluster.name, ()))):
                wave = plan.wave_of.get(cluster.name)
                extra.append(f"{cluster.name} ({'out of scope' if wave is None else 'wave ' + plan.wave(wave).name})")
        if extra:
            problems.append(Problem(
                f"{what}, pinned for {', '.join(names)}, also deploys to {', '.join(extra[:5])}"
                f"{' and more' if len(extra) > 5 else ''}, which {'is' if len(extra) == 1 else 'are'} not pinned with "
                "it: its spec.targets must select only the clusters that pin it", ("spec.targets",), file, line=line))
    return problems


def _line_of(doc, path, targets, file) -> int | None:
    for t in targets:
        if t.file == file and t.current is not None and t.current.field == format_steps(list(path)):
            return t.current.line
    return None


def _judged_twice(policy, plan, targets: list[Target], by_name: dict) -> list[Problem]:
    """An argocd gate finds each cluster's Application by name, in its namespace, on its
    context. Two clusters whose Applications are one object there (a file copied and not
    renamed, an `application` without {cluster}) would be judged by one status: a later
    wave's cluster could pass on the Application an earlier wave moved. Refused."""
    pinned: dict[str, tuple[str | None, str, int | None]] = {}  # cluster -> (name, file, line)
    for t in targets:
        pin = policy.spec.pin[t.pin_index]
        if t.cluster in pinned or t.located is None or t.current is None \
                or pin.preset not in ("argocd-application", "argocd-application-image"):
            continue
        index = find_document(t.located, pin, t.cluster, by_name[t.cluster].labels)
        metadata = t.located.documents[index].get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        pinned[t.cluster] = (name, t.file, t.located.line(("metadata", "name"), index))
    wanted = {t.cluster for t in targets}
    judged: dict[tuple, dict[str, tuple]] = {}
    for wave in plan.waves:
        for gate in wave.gates:
            config = getattr(gate, "argocd", None)
            if config is None:
                continue
            for cluster in (c for c in wave.clusters if c in wanted):
                labels = by_name[cluster].labels
                try:
                    context = render(config.context, cluster, labels) if config.context else None
                    name = render(config.application, cluster, labels) if config.application else None
                except MissingLabel:
                    continue  # the gate's own check names it
                where = (POLICY, None) if name is not None else pinned.get(cluster, (None, POLICY, None))[1:]
                name = name if name is not None else pinned.get(cluster, (None,))[0]
                if name is not None:
                    judged.setdefault((context, config.namespace, name), {})[cluster] = where
    problems = []
    for (context, namespace, name), clusters in judged.items():
        if len(clusters) < 2:
            continue
        file, line = list(clusters.values())[-1]
        problems.append(Problem(
            f"clusters {', '.join(sorted(clusters))} would be judged by one Application, {namespace}/{name} on "
            f"context {context or '(current)'}: the argocd gate could pass a cluster on another's status; give "
            "each cluster's Application its own name (or the gate an `application` template with {cluster})",
            ("metadata.name",) if file != POLICY else ("spec", "gates"), file, line=line))
    return problems


def _shared_fields(plan, targets: list[Target]) -> list[Problem]:
    """Clusters may share a file, each pinning its own field; several may share one field
    (a Fleet bundle's `prod` target) only within one wave, since writing it moves them
    all. The field is known here as the editor resolved it in the file as it is (its line
    and path), so two spellings of one field are caught too; the planner refuses what
    the policy alone shows, and keeps each shared field's clusters in one batch."""
    owners: dict[tuple[str, int, str], dict[str, None]] = {}  # insertion-ordered sets
    for t in targets:
        if t.current is not None:
            owners.setdefault((t.file, t.current.document, t.current.field), {})[t.cluster] = None
    problems = []
    lines = {(t.file, t.current.document, t.current.field): t.current.line for t in targets if t.current is not None}
    for (file, document, pinned), owned in sorted(owners.items()):
        names, line = list(owned), lines[(file, document, pinned)]
        numbers = sorted({plan.wave_of[n] for n in names})
        if len(numbers) > 1:
            where = "; ".join(f"wave {plan.wave(n).name}: {', '.join(x for x in names if plan.wave_of[x] == n)}"
                              for n in numbers)
            problems.append(Problem(
                f"clusters {', '.join(names)} all pin {pinned} here, which moves them all at once, but they are in "
                f"different waves ({where}): give each cluster its own field, or put them in one wave", (pinned,),
                file, line=line))
    return problems


def _identity(repo: Path, identity, clusters, texts: dict[str, str | None]) -> list[Problem]:
    problems = []
    # the policy's own problems, one line per field and label for the clusters that share it (10,000
    # clusters with one empty label are one line, not 10,000): (loc, what, key) -> [(cluster, its path)]
    policy: dict[tuple, list[tuple[str, str | None]]] = {}
    for cluster in clusters:
        try:
            file = render_path(identity.files, cluster.name, cluster.labels)
        except EmptyLabel as empty:
            what = f"an empty label {empty.key!r}, which makes identity.files the path {{}}: not a file in the repository"
            policy.setdefault((("spec", "identity", "files"), what, empty.key), []).append((cluster.name, empty.path))
            continue
        except MissingLabel as missing:
            what = f"no label {missing.key!r} for identity.files"
            policy.setdefault((("spec", "identity", "files"), what, missing.key), []).append((cluster.name, None))
            continue
        try:
            text = texts[file] if texts.get(file) is not None else read_text(repo / file)
            located = Located.parse(file, text)
        except YamlError as err:
            problems.append(Problem(f"cluster {cluster.name}: identity file: {err.message}", (), file, line=err.line))
            continue
        literals, where = _identity_literals(located)
        if literals is None:
            problems.append(Problem(f"cluster {cluster.name}: no cluster-identity configMapGenerator", (), file, line=1))
            continue
        for key, template in identity.require.items():
            try:
                pattern = render_pattern(template, cluster.name, cluster.labels)
            except EmptyLabel as empty:
                what = (f"an empty label {empty.key!r}, which makes identity.require {key} {template!r} the pattern "
                        f"{empty.path!r}: any value matches it, so it checks nothing")
                policy.setdefault((("spec", "identity", "require", key), what, empty.key), []).append(
                    (cluster.name, None))
                continue
            except MissingLabel as missing:
                if key in literals:
                    problems.append(Problem(
                        f"cluster {cluster.name}: cluster-identity has {key}={literals[key]} but the cluster has no "
                        f"label {missing.key!r}: the literal must be absent", (), file, line=where.get(key)))
                continue
            if key not in literals:
                problems.append(Problem(f"cluster {cluster.name}: cluster-identity has no {key} (expected "
                                        f"{pattern or EMPTY})", (), file, line=where.get("")))
            elif not fnmatch.fnmatchcase(literals[key], pattern):
                problems.append(Problem(
                    f"cluster {cluster.name}: cluster-identity {key}={literals[key]} does not match {pattern or EMPTY}: "
                    "refusing to pin a cluster whose identity disagrees with the inventory", (), file, line=where.get(key)))
    for (loc, what, _), found in policy.items():
        names = [name for name, _ in found]
        who = f"cluster {names[0]} has" if len(names) == 1 else f"clusters {few(names)} have"
        paths = {path for _, path in found}
        if None not in paths:  # the path each makes: the one they share, or the first's as an example
            what = what.format(repr(found[0][1]) + ("" if len(paths) == 1 else f" ({names[0]}'s)"))
        problems.append(Problem(f"{who} {what}", loc, POLICY))
    return problems


def _identity_literals(located: Located) -> tuple[dict[str, str] | None, dict[str, int]]:
    for d, doc in enumerate(located.documents):
        if not isinstance(doc, dict):
            continue
        for g, generator in enumerate(doc.get("configMapGenerator") or []):
            if isinstance(generator, dict) and generator.get("name") == "cluster-identity":
                literals, lines = {}, {"": located.line(("configMapGenerator", g), d)}
                for i, literal in enumerate(generator.get("literals") or []):
                    key, _, value = str(literal).partition("=")
                    literals[key] = value
                    lines[key] = located.line(("configMapGenerator", g, "literals", i), d)
                return literals, lines
    return None, {}
