"""`rollout status|plan --format html` and `rollout run --report FILE`: the rollout as one
self-contained web page, for a CI artifact or Pages (no server, no network).

Everything the page needs is in it: the CSS in one <style>, the pictures (the wave DAG and
the timeline) as inline SVG drawn here, one small <script> for the filter box; a Content
Security Policy that allows those two by their hashes and nothing else, so the page makes
no request whatever a name or a reason in it says. Without the script the page is whole:
the filter box is shown only by it.

Fed by the same model as the table, JSON and markdown: the plan, the folded state
(waves/state.py) and, in `run`, the step's verdicts; a wave's status is
rollout/render/status.py's `wave_status`, its reason `wave_rows`'s. What only the page
shows (a record's evidence, a revert's reason, the forge's links) comes in as `Page`
fields read by the shell (rollout/report.py). Every text from a user or a record is
escaped here, once, by `_e`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape

from waves.durations import format_duration
from rollout.render.status import wave_rows
from rollout.render.status_graph import OTHER, STYLES
from rollout.render.words import clusters_of, count, off_lines

# A wave's details are open at first only when the page is small or the wave needs a look.
OPEN_UP_TO = 60  # clusters in the whole rollout: every wave open
ATTENTION = ("failed", "reverted", "halted", "unknown", "verifying", "baking", "proposed")
GLYPHS = {"passed": "✓", "reverted": "↩", "failed": "✗", "halted": "■", "unknown": "?", "baking": "◔",
          "verifying": "◑", "proposed": "⇢", "pending": "○", "empty": "∅"}


@dataclass(frozen=True)
class Record:
    """A rollout commit the page shows: its subject and body (the evidence, the reason)."""

    subject: str
    body: str


@dataclass
class Page:
    plan: object
    state: object  # waves.state.RolloutState; for a plan, the fold of no event (every wave pending)
    now: int
    kind: str = "status"  # status | plan
    hold: object | None = None  # waves.holds.Hold: pauses and change windows
    verdicts: dict = field(default_factory=dict)  # wave number -> this run's WaveVerdict (rollout run)
    records: dict[str, Record] = field(default_factory=dict)  # commit -> what it says
    links: object | None = None  # rollout.delivery.forge.WebLinks, when the remote is a known forge
    warnings: tuple = ()


def _e(text) -> str:
    return escape(str(text), quote=True)


def _when(ts: int | None) -> str:
    if not ts:
        return "—"
    moment = datetime.fromtimestamp(ts, timezone.utc)
    return f'<time datetime="{moment:%Y-%m-%dT%H:%M:%SZ}">{moment:%Y-%m-%d %H:%M:%S}</time>'


def _took(seconds: int | None) -> str:
    return format_duration(int(seconds)) if seconds is not None and seconds >= 0 else "—"


def _cls(status: str) -> str:
    return f"s-{status}" if status in STYLES else "s-other"


def badge(status: str) -> str:
    """A status in words, with its colour and glyph: never told by colour alone."""
    glyph = GLYPHS.get(status, "·")
    return f'<span class="badge {_cls(status)}"><span aria-hidden="true">{glyph} </span>{_e(status)}</span>'


def _style(status: str) -> dict[str, str]:
    return dict(part.split(":", 1) for part in STYLES.get(status, OTHER).split(","))


# --- links to the forge ---------------------------------------------------------------

def _commit(page: Page, sha: str | None) -> str:
    if not sha:
        return "—"
    url = page.links.commit(sha) if page.links is not None else None
    short = f"<code>{_e(sha[:12])}</code>"
    return f'<a href="{_e(url)}" rel="noopener noreferrer">{short}</a>' if url else short


def _request(page: Page, sha: str | None) -> str:
    """The pull / merge request a landed commit came through: its subject ends `(#12)` / `(!12)`."""
    record = page.records.get(sha or "")
    if record is None or page.links is None:
        return ""
    match = re.search(r"\(([#!])(\d+)\)$", record.subject)
    url = page.links.request(int(match.group(2))) if match else None
    return f' via <a href="{_e(url)}" rel="noopener noreferrer">{_e(match.group(1) + match.group(2))}</a>' if url else ""


# --- the wave DAG ---------------------------------------------------------------------

NODE_W, NODE_H, GAP_X, GAP_Y = 200, 48, 48, 18


def layers(plan) -> dict[int, int]:
    """wave number -> its layer: the longest chain of `after` before it (waves in order)."""
    out: dict[int, int] = {}
    for wave in plan.waves:  # numbered after what they wait for
        out[wave.number] = 1 + max((out.get(dep, 0) for dep in wave.after), default=-1)
    return out


def dag_svg(plan, statuses: dict[int, str], state=None) -> str:
    """The waves as boxes in layers, an arrow from each wave to those that wait for it; left
    to right, or top to bottom when that is narrower (long chains); each box links to its wave.
    `state`: the fold, for what a wave out pinned once its clusters all left (never `0 clusters`)."""
    layer = layers(plan)
    columns: dict[int, list[int]] = {}
    for wave in plan.waves:
        columns.setdefault(layer[wave.number], []).append(wave.number)
    deep, wide = len(columns), max((len(c) for c in columns.values()), default=0)
    across = deep * (NODE_W + GAP_X) <= wide * (NODE_W + GAP_X)  # left to right when not wider
    at: dict[int, tuple[int, int]] = {}
    for depth, numbers in columns.items():
        for i, number in enumerate(numbers):
            if across:
                at[number] = (depth * (NODE_W + GAP_X), i * (NODE_H + GAP_Y))
            else:
                at[number] = (i * (NODE_W + GAP_X), depth * (NODE_H + GAP_Y * 2))
    width = max((x for x, _ in at.values()), default=0) + NODE_W + 2
    height = max((y for _, y in at.values()), default=0) + NODE_H + 2
    edges = []
    for wave in plan.waves:
        x2, y2 = at[wave.number]
        for dep in wave.after:
            x1, y1 = at[dep]
            if across:
                a, b = (x1 + NODE_W, y1 + NODE_H / 2), (x2, y2 + NODE_H / 2)
                mid = (a[0] + b[0]) / 2
                edges.append(f'<path d="M{a[0]:g} {a[1]:g}C{mid:g} {a[1]:g} {mid:g} {b[1]:g} {b[0] - 4:g} {b[1]:g}"/>')
            else:
                a, b = (x1 + NODE_W / 2, y1 + NODE_H), (x2 + NODE_W / 2, y2)
                mid = (a[1] + b[1]) / 2
                edges.append(f'<path d="M{a[0]:g} {a[1]:g}C{a[0]:g} {mid:g} {b[0]:g} {mid:g} {b[0]:g} {b[1] - 4:g}"/>')
    nodes = []
    for wave in plan.waves:
        x, y = at[wave.number]
        status = statuses[wave.number]
        ws = state.wave(wave.number) if state is not None else None
        clusters, short = clusters_of(wave, ws), clusters_of(wave, ws, short=True)
        style = _style(status)
        name = wave.name if len(wave.name) <= 24 else wave.name[:23] + "…"
        dash = f' stroke-dasharray="{_e(style["stroke-dasharray"].replace(" ", ","))}"' if "stroke-dasharray" in style else ""
        heavy = ' stroke-width="3"' if "stroke-width" in style else ""
        nodes.append(
            f'<a href="#wave-{wave.number}"><title>wave {wave.number} {_e(wave.name)}: {_e(status)}, '
            f'{clusters}</title>'
            f'<rect x="{x + 1}" y="{y + 1}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{_e(style["fill"])}" '
            f'stroke="{_e(style["stroke"])}"{dash}{heavy}/>'
            f'<text x="{x + 10}" y="{y + 20}" class="n">{wave.number} {_e(name)}</text>'
            f'<text x="{x + 10}" y="{y + 38}">{GLYPHS.get(status, "·")} {_e(status)} · '
            f'{short}</text></a>')
    label = f"The {count(len(plan.waves), 'wave')} and what each waits for, coloured and labelled by status"
    # a group, not an image: its boxes are links a keyboard and a screen reader reach
    return (f'<svg class="dag" role="group" aria-label="{_e(label)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
            f'<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" '
            f'orient="auto"><path d="M0 0L8 4L0 8z" fill="#57606a"/></marker></defs>'
            f'<g class="edges" fill="none" stroke="#8c959f" marker-end="url(#arrow)">{"".join(edges)}</g>'
            f'<g class="nodes">{"".join(nodes)}</g></svg>')


# --- the timeline ---------------------------------------------------------------------

def _end(page: Page, ws) -> tuple[int | None, str]:
    """When the wave's story ended and how: verified, reverted; else now (still going)."""
    if ws.revert_commit and ws.reverted_at:
        return ws.reverted_at, "reverted"
    if ws.verified_at:
        return ws.verified_at, "verified"
    return None, ""


