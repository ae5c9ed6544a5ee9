"""Imports point down only and never in a circle (after Home Assistant's hassfest dependency check).

Every module of the six packages is parsed with ``ast`` (imports inside functions included: a lazy import is
still a dependency). The layers, lowest first: core < collector < analytics < maps < console < wifiwatch; a
module may import its own package and any lower one. Data flows inventory -> poll -> store -> analytics ->
maps/reports/console, so ``core`` imports none of the others. No two modules may reach each other (a cycle).
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "collector", "analytics", "maps", "console", "wifiwatch")
RANK = {pkg: i for i, pkg in enumerate(LAYERS)}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in LAYERS:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = f.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


@functools.cache
def _graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from a.b import c`` names a.b.c when that is a module)."""
    mods = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = defaultdict(set)
    for name, f in mods.items():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                r = resolve(t)
                if r is not None and r != name:
                    edges[name].add(r)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_imports_point_down_the_layers() -> None:
    edges = _graph()
    upward = sorted(f"{a} imports {b}" for a, bs in edges.items() for b in bs
                    if RANK[b.split(".")[0]] > RANK[a.split(".")[0]])
    assert not upward, "\n".join(upward)


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_finds_a_cycle_and_an_upward_import() -> None:
    """The check itself can fail: a planted circle and a planted upward edge are found."""
    assert _cycles({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}) == [["a.x", "a.y", "a.z"]]
    edges = _graph()
    assert "core.state" in edges.get("collector.snapshot", set())  # the graph sees real imports
    assert not any(b.startswith(("collector", "analytics", "maps", "console", "wifiwatch"))
                   for b in edges.get("core.state", set()))
