"""A sweep: the cartesian product of methods x datasets x grid values x seeds, from flags or YAML.

Sweep file (every key optional except methods and datasets):

    methods: [erm, ldam_drw]
    datasets: [cifar10_lt, cifar100_lt]
    seeds: [0, 1, 2]
    presets: [quick]
    set: {train.epochs: 100}                 # fixed overrides
    grid:                                    # each key explicit, every combination is run
      dataset.imbalance_ratio: [100, 10]
      dataset.profile: [exp, step]

Each run gets the same run id and folder as if it were run alone.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from bench.errors import BenchError
from bench.plan.config import load_yaml

SWEEP_KEYS = {"methods", "datasets", "seeds", "presets", "set", "grid", "configs"}
MAX_RUNS = 100_000  # planning takes about 0.1 ms a run; a larger sweep is almost surely a typo


def _as_list(value, key, source):
    if isinstance(value, (str, int, float)):
        return [value]
    if not isinstance(value, list) or not value:
        raise BenchError(f"{source}: {key} must be a non-empty list")
    return value


def _text(value):
    return value if isinstance(value, str) else json.dumps(value)


def grid_sets(grid):
    """{'a': [1, 2], 'b': ['x']} -> [['a=1', 'b=x'], ['a=2', 'b=x']]"""
    if not grid:
        return [[]]
    keys = list(grid)
    return [[f"{k}={_text(v)}" for k, v in zip(keys, combo)] for combo in itertools.product(*grid.values())]


def parse_grid_flags(items):
    """--grid dataset.imbalance_ratio=100,10 -> {'dataset.imbalance_ratio': [100, 10]}.

    The values are one YAML flow sequence, so a value may itself be a list:
    --grid train.milestones=[100,150],[160,180]."""
    import yaml

    from bench.store import yamltext

    grid = {}
    for item in items:
        if "=" not in item:
            raise BenchError(f"--grid expects KEY=V1,V2,... (e.g. --grid dataset.profile=exp,step), got {item!r}")
        key, raw = item.split("=", 1)
        try:
            values = yamltext.load(f"[{raw}]")
        except yaml.YAMLError:
            values = None
        if not isinstance(values, list) or not values or any(isinstance(v, dict) for v in values):
            raise BenchError(f"--grid {key.strip()}: cannot read the values {raw!r}; write comma-separated values, "
                             "lists in brackets (e.g. --grid train.milestones=[100,150],[160,180])")
        grid[key.strip()] = values
    return grid


def load_sweep(path):
    data = load_yaml(path, "sweep file")
    source = f"sweep file {path}"
    if not isinstance(data, dict):
        raise BenchError(f"{source} must be a YAML mapping with methods, datasets, seeds and grid")
    unknown = set(data) - SWEEP_KEYS
    if unknown:
        raise BenchError(f"{source} has unknown keys {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(sorted(SWEEP_KEYS))}")
    for key in ("methods", "datasets"):
        if key not in data:
            raise BenchError(f"{source} needs a '{key}' list")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        raise BenchError(f"{source}: grid must map config keys to lists of values")
    for key, values in grid.items():
        if any(isinstance(v, dict) for v in (values if isinstance(values, list) else [values])):
            raise BenchError(f"{source}: grid.{key} values must be numbers, strings or lists, not mappings")
    fixed = data.get("set") or {}
    if not isinstance(fixed, dict):
        raise BenchError(f"{source}: set must map config keys to values")
    seeds = _as_list(data.get("seeds", [0]), "seeds", source)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise BenchError(f"{source}: seeds must be non-negative integers, got {seeds}")
    return {
        "methods": [str(m) for m in _as_list(data["methods"], "methods", source)],
        "datasets": [str(d) for d in _as_list(data["datasets"], "datasets", source)],
        "seeds": seeds,
        "presets": [str(p) for p in _as_list(data.get("presets", []) or [], "presets", source)] if data.get(
            "presets") else [],
        "configs": [str(c) for c in _as_list(data["configs"], "configs", source)] if data.get("configs") else [],
        "sets": [f"{k}={_text(v)}" for k, v in fixed.items()],
        "grid": {k: _as_list(v, f"grid.{k}", source) for k, v in grid.items()},
    }


def plan_sweep(methods, datasets, seeds, out, presets=(), config_files=(), flags=None, sets=(), grid=None):
    """Every run of the sweep, validated, in a stable order; duplicates removed."""
    import math

    from bench.plan.runs import plan

    combos = math.prod(len(v) for v in (grid or {}).values())
    total = len(methods) * len(datasets) * len(seeds) * combos
    if total > MAX_RUNS:
        raise BenchError(f"this sweep has {total:,} runs, more than bench plans at once ({MAX_RUNS:,}); "
                         "split it into several sweeps")
    by_runs: dict[Any, Any] = {}
    runs, seen = [], set()
    for combo in grid_sets(grid or {}):
        planned = plan(methods, datasets, seeds, out, presets, config_files, flags, [*sets, *combo])
        check_grid_point(by_runs, combo, planned)
        for run in planned:
            if run.run_dir not in seen:
                seen.add(run.run_dir)
                runs.append(run)
    return runs


def check_grid_point(by_runs, combo, planned):
    """Two grid points that plan the very same runs mean a grid key that changes nothing a run computes
    (run.threads, run.device, eval.save_logits, ...): the sweep would silently be smaller than asked."""
    names = tuple(run.run_dir.name for run in planned)
    other = by_runs.setdefault(names, combo)
    if other is combo:
        return
    differ = [f"{a} and {b}" for a, b in zip(other, combo) if a != b]
    keys = ", ".join(sorted({item.split("=", 1)[0] for item in combo if item not in other}))
    raise BenchError(f"--grid {keys}: {'; '.join(differ)} plan the same runs, because these values of {keys} do "
                     "not change what a run computes (a key of where or how it runs, or values that make the same "
                     "run, e.g. eval.every past the last epoch); set it once with --set, or grid a key that "
                     "changes the experiment")
