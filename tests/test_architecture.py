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


def test_the_engine_run_and_cli_name_no_forge():
    """Deliveries and forges are rooms of their own (rollout/delivery/): the engine, the
    step and the commands reach them through one interface, never by name."""
    import re

    for name in ("engine.py", "run.py", "cli.py"):
        code = (ROOT / "rollout" / name).read_text()
        assert not re.search(r"rollout\.delivery\.(github|gitlab|push|pull_request)|import (github|gitlab)\b|"
                             r"(github|gitlab)\.", code), name
    loaded = loaded_after("import rollout.cli, rollout.engine, rollout.run")
    assert not loaded & {"github", "gitlab", "requests"}