def timeline_svg(page: Page, statuses: dict[int, str]) -> str:
    """One bar per wave that went out: its bake, then the wait for its gates, to when it
    passed, was reverted, or now. Times in UTC; the table below says the same in words."""
    plan, state = page.plan, page.state
    rows = [(w, state.wave(w.number)) for w in plan.waves if state.wave(w.number).advanced_at]
    if not rows:
        return ""
    start = min(ws.advanced_at for _, ws in rows)
    ends = [_end(page, ws)[0] for _, ws in rows]
    # up to now while a wave is still out and unjudged; else to the last thing that happened
    stop = max([t for t in ends if t] + [page.now if None in ends else start])
    span = max(stop - start, 1)
    label_w, plot_w, row_h = 200, 560, 22
    width, height = label_w + plot_w + 20, row_h * len(rows) + 34

    def x(t: int) -> float:
        return label_w + plot_w * (min(max(t, start), stop) - start) / span

    bars = []
    for i, (wave, ws) in enumerate(rows):
        y = 6 + i * row_h
        end, _how = _end(page, ws)
        end = end or page.now
        baked = ws.advanced_at + wave.bake_seconds
        status = statuses[wave.number]
        style = _style(status)
        name = wave.name if len(wave.name) <= 24 else wave.name[:23] + "…"
        bars.append(f'<text x="4" y="{y + 14}">{wave.number} {_e(name)}</text>')
        bake_end = min(baked, end)
        bars.append(f'<rect x="{x(ws.advanced_at):.1f}" y="{y + 3}" width="{max(x(bake_end) - x(ws.advanced_at), 1.5):.1f}" '
                    f'height="{row_h - 8}" fill="#eaeef2" stroke="{_e(style["stroke"])}"><title>wave {wave.number}: '
                    f'bake {_took(wave.bake_seconds)}</title></rect>')
        if end > baked:
            bars.append(f'<rect x="{x(baked):.1f}" y="{y + 3}" width="{max(x(end) - x(baked), 1.5):.1f}" '
                        f'height="{row_h - 8}" fill="{_e(style["fill"])}" stroke="{_e(style["stroke"])}">'
                        f'<title>wave {wave.number}: {_e(status)}</title></rect>')
        bars.append(f'<text x="{min(x(end) + 4, width - 40):.1f}" y="{y + 14}" class="g">'
                    f'{GLYPHS.get(status, "·")}</text>')
    axis = (f'<text x="{label_w}" y="{height - 6}" class="t">{datetime.fromtimestamp(start, timezone.utc):%Y-%m-%d %H:%M:%S}'
            f'</text><text x="{label_w + plot_w}" y="{height - 6}" class="t" text-anchor="end">'
            f'{datetime.fromtimestamp(stop, timezone.utc):%Y-%m-%d %H:%M:%S} UTC ({_took(stop - start)})</text>')
    label = (f"Timeline of the {count(len(rows), 'wave')} that went out, from "
             f"{datetime.fromtimestamp(start, timezone.utc):%Y-%m-%d %H:%M} UTC, over {_took(span)}: "
             "grey is the bake, then the wave's status colour until it passed or was reverted")
    return (f'<svg class="timeline" role="img" aria-label="{_e(label)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">{"".join(bars)}{axis}</svg>')


