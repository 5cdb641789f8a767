"""The package's structure: handler modules import each other without a cycle.

A cycle between handlers (one importing another inside a function to dodge the import error)
means a shared piece lives in the wrong module; every import, at module level or inside a
function, is counted.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mlflow_migrate_plugin"
HANDLERS = "mlflow_migrate_plugin.handlers"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports anywhere in its body."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return (found & known) - {name}


def handler_imports() -> dict[str, set[str]]:
    """Each handler module -> the handler modules it imports."""
    paths = list((PACKAGE / "handlers").rglob("*.py"))
    known = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(p, known) for p in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_sees_a_function_level_import_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert cycles(graph) == [["a", "b", "c"]]


def test_import_finder_counts_imports_inside_functions(tmp_path, monkeypatch):
    handlers = tmp_path / "mlflow_migrate_plugin" / "handlers"
    handlers.mkdir(parents=True)
    (handlers / "one.py").write_text("def f():\n    from . import two\n")
    (handlers / "two.py").write_text("from .one import f\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "mlflow_migrate_plugin")

    graph = handler_imports()

    assert graph == {f"{HANDLERS}.one": {f"{HANDLERS}.two"}, f"{HANDLERS}.two": {f"{HANDLERS}.one"}}


def test_handler_modules_import_each_other_without_a_cycle():
    graph = handler_imports()

    assert f"{HANDLERS}.run" in graph
    assert cycles(graph) == []


def test_every_public_function_of_the_api_modules_is_in_the_package_api():
    """The functions live in api_*.py modules; api.py and the package must list each one."""
    import importlib

    import mlflow_migrate_plugin
    from mlflow_migrate_plugin import api

    public = set()
    for path in sorted(PACKAGE.glob("api_*.py")):
        module = importlib.import_module(f"mlflow_migrate_plugin.{path.stem}")
        public |= {
            name
            for name, value in vars(module).items()
            if callable(value)
            and not name.startswith("_")
            and getattr(value, "__module__", None) == module.__name__
            and path.stem != "api_setup"
        }

    assert "copy_all" in public and "verify_prompt" in public
    assert public == set(mlflow_migrate_plugin._API)
    assert public <= set(api.__all__)
    assert all(getattr(mlflow_migrate_plugin, name) is getattr(api, name) for name in public)
