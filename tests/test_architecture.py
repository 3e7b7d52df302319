"""The layering the code promises: a pure core, and a CLI that starts without its
heavy dependencies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return {name.split(".")[0] for name in out.split()}


def test_waves_never_imports_the_shell_or_io_libraries():
    for path in (ROOT / "waves").rglob("*.py"):
        text = path.read_text()
        assert "import rollout" not in text and "from rollout" not in text, path
    loaded = loaded_after("import waves.planner, waves.policy")
    assert not loaded & {"rollout", "typer", "rich", "yaml", "yaml_rs", "subprocess", "kubernetes", "httpx"}


def test_cli_start_path_skips_heavy_imports():
    loaded = loaded_after("import rollout.cli")
    assert not loaded & {"networkx", "rich", "pydantic", "kubernetes", "yaml", "yaml_rs"}