def timeline_rows(page: Page, statuses: dict[int, str]) -> str:
    out = []
    for wave in page.plan.waves:
        ws = page.state.wave(wave.number)
        end, how = _end(page, ws)
        if ws.advanced_at and wave.bake_seconds:
            baked = ws.advanced_at + wave.bake_seconds
            bake = (f"{_took(wave.bake_seconds)}, cut short by the revert" if end and how == "reverted" and end < baked
                    else f"{_took(wave.bake_seconds)}, over {_when(baked)}" if baked <= page.now
                    else f"{_took(wave.bake_seconds)}, {_took(ws.bake_remaining)} left")
        else:
            bake = _took(wave.bake_seconds) if wave.bake_seconds and not wave.empty else "—"
        ended = (f"{how} {_when(end)} {_commit(page, ws.revert_commit if how == 'reverted' else ws.verify_commit)}"
                 if end else "—")
        took = _took(end - ws.advanced_at) if end and ws.advanced_at else (
            f"{_took(page.now - ws.advanced_at)} so far" if ws.advanced_at else "—")
        out.append(f'<tr><td>{wave.number}</td><th scope="row"><a href="#wave-{wave.number}">{_e(wave.name)}</a></th>'
                   f'<td>{badge(statuses[wave.number])}</td>'
                   f'<td>{_when(ws.advanced_at)} {_commit(page, ws.advance_commit) if ws.advance_commit else ""}</td>'
                   f'<td>{bake}</td><td>{ended}</td><td>{took}</td></tr>')
    return ('<div class="scroll"><table class="times"><caption>Each wave: when it was advanced, its bake, when it '
            'passed its gates or was reverted, and how long it took</caption><thead><tr><th scope="col">#</th>'
            '<th scope="col">wave</th><th scope="col">status</th><th scope="col">advanced</th><th scope="col">bake</th>'
            '<th scope="col">verified or reverted</th><th scope="col">took</th></tr></thead><tbody>'
            + "".join(out) + "</tbody></table></div>")


# --- each wave ------------------------------------------------------------------------

def _evidence(record: Record | None) -> list[str]:
    """A verify or halt record's evidence: its body's `- ` lines, as `rollout audit` reads them."""
    return [line[2:] for line in record.body.splitlines() if line.startswith("- ")] if record else []


def _reason(record: Record | None) -> str:
    for line in (record.body.splitlines() if record else []):
        if line.startswith("Reason: "):
            return line[len("Reason: "):]
    return ""


