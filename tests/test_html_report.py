"""The report page (rollout/render/html.py) without a browser: escaping, document structure,
statuses from the same model as the table and JSON, its size at 1,000 clusters, the forge
links, and the page written whole. tests/test_html_browser.py loads it in chromium."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from conftest import SEED_POLICY, examples, make_seed_repo
from test_html_browser import PAYLOAD, hostile_page
from waves.state import ADVANCE, APPROVE, HALT, REVERT, VERIFY, Event, fold
from rollout.render.html import CSP, Page, Record, dag_svg, layers, render

T0 = 1_800_000_000
POLICY = "security-patch"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each tag of interest."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "input", "br", "rect", "path", "marker"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        for tag in self.stack[-1:]:
            self.texts.setdefault(tag, []).append(data)

    def all(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def seed_plan(tmp_path: Path, policy: str = SEED_POLICY):
    from rollout.workspace import load_workspace

    return load_workspace(make_seed_repo(tmp_path / "seed", policy=policy).root, POLICY).plan


def underway(plan):
    """Wave 1 passed, 2 baking, 3 reverted with a reason, 4 and 5 pending; wave 2 approved,
    a halt on wave 2: every part of the page has something to show."""
    w = {n: plan.wave(n) for n in (1, 2, 3)}
    events = [Event("1" * 40, T0, ADVANCE, POLICY, plan.revision, w[1].name, tuple(w[1].clusters)),
              Event("2" * 40, T0 + 3600, ADVANCE, POLICY, plan.revision, w[2].name, tuple(w[2].clusters)),
              Event("3" * 40, T0 + 3600, ADVANCE, POLICY, plan.revision, w[3].name, tuple(w[3].clusters)),
              Event("4" * 40, T0 + 3660, APPROVE, POLICY, plan.revision, w[2].name, by="alice@example.com"),
              Event("5" * 40, T0 + 3700, REVERT, POLICY, plan.revision, w[3].name, reason="5xx up"),
              Event("6" * 40, T0 + 3800, HALT, POLICY, plan.revision, w[2].name, reason="cannot see",
                    advance="2" * 40)]
    records = {"5" * 40: Record("rollout(security-patch): revert wave 3 region-us-east (v1.4.2) (#12)",
                                "Reason: 5xx up\n\nRestores ...")}
    return fold(plan, events, T0 + 3900), records


def test_every_text_from_a_user_or_a_record_is_escaped(tmp_path):
    page = render(hostile_page(tmp_path))
    assert PAYLOAD not in page and "<img" not in page
    assert escape(PAYLOAD) in page
    assert page.count("<script") == 1 and "<script>document.title" not in page  # ours only
    assert "&lt;script&gt;document.title=2&lt;/script&gt;" in page


def test_the_document_has_headings_tables_and_every_wave_and_cluster(tmp_path):
    from rollout.render.status import wave_rows

    plan = seed_plan(tmp_path)
    state, records = underway(plan)
    doc = Tags(render(Page(plan, state, T0 + 3900, records=records)))
    # headings in order, none skipped
    levels = [int(t[1]) for t, _ in doc.tags if re.fullmatch(r"h[1-6]", t)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels
    # every table has a caption and column headers
    assert len(doc.all("table")) == len(doc.all("caption")) and doc.all("th", scope="col")
    # each wave: a section with its number, and its status as wave_rows tells it (the table's)
    shown = {a["id"]: a["data-status"] for a in doc.all("details")}
    assert shown == {f"wave-{r['number']}": r["status"] for r in wave_rows(plan, state)}
    assert shown["wave-3"] == "reverted" and shown["wave-2"] == "halted" and shown["wave-1"] == "passed"
    rows = [t for t in doc.texts.get("th", [])]
    for wave in plan.waves:
        for cluster in wave.clusters:
            assert rows.count(cluster) == 1
    text = " ".join(t for texts in doc.texts.values() for t in texts)
    assert "5xx up" in text and "approved by alice@example.com" in text and "cannot see" in text
    # every status shown in words beside its colour
    badges = [a for a in doc.all("span") if a.get("class", "").startswith("badge ")]
    assert len(badges) >= len(plan.waves) and all("s-" in b["class"] for b in badges)


def test_pauses_windows_and_earlier_rollouts_are_shown(tmp_path):
    from waves.holds import Hold
    from waves.pause import Pause
    from rollout.report import plan_page

    windows = ("  onFailure: revert\n  windows:\n    - kind: allow\n      schedule: \"0 9 * * 1-4\"\n"
               "      duration: 6h\n      timeZone: Europe/Berlin\n")
    plan = seed_plan(tmp_path, SEED_POLICY.replace("  onFailure: revert\n", windows))
    earlier = [Event("7" * 40, T0 - 86400, ADVANCE, POLICY, "v1.4.1", "canary", ("dev-us-east",)),
               Event("8" * 40, T0 - 86000, REVERT, POLICY, "v1.4.1", "canary", reason="crashloop")]
    state = fold(plan, earlier, T0)
    hold = Hold(T0, [Pause(POLICY, "bob <b>", T0 - 60, "freeze <b>", "9" * 40)])
    page = render(Page(plan, state, T0, hold=hold))
    assert "<strong>Paused</strong>: paused security-patch by bob &lt;b&gt;" in page and "freeze &lt;b&gt;" in page
    assert "Earlier rollouts of this policy" in page and "<code>v1.4.1</code>" in page and ">reverted</td>" in page
    assert page.count("change window") >= len(plan.waves)  # each pending wave says where its window is
    assert "Europe/Berlin" in page
    shown = render(plan_page(SimpleNamespace(plan=plan, warnings=[]), now=T0))
    assert "Rollout plan <code>security-patch</code>" in shown and "Europe/Berlin" in shown
    assert "Timeline" not in shown and "Earlier rollouts" not in shown


def test_a_verdict_of_this_run_shows_as_the_run_table_shows_it(tmp_path):
    from rollout.gate_check import WaveVerdict

    plan = seed_plan(tmp_path)
    events = [Event("1" * 40, T0, ADVANCE, POLICY, plan.revision, plan.wave(1).name, tuple(plan.wave(1).clusters))]
    state = fold(plan, events, T0 + 60)
    verdict = WaveVerdict(1, plan.wave(1).name, "failed", "1 of 2 clusters failed")
    page = render(Page(plan, state, T0 + 60, verdicts={1: verdict}))
    assert 'id="wave-1" data-status="failed"' in page
    assert "<strong>Wave 1 canary: failed</strong>: 1 of 2 clusters failed" in page


def test_the_csp_allows_exactly_the_inline_style_and_script(tmp_path):
    plan = seed_plan(tmp_path)
    page = render(Page(plan, fold(plan, [], T0), T0))

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    assert f'content="{CSP}"' in page and CSP.startswith("default-src 'none';")
    assert f"style-src {digest(style)};" in CSP and f"script-src {digest(script)};" in CSP
    assert " style=" not in page  # an inline style attribute would be blocked


def test_the_page_at_1000_clusters_in_35_waves_is_small_and_collapsed(tmp_path):
    """bench_html.py's fleet and history, folded here: under 2 MB (the render time is the benchmark's)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench_html import PASSED, POLICY as BIG, REVERTED
    from make_fleet import make
    from rollout.workspace import load_workspace

    root = make(1000, tmp_path / "big")
    (root / "rollouts/big.yaml").write_text(BIG)
    plan = load_workspace(root, "big").plan
    assert len(plan.waves) == 35 and len(plan.targets) == 1000
    events, records, at = [], {}, T0
    for wave in plan.waves[:REVERTED]:
        at += 600
        sha = f"{wave.number:040x}"
        events.append(Event(sha, at, ADVANCE, "big", plan.revision, wave.name, tuple(wave.clusters)))
        if wave.number <= PASSED:
            at += wave.bake_seconds + 60
            events.append(Event(f"f{wave.number:039x}", at, VERIFY, "big", plan.revision, wave.name, advance=sha))
            records[f"f{wave.number:039x}"] = Record("verify", "Gates passed:\n" + "\n".join(
                f"-   {c}: passed: {c}: Synced to {plan.revision} and Healthy" for c in wave.clusters[:20]))
    events.append(Event("e" * 40, at + 60, REVERT, "big", plan.revision, plan.wave(REVERTED).name, reason="5xx"))
    state = fold(plan, events, at + 120)
    page = render(Page(plan, state, at + 120, records=records))
    assert len(page.encode()) < 2_000_000
    doc = Tags(page)
    assert len(doc.all("details")) == 35 and len(doc.texts.get("th", [])) >= 1000
    opened = [a["id"] for a in doc.all("details") if "open" in a]
    assert opened == [f"wave-{REVERTED - 1}", f"wave-{REVERTED}"]  # only what needs a look: verifying, reverted


