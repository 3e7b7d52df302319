"""Rollout commits: their messages (subject, body, trailers) and reading them back as
events, for one policy, in one `git log`."""

from __future__ import annotations

import hashlib
import os
import re

from waves.drift import Change, joined, pairs
from waves.state import FIRST_EPOCH, Event
from rollout.git.errors import GitError
from rollout.render.words import count

RECORDS = "rollout/records"  # the branch records go to under pull-request delivery (docs/delivery.md)
RECORD_ACTIONS = ("verify", "retry", "halt", "lift")  # what a record (no manifest changed) may say

TRAILERS = ("Rollout-Policy", "Rollout-Revision", "Rollout-Epoch", "Rollout-Wave", "Rollout-Wave-Name", "Rollout-Action")


def policy_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def advance_message(policy: str, revision: str, number: int, wave: str, clusters: list[tuple[str, str]],
                    digest: str, late: bool = False, forced: list[str] | None = None, note: str | None = None,
                    forced_window: bool = False, epoch: int = FIRST_EPOCH, unchanged: list[str] | None = None,
                    inventory: tuple[list[str], str] | None = None, rejoins: list[tuple[str, str]] | None = None) -> str:
    """`clusters`: (cluster, file) for each pin written, a cluster once per pin; the body
    lists each cluster once with its files, and counts clusters and distinct files.
    `unchanged`: the files that held the revision already (the commit does not change them).
    `inventory`: (body lines, digest) of a policy with live sources (rollout/inventory/record.py).
    `rejoins`: (cluster, the advance that pinned it before) of clusters pinned again, off the
    revision since (came back on an old pin, or a hand edit whose halt was lifted)."""
    subject = f"rollout({policy}): wave {number} {wave} -> {revision}" + (" (late join)" if late else "")
    body = [subject, ""]
    if note:
        body += [note, ""]
    names, lines, files = pins_listed(clusters)
    body.append(f"Pins {revision} for {count(len(names), 'cluster')}, {count(len(files), 'file')}:")
    body += lines
    body.append("")
    held = [f for f in files if f in set(unchanged or ())]
    if held:
        body += [f"Held {revision} already: {', '.join(held)}", ""]
    if forced:
        body += ["Forced past: " + "; ".join(forced), ""]
    if rejoins:
        body += [f"Pins again (off {revision} since pinned by the commit named): {joined(rejoins)}", ""]
    if inventory is not None:
        body += inventory[0] + [""]
    trailers = _trailers(policy, revision, number, wave, "advance", epoch)
    trailers.append(f"Rollout-Clusters: {','.join(names)}")
    if rejoins:  # a late join again: the fold counts it as a join of its own (waves/state.py, _new_pins)
        trailers.append(f"Rollout-Rejoins: {joined(rejoins)}")
    if inventory is not None:
        trailers.append(f"Rollout-Inventory-Digest: {inventory[1]}")
    if forced:  # `window` when only a change window was forced past (docs/operating.md)
        trailers.append("Rollout-Forced: " + ("window" if forced_window and len(forced) == 1 else
                                              "true, window" if forced_window else "true"))
    trailers.append(f"Rollout-Policy-Digest: {digest}")
    return "\n".join(body + trailers) + "\n"


