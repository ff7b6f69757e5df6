"""Find runs under result folders and read what the tables need (fast: one JSON file per run)."""

from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from bench import results
from bench.config import DEFAULTS, experiment_part, flatten

METRICS = ("top1", "top5", "many", "medium", "few")


@dataclass
class Run:
    run_dir: Path
    status: str  # done | failed | incomplete
    method: str
    dataset: str
    profile: str
    imbalance_ratio: float
    data_seed: int
    seed: int
    variant: str  # canonical text of the experiment config minus method name, dataset setting and seed
    method_params: dict  # non-default method hyper-parameters
    config: dict
    result: dict | None = None
    error: str | None = None

    @property
    def setting(self):
        return (self.dataset, self.profile, self.imbalance_ratio, self.data_seed)


def setting_label(setting):
    dataset, profile, ratio, data_seed = setting
    if profile == "natural" or ratio is None:
        return f"{dataset} natural"
    return f"{dataset} {profile}-{ratio:g} ds{data_seed}"


def _load_yaml(path):
    import yaml

    with open(path) as f:
        return yaml.safe_load(f)


def method_params(cfg):
    """Method hyper-parameters that differ from the named method's own defaults."""
    from bench.methods.registry import METHODS

    from bench.datasets.registry import DATASETS

    base = copy.deepcopy(DEFAULTS["method"])
    dataset = DATASETS.get(cfg["dataset"]["name"])
    if dataset is not None:  # a recipe's method settings (e.g. iNat's max_m 0.3) are that dataset's defaults
        base.update(_recipe_method(dataset.recipe))  # update copies: the cached dict is not changed
    method = METHODS.get(cfg["method"]["name"])
    if method is not None:
        base.update(method.parts)
    return {k: v for k, v in cfg["method"].items() if k != "name" and base.get(k) != v}


@functools.lru_cache(maxsize=None)
def _recipe_method(recipe):
    """The `method` section of a dataset's recipe preset (read once per report)."""
    from bench.config import load_preset

    return load_preset(recipe).get("method", {})


def _variant(cfg):
    exp = experiment_part(cfg)
    exp["method"] = {k: v for k, v in exp["method"].items() if k != "name"}
    exp.pop("dataset", None)
    exp["train"] = {k: v for k, v in exp["train"].items() if k != "seed"}
    return json.dumps(exp, sort_keys=True, separators=(",", ":"))


def _first_line(text):
    lines = str(text).strip().splitlines()
    return lines[0] if lines else "unknown error"


def read_run(run_dir):
    """A Run from a run folder, or None if the folder is not a run."""
    run_dir = Path(run_dir)
    result, error = None, None
    result_path = run_dir / results.RESULT
    if result_path.is_file():
        try:
            result = json.loads(result_path.read_text())
            cfg = result["config"]
            status = "done" if result.get("status") == "done" else "failed"
            if status == "failed":
                error = _first_line(result.get("error", "failed without a reason"))
        except (OSError, ValueError, KeyError, TypeError):
            result, error = None, "result.json is unreadable"
    if result is None:
        try:
            cfg = _load_yaml(run_dir / results.CONFIG)
        except Exception:  # unreadable or not YAML: not a run we can place in a table
            return None
        if not isinstance(cfg, dict) or "method" not in cfg:
            return None
        status = "failed" if error else "incomplete"
    d = cfg["dataset"]
    return Run(run_dir=run_dir, status=status, method=cfg["method"]["name"], dataset=d["name"],
               profile=d["profile"],
               imbalance_ratio=None if d["imbalance_ratio"] is None else float(d["imbalance_ratio"]),
               data_seed=None if d["profile"] == "natural" else d["data_seed"],
               seed=cfg["train"]["seed"], variant=_variant(cfg), method_params=method_params(cfg), config=cfg,
               result=result, error=error)


def find_run_dirs(folders):
    """Folders holding a result.json or config.yaml, searched recursively (not inside runs)."""
    found = []
    stack = [Path(f) for f in folders]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        names = {e.name for e in entries}
        if results.RESULT in names or results.CONFIG in names:
            found.append(folder)
            continue
        stack.extend(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))
    return sorted(found)


def collect(folders):
    return [run for run in map(read_run, find_run_dirs(folders)) if run is not None]


def variant_labels(runs):
    """Readable label per (method, variant): the method name, its non-default hyper-parameters and,
    where one label would cover several variants, the config keys that tell them apart."""
    by_method = {}
    for run in runs:
        by_method.setdefault(run.method, {})[run.variant] = run
    labels = {}
    for method, variants in by_method.items():
        base = {}
        for variant, run in variants.items():
            params = ", ".join(f"{k}={v}" for k, v in sorted(run.method_params.items()))
            base[variant] = f"{method} ({params})" if params else method
        for label in set(base.values()):
            same = [v for v in variants if base[v] == label]
            if len(same) == 1:
                labels[(method, same[0])] = label
                continue
            flat = {v: flatten(json.loads(v)) for v in same}
            keys = sorted({k for v in same for k in flat[v]})
            differing = [k for k in keys if len({json.dumps(flat[v].get(k)) for v in same}) > 1]
            for v in same:
                extra = ", ".join(f"{k}={flat[v].get(k)}" for k in differing)
                labels[(method, v)] = f"{label} [{extra}]"
    return labels
