"""`rollout status --format mermaid|markdown`: the wave DAG coloured by each wave's
folded status, clusters counted; what it emits parses with the real mermaid library
(node + the `mermaid` npm package that .ci/run installs; skipped with the reason
where node is absent or the package could not be installed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROLLOUT, missing
from rollout.render.status_graph import STYLES, mermaid, style_class

HOUR = 3600
T0 = 1_800_000_000
MERMAID_DIR = Path(os.environ.get("ROLLOUT_MERMAID_DIR") or Path.home() / ".cache" / "rollout-ci" / "node")
PARSER = Path(__file__).resolve().parent / "mermaid_parse.mjs"


def rollout(cwd: Path, *args: str, now: int) -> subprocess.CompletedProcess:
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "ROLLOUT_NOW": str(now)})


@pytest.fixture
def underway(published_seed_repo) -> Path:
    """Wave 1 out and baked, waves 2 and 3 out, wave 3 reverted, 4 and 5 pending."""
    repo = published_seed_repo
    assert rollout(repo, "advance", "security-patch", now=T0).returncode == 0
    assert rollout(repo, "advance", "security-patch", now=T0 + HOUR).returncode == 0
    reverted = rollout(repo, "revert", "security-patch", "--wave", "3", "--reason", "5xx up", now=T0 + HOUR + 60)
    assert reverted.returncode == 0, reverted.stderr
    return repo


def folded(repo: Path, now: int):
    from rollout.status import status

    return status(repo, "security-patch", now=now)


def nodes(diagram: str) -> dict[int, tuple[str, str]]:
    """wave number -> (label, class) of each node line."""
    found = re.findall(r'^  w(\d+)\["(.*)"\]:::(\w+)$', diagram, flags=re.M)
    return {int(n): (label, cls) for n, label, cls in found}


def test_each_wave_is_coloured_by_its_folded_status_and_its_clusters_counted(underway):
    now = T0 + HOUR + 120
    ws, state = folded(underway, now)
    result = rollout(underway, "status", "security-patch", "--format", "mermaid", now=now)
    assert result.returncode == 0, result.stderr
    drawn = nodes(result.stdout)
    assert sorted(drawn) == [1, 2, 3, 4, 5]
    for wave in ws.plan.waves:
        label, cls = drawn[wave.number]
        status = state.wave(wave.number).status
        assert cls == style_class(status) and f"<b>{status}</b>" in label
        clusters = len(wave.clusters)
        assert f"{clusters} cluster{'s' if clusters != 1 else ''}" in label
    assert drawn[3][1] == "s_reverted" and drawn[4][1] == drawn[5][1] == "s_pending"
    assert {"  w1 --> w2", "  w1 --> w3", "  w2 --> w4", "  w3 --> w4", "  w4 --> w5"} <= set(result.stdout.splitlines())
    for cls in {c for _, c in drawn.values()}:  # every class used is defined
        assert f"  classDef {cls} " in result.stdout


def test_a_status_the_renderer_does_not_know_gets_the_neutral_style(seed_repo):
    from waves.state import fold
    from rollout.workspace import load_workspace

    plan = load_workspace(seed_repo.root, "security-patch").plan
    state = fold(plan, [], T0)
    state.waves[0].status = "verifying"
    state.waves[1].status = "some-future-state"
    drawn = nodes(mermaid(plan, state))
    assert drawn[1][1] == "s_verifying" and drawn[2][1] == "s_other" and style_class("nonsense") == "s_other"
    from rollout.render.status import COLOURS

    assert set(COLOURS) <= set(STYLES)  # every status a view can show has its colour in the picture


def test_markdown_has_the_table_and_the_diagram(underway):
    now = T0 + HOUR + 120
    result = rollout(underway, "status", "security-patch", "--format", "markdown", now=now)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("### Rollout `security-patch` → `v1.4.2`: **")
    assert "| 3 | region-us-east | reverted | 1 |" in text and "| 5 | production/2 | pending | 1 | — |" in text
    block = text.split("```mermaid\n", 1)[1].split("\n```", 1)[0]
    assert block == rollout(underway, "status", "security-patch", "--format", "mermaid", now=now).stdout.rstrip("\n")


def _parse_with_mermaid(texts: list[str], tmp_path: Path) -> list[dict]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the mermaid parse check needs node and the mermaid npm package")
    if not (MERMAID_DIR / "node_modules" / "mermaid").is_dir():
        missing("mermaid", f"the mermaid npm package is not installed under {MERMAID_DIR} (bash .ci/run installs it)")
    diagrams = tmp_path / "diagrams.json"
    diagrams.write_text(json.dumps(texts))
    out = subprocess.run(["node", "--input-type=module", "-e", PARSER.read_text(), str(diagrams)], cwd=MERMAID_DIR,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_what_it_emits_parses_with_the_real_mermaid_library(underway, tmp_path):
    from waves.state import fold
    from rollout.workspace import load_workspace

    now = T0 + HOUR + 120
    status_diagram = rollout(underway, "status", "security-patch", "--format", "mermaid", now=now).stdout
    markdown = rollout(underway, "status", "security-patch", "--format", "markdown", now=now).stdout
    plan_diagram = rollout(underway, "plan", "security-patch", "--format", "mermaid", now=now).stdout
    texts = [status_diagram, markdown.split("```mermaid\n", 1)[1].split("\n```", 1)[0], plan_diagram]
    # every style and an unknown status, five waves at a time, and a name that needs escaping
    plan = load_workspace(underway, "security-patch").plan
    plan.waves[0].name = 'canary "<b>&'
    statuses = [*STYLES, "from-the-future"]
    for first in range(0, len(statuses), len(plan.waves)):
        state = fold(plan, [], now)
        for wave, status in zip(state.waves, statuses[first:first + len(plan.waves)]):
            wave.status = status
        texts.append(mermaid(plan, state))
    texts.append("flowchart LR\n  w1 --> -->")  # proves the check can fail
    verdicts = _parse_with_mermaid(texts, tmp_path)
    assert [v["ok"] for v in verdicts] == [True] * (len(texts) - 1) + [False], verdicts
    assert {v.get("type") for v in verdicts[:-1]} == {"flowchart-v2"}