def _per_cluster(lines: list[str]) -> dict[str, str]:
    """cluster -> its gate line, from evidence lines `  <cluster>: <state>: <why>`."""
    out: dict[str, str] = {}
    gate = ""
    for line in lines:
        if not line.startswith(" "):  # `argocd: 2 of 2 clusters passed`
            gate = line.partition(":")[0]
        elif ": " in line:
            name, _, rest = line.strip().partition(": ")
            out[name] = (out[name] + "; " if name in out else "") + (f"{gate}: " if gate else "") + rest
    return out


def pin_state(page: Page, wave, ws, cluster: str) -> tuple[str, str]:
    """(class, words) of where a cluster's pin is, from the folded state."""
    revision = page.plan.revision
    down = getattr(page.plan, "down", {}).get(cluster)
    if down is not None and (page.kind == "plan" or ws.status in ("pending", "proposed") or cluster in ws.late):
        # availability decides what is pinned (docs/inventory.md): say what becomes of it
        return "down", f"unavailable: {down}; " + _UNAVAILABLE[getattr(page.plan, "unavailable", "skip")] \
            if cluster not in ws.late else f"unavailable: {down}; not pinned yet: joins late once back"
    if page.kind == "plan" or ws.status == "pending":
        return "todo", "not yet pinned"
    if ws.status == "reverted":
        return "bad", "reverted to its previous pin"
    drift = next((d for d in [*ws.off, *ws.returned] if d.cluster == cluster), None)
    if drift is not None:  # pinned, and off the revision since: never read as done
        return "bad" if drift in ws.off else "warn", drift.why(revision) + (
            "; a person decides" if drift in ws.off else "; pinned again as a late join")
    join = next((j for j in ws.joins if cluster in j.clusters), None)
    if join is not None and join.status == "reverted":
        return "bad", "late join failed its wave's gates: reverted to its previous pin"
    if join is not None and join.status != "passed":
        return "warn", f"late join, {join.status}: judged on its own by its wave's gates"
    if ws.status == "proposed":
        return "todo", "proposed: not yet on the branch"
    if cluster in ws.late_proposed:
        return "todo", "late: its join is proposed"
    if cluster in ws.late:
        return "warn", "late: joined after the wave went out"
    if cluster in ws.clusters_behind:
        return "warn", f"not at {revision}" + (f"; unavailable: {down}" if down else "")
    if down is not None:  # pinned, then down: it stays in its wave's gate
        return "ok", f"at {revision}; unavailable now: {down} (still judged by its wave's gates)"
    return "ok", f"at {revision}"


_UNAVAILABLE = {"skip": "left out of its wave's advance, pinned as a late join once back",
                "wait": "its wave waits until it is back", "include": "pinned anyway"}


_UNAVAILABLE_ALL = {"skip": "left out of their waves' advances, each pinned once back",
                    "wait": "their waves wait until they are back", "include": "pinned anyway"}


def _checks(page: Page, wave, record_lines: list[str], reason: str) -> dict[str, str]:
    """Per cluster, what the gates said: this run's checks, else the record's evidence lines,
    and the failed cluster a revert's reason names (`...; <cluster>: <gate>: <why>`)."""
    verdict = page.verdicts.get(wave.number)
    if verdict is not None and verdict.checks:
        out: dict[str, str] = {}
        for check in verdict.checks:
            out[check.cluster] = (out[check.cluster] + "; " if check.cluster in out else "") + \
                f"{check.gate}: {check.state}: {check.reason}"
        return out
    out = _per_cluster(record_lines)
    for part in reason.split("; ")[1:]:
        cluster, _, said = part.partition(": ")
        if cluster in wave.clusters and said:
            out.setdefault(cluster, f"failed: {said}")
    return out


def _gate_names(wave) -> list[str]:
    return [next(iter(type(g).model_fields)) for g in wave.gates]


