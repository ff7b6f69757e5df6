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


def test_the_run_config_types_are_generated_from_the_declarations():
    """bench/runconfig.py is what `python -m bench.plan.runconfig_source` writes from the schema and the built-in
    parts' Params (no plugin loaded): a key added to either is typed at once."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "BENCH_PLUGINS"}
    proc = subprocess.run([sys.executable, "-m", "bench.plan.runconfig_source"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120, check=True)
    assert proc.stdout == (ROOT / "bench" / "runconfig.py").read_text(), \
        "bench/runconfig.py is stale: python -m bench.plan.runconfig_source > bench/runconfig.py"


def _matches(value, hint) -> bool:
    import types
    import typing

    if isinstance(hint, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (float, int)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    origin = typing.get_origin(hint) or hint
    return hint is typing.Any or isinstance(value, origin)


def test_every_method_resolves_to_a_config_of_exactly_the_declared_keys_and_types():
    """The types mypy checks the code against are the ones a run has: for every method, the resolved config's
    sections hold exactly the RunConfig keys (the method section: plus a loaded plugin's Params), each value of
    its declared type."""
    import typing

    from bench.methods.registry import METHODS, STAGES
    from bench.parts.registry import PARTS
    from bench.plan.config import resolve
    from bench.runconfig import RunConfig

    sections = typing.get_type_hints(RunConfig)
    for method in METHODS:
        stage = STAGES["posthoc"].get(METHODS[method].stage.get("posthoc", "none"))
        cfg = resolve(method, "fashion_mnist_lt", 0, sets=["eval.selection=best_val"] if stage and
                      stage.needs_validation else [])
        assert list(cfg) == list(sections), method
        for section, cls in sections.items():
            hints = typing.get_type_hints(cls)
            extra = set(cfg[section]) - set(hints)
            assert set(hints) <= set(cfg[section]) and all(k in PARTS.params for k in extra), (method, section)
            wrong = {k: cfg[section][k] for k, h in hints.items() if not _matches(cfg[section][k], h)}
            assert not wrong, (method, section, wrong)
