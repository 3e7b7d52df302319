"""Counting in messages: `1 cluster`, `2 clusters`."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def waves_counted(plan) -> str:
    """`5 waves`, or `6 waves (1 empty)` when a wave claims no cluster."""
    empty = sum(1 for w in plan.waves if not w.clusters)
    return count(len(plan.waves), "wave") + (f" ({empty} empty)" if empty else "")


def still_on(state, w, shown: int | None = 5, name=str) -> str:
    """`still on v2 after the revert: a, b +3`: a reverted wave's (or late join's) clusters
    its revert left on the revision (docs/git-engine.md, "A revert that restores nothing");
    '' for none."""
    if not w.on_revision:
        return ""
    names = ", ".join(name(c) for c in w.on_revision[:shown])
    more = len(w.on_revision) - shown if shown and len(w.on_revision) > shown else 0
    return f"still on {state.revision} after the revert: {names}" + (f" +{more}" if more else "")


def already_on(state, w, shown: int | None = 5, name=str) -> str:
    """`already on v2, not advanced in epoch 2 (pinned before it, or by hand): a, b +3` for
    a wave not out in this epoch whose files hold the revision for some of its clusters:
    no revert of this epoch takes them back; '' for none."""
    if not w.ahead:
        return ""
    names = ", ".join(name(c) for c in w.ahead[:shown])
    more = len(w.ahead) - shown if shown and len(w.ahead) > shown else 0
    return (f"already on {state.revision}, not advanced in epoch {state.epoch} (pinned before it, or by hand): "
            f"{names}" + (f" +{more}" if more else ""))


def off_revision(state, w, shown: int | None = 5, name=str) -> str:
    """`off v2 since pinned (a person's edit: a person decides): a (holds v2.1) +2; came back
    on another pin (a late join again): b (holds v1)` for a wave out whose pinned clusters' files are off the
    revision (waves/drift.py); '' for none."""
    def listed(drifts):  # each with what its pinned field holds now, when read (a newer value: a pin back downgrades)
        names = ", ".join(name(d.cluster) + (f" (holds {d.found})" if d.found is not None else "")
                          for d in drifts[:shown])
        return names + (f" +{len(drifts) - shown}" if shown and len(drifts) > shown else "")

    parts = []
    if w.off:
        parts.append(f"off {state.revision} since pinned, not by this rollout (a person decides): {listed(w.off)}")
    if w.returned:
        parts.append(f"off {state.revision} again since pinned (came back, or its halt lifted): pinned again "
                     f"as a late join: {listed(w.returned)}")
    return "; ".join(parts)


def off_lines(state) -> list[str]:
    """One line per cluster a wave out pinned whose files are off the revision now, and why."""
    return [f"wave {w.number} {w.name}: {d.why(state.revision)}" + (" (a late join again)" if d in w.returned else "")
            for w in state.waves for d in [*w.off, *w.returned]]


def joins_still_on(state, w, shown: int | None = 5, name=str) -> str:
    """`late join (a, b) still on v2 after the revert: a` for each late join of `w` reverted
    on its own that left clusters on the revision; '' for none."""
    return "; ".join(f"late join ({', '.join(j.clusters)}) {still_on(state, j, shown, name)}"
                     for j in w.joins if j.on_revision)


def clusters_of(wave, ws=None, short: bool = False) -> str:
    """`3 clusters`; for a wave that went out and whose every cluster left the inventory since
    (it claims none now, `ws` its fold), what it pinned: `2 clusters pinned, gone`, never `0 clusters`
    (`short`: `2 pinned, gone`, for a box of a drawing)."""
    if wave.clusters or ws is None or not ws.pinned:
        return count(len(wave.clusters), "cluster")
    return f"{len(ws.pinned) if short else count(len(ws.pinned), 'cluster')} pinned, gone"
