"""Facts about bench's code an engineer should keep in view: import circles between bench's modules, the
longest functions, and how many `cfg["..."]`-style string lookups the code makes.

    python benchmarks/architecture_facts.py [--top 10]

Imports count wherever they are written (module top, inside a function, typing-only): a lazy import hides a
circle from Python, not from the reader. The layers between bench's wings are checked by import-linter
(`lint-imports`, the contract in pyproject.toml).
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bench"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """bench modules `name` imports, wherever the import is written: module top, inside a function, or under
    `if TYPE_CHECKING:` (a typing-only import is a dependency too). A `from bench.x import y` of a module y counts
    as bench.x.y."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else node.module)
    return {m for m in found if m in known and m != name}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def function_lengths(trees: dict[str, ast.Module]) -> list[tuple[int, str]]:
    lengths = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths.append((node.end_lineno - node.lineno + 1, f"{name}.{node.name}"))
    return sorted(lengths, reverse=True)


CFG_LOOKUP = re.compile(r"""\b(cfg|t_cfg|m_cfg|e_cfg|config)\[["']""")


def cfg_lookups() -> int:
    return sum(len(CFG_LOOKUP.findall(p.read_text())) for p in PACKAGE.rglob("*.py"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    trees = modules()
    graph = {name: imports(name, tree, set(trees)) for name, tree in trees.items()}
    found = circles(graph)
    print(f"import circles: {len(found)}")
    for component in found:
        print("  " + " <-> ".join(component))
    print(f"longest functions (lines, of {sum(1 for _ in function_lengths(trees))}):")
    for length, name in function_lengths(trees)[: args.top]:
        print(f"  {length:4d}  {name}")
    print(f'cfg["..."] string lookups: {cfg_lookups()}')


if __name__ == "__main__":
    main()