@st.composite
def dags(draw):
    n = draw(st.integers(1, 40))
    waves = []
    for number in range(1, n + 1):
        after = sorted(draw(st.sets(st.integers(1, number - 1), max_size=4))) if number > 1 else []
        waves.append(SimpleNamespace(number=number, name=f"w{number}", after=after, clusters=["c"] * number))
    return SimpleNamespace(waves=waves)


@settings(max_examples=examples(40))
@given(dags())
def test_each_wave_is_drawn_after_what_it_waits_for_with_one_arrow_per_dependency(plan):
    layer = layers(plan)
    assert all(layer[w.number] > layer[d] for w in plan.waves for d in w.after)
    assert all(layer[w.number] == 0 for w in plan.waves if not w.after)
    svg = dag_svg(plan, {w.number: "pending" for w in plan.waves})
    edges = re.search(r'<g class="edges"[^>]*>(.*?)</g>', svg).group(1)
    assert edges.count("<path ") == sum(len(w.after) for w in plan.waves)
    assert [int(n) for n in re.findall(r'<a href="#wave-(\d+)">', svg)] == [w.number for w in plan.waves]


@pytest.mark.parametrize("remote, provider, commit, request_", [
    ("https://github.com/example-org/fleet-config.git", None,
     "https://github.com/example-org/fleet-config/commit/{sha}", "https://github.com/example-org/fleet-config/pull/7"),
    ("git@github.com:example-org/fleet-config.git", None,
     "https://github.com/example-org/fleet-config/commit/{sha}", "https://github.com/example-org/fleet-config/pull/7"),
    ("https://x-access-token:ghs_SECRET@github.com/o/r.git", None, "https://github.com/o/r/commit/{sha}",
     "https://github.com/o/r/pull/7"),
    ("ssh://git@gitlab.example.com:2222/group/sub/project.git", None,
     "https://gitlab.example.com/group/sub/project/-/commit/{sha}",
     "https://gitlab.example.com/group/sub/project/-/merge_requests/7"),
    ("https://git.example.com/team/fleet.git", "gitlab", "https://git.example.com/team/fleet/-/commit/{sha}",
     "https://git.example.com/team/fleet/-/merge_requests/7"),
])
def test_web_links_come_from_the_remote_without_its_credentials(remote, provider, commit, request_):
    from rollout.delivery.forge import web_links

    sha = "0123456789abcdef0123456789abcdef01234567"
    links = web_links(remote, provider)
    assert links.commit(sha) == commit.format(sha=sha) and links.request(7) == request_
    assert "SECRET" not in links.base and links.commit("not a sha") is None