def wave_section(page: Page, wave, row: dict, open_all: bool) -> str:
    ws = page.state.wave(wave.number)
    status = row["status"]
    verify, halt, revert = (page.records.get(c or "") for c in (ws.verify_commit, ws.halt_commit, ws.revert_commit))
    evidence, halt_lines = _evidence(verify), _evidence(halt)
    reason = _reason(revert)
    checks = _checks(page, wave, evidence + halt_lines, reason)
    pins = [pin_state(page, wave, ws, c) for c in wave.clusters]
    at = sum(1 for kind, _ in pins if kind == "ok")
    counts = clusters_of(wave, ws) + (f" · {at} at {page.plan.revision}" if ws.advance_commit else "")
    unavailable = sum(1 for c in wave.clusters if c in getattr(page.plan, "down", {}))
    if unavailable:
        counts += f" · {unavailable} unavailable"
    after = ", ".join(f'<a href="#wave-{n}">wave {n}</a>' for n in wave.after) or "nothing"
    facts = [f"<dt>after</dt><dd>{after}</dd>",
             f"<dt>bake</dt><dd>{_took(wave.bake_seconds) if wave.bake_seconds else 'none'}</dd>",
             f"<dt>gates</dt><dd>{_e(', '.join(_gate_names(wave)) or 'none: passes when its bake is over')}</dd>"]
    for shared in wave.shared:  # one field moves these clusters at once (docs/policy.md)
        facts.append(f"<dt>pinned together</dt><dd>{_e(', '.join(shared.clusters))}: one field, "
                     f"<code>{_e(shared.file)}</code> <code>{_e(shared.field)}</code></dd>")
    if wave.approval:
        facts.append(f"<dt>approval</dt><dd>{_e(wave.approval)}: "
                     f"{'approved by ' + _e(ws.approved_by) if ws.approved_by else 'not approved yet'}</dd>")
    if wave.windows and page.hold is not None and ws.status == "pending" and not wave.empty:
        facts.append(f"<dt>change window</dt><dd>{_e(page.hold.window(wave).describe())}</dd>")
    if ws.proposal is not None:
        branch = ws.proposal.branch
        url = page.links.branch(branch) if page.links is not None and branch else None
        shown = f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(branch)}</a>' if url else _e(ws.proposal.describe())
        facts.append(f"<dt>proposed in</dt><dd>{shown}</dd>")
    story = []
    if ws.advance_commit:
        story.append(f"<li>advanced {_when(ws.advanced_at)} {_commit(page, ws.advance_commit)}"
                     f"{_request(page, ws.advance_commit)}</li>")
        baked = ws.advanced_at + wave.bake_seconds
        if wave.bake_seconds:
            if ws.reverted_at and ws.reverted_at < baked:
                story.append(f"<li>bake of {_took(wave.bake_seconds)} cut short by the revert</li>")
            else:
                story.append(f"<li>bake over {_when(baked)} ({_took(wave.bake_seconds)})</li>" if baked <= page.now
                             else f"<li>baking: {_took(ws.bake_remaining)} left, until {_when(baked)}</li>")
    if ws.approved_by:
        story.append(f"<li>approved by {_e(ws.approved_by)}</li>")
    if ws.verify_commit:
        story.append(f"<li>passed its gates {_when(ws.verified_at)}, {_took(ws.verified_at - ws.advanced_at)} after "
                     f"the advance: recorded {_commit(page, ws.verify_commit)}</li>")
    if ws.halt_commit:
        story.append(f"<li><strong>halted</strong> {_commit(page, ws.halt_commit)}: {_e(ws.halt_reason or '')}</li>")
    if ws.revert_commit:
        story.append(f"<li><strong>reverted</strong> {_when(ws.reverted_at)}"
                     f"{', ' + _took(ws.reverted_at - ws.advanced_at) + ' after the advance' if ws.advanced_at else ''}"
                     f" {_commit(page, ws.revert_commit)}{_request(page, ws.revert_commit)}"
                     + (f': <span class="reason">{_e(reason)}</span>' if reason else "") + "</li>")
    parts = [f'<dl class="facts">{"".join(facts)}</dl>']
    if row["why"]:
        parts.append(f'<p class="why">{_e(row["why"])}</p>')
    if story:
        parts.append(f'<h4>Timeline</h4><ol class="story">{"".join(story)}</ol>')
    if evidence:
        parts.append(f'<h4>Gate evidence</h4><pre class="evidence">{_e(chr(10).join(evidence))}</pre>')
    if halt_lines:
        parts.append(f'<h4>Halt evidence</h4><pre class="evidence">{_e(chr(10).join(halt_lines))}</pre>')
    down = getattr(page.plan, "down", {})
    if wave.clusters:
        judged = page.kind == "status" and bool(wave.gates or checks)  # a column for what the gates said
        rows = []
        for cluster, (kind, words) in zip(wave.clusters, pins):
            files = ", ".join(t.file for t in page.plan.pins.get(cluster, ()))
            gates = f"<td>{_e(checks.get(cluster, ''))}</td>" if judged else ""
            mark = ' <span class="down">(down)</span>' if cluster in down else ""  # as the text table marks it
            rows.append(f'<tr><th scope="row">{_e(cluster)}{mark}</th><td class="pin {kind}">{_e(words)}</td>'
                        f'<td>{_e(files)}</td>{gates}</tr>')
        gates = '<th scope="col">gates</th>' if judged else ""
        parts.append(f'<div class="scroll"><table class="clusters"><caption>Clusters of wave {wave.number} '
                     f'{_e(wave.name)}</caption><thead><tr><th scope="col">cluster</th><th scope="col">pin</th>'
                     f'<th scope="col">files</th>{gates}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')
    else:
        parts.append("<p>No cluster matches this wave: it passes once what it waits for has.</p>")
    opened = " open" if open_all or (status in ATTENTION and len(wave.clusters) <= 100) else ""
    return (f'<details class="wave" id="wave-{wave.number}" data-status="{_e(status)}"{opened}>'
            f'<summary><h3><span class="num">{wave.number}</span> <span class="name">{_e(wave.name)}</span> '
            f'{badge(status)} <span class="count">{_e(counts)}</span></h3></summary>'
            f'<div class="body">{"".join(parts)}</div></details>')


