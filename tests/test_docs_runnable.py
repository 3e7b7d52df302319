"""The docs cannot drift: every code block in README.md and docs/*.md marked runnable
runs, in order, in one shell per document, against a copy of examples/.

Markers (HTML comments, invisible on GitHub), on the line before a fence:

    <!-- doc-test: run -->            the block must exit 0
    <!-- doc-test: run, exit 2 -->    the block must exit 2 (at its first failing command)
    <!-- doc-test: output -->         a plain block: what the previous runnable block printed
                                      (stdout and stderr), line for line; `<commit>`
                                      stands for a commit id
    <!-- doc-test: file PATH -->      the block is the file PATH of this checkout, verbatim

Blocks share the shell: a `cd` or an `export` carries on to the next block. `rollout` on
PATH is this checkout's (the test's Python), whatever the docs' set-up line says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!-- doc-test: (run(?:, exit (\d+))?|output|file (\S+)) -->\s*$")
FENCE = re.compile(r"^```")


@dataclass
class Block:
    line: int  # of the fence, 1-based
    kind: str  # run | output | file
    exit_code: int
    text: str
    file: str | None = None


def blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        marker = MARKER.match(lines[i])
        if marker and i + 1 < len(lines) and FENCE.match(lines[i + 1]):
            end = next(j for j in range(i + 2, len(lines)) if FENCE.match(lines[j]))
            kind = marker.group(1).split(",")[0].split(" ")[0]
            found.append(Block(i + 2, kind, int(marker.group(2) or 0), "\n".join(lines[i + 2:end]), marker.group(3)))
            i = end
        elif marker:
            raise AssertionError(f"{path.name}:{i + 1}: a doc-test marker must be followed by a ``` fence")
        i += 1
    return found


def script(runnable: list[Block], results: Path) -> str:
    """One function per block, run in the same shell: `return` on the first failing
    command (an ERR trap), so later blocks still see the earlier ones' cd and exports."""
    out = ["set -o errtrace -o pipefail"]
    for n, block in enumerate(runnable):
        out += [f"__block_{n}() {{", "trap 'return $?' ERR", block.text, "}",
                f"__block_{n} > {results}/{n}.out 2>&1; echo $? > {results}/{n}.rc; trap - ERR"]
    return "\n".join(out) + "\n"


def documented() -> list[Path]:
    return [path for path in DOCS if any(b.kind in ("run", "file") for b in blocks(path))]


@pytest.mark.parametrize("doc", documented(), ids=lambda p: p.name)
def test_runnable_blocks_do_what_the_doc_says(doc, tmp_path):
    found = blocks(doc)
    runnable = [b for b in found if b.kind == "run"]
    checkout = tmp_path / "checkout"  # stands for a fresh clone: the examples, no .git
    shutil.copytree(ROOT / "examples", checkout / "examples")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "rollout"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m rollout "$@"\n')
    shim.chmod(0o755)
    results = tmp_path / "results"
    results.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "ROLLOUT_", "XDG_"))}
    env.update({"PATH": f"{bin_dir}:{env.get('PATH', '')}", "HOME": str(tmp_path / "home"), "COLUMNS": "200",
                "TMPDIR": str(tmp_path), "GIT_AUTHOR_NAME": "Docs", "GIT_AUTHOR_EMAIL": "docs@example.com",
                "GIT_COMMITTER_NAME": "Docs", "GIT_COMMITTER_EMAIL": "docs@example.com",
                "PYTHONPATH": str(ROOT)})
    (tmp_path / "home").mkdir()
    run = subprocess.run(["bash", "-c", script(runnable, results)], cwd=checkout, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    previous = None
    for block in found:
        if block.kind == "run":
            n = runnable.index(block)
            output = (results / f"{n}.out").read_text()
            code = int((results / f"{n}.rc").read_text())
            assert code == block.exit_code, f"{doc.name}:{block.line}: exit {code}, not {block.exit_code}:\n{output}"
            previous = (block, output)
        elif block.kind == "file":
            assert block.text + "\n" == (ROOT / block.file).read_text(), f"{doc.name}:{block.line}: not {block.file}"
        else:
            assert previous is not None, f"{doc.name}:{block.line}: an output block needs a runnable block before it"
            shown = [line.rstrip() for line in block.text.splitlines()]
            printed = [line.rstrip() for line in previous[1].splitlines()]
            matches = len(shown) == len(printed) and all(
                re.fullmatch(re.escape(want).replace(re.escape("<commit>"), "[0-9a-f]{7,40}"), got)
                for want, got in zip(shown, printed))
            assert matches, f"{doc.name}:{block.line}: the doc shows {shown}, the commands print {printed}"


def test_markers_are_well_formed_and_some_docs_are_runnable():
    assert {p.name for p in documented()} >= {"README.md", "policy.md", "git-engine.md"}