def revert_message(policy: str, revision: str, number: int, wave: str, clusters: list[tuple[str, str]],
                   reason: str, digest: str, advance: str | None = None, epoch: int = FIRST_EPOCH,
                   late: bool = False, nothing: bool = False, left: list[tuple[str, str]] | None = None) -> str:
    """`late`: the revert of a late join (`advance`, its commit): its clusters only.
    `nothing`: it restores nothing, its files off the revision already (`clusters`: them).
    `left`: (cluster, why) it leaves on the revision (it cannot take them back): named in
    the body and in `Rollout-Left-On-Revision`, so `status` shows them after the revert."""
    subject = f"rollout({policy}): revert " + ("the late join of " if late else "") + f"wave {number} {wave} ({revision})"
    names, lines, files = pins_listed(clusters)
    said = (f"Restores nothing: no file of it holds {revision} any more; {count(len(names), 'cluster')}, "
            f"{count(len(files), 'file')}, off it already:" if nothing else
            f"Restores the previous pins of {count(len(names), 'cluster')}, {count(len(files), 'file')}:")
    body = [subject, "", f"Reason: {reason}", "", said]
    body += lines
    body.append("")
    stays = list(dict.fromkeys(c for c, _ in left or ()))
    if stays:  # never "- name (files)": listed_files reads those lines as pins
        body.append(f"Leaves {count(len(stays), 'cluster')} on {revision} (this revert cannot take "
                    f"{'it' if len(stays) == 1 else 'them'} back; a person decides):")
        body += [f"- {c} stays on {revision}: {_one_line(why)}" for c, why in left]
        body.append("")
    trailers = _trailers(policy, revision, number, wave, "revert", epoch)
    trailers += [f"Rollout-Clusters: {','.join(names)}"] + (
        [f"Rollout-Left-On-Revision: {','.join(stays)}"] if stays else []) + [
        f"Rollout-Reason: {_one_line(reason)}"] + _advance(advance) + [f"Rollout-Policy-Digest: {digest}"]
    return "\n".join(body + trailers) + "\n"


def pins_listed(pins: list[tuple[str, str]]) -> tuple[list[str], list[str], list[str]]:
    """(clusters, body lines, files) of (cluster, file) pairs: each cluster once, in the
    order given, with its files together (`- production (a.yaml, b.yaml)`); the files
    distinct (two clusters may share one, as in an ApplicationSet's list)."""
    files_of: dict[str, list[str]] = {}
    for name, file in pins:
        files = files_of.setdefault(name, [])
        if file not in files:
            files.append(file)
    lines = [f"- {name} ({', '.join(files)})" for name, files in files_of.items()]
    return list(files_of), lines, list(dict.fromkeys(f for files in files_of.values() for f in files))


def listed_files(message: str) -> dict[str, list[str]]:
    """cluster -> files, as an advance or revert message lists them (pins_listed); an older
    message that lists a cluster once per file reads the same."""
    out: dict[str, list[str]] = {}
    for line in message.splitlines():
        match = re.match(r"^- (\S+) \((.+)\)$", line)
        if match:
            files = out.setdefault(match.group(1), [])
            files += [f for f in match.group(2).split(", ") if f not in files]
    return out


def approve_message(policy: str, revision: str, number: int, wave: str, by: str, digest: str,
                    epoch: int = FIRST_EPOCH) -> str:
    subject = f"rollout({policy}): approve wave {number} {wave} ({revision})"
    trailers = _trailers(policy, revision, number, wave, "approve", epoch)
    trailers += [f"Rollout-Approved-By: {_one_line(by)}", f"Rollout-Policy-Digest: {digest}"]
    return "\n".join([subject, "", f"Approved by {_one_line(by)}: the waves after wave {number} may go.", ""] + trailers) + "\n"


def verify_message(policy: str, revision: str, number: int, wave: str, evidence: list[str], digest: str,
                   advance: str | None = None, epoch: int = FIRST_EPOCH, late: tuple[str, ...] = ()) -> str:
    """The record that a wave's gates passed (and its bake elapsed): an empty commit whose
    body is the evidence, so `rollout status` needs no network to say `passed`. It names
    the advance commit the gates judged: it counts for that advance only (`late`: the
    clusters of the late join it names, judged on their own)."""
    what = f"wave {number} {wave}" + (f" late join ({', '.join(late)})" if late else "")
    subject = f"rollout({policy}): {what} passed its gates ({revision})"
    body = [subject, "", f"Gates of {what} passed at {revision}:"] + [f"- {line}" for line in evidence]
    trailers = _trailers(policy, revision, number, wave, "verify", epoch) + _advance(advance) + [f"Rollout-Policy-Digest: {digest}"]
    return "\n".join(body + [""] + trailers) + "\n"