# --- the page -------------------------------------------------------------------------

CSS = """
:root{color-scheme:light;--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:1200px;margin:0 auto;padding:0 16px}
header{padding-top:12px}
h1{font-size:1.45rem;margin:.4em 0;overflow-wrap:anywhere}
h1 code{font-size:1.3rem}
h2{font-size:1.2rem;margin:1.6em 0 .5em;border-bottom:1px solid var(--line);padding-bottom:.2em}
h3{font-size:1rem;margin:0;display:inline;font-weight:600}
h4{font-size:.95rem;margin:1em 0 .3em}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
a{color:#0969da}
.meta{color:var(--muted);margin:.2em 0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.4em 0;min-width:100%}
caption{text-align:left;color:var(--muted);font-size:.9em;padding:.2em 0}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:var(--soft);font-weight:600}
tbody th{font-weight:500;overflow-wrap:anywhere}
td{overflow-wrap:anywhere}
table.times{min-width:600px}
table.times th,table.times td{overflow-wrap:normal}
.badge{display:inline-block;border:1px solid;border-radius:10px;padding:0 8px;font-size:.85em;font-weight:600;
  white-space:nowrap;color:#24292f}
.counts{display:flex;flex-wrap:wrap;gap:6px 14px;list-style:none;padding:0;margin:.5em 0}
.counts li{white-space:nowrap}
.alert{border:2px solid #cf222e;background:#ffebe9;border-radius:6px;padding:6px 12px;margin:.6em 0}
.alert.hold{border-color:#bf8700;background:#fff8c5}
.alert p{margin:.3em 0;overflow-wrap:anywhere}
figure{margin:.5em 0}
figcaption{color:var(--muted);font-size:.9em}
svg text{font:12px system-ui,sans-serif;fill:#24292f}
svg text.n{font-weight:600}
svg text.t{fill:#57606a}
svg a:focus rect,svg a:hover rect{stroke-width:3}
details.wave{border:1px solid var(--line);border-radius:6px;margin:6px 0}
details.wave>summary{cursor:pointer;padding:6px 10px;background:var(--soft);border-radius:6px;list-style-position:inside}
details.wave[open]>summary{border-bottom:1px solid var(--line);border-radius:6px 6px 0 0}
details.wave .body{padding:4px 12px 10px}
.num{display:inline-block;min-width:2ch;color:var(--muted)}
.name{overflow-wrap:anywhere}
.count{font-weight:400;color:var(--muted);font-size:.9em}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.5em 0}
.facts dt{color:var(--muted)}
.facts dd{margin:0;overflow-wrap:anywhere}
.story{padding-left:1.4em;margin:.3em 0}
.reason{font-weight:600}
pre.evidence{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:6px 10px;white-space:pre-wrap;
  overflow-wrap:anywhere;margin:.3em 0}
.pin.ok::before{content:"✓ ";color:#1a7f37}
.pin.warn::before{content:"! ";color:#9a6700;font-weight:700}
.pin.bad::before{content:"↩ ";color:#8250df}
.pin.todo::before{content:"○ ";color:#57606a}
.pin.down::before{content:"⚠ ";color:#cf222e}
.down{color:#cf222e;font-weight:600}
#filter{position:sticky;top:0;background:var(--bg);padding:8px 0;z-index:1;display:flex;flex-wrap:wrap;gap:4px 12px;align-items:center}
#filter[hidden]{display:none}
#filter input{font:inherit;padding:4px 8px;width:min(28em,100%);border:1px solid #8c959f;border-radius:6px}
#matches{color:var(--muted)}
footer{color:var(--muted);font-size:.85em;padding-bottom:24px}
@media (max-width:600px){body{font-size:14px}header,main,footer{padding:0 10px}
  .facts{grid-template-columns:1fr}.facts dd{margin-bottom:4px}
  table.times th:nth-child(1),table.times td:nth-child(1){display:none}}
"""

SCRIPT = """
(function(){
var box=document.getElementById('filter'),input=document.getElementById('q'),out=document.getElementById('matches');
var waves=Array.prototype.slice.call(document.querySelectorAll('details.wave'));
var opened=waves.map(function(d){return d.open;});
box.hidden=false;
input.addEventListener('input',function(){
  var q=input.value.trim().toLowerCase(),clusters=0,shown=0;
  waves.forEach(function(d,i){
    var title=d.querySelector('summary').textContent.toLowerCase(),whole=!q||title.indexOf(q)>=0,any=false;
    d.querySelectorAll('tbody tr').forEach(function(tr){
      var hit=whole||tr.firstElementChild.textContent.toLowerCase().indexOf(q)>=0;
      tr.hidden=!hit;if(hit){any=true;clusters++;}
    });
    d.hidden=!(whole||any);if(!d.hidden)shown++;
    d.open=q?(any||d.open&&whole):opened[i];
  });
  out.textContent=q?clusters+' cluster'+(clusters==1?'':'s')+' in '+shown+' wave'+(shown==1?'':'s')+' match':'';
});
})();
"""


