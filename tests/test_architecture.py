"""Habits the code keeps: bench's wings are layers (import-linter's contract in pyproject.toml), no import circle
between bench's modules counting typing-only imports, no function over 60 lines (benchmarks/architecture_facts.py
prints the figures)."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "architecture_facts.py"


def facts():
    spec = importlib.util.spec_from_file_location("architecture_facts", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lint_imports(*args, cwd=ROOT):
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    return subprocess.run([exe, "--no-cache", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_wings_keep_their_layers():
    out = lint_imports()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


def test_a_layer_broken_is_found(tmp_path):
    """The contract sees bench's imports: with the store put above the planning wing, the config's reading of the
    user's text files (bench.store.textfiles) breaks it."""
    config = tmp_path / "contract.ini"
    config.write_text("[importlinter]\nroot_package = bench\n\n[importlinter:contract:1]\nname = upside down\n"
                      "type = layers\nlayers =\n    bench.store\n    bench.plan\n")
    out = lint_imports(str(config))
    assert out.returncode != 0 and "bench.plan.config -> bench.store.textfiles" in out.stdout, out.stdout


def test_no_import_circle_between_bench_modules():
    a = facts()
    trees = a.modules()
    graph = {name: a.imports(name, tree, set(trees)) for name, tree in trees.items()}
    assert a.circles(graph) == []
    assert "bench.algorithms.protocol" in graph["bench.engine.trainer"]  # the graph is real: the trainer uses it


def test_typing_only_imports_count():
    import ast

    a = facts()
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bench.y import Y\n")
    assert a.imports("bench.x", tree, {"bench.x", "bench.y"}) == {"bench.y"}


def test_a_circle_is_found_when_there_is_one():
    a = facts()
    assert a.circles({"x": {"y"}, "y": {"z"}, "z": {"x"}, "w": {"x"}}) == [["x", "y", "z"]]


def test_no_function_is_longer_than_60_lines():
    a = facts()
    too_long = [(n, name) for n, name in a.function_lengths(a.modules()) if n > 60]
    assert too_long == []
