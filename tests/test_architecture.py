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


def test_a_submodule_used_by_its_dotted_name_is_imported_where_it_is_used():
    """`import rich` then `rich.table.Table(...)` works only where something else imported
    `rich.table` first: in the tests' fork server (tests/forkserver.py, which preloads it)
    always, in a user's fresh interpreter maybe not. Each file imports what it reaches by
    a dotted name, in the function that reaches it or around it (an import in another
    function of the file has not run when this one does)."""
    import ast
    import importlib.util

    def is_module(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    functions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)

    def own(scope):  # the nodes of this scope, not of the functions defined in it
        stack = list(ast.iter_child_nodes(scope))
        while stack:
            node = stack.pop()
            yield node
            if not isinstance(node, functions):
                stack.extend(ast.iter_child_nodes(node))

    found = []
    for root in ("waves", "rollout"):
        for path in sorted((ROOT / root).rglob("*.py")):
            package = ".".join(path.relative_to(ROOT).parent.parts)  # what `from .` means here

            def check(scope, imported: frozenset, bound: dict) -> None:
                """`imported`: the modules imported in this scope and those around it (an
                import in another function does not count: it may not have run); `bound`:
                the module each name stands for (`import x.y` binds x; `import x.y as z`
                and `from x import y`, a module, bind x.y)."""
                nodes = list(own(scope))
                imported, bound = set(imported), dict(bound)
                for node in nodes:
                    if isinstance(node, ast.Import):
                        for alias in node.names:
                            parts = alias.name.split(".")
                            imported.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
                            bound[alias.asname or parts[0]] = alias.name if alias.asname else parts[0]
                    elif isinstance(node, ast.ImportFrom):
                        base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1],
                                         *([node.module] if node.module else [])]) if node.level else node.module
                        imported.add(base)
                        for a in node.names:
                            imported.add(f"{base}.{a.name}")
                            if is_module(f"{base}.{a.name}"):
                                bound[a.asname or a.name] = f"{base}.{a.name}"
                for node in nodes:
                    if isinstance(node, functions):
                        check(node, frozenset(imported), bound)
                    if not isinstance(node, ast.Attribute):
                        continue
                    chain, inner = [], node
                    while isinstance(inner, ast.Attribute):
                        chain.append(inner.attr)
                        inner = inner.value
                    if not isinstance(inner, ast.Name) or inner.id not in bound:
                        continue
                    dotted = bound[inner.id]
                    for attr in reversed(chain[1:]):  # the last attribute is a value, not a module
                        dotted = f"{dotted}.{attr}"
                        if dotted not in imported and is_module(dotted):
                            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {dotted}")
                            break

            check(ast.parse(path.read_text()), frozenset(), {})

    def set_by_its_package(dotted: str) -> bool:  # os.path, typer.main: the package's own import makes them
        package, _, name = dotted.rpartition(".")
        code = f"import sys, {package}; sys.exit(0 if {name!r} in vars({package}) else 1)"
        return subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0

    unset = {d for d in {f.rpartition(": ")[2] for f in found} if not set_by_its_package(d)}
    found = sorted({f for f in found if f.rpartition(": ")[2] in unset})
    assert not found, f"submodules reached by a dotted name their file does not import: {found}"