def halt_message(policy: str, revision: str, number: int, wave: str, reason: str, evidence: list[str], digest: str,
                 advance: str | None, epoch: int = FIRST_EPOCH, late: tuple[str, ...] = (),
                 off: tuple[tuple[str, str], ...] = ()) -> str:
    """The record that a wave halted the rollout (`onFailure: halt`, or a gate blind past
    `progressDeadline`): nothing starts until a person lifts it or retries. The verdict is
    its evidence; it names the advance it judged (`late`: a late join's clusters). `off`:
    (cluster, commit) of clusters set off the revision since their pins, by a commit that
    is no record of this rollout: lifted, they are pinned again as late joins."""
    subject = f"rollout({policy}): halt at wave {number} {wave}" + (f" late join ({', '.join(late)})" if late else "") \
        + f" ({revision})"
    body = [subject, "", f"Reason: {reason}", "", "Evidence:"] + [f"- {line}" for line in evidence] + [
        "", f"Lift it with `rollout resume {policy} --halt --reason ...`, or `rollout revert`, or `rollout retry`."]
    trailers = _trailers(policy, revision, number, wave, "halt", epoch) + [f"Rollout-Reason: {_one_line(reason)}"]
    trailers += [f"Rollout-Off-Revision: {joined(off)}"] if off else []
    trailers += _advance(advance) + [f"Rollout-Policy-Digest: {digest}"]
    return "\n".join(body + [""] + trailers) + "\n"


def lift_message(policy: str, revision: str, number: int, wave: str, halt: str, reason: str, by: str, digest: str,
                 epoch: int = FIRST_EPOCH) -> str:
    """The record that a person lifted a halt (`rollout resume --halt`): the wave is judged afresh."""
    subject = f"rollout({policy}): lift the halt at wave {number} {wave} ({revision})"
    body = [subject, "", f"Reason: {reason}", "", f"Lifted by {_one_line(by)}: wave {number} {wave} is judged afresh.", ""]
    trailers = _trailers(policy, revision, number, wave, "lift", epoch) + [
        f"Rollout-Lifts: {halt}", f"Rollout-Reason: {_one_line(reason)}", f"Rollout-Lifted-By: {_one_line(by)}",
        f"Rollout-Policy-Digest: {digest}"]
    return "\n".join(body + trailers) + "\n"


def retry_message(policy: str, revision: str, epoch: int, reason: str, by: str, digest: str) -> str:
    """The record that starts a new epoch of a revision that was reverted or halted: its
    waves go out again from the first, as if never advanced (docs/git-engine.md, epochs)."""
    subject = f"rollout({policy}): retry {revision} (epoch {epoch})"
    body = [subject, "", f"Reason: {reason}", "", f"Retried by {_one_line(by)}: {revision} is rolled out afresh, "
            "wave by wave, from the first.", ""]
    trailers = [f"Rollout-Policy: {policy}", f"Rollout-Revision: {revision}", f"Rollout-Epoch: {epoch}",
                "Rollout-Action: retry", f"Rollout-Reason: {_one_line(reason)}", f"Rollout-Retried-By: {_one_line(by)}",
                *clock_trailer(), f"Rollout-Policy-Digest: {digest}"]
    return "\n".join(body + trailers) + "\n"


def _trailers(policy, revision, number, wave, action, epoch: int = FIRST_EPOCH) -> list[str]:
    return [f"Rollout-Policy: {policy}", f"Rollout-Revision: {revision}", f"Rollout-Epoch: {epoch}",
            f"Rollout-Wave: {number}", f"Rollout-Wave-Name: {wave}", f"Rollout-Action: {action}"] + clock_trailer()


def clock_trailer() -> list[str]:
    """A commit made under a pinned clock (ROLLOUT_NOW, rehearsals only) says so: its bakes
    were not waited out."""
    pinned = os.environ.get("ROLLOUT_NOW")
    return [f"Rollout-Clock-Override: {' '.join(pinned.split())}"] if pinned else []


def _advance(commit: str | None) -> list[str]:
    """The trailer that binds a record to the advance commit it is about."""
    return [f"Rollout-Advance: {commit}"] if commit else []


def _one_line(text: str) -> str:
    return " ".join(text.split())


def history_refs(git, remote: str | None) -> list[str]:
    """Where a rollout's events are read from: HEAD, and the records branch when there is
    one (pull-request delivery keeps verify and pause records there: the followed branch
    is protected)."""
    if remote is not None and git.rev(f"refs/remotes/{remote}/{RECORDS}") is not None:
        return ["HEAD", f"refs/remotes/{remote}/{RECORDS}"]
    return ["HEAD"]


