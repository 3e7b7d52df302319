"""The report page (`rollout status --format html`) in a real browser: Debian's `chromium`,
headless, one launch for the module (tests/browser.py; .ci/run installs it where it can,
and the tests skip saying why where it cannot).

The rollout shown is the demo's (examples/fleet-config, the production cluster prod-us-east
degraded and its wave reverted with the demo's reason), made in a second with the real
`advance` and `revert` under a pinned clock and commit dates, and the gates' passes recorded
as `rollout run` writes them (rollout.git.history.verify_message)."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

import browser as chromium
from conftest import missing
from rollout.render.html import Page, Record, render

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fleet-config"
POLICY = "security-patch"
T0 = 1_800_000_000
REASON = ('gate failed: 1 of 1 clusters failed (maxFailures 0); prod-us-east: argocd: prod-us-east-platform: '
          'health Degraded at v1.4.2: Deployment "app" exceeded its progress deadline')
IDENTITY = {"GIT_AUTHOR_NAME": "rollout demo", "GIT_AUTHOR_EMAIL": "demo@rollout.invalid",
            "GIT_COMMITTER_NAME": "rollout demo", "GIT_COMMITTER_EMAIL": "demo@rollout.invalid"}


def git(cwd: Path, *args: str, input: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, input=input).stdout


@contextmanager
def committing_at(ts: int):
    """Commits made inside are dated `ts` (their time is what the fold reads)."""
    keys = {**IDENTITY, "GIT_COMMITTER_DATE": f"{ts} +0000", "GIT_AUTHOR_DATE": f"{ts} +0000"}
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def demo_rollout(root: Path) -> Path:
    """examples/fleet-config rolled out as the demo does, wave 5 production/2 reverted."""
    import shutil

    from rollout.advance import advance
    from rollout.git.history import policy_digest, verify_message
    from rollout.revert import revert
    from rollout.workspace import load_workspace

    repo = root / "fleet-config"
    shutil.copytree(EXAMPLE, repo)
    with committing_at(T0 - 60):
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "fleet-config")
    plan = load_workspace(repo, POLICY).plan
    digest = policy_digest((repo / f"rollouts/{POLICY}.yaml").read_text())

    def verify(number: int, at: int) -> None:
        wave = plan.wave(number)
        advanced = git(repo, "log", "-1", "--format=%H", f"--grep=wave {number} {wave.name} ->", "--fixed-strings").strip()
        evidence = [f"argocd: {len(wave.clusters)} of {len(wave.clusters)} clusters passed"] + [
            f"  {c}: passed: {c}-platform: Synced to v1.4.2 and Healthy" for c in wave.clusters]
        with committing_at(at):
            git(repo, "commit", "-q", "--allow-empty", "-F", "-", input=verify_message(
                POLICY, plan.revision, number, wave.name, evidence, digest, advance=advanced))

    steps = [(T0, None), (T0 + 31 * 60, [1]), (T0 + 92 * 60, [2, 3]), (T0 + 95 * 60, [4])]
    for at, passed in steps:
        for number in passed or ():
            verify(number, at - 30)
        with committing_at(at):
            advance(repo, POLICY, push=False, now=at)
    with committing_at(T0 + 99 * 60):
        revert(repo, POLICY, "5", False, REASON, push=False, now=T0 + 99 * 60)
    return repo


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """The demo rollout's page (as `rollout status --format html` prints it), and a page
    whose every user-given text is markup."""
    from rollout.report import status_page

    root = tmp_path_factory.mktemp("html")
    repo = demo_rollout(root)
    demo = root / "demo.html"
    demo.write_text(render(status_page(repo, POLICY, now=T0 + 2 * 3600)))
    hostile = root / "hostile.html"
    hostile.write_text(render(hostile_page(root / "hostile")))
    leaky = root / "leaky.html"  # no CSP: the network log must see its request
    leaky.write_text('<!DOCTYPE html><html><body><img src="https://example.invalid/pixel.png" alt=""></body></html>')
    return {"demo": demo, "hostile": hostile, "leaky": leaky, "repo": repo}


PAYLOAD = '<img src=x onerror="document.title=1">'


def hostile_page(root: Path) -> Page:
    """A revision, a revert reason, an approver and a record's body that are markup (cluster
    and wave names cannot be: they are DNS-like), folded from events made here by
    waves/state.py's fold."""
    from waves.state import ADVANCE, APPROVE, REVERT, Event, fold
    from rollout.workspace import load_workspace
    from conftest import SEED_POLICY, make_seed_repo

    policy = SEED_POLICY.replace("revision: v1.4.2", f"revision: 'v1.4.2{PAYLOAD}'")
    plan = load_workspace(make_seed_repo(root, policy=policy).root, POLICY).plan
    assert plan is not None and plan.revision.endswith(PAYLOAD)
    canary = plan.wave(1)
    events = [Event("a" * 40, T0, ADVANCE, POLICY, plan.revision, canary.name, tuple(canary.clusters)),
              Event("c" * 40, T0 + 30, APPROVE, POLICY, plan.revision, canary.name, by=PAYLOAD),
              Event("b" * 40, T0 + 60, REVERT, POLICY, plan.revision, canary.name, reason=PAYLOAD)]
    # a cluster the hub says is down, its reason markup (a condition's message is the hub's text)
    plan = replace(plan, down={plan.wave(2).clusters[0]: f"ControlPlaneHealthy is False: {PAYLOAD}"})
    state = fold(plan, events, T0 + 120)
    records = {"b" * 40: Record("revert", f"Reason: {PAYLOAD}</span></pre><script>document.title=2</script>")}
    return Page(plan, state, T0 + 120, records=records)