@pytest.mark.parametrize("remote", ["/srv/git/fleet.git", "file:///srv/git/fleet.git", "../fleet.git",
                                    "http://github.com/o/r.git", "https://git.example.com/team/fleet.git"])
def test_no_links_for_a_local_plain_http_or_unknown_remote(remote):
    from rollout.delivery.forge import web_links

    assert web_links(remote) is None


def test_commits_link_to_the_forge_and_a_merged_request_by_its_number(tmp_path):
    from rollout.delivery.forge import web_links

    plan = seed_plan(tmp_path)
    state, records = underway(plan)
    page = render(Page(plan, state, T0 + 3900, records=records, links=web_links("git@github.com:o/r.git")))
    assert f'<a href="https://github.com/o/r/commit/{"5" * 40}" rel="noopener noreferrer"><code>555555555555' in page
    assert 'via <a href="https://github.com/o/r/pull/12" rel="noopener noreferrer">#12</a>' in page


def test_the_report_file_is_replaced_whole(tmp_path):
    from rollout.report import write

    target = tmp_path / "report.html"
    target.write_text("old")
    write(target, "new page")
    assert target.read_text() == "new page" and [p.name for p in tmp_path.iterdir()] == ["report.html"]
    with pytest.raises(OSError):
        write(tmp_path / "missing" / "report.html", "page")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_status_and_plan_print_the_page_and_run_refuses_a_report_path_it_cannot_write(seed_repo):
    from conftest import TEST_GIT_IDENTITY

    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "fleet"]):
        subprocess.run(["git", *args], cwd=seed_repo.root, check=True, capture_output=True,
                       env={**os.environ, **TEST_GIT_IDENTITY})
    status = seed_repo.cli("status", POLICY, "--repo", str(seed_repo.root), "--format", "html")
    assert status.exit_code == 0, status.output
    assert status.stdout.startswith("<!DOCTYPE html>") and "Rollout <code>security-patch</code>" in status.stdout
    assert status.stdout.count('class="wave"') == 5
    plan = seed_repo.cli("plan", POLICY, "--format", "html")
    assert plan.exit_code == 0 and "Rollout plan <code>security-patch</code>" in plan.stdout
    refused = seed_repo.cli("run", POLICY, "--repo", str(seed_repo.root), "--report",
                            str(seed_repo.root / "no-such-folder" / "report.html"))
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        f"rollout: --report {seed_repo.root / 'no-such-folder' / 'report.html'}: its folder does not exist"]