def followed_remote(git) -> str | None:
    """The remote a read-only look (status) takes records and proposals from: the current
    branch's upstream's."""
    branch = git.branch()
    upstream = git.upstream(branch) if branch else None
    return upstream.remote if upstream else None


def grep_for(policy: str) -> str:
    return f"^Rollout-Policy: {re.escape(policy)}$"


_TRAILER = re.compile(r"^([A-Za-z-]+): (.*)$")


def parse_event(commit: str, time: int, message: str) -> Event | None:
    """The event a rollout commit records, or None for any other commit. The trailers are
    the last paragraph that holds them: a forge may append its own lines after them
    ("See merge request ...", "Co-authored-by: ..."), or a squash may put them in the middle."""
    fields: dict[str, str] = {}
    for paragraph in reversed(message.strip().split("\n\n")):
        found = {}
        for line in paragraph.splitlines():
            match = _TRAILER.match(line.strip())
            if match:
                found[match.group(1)] = match.group(2).strip()
        if "Rollout-Policy" in found and "Rollout-Action" in found:
            fields = found
            break
    if not all(key in fields for key in ("Rollout-Policy", "Rollout-Revision", "Rollout-Action")):
        return None
    if "Rollout-Wave-Name" not in fields and fields["Rollout-Action"] != "retry":
        return None
    epoch = fields.get("Rollout-Epoch", str(FIRST_EPOCH))
    if not epoch.isdigit():  # hand-made and malformed: not a record of any epoch
        return None
    # each cluster once: an older commit lists a cluster once per pin (issue 24)
    clusters = tuple(dict.fromkeys(c.strip() for c in fields.get("Rollout-Clusters", "").split(",") if c.strip()))
    return Event(
        commit=commit,
        time=time,
        action=fields["Rollout-Action"],
        policy=fields["Rollout-Policy"],
        revision=fields["Rollout-Revision"],
        wave=fields.get("Rollout-Wave-Name", ""),
        clusters=clusters,
        forced=bool(fields.get("Rollout-Forced")),
        reason=fields.get("Rollout-Reason"),
        advance=fields.get("Rollout-Advance"),
        epoch=int(epoch),
        by=fields.get("Rollout-Approved-By") or fields.get("Rollout-Retried-By") or fields.get("Rollout-Lifted-By"),
        lifts=fields.get("Rollout-Lifts"),
        clock=int(fields["Rollout-Clock-Override"]) if fields.get("Rollout-Clock-Override", "").isdigit() else None,
        number=int(fields["Rollout-Wave"]) if fields.get("Rollout-Wave", "").isdigit() else None,
        # a revert's clusters left on the revision (an older revert names none: status reads the files)
        left=tuple(dict.fromkeys(c.strip() for c in fields.get("Rollout-Left-On-Revision", "").split(",") if c.strip())),
        off=pairs(fields.get("Rollout-Off-Revision", "")),
        rejoins=pairs(fields.get("Rollout-Rejoins", "")),
    )


def approval_trailers(message: str, by: str, review: str | None = None) -> list[str]:
    """The `Rollout-` trailers of an approve commit's `message` (its last paragraph that
    holds them, as parse_event reads it), naming `by` as the approver (`Rollout-Approved-By`
    replaced, or added) and, for an approval given in a forge's review, `Rollout-Review:
    <the request's URL>`. What the merge that lands an approval carries under spec.trust,
    so that the merge itself, which the forge's key signs, is the approve record."""
    lines: list[str] = []
    for paragraph in reversed(message.strip().split("\n\n")):
        found = [line.strip() for line in paragraph.splitlines() if _TRAILER.match(line.strip())]
        names = {line.partition(":")[0] for line in found}
        if "Rollout-Policy" in names and "Rollout-Action" in names:
            lines = [line for line in found if line.startswith("Rollout-")]
            break
    named = [line for line in lines if line.partition(":")[0] not in ("Rollout-Approved-By", "Rollout-Review")]
    at = next((i for i, line in enumerate(named) if line.startswith("Rollout-Policy-Digest:")), len(named))
    extra = [f"Rollout-Approved-By: {_one_line(by)}"] + ([f"Rollout-Review: {_one_line(review)}"] if review else [])
    return named[:at] + extra + named[at:]