@pytest.fixture(scope="module")
def browser():
    path = chromium.binary()
    if path is None:
        missing("chromium", "chromium is not installed (Debian: apt-get install chromium; .ci/run installs it when "
                            "run as root)")
    tab = chromium.Browser(path)
    yield tab
    tab.close()


def dom(tab, expression: str):
    return tab.evaluate(f"(() => {{ {expression} }})()")


def test_the_demo_rollout_in_the_browser_has_every_wave_cluster_and_the_revert_reason(pages, browser):
    from rollout.workspace import load_workspace

    plan = load_workspace(pages["repo"], POLICY).plan
    browser.open(pages["demo"], width=1280)
    waves = dom(browser, "return [...document.querySelectorAll('details.wave')].map(d => "
                         "[d.id, d.dataset.status, d.querySelector('summary .name').textContent])")
    assert waves == [[f"wave-{w.number}", "reverted" if w.number == 5 else "passed", w.name] for w in plan.waves]
    rows = dom(browser, "return [...document.querySelectorAll('table.clusters tbody th[scope=row]')]"
                        ".map(th => th.textContent)")
    assert sorted(rows) == sorted(c for w in plan.waves for c in w.clusters) and len(rows) == 6
    text = dom(browser, "return document.body.innerText")
    assert REASON in text  # the alert at the top and wave 5's timeline
    assert dom(browser, "return document.querySelector('#wave-5 .pin').textContent") == "reverted to its previous pin"
    assert dom(browser, "return document.querySelector('#wave-5 .pin').nextElementSibling.nextElementSibling"
                        ".textContent") == "failed: " + REASON.split("; prod-us-east: ")[1]  # its gates, from the reason
    assert dom(browser, "return document.querySelectorAll('svg.dag a').length") == 5  # every wave drawn
    # nothing but the page itself was requested; the CSP let its style and script run and blocked nothing
    assert browser.requests == [pages["demo"].resolve().as_uri()]
    assert browser.console == []
    assert dom(browser, "return document.getElementById('filter').hidden") is False  # the script ran
    assert dom(browser, "return getComputedStyle(document.querySelector('.badge.s-reverted')).borderTopStyle") \
        == "solid"  # the stylesheet applied