def _status_css() -> str:
    """A class per status from status_graph's palette (the mermaid picture's colours), and
    `s-other` for a status it does not know yet."""
    out = []
    for status, style in [*STYLES.items(), ("other", OTHER)]:
        parts = dict(part.split(":", 1) for part in style.split(","))
        dashed = "border-style:dashed;" if "stroke-dasharray" in parts else ""
        out.append(f".s-{status}{{background:{parts['fill']};border-color:{parts['stroke']};{dashed}}}")
    return "\n".join(out) + "\n"


CSS += _status_css()


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (f"default-src 'none'; style-src {_hash(CSS)}; script-src {_hash(SCRIPT)}; "
       "base-uri 'none'; form-action 'none'")


def _attention(page: Page) -> str:
    """What a person must know first: the inventory unread, halts, reverts, what spec.trust
    holds, pauses."""
    state, out = page.state, []
    if state.partial:
        from rollout.render.status import unread

        said = unread(state)
        out.append(f"<p><strong>The inventory could not be read</strong> ({_e(said['reason'])}): shown are "
                   f"{_e(said['shown'])}; not shown: {_e(', '.join(said['notShown']))}.</p>")
    for ws in state.waves:
        if ws.revert_commit and ws.status == "reverted":
            reason = _reason(page.records.get(ws.revert_commit))
            out.append(f'<p><strong>Wave {ws.number} {_e(ws.name)} was reverted</strong> {_when(ws.reverted_at)} '
                       f'{_commit(page, ws.revert_commit)}' + (f': <span class="reason">{_e(reason)}</span>' if reason
                                                               else "") + "</p>")
    for ws in state.halts:
        out.append(f"<p><strong>Halted at wave {ws.number} {_e(ws.name)}</strong> {_commit(page, ws.halt_commit)}: "
                   f"{_e(ws.halt_reason or '')}. Nothing starts until a person lifts it (<code>rollout resume "
                   f"{_e(state.policy)} --halt</code>), reverts or retries.</p>")
    out += [f"<p><strong>Halted by spec.trust:</strong> {_e(b.line())}</p>" for b in state.blocked]
    out += [f"<p><strong>Off the revision since pinned:</strong> {_e(line)}</p>" for line in off_lines(state)]
    for verdict in page.verdicts.values():
        if verdict.state in ("failed", "unknown") and state.wave(verdict.number).status in ("baking", "verifying"):
            out.append(f"<p><strong>Wave {verdict.number} {_e(verdict.name)}: {_e(verdict.state)}</strong>: "
                       f"{_e(verdict.reason)}</p>")
    alerts = f'<div class="alert" role="alert">{"".join(out)}</div>' if out else ""
    holds = [f"<p><strong>Paused</strong>: {_e(p.describe())}</p>" for p in (page.hold.pauses if page.hold else [])]
    holds += [f"<p>ignored: {_e(i.line())}</p>" for i in (page.hold.ignored if page.hold else [])]
    if holds:
        alerts += f'<div class="alert hold">{"".join(holds)}</div>'
    return alerts


def _controls(page: Page) -> str:
    """Change windows of the waves still to start, approvals, records that did not count."""
    items = []
    if page.hold is not None:
        from rollout.render.controls import controls

        for window in controls(page.plan, page.hold, page.state)["windows"]:
            wave = page.plan.wave(window["wave"])
            items.append(f'<li><a href="#wave-{wave.number}">wave {wave.number} {_e(wave.name)}</a>: '
                         f'{_e(page.hold.window(wave).describe())}</li>')
    for wave in page.plan.waves:
        ws = page.state.wave(wave.number)
        if wave.approval and not wave.empty:
            who = f"approved by {_e(ws.approved_by)}" if ws.approved_by else "<strong>not approved yet</strong>"
            items.append(f'<li><a href="#wave-{wave.number}">wave {wave.number} {_e(wave.name)}</a> needs approval '
                         f'({_e(wave.approval)}): {who}</li>')
    if page.kind == "status":
        from rollout.render.trust import trust_lines

        items += [f"<li>{_e(line)}</li>" for line in trust_lines(page.state, blocked=False)]
    items += [f"<li>warning: {_e(p.message)}</li>" for p in page.warnings]
    if not items:
        return ""
    return f'<section aria-labelledby="h-controls"><h2 id="h-controls">Change windows, approvals and records</h2>' \
           f'<ul>{"".join(items)}</ul></section>'


