"""The core's modules import each other without a cycle (lazy imports inside functions count;
imports only for type checkers do not).

A cycle hides layering mistakes such as the old ``autosize → bench → train → autosize``
and ``inference → autosize → inference`` loops; ``policy.py`` sits above
``inference.py``, ``step.py`` below ``train.py``/``bench.py``/``probe.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import noiseda_core

ROOT = Path(noiseda_core.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Core modules ``path`` imports anywhere in its body (``from . import x`` included)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(n)
        for block in ast.walk(tree)  # ``if TYPE_CHECKING:`` never runs
        if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
        for n in ast.walk(block)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            children = {f"{base}.{a.name}" for a in node.names}
            found |= children & modules
            if not children <= modules:  # names defined in ``base`` itself, not submodules
                found.add(base)
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.rglob("*.py"))
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(p, modules) for p in paths}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if nxt == "noiseda_core" or nxt.endswith("__init__"):
                continue  # a package's __init__ re-exporting its children is no cycle
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_core_has_no_import_cycle() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, " → ".join(cycle or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_decisions_sit_above_the_code_they_drive() -> None:
    graph = _graph()
    assert "noiseda_core.policy" not in graph["noiseda_core.inference"]  # restores, decides nothing
    assert "noiseda_core.step" in graph["noiseda_core.probe"]  # bench/policy run the train step
    for low in ("noiseda_core.step", "noiseda_core.parts", "noiseda_core.probe"):
        assert not graph[low] & {"noiseda_core.train", "noiseda_core.bench", "noiseda_core.policy"}