def test_what_a_screen_reader_gets_headings_links_tables_and_the_filter(pages, browser):
    """Chromium's accessibility tree of the demo's page: the statuses in words, not colour."""
    browser.open(pages["demo"], width=1280)
    named: dict[str, list] = {}
    for node in browser.call("Accessibility.getFullAXTree", session=True)["nodes"]:
        if not node.get("ignored"):
            named.setdefault(node.get("role", {}).get("value"), []).append(node.get("name", {}).get("value"))
    assert named["heading"][:2] == ["Rollout security-patch → v1.4.2: reverted", "Waves"]
    assert "5 production/2 reverted 1 cluster · 0 at v1.4.2" in named["heading"]  # each wave's, status in words
    assert "wave 5 production/2: reverted, 1 cluster" in named["link"]  # its box in the DAG
    assert {"dev-us-east", "prod-us-east"} <= set(named["rowheader"]) and "cluster" in named["columnheader"]
    assert "Clusters of wave 5 production/2" in named["table"]
    assert named["searchbox"] == ["Filter clusters and waves"]


def test_the_network_log_sees_a_request_when_a_page_makes_one(pages, browser):
    """The check above can fail: a page that loads an image from elsewhere shows in the log."""
    browser.open(pages["leaky"], width=800)
    assert "https://example.invalid/pixel.png" in browser.requests


def test_the_page_is_drawn_and_fits_a_desktop_and_a_phone(pages, browser):
    for width in (1280, 390):
        browser.open(pages["demo"], width=width, height=900, mobile=width < 500)
        # what is wider than the screen (the DAG, tables) scrolls in its own box, not the page
        assert dom(browser, "return document.documentElement.scrollWidth") <= width
        shot = browser.call("Page.captureScreenshot", session=True, format="png",
                            clip={"x": 0, "y": 0, "width": width, "height": 900, "scale": 0.25})
        import base64

        w, h, rows = chromium.png_pixels(base64.b64decode(shot["data"]))
        step = 4 if len(rows[0]) == w * 4 else 3
        colours = {row[i:i + 3] for row in rows for i in range(0, len(row), step)}
        inked = sum(1 for row in rows for i in range(0, len(row), step) if row[i:i + 3] != b"\xff\xff\xff")
        assert len(colours) > 20 and inked > w * h // 20, (width, len(colours), inked)  # text, boxes, colours


def test_the_filter_box_shows_only_what_matches(pages, browser):
    browser.open(pages["demo"], width=1280)
    shown = dom(browser, """
        const q = document.getElementById('q');
        q.value = 'prod-us';
        q.dispatchEvent(new Event('input'));
        return [[...document.querySelectorAll('details.wave')].filter(d => !d.hidden).map(d => d.id),
                [...document.querySelectorAll('table.clusters th[scope=row]')].filter(th => !th.closest('tr').hidden
                  && !th.closest('details').hidden).map(th => th.textContent),
                document.getElementById('matches').textContent]""")
    assert shown == [["wave-5"], ["prod-us-east"], "1 cluster in 1 wave match"]


def test_markup_in_names_reasons_and_records_stays_text(pages, browser):
    browser.open(pages["hostile"], width=1280)
    assert dom(browser, "return document.querySelectorAll('img').length") == 0
    assert dom(browser, "return document.scripts.length") == 1  # ours
    assert dom(browser, "return document.title").startswith("Rollout security-patch → v1.4.2<img")
    text = dom(browser, "return document.body.innerText")
    assert f"v1.4.2{PAYLOAD}" in text and f"approved by {PAYLOAD}" in text
    assert f"{PAYLOAD}</span></pre><script>document.title=2</script>" in text  # the revert's reason, as written
    # the unavailable cluster is marked, its reason as text, as the text table and the JSON say it
    down = dom(browser, "const th = document.querySelector('#wave-2 tbody th');"
                        "return [th.textContent, th.nextElementSibling.className, th.nextElementSibling.textContent]")
    assert down[0].endswith(" (down)") and down[1] == "pin down"
    assert down[2].startswith(f"unavailable: ControlPlaneHealthy is False: {PAYLOAD}; left out of its wave's advance")
    assert "1 unavailable (spec.unavailable: skip: " in text
