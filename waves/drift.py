"""Clusters pinned by a wave that is out whose files are off the revision now, and why:
pure. The fold (waves/state.py) reads the pinned files' facts (`at_revision`) and, only
when such a cluster exists, the commits that changed its files since it was pinned (the
shell's one `git log`, newest first: `Change`). Nothing else knows they are off: the
advance records say they were pinned, so without this a rollout reads `complete` while a
cluster runs the old pin (docs/inventory.md, "A cluster that comes back").

- **came back**: its file was deleted after it was pinned (decommissioned) and is back off
  the revision (re-provisioned from the old template), no commit but the one that made
  it again having changed it since: a late join again, pinned and judged on its own.
  Another commit after that one is read as **edited** (a person's, on a cluster back).
- **edited**: the newest commit that changed its file since it was pinned is not a record
  of this rollout (a person's hand edit): `run` halts, naming the cluster, the file and the
  commit; `rollout resume --halt` lifts it and the cluster is pinned again as a late join.
- **deleted**: its file is deleted now while the cluster is in the plan.
- **unknown**: no commit since its pin changed its files (an edit not committed yet, the
  policy's pin or file template changed, or the history cannot be read): never
  `complete`, and `run` halts.

What its pinned field holds now (`found`: a hot-fix to a newer revision, an old pin) is read
by the shell for these clusters only (none on a step where every pin holds): lifting a halt
pins it back to the revision, a downgrade when the person's value was newer, so every line
that names it says what the file holds (docs/operating.md, "A pin set off by hand").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

CAME_BACK, EDITED, DELETED, UNKNOWN = "came-back", "edited", "deleted", "unknown"


@dataclass(frozen=True)
class Change:
    """A commit that changed a pinned cluster's file (the shell's `git log --name-status`)."""

    cluster: str
    commit: str
    file: str
    deleted: bool = False
    subject: str = ""
    policy: str = ""  # a rollout record's policy (its `Rollout-Policy` trailer): "" for any other commit


@dataclass(frozen=True)
class Drift:
    """A cluster pinned in this epoch, in a wave that is out, whose files are off the revision."""

    cluster: str
    kind: str  # came-back | edited | deleted | unknown
    pin: str  # the advance commit that last pinned it: a join that pins it again names it (`Rollout-Rejoins`)
    commit: str | None = None  # the commit that set it off (deleted its file, edited it)
    file: str | None = None
    subject: str = ""
    record: bool = False  # that commit is a record of this rollout (not a person's edit)
    # what its pinned field holds now (None: the pin finds nothing, or its file is missing), in
    # `found_file` (its first pin off the revision); `found_file` None: not read (the shell did not)
    found: str | None = None
    found_file: str | None = None

    @property
    def key(self) -> str:
        """What a halt record names for it (`Rollout-Off-Revision: cluster=key`): the commit
        that set it off, else the pin it left (a later edit is a new key: a new halt)."""
        return self.commit or self.pin

    def holds(self, revision: str) -> str:
        """`values/a.yaml holds v2.1, not v2`: what its pinned field holds now; '' when not read."""
        if self.found_file is None:
            return ""
        if self.found is None:
            return f"{self.found_file}: the pin finds nothing, not {revision}"
        return f"{self.found_file} holds {self.found}, not {revision}"

    def why(self, revision: str) -> str:
        """One line: what happened to it, and what its pinned field holds now when read."""
        commit = f"{self.commit[:12]}" + (f" ({self.subject})" if self.subject else "") if self.commit else ""
        holds = self.holds(revision)
        if self.kind == CAME_BACK:
            return (f"{self.cluster}: came back off {revision}: {self.file} was deleted by {commit} after "
                    f"{self.pin[:12]} pinned it, and is back on another pin" + (f" ({holds})" if holds else ""))
        if self.kind == DELETED:
            return f"{self.cluster}: {self.file} was deleted by {commit} after {self.pin[:12]} pinned it"
        if self.kind == EDITED:
            by = "a rollout record" if self.record else "a commit that is not a record of this rollout"
            if holds:
                return f"{self.cluster}: {holds}: set off by {commit}, {by}, after {self.pin[:12]} pinned it"
            return f"{self.cluster}: {self.file} set off {revision} by {commit}, {by}, after {self.pin[:12]} pinned it"
        return (f"{self.cluster}: off {revision}" + (f" ({holds})" if holds else "")
                + f" since {self.pin[:12]} pinned it, and no commit since changed its "
                "files but records of other policies (an edit not committed yet, the policy's pin or files changed, or "
                "another policy pinning the same field)")


def suspects(pins: dict[str, list[str]], planned, at_revision: dict[str, bool] | None) -> dict[str, list[str]]:
    """The clusters pinned in the epoch (`pins`: cluster -> the advance commits that pinned
    it, oldest first), in the plan now (`planned`), whose files the facts say are off the
    revision: what the shell reads the history of. None when the files were not read."""
    if not at_revision:
        return {}
    return {c: commits for c, commits in pins.items() if c in planned and at_revision.get(c) is False}


def drifts(off: dict[str, list[str]], changes: list[Change] | None, ours: set[str] | frozenset = frozenset(),
           policy: str | None = None, found: dict[str, tuple[str, str | None]] | None = None) -> dict[str, Drift]:
    """Why each cluster of `off` (cluster -> its pins, oldest first) is off, from `changes`
    (newest first; None: not read). `ours`: this rollout's commits (a record is no hand edit).
    `found`: cluster -> (file, what its pinned field holds now), as the shell read it.
    A record of another policy (`Change.policy`: one pinning its own field of a shared file) is
    not why: it neither names a new edit (a halt lifted would come back with each of its
    advances) nor hides a person's edit made after a cluster came back. Only such records
    since its pin (two policies pinning one field): `unknown`, a halt all the same."""
    by_cluster: dict[str, list[Change]] = {}
    for change in changes or ():
        if not (policy and change.policy and change.policy != policy):
            by_cluster.setdefault(change.cluster, []).append(change)
    out = {}
    for cluster, pins in off.items():
        pinned = set(pins)
        since = []
        for change in by_cluster.get(cluster, ()):
            if change.commit in pinned:  # older ones are before its pin
                break
            since.append(change)
        pin = pins[-1]
        if not since:
            out[cluster] = Drift(cluster, UNKNOWN, pin)
            continue
        newest = since[0]
        at = next((i for i, c in enumerate(since) if c.deleted), None)
        gone = since[at] if at is not None else None
        if newest.deleted:
            out[cluster] = Drift(cluster, DELETED, pin, newest.commit, newest.file, newest.subject)
        elif gone is not None and len({c.commit for c in since[:at]}) == 1:
            # came back: only the commit that made its file again changed it since it was deleted; an edit
            # after that (on-call setting a re-provisioned cluster back by hand) is a person's: it halts
            out[cluster] = Drift(cluster, CAME_BACK, pin, gone.commit, gone.file, gone.subject)
        else:
            out[cluster] = Drift(cluster, EDITED, pin, newest.commit, newest.file, newest.subject,
                                 record=newest.commit in ours)
    for cluster, (file, value) in (found or {}).items():
        if cluster in out:
            out[cluster] = replace(out[cluster], found=value, found_file=file)
    return out


def pin_back(cluster: str, revision: str, found: tuple[str, str | None] | None, wave: tuple[int, str] | None,
             again: Drift | None = None) -> str:
    """What the next `run` does with a cluster a lifted halt named as set off the revision
    (`rollout resume --halt`): `found` (its file, what its pinned field holds now; None: not
    pinned by the plan now), `wave` (number, name) the plan puts it in (None: none), `again`
    (why it is off now, when that is not what the halt named: a later edit is a new key, so a
    new halt, never a pin back). One line: lifting a halt on a cluster hot-fixed to a newer
    revision pins it back, a downgrade."""
    if wave is None or found is None:
        return f"{cluster} is in no wave of the plan now: the next run pins nothing for it"
    file, value = found
    if value == revision:
        return f"{cluster} ({file} holds {revision} again): the next run pins nothing for it"
    if again is not None:
        held = f"{file} holds {value}" if value is not None else f"the pin finds nothing in {file}"
        by = f"by {again.commit[:12]} " if again.commit else ""
        return (f"{cluster} ({held}) was set off again {by}since the halt: the next run halts on it again and "
                "pins nothing for it (docs/operating.md#a-pin-set-off-by-hand)")
    if value is None:  # the file missing, or its pinned field gone: nothing for the next run to write into
        return (f"{cluster}: the pin finds nothing in {file} (missing, or its pinned field gone): the next run cannot "
                f"pin it back to {revision}; put the file or the field back, or take the cluster out of the plan "
                "(docs/operating.md#a-pin-set-off-by-hand)")
    return (f"{cluster} ({file} holds {value}) is pinned back to {revision} by the next run, as a late join of "
            f"wave {wave[0]} "
            f"{wave[1]}; to keep it out of this rollout, take it out of the plan instead "
            "(docs/operating.md#a-pin-set-off-by-hand)")


def pinned_again(cluster: str, revision: str, found: tuple[str, str | None] | None, wave: tuple[int, str] | None,
                 epoch: int) -> str | None:
    """What a retry's new `epoch` does with a cluster a halt named as set off the revision
    (`rollout retry` of a halted rollout): it rolls out afresh, so the cluster is pinned
    again when its wave goes out, a downgrade when the person's value was newer. None when
    there is nothing to say (its file holds the revision again)."""
    if wave is None or found is None:
        return f"{cluster} is in no wave of the plan now: epoch {epoch} pins nothing for it"
    file, value = found
    if value == revision:
        return None
    if value is None:
        return (f"{cluster}: the pin finds nothing in {file} (missing, or its pinned field gone): epoch {epoch} cannot "
                f"pin it to {revision} when wave {wave[0]} {wave[1]} goes out; put the file or the field back, or take "
                "the cluster out of the plan (docs/operating.md#a-pin-set-off-by-hand)")
    return (f"{cluster} ({file} holds {value}) is pinned to {revision} again when wave {wave[0]} {wave[1]} goes out in "
            f"epoch {epoch}; to keep it out of this rollout, take it out of the plan instead "
            "(docs/operating.md#a-pin-set-off-by-hand)")


def pairs(text: str) -> tuple[tuple[str, str], ...]:
    """`a=x,b=y` (a trailer's value) -> ((a, x), (b, y))."""
    out = []
    for item in text.split(","):
        name, _, value = item.strip().partition("=")
        if name and value:
            out.append((name, value))
    return tuple(out)


def joined(items) -> str:
    return ",".join(f"{a}={b}" for a, b in items)
