"""Habits the code keeps: no import circle between bench's modules, no function over 60 lines
(benchmarks/architecture_facts.py prints the figures)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "architecture_facts.py"


def facts():
    spec = importlib.util.spec_from_file_location("architecture_facts", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_import_circle_between_bench_modules():
    a = facts()
    trees = a.modules()
    graph = {name: a.imports(name, tree, set(trees)) for name, tree in trees.items()}
    assert a.circles(graph) == []
    assert "bench.engine.algorithm" in graph["bench.trainer"]  # the graph is real: the trainer uses the engine


def test_a_circle_is_found_when_there_is_one():
    a = facts()
    assert a.circles({"x": {"y"}, "y": {"z"}, "z": {"x"}, "w": {"x"}}) == [["x", "y", "z"]]


def test_no_function_is_longer_than_60_lines():
    a = facts()
    too_long = [(n, name) for n, name in a.function_lengths(a.modules()) if n > 60]
    assert too_long == []