def _history(page: Page) -> str:
    earlier = [e for e in reversed(page.state.epochs) if e.number != page.state.epoch]
    if not earlier:
        return ""
    rows = "".join(f"<tr><td>{e.number}</td><th scope=\"row\"><code>{_e(e.revision)}</code></th>"
                   f"<td>{_when(e.started)}</td><td>{_commit(page, e.commit)}</td>"
                   f"<td>{'reverted' if e.reverted else 'not reverted'}{', a retry' if e.retried else ''}</td></tr>"
                   for e in earlier)
    return ('<section aria-labelledby="h-history"><h2 id="h-history">Earlier rollouts of this policy</h2>'
            '<div class="scroll"><table><caption>Earlier epochs, newest first</caption><thead><tr>'
            '<th scope="col">epoch</th><th scope="col">revision</th><th scope="col">started</th>'
            '<th scope="col">first commit</th><th scope="col">outcome</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div></section>")


def render(page: Page) -> str:
    plan, state = page.plan, page.state
    rows = {r["number"]: r for r in wave_rows(plan, state, page.verdicts)}
    statuses = {n: r["status"] for n, r in rows.items()}
    overall = "plan" if page.kind == "plan" else state.overall
    clusters = sum(len(w.clusters) for w in plan.waves)
    title = (f"Rollout plan {plan.policy} → {plan.revision}" if page.kind == "plan"
             else f"Rollout {plan.policy} → {plan.revision}: {overall}")
    tally: dict[str, int] = {}
    for status in statuses.values():
        tally[status] = tally.get(status, 0) + 1
    at = sum(len(w.clusters) - len(state.wave(w.number).clusters_behind) for w in plan.waves
             if state.wave(w.number).status in ("baking", "verifying", "passed"))
    counts = [f"<li><strong>{count(clusters, 'cluster')}</strong> in {count(len(plan.waves), 'wave')}</li>"]
    if page.kind == "status":
        counts.append(f"<li><strong>{at}</strong> at {_e(plan.revision)}</li>")
    counts += [f"<li>{badge(s)} {n}</li>" for s, n in sorted(tally.items(), key=lambda kv: -kv[1])]
    down = getattr(plan, "down", {})
    if down:  # as the text table says it: how many, and what spec.unavailable does with them
        from waves.state import down_list

        policy = getattr(plan, "unavailable", "skip")
        counts.append(f'<li class="down" title="{_e(down_list(down))}"><strong>{len(down)}</strong> unavailable '
                      f'(spec.unavailable: {_e(policy)}: {_e(_UNAVAILABLE_ALL[policy])})</li>')
    heading = (f"<h1>Rollout plan <code>{_e(plan.policy)}</code> → <code>{_e(plan.revision)}</code></h1>"
               if page.kind == "plan" else
               f"<h1>Rollout <code>{_e(plan.policy)}</code> → <code>{_e(plan.revision)}</code>: {badge(overall)}</h1>")
    meta = f"as of {_when(page.now)} UTC"
    if page.kind == "status":
        epoch = next((e for e in state.epochs if e.number == state.epoch), None)
        meta += f" · epoch {state.epoch}" + (f", started {_when(epoch.started)}" if epoch else ", not started yet")
    open_all = clusters <= OPEN_UP_TO
    sections = [
        f'<section aria-labelledby="h-dag"><h2 id="h-dag">Waves</h2><figure><div class="scroll">'
        f'{dag_svg(plan, statuses, state)}</div><figcaption>Each box is a wave, labelled with its number, name, status and '
        f'clusters; an arrow points to the waves that wait for it. Select a box to go to its wave.</figcaption>'
        f'</figure></section>',
    ]
    if page.kind == "status":
        sections.append(f'<section aria-labelledby="h-time"><h2 id="h-time">Timeline</h2>'
                        f'<div class="scroll">{timeline_svg(page, statuses)}</div>{timeline_rows(page, statuses)}'
                        f'</section>')
    sections.append(_controls(page))
    sections.append(
        '<section aria-labelledby="h-waves"><h2 id="h-waves">Clusters by wave</h2>'
        '<div id="filter" role="search" hidden><label for="q">Filter clusters and waves</label>'
        '<input id="q" type="search" placeholder="cluster, wave or status" autocomplete="off">'
        '<output id="matches" for="q" aria-live="polite"></output></div>'
        + "".join(wave_section(page, w, rows[w.number], open_all) for w in plan.waves) + "</section>")
    if page.kind == "status":
        sections.append(_history(page))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f'<header>{heading}<p class="meta">{meta}</p><ul class="counts">{"".join(counts)}</ul>'
        f"{_attention(page) if page.kind == 'status' else ''}</header>"
        f'<main>{"".join(sections)}</main>'
        f'<footer><p>Made by <code>rollout {"plan" if page.kind == "plan" else "status"} {_e(plan.policy)} '
        f'--format html</code>. Statuses are those of <code>rollout status</code> (docs/gates.md).</p></footer>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )
