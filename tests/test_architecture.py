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


def test_the_session_the_commands_the_step_and_cli_name_no_forge():
    """Deliveries and forges are rooms of their own (rollout/delivery/): the session, the
    step and the commands reach them through one interface, never by name."""
    import re

    for name in ("session.py", "advance.py", "revert.py", "approve.py", "status.py", "step.py", "run.py", "cli.py",
                 "pause.py", "halt.py", "retry.py"):
        code = (ROOT / "rollout" / name).read_text()
        assert not re.search(r"rollout\.delivery\.(github|gitlab|push|pull_request)|import (github|gitlab)\b|"
                             r"(github|gitlab)\.", code), name
    loaded = loaded_after("import rollout.cli, rollout.session, rollout.advance, rollout.run")
    assert not loaded & {"github", "gitlab", "requests"}


def module_imports() -> dict[str, set[str]]:
    """Every module of `waves/` and `rollout/` and the modules of these packages it imports,
    imports inside functions included (a function-local import hides a cycle, it does not
    break one)."""
    import ast

    modules = {}
    for root in ("waves", "rollout"):
        for path in (ROOT / root).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    edges[name].add(target)
    return edges


def test_the_import_graph_has_no_cycle():
    import networkx as nx

    graph = nx.DiGraph([(a, b) for a, targets in module_imports().items() for b in targets])
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_a_plan_imports_no_networkx_rich_or_kubernetes():
    """`plan` orders its waves with waves/dag.py: networkx (~0.1 s to import) is a test
    dependency only."""
    example = ROOT / "examples/fleet-config"
    loaded = loaded_after("from pathlib import Path; from rollout.workspace import load_workspace; "
                          f"assert load_workspace(Path({str(example)!r}), 'security-patch').plan")
    assert not loaded & {"networkx", "rich", "kubernetes"}


def test_the_command_looks_for_no_pydantic_plugin():
    """`rollout.cli.main()` runs pydantic without plugins: no `importlib.metadata` import
    nor entry-point scan (~18 ms of every command, docs/performance.md)."""
    example = ROOT / "examples/fleet-config"
    code = ("import sys; from rollout.cli import main; "
            f"sys.argv = ['rollout', 'plan', 'security-patch', '--repo', {str(example)!r}, '--format', 'json']\n"
            "try:\n    main()\nexcept SystemExit as end:\n    assert not end.code, end.code\n"
            "print('\\n'.join(sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert '"policy": "security-patch"' in done.stdout  # the models validated the policy
    loaded = set(done.stderr.split())
    assert "pydantic" in loaded and "importlib.metadata" not in loaded


def test_pydantic_asks_the_stand_in_loader_for_anything_else():
    """A pydantic that wants more of its loader than `get_plugins` gets the real module
    (loaded then), and still no plugins."""
    code = ("from rollout import pydantic_plugins; pydantic_plugins.skip()\n"
            "import sys, pydantic.plugin\n"
            "loader = sys.modules['pydantic.plugin._loader']\n"
            "assert loader.get_plugins() == ()\n"
            "assert 'importlib.metadata' not in sys.modules\n"
            "assert loader.PYDANTIC_ENTRY_POINT_GROUP == 'pydantic'\n"
            "real = sys.modules['pydantic.plugin._loader']\n"
            "assert real is not loader and real.get_plugins() == ()\n"
            "from pydantic import BaseModel\n"
            "class M(BaseModel):\n    x: int\n"
            "assert M(x='1').x == 1\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
