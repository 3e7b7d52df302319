"""A pull request's change carried onto a moved base where git's three-way merge conflicts
only because a line *beside* a pinned one changed: two parallel waves pinning adjacent
lines of one file (a Fleet `fleet.yaml`'s one-line targets, a values file of
`cluster: version` lines), or a person's edit next to a pin. Git treats touching hunks as
one conflict; the rollout knows its change is nothing but pinned fields, so it sets them
on the new base as the change set them, with the pin editor's byte-exact edits.

Carried only when it is provably the same change: for each file, setting the fields in
the change's parent (where the branch left the followed branch: their merge base, as for
git's merge) gives the change's file exactly (so the change did nothing else there), and
the base left each field as the parent had it (a field changed on both sides
is a real conflict: the rollout halts, as before). Anything else (a file added or removed,
a field the change removed, a cluster no longer planned) is not carried."""

from __future__ import annotations

from rollout.manifests.edit import PinError, pin_text, read_pin


def carried_text(parent: str, changed: str, base: str, targets: list, path: str) -> str | None:
    """`base` with the pinned fields `targets` ((pin, cluster, labels) each) set as `changed`
    sets them, when setting them in `parent` gives `changed` exactly and `base` holds what
    `parent` held in each; None otherwise. Pure."""
    redone, out = parent, base
    try:
        for pin, cluster, labels in targets:
            wanted = read_pin(changed, pin, cluster, labels, path)
            was, now = read_pin(parent, pin, cluster, labels, path), read_pin(base, pin, cluster, labels, path)
            if (now.old, now.old_raw) != (was.old, was.old_raw) or wanted.old is None:
                return None  # changed on both sides, or removed by the change: not carried
            redone = pin_text(redone, pin, cluster, labels, wanted.old, path, raw=wanted.old_raw).text
            out = pin_text(out, pin, cluster, labels, wanted.old, path, raw=wanted.old_raw).text
    except PinError:
        return None
    return out if targets and redone == changed else None


def carried(git, ws, flight: dict, base: str) -> dict[str, bytes] | None:
    """The files of `flight` (a fetched pull-request branch: its commit and event)
    carried onto `base`, by path; None when any file cannot be (see the module)."""
    plan, pins = ws.plan, ws.loaded.policy.spec.pin
    clusters = list(flight["event"].clusters)
    if not clusters or any(c not in plan.pins for c in clusters):
        return None
    # The change is the branch's since it left the followed branch (what git's merge takes),
    # not its tip commit's alone: a person's commit on the rollout's, trailers kept, would
    # carry only theirs and drop the pins of every file it did not touch.
    parent = git.run("merge-base", base, flight["commit"], check=False).strip()
    if not parent:
        return None
    status = git.run("diff", "--no-renames", "--name-status", "-z", parent, flight["commit"]).split("\0")
    changes = dict(zip(status[1::2], status[0::2]))  # path -> M, A, D, T
    if not changes or any(kind != "M" for kind in changes.values()):
        return None
    labels = {c.name: c.labels for c in plan.targets}
    texts = {name: git.read_files(commit, list(changes)) for name, commit in
             (("parent", parent), ("changed", flight["commit"]), ("base", base))}
    out = {}
    for path in changes:
        targets = [(pins[t.pin_index], c, labels[c]) for c in clusters for t in plan.pins[c] if t.file == path]
        try:
            parent, changed, now = (texts[name][path].decode() for name in ("parent", "changed", "base"))
        except (AttributeError, UnicodeDecodeError):  # absent on the base now, or not text
            return None
        text = carried_text(parent, changed, now, targets, path)
        if text is None:
            return None
        out[path] = text.encode()
    return out
