"""`rollout revert`: each cluster of a wave back on the pin it held before the wave's
advance (before an earlier epoch's, where that one was the revision already), one commit
per wave, published as urgent (a pull request of its own, or a push)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from waves.inventory import Cluster
from waves.planner import pins_of
from waves.problems import Problem
from waves.recorded import with_waves_out
from waves.state import ADVANCE, EMPTY, fold
from rollout.errors import InvalidInput
from rollout.git.history import policy_digest, revert_message
from rollout.manifests.edit import PinError, pin_text, read_pin
from rollout.outcome import Outcome, WaveChange
from rollout.recorded import recorded_clusters
from rollout.session import clock, events_of, load, open_synced, publish, wave_ref
from rollout.trust import counted
from rollout.workspace import ONE_BY_ONE, UsageError, first_few, folder_link, pinned_under


def revert(repo: Path, policy_ref: str, wave: str | None, all_waves: bool, reason: str, push: bool | None = None,
           now: int | None = None, delivery: str | None = None) -> Outcome:
    """Re-pin each cluster of the wave(s) to the value it had before the wave's advance
    commit, one commit per wave. Idempotent: a reverted wave is left alone."""
    if not reason.strip():
        raise UsageError("--reason must say why")
    session = open_synced(repo, push, delivery)

    def attempt():
        # no file checks, shared-field conflicts only reported: a revert must work even if pins broke
        ws = load(session, policy_ref, check_files=False, strict=False)
        events = counted(session.git, ws, events_of(session, ws))  # spec.trust: a forged record moves no revert
        ws.plan = with_waves_out(ws.plan, ws.loaded.policy, events)  # a wave out whose clusters all left: revertable
        state = fold(ws.plan, events, clock(now))
        outcome = Outcome(ws.plan.policy, ws.plan.revision, ws=ws, state=state)
        if all_waves:
            numbers = [w.number for w in reversed(state.out)]
            if not numbers:  # said, not silence: a person in an incident reads what was done
                outcome.notes.append(f"no wave of {ws.plan.policy} -> {ws.plan.revision} is out (epoch {state.epoch}): "
                                     "nothing to revert")
        else:
            numbers = [wave_ref(ws.plan, wave).number]
        base = tip = session.git.head()
        for number in numbers:
            tip = revert_wave(session, ws, state, events, number, reason, base if not session.delivery.chains else tip,
                               outcome)
        return outcome, base, tip

    outcome = publish(session, attempt, urgent=True)
    if all_waves:  # once the reverts landed: the files this epoch's records do not reach (read, at 100k, ~10 s cold)
        outcome.notes += _left_ahead(session, outcome.ws, outcome.state)
    return outcome


def revert_wave(session, ws, state, events, number, reason, tip, outcome, advance: str | None = None,
                only: tuple[str, ...] | None = None) -> str:
    """`only`: a late join's revert: the clusters its commit (`advance`) pinned go back,
    nothing else of the wave (docs/inventory.md, "Late joins"). A revert that restores
    nothing is committed only when none of its clusters' files holds the revision any more
    (a true "nothing to restore"); while one does and cannot be taken back, it is never
    committed nor read as done (`outcome.stuck`: the caller halts or refuses)."""
    plan = ws.plan
    wave, ws_state = plan.wave(number), state.wave(number)
    found = _restore(session, ws, state, events, number, tip, advance, only)
    outcome.notes += found.notes
    if found.skip:
        return tip
    if found.stuck:  # its clusters stay on the revision: never an empty revert read as `reverted`
        what = (f"the late join of wave {number} {wave.name} ({', '.join(only)})" if only is not None
                else f"wave {number} {wave.name}")
        whole = (f"`rollout revert {plan.policy} --wave {number}` takes the wave back whole" if only is not None
                 else f"fix the pins by hand, then `rollout revert {plan.policy} --wave {number}` records it")
        outcome.notes.append(f"{what}: its revert restores nothing: not committed; a person decides ({whole})")
        outcome.stuck.append(what)
        return tip
    what = f"the late join of wave {number} {wave.name}" if only is not None else f"wave {number} {wave.name}"
    if not found.texts:  # true, and worth recording: the wave (or join) is off the revision, by hand
        outcome.notes.append(f"{what}: nothing to restore: no file of it holds {plan.revision} any more (a person "
                             "put the previous pins, or others, back): recorded as reverted")
    digest = policy_digest(ws.loaded.text)
    msg = revert_message(plan.policy, plan.revision, number, wave.name, found.restored or found.off, reason, digest,
                         advance or ws_state.advance_commit, epoch=state.epoch, late=only is not None,
                         nothing=not found.texts, left=found.left)
    if found.texts:  # with the modes `_restore` read of this same tip: each file keeps its mode
        tip = session.git.commit_on(tip, {f: t.encode() for f, t in found.texts.items()}, msg, found.modes)
    else:
        tip = session.git.commit_empty_on(tip, msg)
    pairs = found.restored or found.off  # nothing to restore: the clusters it finds off the revision
    outcome.changes.append(WaveChange(number, wave.name, "revert", list(dict.fromkeys(c for c, _ in pairs)),
                                      sorted(found.texts), commit=tip, late=only is not None,
                                      advance=advance if only is not None else None))
    return tip


def restores_nothing(session, ws, state, events, number, advance: str | None = None,
                     only: tuple[str, ...] | None = None) -> str | None:
    """Why reverting wave `number` (or, with `only`, its late join `advance`) at the branch's
    tip would restore nothing while its clusters stay on the revision (None: it restores
    something, or nothing needs restoring): what `revert_wave` would refuse, asked before a
    step decides (waves/decide.py halts it instead)."""
    found = _restore(session, ws, state, events, number, session.git.head(), advance, only)
    return found.stuck


@dataclass
class _Restored:
    texts: dict[str, str] = field(default_factory=dict)  # file -> its restored text
    restored: list[tuple[str, str]] = field(default_factory=list)  # (cluster, file) back on its previous pin
    off: list[tuple[str, str]] = field(default_factory=list)  # (cluster, file) off the revision already: left alone
    notes: list[str] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)  # (cluster, why) this revert cannot take off the revision
    stuck: str | None = None  # nothing restored and a cluster stays on the revision: why
    skip: bool = False  # nothing to revert at all (reverted already, never advanced, empty): the note says so
    modes: dict[str, str] = field(default_factory=dict)  # path -> mode in the tip's tree (read once: links, commit)


def _restore(session, ws, state, events, number, tip, advance, only) -> _Restored:
    """What the revert would write on `tip`: the restored texts, or why it restores nothing
    while a cluster stays on the revision (each cluster back on what its files held just
    before the commit that pinned it)."""
    plan, policy = ws.plan, ws.loaded.policy
    wave, ws_state = plan.wave(number), state.wave(number)
    events = counted(session.git, ws, events)  # the pins to restore are those of advances that counted
    out = _Restored()
    if ws_state.status == "reverted":
        out.notes.append(f"wave {number} {wave.name} is already reverted: nothing to do")
        out.skip = True
        return out
    join = ws_state.join(advance) if only is not None else None
    if only is not None and (join is None or join.status == "reverted"):
        out.notes.append(f"the late join of wave {number} {wave.name} ({', '.join(only)}) is "
                         + ("already reverted" if join else "not of this rollout") + ": nothing to do")
        out.skip = True
        return out
    if ws_state.status == "pending":
        out.notes.append(f"wave {number} {wave.name} was never advanced: nothing to revert")
        out.skip = True
        return out
    if ws_state.status == EMPTY:
        out.notes.append(f"wave {number} {wave.name} is empty (no cluster matches its selector): nothing to revert")
        out.skip = True
        return out
    # Each cluster goes back to what its files held just before the commit that pinned it;
    # where that was the revision already (an earlier epoch had pinned it: a retry, a wave
    # that passed before), to what they held before that epoch's advance, and so on back.
    parents_of: dict[str, list[str]] = {}
    pinned_by: dict[str, str] = {}  # cluster -> the advance commit that pinned it
    for event in events:
        if event.action == ADVANCE and event.policy == plan.policy and event.revision == plan.revision \
                and event.epoch == state.epoch and event.wave == wave.name and (only is None or event.commit == advance):
            for cluster in event.clusters:
                parents_of.setdefault(cluster, [f"{event.commit}^"])
                pinned_by.setdefault(cluster, event.commit)
    for event in reversed(events):
        if event.action == ADVANCE and event.policy == plan.policy and event.revision == plan.revision \
                and event.epoch < state.epoch:
            for cluster in event.clusters:
                if cluster in parents_of:
                    parents_of[cluster].append(f"{event.commit}^")
    labels = {c.name: c.labels for c in plan.targets}
    pins = dict(plan.pins)
    gone = sorted(c for c in parents_of if c not in pins)
    stays: list[str] = []  # on the revision, and this revert cannot take it back: why
    if gone:  # pinned, left the inventory since: their files are still in Git, and the revert restores them
        pins_gone, labels_gone, untold = _gone_pins(session, policy, gone, pinned_by)
        pins.update(pins_gone)
        labels.update(labels_gone)
        out.notes += [f"cluster {c} left the inventory: its pin {untold[c]} needs labels known nowhere now: "
                      "that file is left alone" for c in sorted(untold)]
        stays += [f"{c} left the inventory: its pin {untold[c]} needs labels known nowhere now" for c in sorted(untold)]
        out.left += [(c, f"left the inventory: its pin {untold[c]} needs labels known nowhere now") for c in sorted(untold)]
    current_texts = session.git.read_files(tip, sorted({t.file for c in parents_of for t in pins.get(c, [])}))
    out.modes = session.git.modes(tip)
    links = {f for f, mode in out.modes.items() if mode == "120000" and f in current_texts}
    before_texts: dict[tuple[str, str], bytes | None] = {}
    for parent in {p for parents in parents_of.values() for p in parents}:
        files = sorted({t.file for c, ps in parents_of.items() if parent in ps for t in pins.get(c, [])})
        for file, content in session.git.read_files(parent, files).items():
            before_texts[(parent, file)] = content
    texts, restored = out.texts, out.restored
    fields_done: set[tuple[str, int, str]] = set()
    through: dict[str, dict[str, list[str]]] = {}  # folder link -> pinned file in it -> its clusters: left alone
    linked: dict[str, list[str]] = {}  # why a pinned file that is a link is left alone -> its clusters
    deleted: list[tuple[str, str]] = []  # (cluster, its pinned file deleted since): off the revision, left alone
    held: dict[tuple[str, int, str], list[tuple[str, str]]] = {}  # fields that held the revision when pinned
    for cluster, parents in sorted(parents_of.items()):
        for target in pins.get(cluster, []):
            pin = policy.spec.pin[target.pin_index]
            link = None if target.file in texts or current_texts.get(target.file) is not None else \
                folder_link(session.repo, target.file)
            if link is not None:  # not deleted: git keeps the folder's link, the file is read through it
                why = f"{target.file} is in {link}, a symbolic link (git reads no file there)"
                through.setdefault(link, {}).setdefault(target.file, []).append(cluster)  # one note per link, below
                stays.append(f"{cluster}: {why}")
                out.left.append((cluster, why))
                continue
            if target.file in links and target.file not in texts:  # a link in git: its blob is a path, not the YAML
                why = f"{target.file} is a symbolic link (to {current_texts[target.file].decode(errors='replace')})"
                linked.setdefault(why, []).append(cluster)  # one note per file, below
                stays.append(f"{cluster}: {why}")
                out.left.append((cluster, why))
                continue
            if target.file not in texts and current_texts.get(target.file) is None:  # deleted since (decommissioned)
                deleted.append((cluster, target.file))  # said below: one line each, or one for many
                out.off.append((cluster, target.file))
                continue
            now_text = texts.get(target.file) or (current_texts.get(target.file) or b"").decode()
            try:
                current = read_pin(now_text, pin, cluster, labels[cluster], target.file)
                if (target.file, current.document, current.field) in fields_done:  # shared: restored once, for all
                    restored.append((cluster, target.file))
                    continue
                if current.old != plan.revision:
                    out.notes.append(f"cluster {cluster}: {target.file} holds {current.old!r}, not "
                                     f"{plan.revision}: left alone")
                    out.off.append((cluster, target.file))
                    continue
                previous = None
                for parent in parents:
                    old = before_texts.get((parent, target.file))
                    if old is None:
                        break
                    previous = read_pin(old.decode(), pin, cluster, labels[cluster], target.file)
                    if previous.old != plan.revision:
                        break
                if previous is None:
                    out.notes.append(f"cluster {cluster}: {target.file} did not exist before: left alone")
                    stays.append(f"{cluster}: {target.file} did not exist before")
                    out.left.append((cluster, f"{target.file} did not exist before"))
                    continue
                if previous.old == plan.revision:  # its advance changed nothing there: said below, unless
                    # another cluster's restore of the same (shared) field takes it back
                    held.setdefault((target.file, current.document, current.field), []).append((cluster, target.file))
                    continue
                # absent before: remove what the advance added, from the first key missing then
                result = pin_text(now_text, pin, cluster, labels[cluster], previous.old, target.file,
                                  raw=previous.old_raw, remove_from=previous.absent)
            except PinError as err:
                if cluster in gone:  # its labels are not known now: not a reason to keep the others on the revision
                    out.notes.append(f"cluster {cluster} left the inventory: {target.file}: {err.message}: left alone")
                    stays.append(f"{cluster} left the inventory: {target.file}: {err.message}")
                    out.left.append((cluster, f"left the inventory: {target.file}: {err.message}"))
                    continue
                raise InvalidInput([Problem(f"cluster {cluster}: {err.message}", (), str(session.repo / target.file),
                                            line=err.line)]) from None
            if result.text != now_text:
                texts[target.file] = result.text
            restored.append((cluster, target.file))
            fields_done.add((target.file, current.document, current.field))
    if len(deleted) > ONE_BY_ONE:  # a folder deleted (decommissioned clusters): one line, not 10,000
        out.notes.append(f"{pinned_under(_by_file(deleted))} deleted since: off {plan.revision}, left alone")
    else:
        out.notes += [f"cluster {c}: {f} was deleted since: off {plan.revision}, left alone" for c, f in deleted]
    for why, clusters in sorted(linked.items()):  # a revert written through it would make the link a file
        out.notes.append(f"{why}: a revert written there would put a file in the link's place; pin the file it "
                         f"points to (the pin for cluster{'s' if len(clusters) > 1 else ''} {first_few(clusters)}): left alone")
    for link, files in sorted(through.items()):  # one line per link, not per cluster: 10,000 may be below one
        out.notes.append(f"{link}: a symbolic link (to {_link_target(session.repo, link)}; git reads no file there): "
                         f"{pinned_under(files)}: left alone")
    for key, items in held.items():
        if key in fields_done:
            restored += items
            continue
        out.notes += [f"cluster {cluster}: {file} held {plan.revision} already when it was pinned (another "
                      f"cluster's advance of a field they share, or a person, put it there): nothing to restore, "
                      f"it stays on {plan.revision}" for cluster, file in items]
        stays += [f"{cluster}: {file} held {plan.revision} already when it was pinned" for cluster, file in items]
        out.left += [(cluster, f"{file} held {plan.revision} already when it was pinned") for cluster, file in items]
    if not texts and stays:
        out.stuck = "; ".join(dict.fromkeys(stays)) + f": {'it stays' if len(stays) == 1 else 'they stay'} on " \
                    f"{plan.revision}"
    elif not texts and not restored and not out.off:  # nothing known of it: "nothing to restore" would be a guess
        out.stuck = "none of its clusters' pins could be read"
    return out


def _by_file(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    for cluster, file in pairs:
        files.setdefault(file, []).append(cluster)
    return files


def _link_target(repo: Path, link: str) -> str:
    try:
        return os.readlink(repo / link)
    except OSError:  # gone since the listing that found it
        return "?"


def _gone_pins(session, policy, gone: list[str], pinned_by: dict[str, str]) -> tuple[dict, dict, dict]:
    """(pins, labels, cluster -> the pin it cannot tell) of clusters a wave pinned that left
    the inventory since: their labels as the advance recorded them (a hub's), else none (a
    file inventory's advance records none; most pin templates name the cluster only)."""
    recorded = recorded_clusters(session.git, sorted({pinned_by[c] for c in gone}))
    clusters = [recorded.get(c) or Cluster(c) for c in gone]
    pins = pins_of(policy, clusters)
    untold = {}
    for cluster in clusters:
        told = {t.pin_index for t in pins[cluster.name]}
        missing = [i for i in range(len(policy.spec.pin)) if i not in told]
        if missing:
            untold[cluster.name] = f"spec.pin[{missing[0]}] ({policy.spec.pin[missing[0]].files})"
    return pins, {c.name: c.labels for c in clusters}, untold


def _left_ahead(session, ws, state) -> list[str]:
    """For `revert --all`: the waves not out in this epoch whose files hold the revision
    for some clusters (an earlier epoch's pins, a hand edit), which no revert of this epoch
    takes back: said, never silence. Read from the files as the status reads them; a file
    that cannot be read says nothing here (the revert goes on)."""
    from waves.state import NOT_OUT, ahead_of
    from rollout.reuse import at_revision

    try:
        holds = at_revision(ws, session.git)
    except Exception:  # noqa: BLE001 - a note only: the urgent revert never fails on it
        return []
    notes = []
    pinned = {c for w in state.waves for c in w.pinned}  # by this epoch: its reverts (and their notes) say
    for w in state.waves:
        ahead = ahead_of(ws.plan.wave(w.number), holds, pinned) if w.status in NOT_OUT else []
        if ahead:
            notes.append(f"wave {w.number} {w.name} is not out in epoch {state.epoch}, yet its files hold "
                         f"{ws.plan.revision} for {first_few(ahead)}: pinned before this epoch (an earlier one, a "
                         "retry) or by hand, so no revert of this epoch takes them back; set them back in a commit "
                         "of your own, or roll out the revision you want")
    return notes