def test_unavailable_clusters_are_marked_with_their_reason_as_the_table_and_json_mark_them(tmp_path):
    """The hub's availability on the page: a cluster down before its wave went out is marked
    `(down)` with the reason and what spec.unavailable does with it; one left out of its
    advance says it joins late; one pinned and down since stays at the revision, judged."""
    from dataclasses import replace

    from rollout.render.status import state_dict
    from rollout.report import plan_page

    plan = seed_plan(tmp_path)
    canary, later = plan.wave(1), plan.wave(len(plan.waves))
    left, pinned, pending = canary.clusters[0], canary.clusters[1], later.clusters[0]
    down = {left: "ManagedClusterConditionAvailable is Unknown <lease>", pinned: "lease expired",
            pending: "ControlPlaneHealthy is False"}
    plan = replace(plan, down=down)
    text = render(plan_page(SimpleNamespace(plan=plan, warnings=[]), now=T0))
    shown = Tags(text)
    marked = {c for c in plan.wave_of if f'<th scope="row">{c} <span class="down">(down)</span></th>' in text}
    assert marked == set(down) and shown.texts["span"].count("(down)") == 3
    cells = " ".join(shown.texts["td"])
    assert f"unavailable: {down[left]}; left out of its wave's advance, pinned as a late join once back" in cells
    assert "<strong>3</strong> unavailable (spec.unavailable: skip: left out of their waves&#x27; advances" in text
    # a status: canary went out without `left` (it joins late), `pinned` went down after its advance
    events = [Event("1" * 40, T0, ADVANCE, POLICY, plan.revision, canary.name, tuple(canary.clusters[1:]))]
    state = fold(plan, events, T0 + 60)
    page = render(Page(plan, state, T0 + 60))
    assert f"unavailable: {escape(down[left])}; not pinned yet: joins late once back" in page
    assert f"at {plan.revision}; unavailable now: lease expired (still judged by its wave&#x27;s gates)" in page
    assert f"unavailable: {down[pending]}; left out of its wave&#x27;s advance" in page
    # the same clusters as the JSON lists them
    listed = {u["cluster"] for w in state_dict(plan, state)["waves"] for u in w["unavailable"]}
    assert listed == set(down) == {c for c in plan.wave_of if f"{c} <span class=\"down\">(down)</span>" in page}