def read_events(git, ref: str | list[str], policy: str, arrivals_for: str | None = None) -> list[Event]:
    """The policy's events reachable from `ref` (one ref or several: the branch and the
    records branch), oldest first, in one `git log`. With `arrivals_for` (a revision),
    that rollout's events that reached the branch through a merge take the merge's time
    (docs/delivery.md: the bake starts when the change is on the branch, not when it was
    proposed)."""
    refs = [ref] if isinstance(ref, str) else list(ref)

    def parsed(revs) -> list[Event]:
        return [e for e in (parse_event(*found) for found in git.log(revs, grep_for(policy))) if e is not None]

    events = parsed(refs[0])
    if refs[1:]:  # the records branch: records (a gate pass, a halt and its lifting, a retry) only. A change counts once it
        # is on the branch the controllers follow (refs[0]); one merged into rollout/records by
        # mistake does not.
        events += [e for e in parsed([*refs[1:], f"^{refs[0]}"]) if e.action in RECORD_ACTIONS]
    if arrivals_for is not None:
        events = arrived(git, events, arrivals_for)
    return events


def arrived(git, events: list[Event], revision: str) -> list[Event]:
    """`events` with each change of `revision` that is not on HEAD's first-parent line
    timed by the first-parent commit that brought it in (a merge). One `git rev-list`,
    and one more per such event (pull requests merged with a merge commit, a few a rollout)."""
    from dataclasses import replace

    changes = [e for e in events if e.revision == revision and e.action in ("advance", "revert", "approve")]
    if not changes:
        return events
    oldest = min(changes, key=lambda e: e.time)
    mainline = set(git.run("rev-list", "--first-parent", "HEAD", "--not", f"{oldest.commit}^@", "--",
                           check=False).split())
    timed = {}
    for event in changes:
        if event.commit in mainline:
            continue
        lines = git.run("log", "--first-parent", "--ancestry-path", "--reverse", "--format=%H %ct",
                        f"{event.commit}..HEAD", "--", check=False).split("\n", 1)
        first = lines[0].split()
        if len(first) == 2:  # reachable from HEAD through a merge: the merge's time
            timed[event.commit] = int(first[1])
    if not timed:
        return events
    return [replace(e, time=timed[e.commit]) if e.commit in timed else e for e in events]


def pin_changes(git, off: dict[str, list[str]], files: dict[str, list[str]], since: str | None) -> list[Change] | None:
    """The commits that changed the files of the clusters off the revision (`off`: cluster
    -> the advances that pinned it; `files`: cluster -> its pinned files) after `since`
    (the oldest of those advances), newest first (waves/drift.py reads why each is off).
    One `git log`, asked only when such a cluster exists; None when it cannot be read."""
    if not off:
        return []
    by_file: dict[str, list[str]] = {}
    for cluster in off:
        for file in files.get(cluster, ()):
            by_file.setdefault(file, []).append(cluster)
    if since is None or not by_file:
        return None
    # every commit since the oldest pin that touched one of the files (a path list that long is read whole)
    paths = sorted(by_file) if len(by_file) <= 500 else []
    try:  # each commit's message too: a record of another policy on a shared file is named as one (its Change.policy)
        out = git.run("log", "--topo-order", "--no-renames", "--name-status", "--format=%x1e%H%x1f%ct%x1f%s%x1f%B%x1d",
                      "HEAD", f"^{since}", "--", *paths)
    except GitError:  # the pin is not in this history (a shallow clone): why cannot be told
        return None
    found: list[Change] = []
    for chunk in out.split("\x1e")[1:]:
        head, _, names = chunk.partition("\x1d")
        commit, time, subject, body = (head.split("\x1f", 3) + ["", "", ""])[:4]
        event = parse_event(commit, int(time) if time.isdigit() else 0, body) if "Rollout-" in body else None
        policy = event.policy if event is not None else ""
        for line in names.splitlines():
            status, _, path = line.partition("\t")
            for cluster in by_file.get(path, ()) if status else ():
                found.append(Change(cluster, commit, path, deleted=status.startswith("D"), subject=subject,
                                    policy=policy))
    return found
