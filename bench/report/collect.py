"""Find runs under result folders and read what the tables need (fast: one JSON file per run)."""

from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from bench import rundir
from bench.config import DEFAULTS, default_keys, experiment_part, flatten

from bench.evaluate import METRIC_NAMES as METRICS  # the metric schema (bench/evaluate.py)


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

    eval_split: str = "test"

    @property
    def setting(self):
        """What a number is measured on: dataset, long-tail profile and ratio, data seed, evaluation split."""
        return (self.dataset, self.profile, self.imbalance_ratio, self.data_seed, self.eval_split)


def fmt_ratio(ratio):
    """The shortest text that gives the ratio back exactly (50, 12.5, 50.0000001): no two ratios print alike."""
    short = f"{ratio:g}"
    return short if float(short) == ratio else repr(float(ratio))


def setting_label(setting):
    dataset, profile, ratio, data_seed, eval_split = setting
    split = "" if eval_split == default_eval_split(dataset) else f" ({eval_split} split)"
    if profile == "natural" or ratio is None:
        return f"{dataset} natural{split}"
    return f"{dataset} {profile}-{fmt_ratio(ratio)} ds{data_seed}{split}"


def default_eval_split(dataset):
    from bench.datasets.registry import DATASETS

    info = DATASETS.get(dataset)
    return info.eval_split if info is not None else "test"


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
    unused = unused_method_keys(cfg)
    return {k: v for k, v in cfg["method"].items() if k != "name" and base.get(k) != v and k not in unused}


def unused_method_keys(cfg):
    """Hyper-parameters of the config that none of its method's parts uses (e.g. max_m 0.3 that the
    iNat recipe sets, under erm): they cannot change a number, so they never split a table cell."""
    from bench.methods.parts import KINDS
    from bench.methods.registry import PARTS

    m = cfg.get("method", {})
    try:
        used = {p.key for kind in KINDS for p in PARTS.kinds[kind][m.get(kind, DEFAULTS["method"][kind])].params}
    except (KeyError, TypeError):  # a part this bench does not know: keep everything
        return set()
    return set(PARTS.params) - used


@functools.lru_cache(maxsize=None)
def _recipe_method(recipe):
    """The `method` section of a dataset's recipe preset (read once per report)."""
    from bench.config import load_preset

    return load_preset(recipe).get("method", {})


SETTING_KEYS = ("method.name", "train.seed", "dataset.name", "dataset.profile", "dataset.imbalance_ratio",
                "dataset.data_seed", "dataset.eval_split", "stage.parent")  # the parent's id differs per seed


def _variant(cfg):
    """The experiment config's values that differ from bench's defaults, minus method name, dataset
    setting and seed: runs of one method with the same variant in one setting are seeds of one cell.
    Only differences count (as in run ids), so runs written before a key existed match newer ones."""
    defaults = default_keys()
    flat = flatten(experiment_part(cfg))
    unused = {f"method.{k}" for k in unused_method_keys(cfg)}
    diff = {k: v for k, v in flat.items() if k not in SETTING_KEYS and k not in unused
            and (k not in defaults or defaults[k] != v)}
    return json.dumps(diff, sort_keys=True, separators=(",", ":"))


def _first_line(text):
    lines = str(text).strip().splitlines()
    return lines[0] if lines else "unknown error"


def _config_ok(cfg):
    """A config bench wrote: the sections and keys the report reads, of the right types."""
    try:
        d, m, t = cfg["dataset"], cfg["method"], cfg["train"]
        ratio = d["imbalance_ratio"]
        return (isinstance(m["name"], str) and isinstance(d["name"], str) and isinstance(d["profile"], str)
                and (ratio is None or (isinstance(ratio, (int, float)) and not isinstance(ratio, bool)))
                and isinstance(t["seed"], int) and isinstance(d.get("data_seed", 0), int)
                and isinstance(m, dict) and isinstance(cfg.get("model", {}), dict))
    except (KeyError, TypeError):
        return False


def _result_ok(result):
    """A result.json bench wrote: blocks the tables read, of the right types."""
    if not isinstance(result, dict) or not isinstance(result.get("config"), dict):
        return False
    if result.get("status") != "done":
        return True  # a failed result only needs its config (and an error, if any)
    for key in ("last", "best"):
        block = result.get(key)
        if block is None and key == "best":
            continue
        if not isinstance(block, dict):
            return False
        for metric in METRICS:
            value = block.get(metric)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                return False
        per_class = block.get("per_class_acc", [])
        if not isinstance(per_class, list) or not all(_number(v) or v is None for v in per_class):
            return False
    counts = result.get("train_class_counts", [])
    shot = result.get("shot_rule", {})
    return (isinstance(counts, list) and all(_number(c) for c in counts) and isinstance(shot, dict)
            and isinstance(shot.get("group_sizes", {}), dict))


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_run(run_dir):
    """A Run from a run folder, or None if the folder is not a bench run (e.g. a user's own files)."""
    run_dir = Path(run_dir)
    result, error, cfg = None, None, None
    result_path = run_dir / rundir.RESULT
    if result_path.is_file():
        try:
            result = json.loads(result_path.read_text())
            readable = True
        except (OSError, ValueError, UnicodeDecodeError):
            result, readable = None, False
        if _result_ok(result) and _config_ok(result["config"]):
            cfg = result["config"]
            status = "done" if result.get("status") == "done" else "failed"
            if status == "failed":
                error = _first_line(result.get("error") or "failed without a reason")
        else:
            result = None
            error = "result.json is not a bench result" if readable else "result.json is unreadable"
    if result is None:
        try:
            cfg = _load_yaml(run_dir / rundir.CONFIG)
        except Exception:  # unreadable or not YAML: not a run we can place in a table
            return None
        if not isinstance(cfg, dict) or not _config_ok(cfg):
            return None
        status = "failed" if error else "incomplete"
    if result is not None and status == "done":
        fill_from_logits(run_dir, result)
    d = cfg["dataset"]
    ratio = d["imbalance_ratio"]
    eval_split = d.get("eval_split") or default_eval_split(d["name"])
    return Run(run_dir=run_dir, status=status, method=cfg["method"]["name"], dataset=d["name"],
               profile=d["profile"], imbalance_ratio=None if ratio is None else float(ratio),
               data_seed=None if d["profile"] == "natural" else d.get("data_seed", 0),
               seed=cfg["train"]["seed"], variant=_variant(cfg), method_params=method_params(cfg), config=cfg,
               result=result, error=error, eval_split=str(eval_split))


def fill_from_logits(run_dir, result):
    """Metrics a finished result lacks (it was written before they existed) recomputed from the final test
    logits the run kept (logits.npz), into its last block (and its best block when that is the last epoch).
    Their names go to result["recomputed"]. Nothing happens without logits or with unreadable ones."""
    last = result.get("last") or {}
    missing = [m for m in METRICS if last.get(m) is None]
    path = Path(run_dir) / rundir.LOGITS
    if not missing or not path.is_file():
        return
    try:
        import numpy as np
        import torch

        from bench.evaluate import evaluate_metrics
        from bench.methods.registry import PARTS

        with np.load(path, allow_pickle=False) as saved:
            logits, labels = saved["test_logits"], saved["test_labels"]
        method = result["config"]["method"]
        scale_key = PARTS.get("loss", method["loss"]).probability_scale
        shot = result["shot_rule"]
        values = evaluate_metrics(torch.from_numpy(np.asarray(logits, dtype=np.float32)),
                                  torch.from_numpy(np.asarray(labels, dtype=np.int64)), result["train_class_counts"],
                                  shot["many_above"], shot["few_below"],
                                  float(method[scale_key]) if scale_key else 1.0)
    except Exception:  # noqa: BLE001 - not logits bench wrote for this result: the cell stays "not recorded"
        return
    best = result.get("best") or {}
    for block in (last, best) if best.get("epoch") == last.get("epoch") else (last,):
        for metric in missing:
            if block.get(metric) is None and values.get(metric) is not None:
                block[metric] = values[metric]
    result["recomputed"] = [m for m in missing if last.get(m) is not None]


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
        if rundir.RESULT in names or rundir.CONFIG in names:
            found.append(folder)
            continue
        stack.extend(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))
    return sorted(found)


STATUS_RANK = {"done": 0, "failed": 1, "incomplete": 2}


def collect(folders, notes=None):
    """Every run under the folders, each run id once (the same folder given twice, or a run copied
    into two merged folders, counts once: a finished copy wins). `notes` collects what was left out."""
    seen_paths, by_id, ignored = set(), {}, 0
    for run_dir in find_run_dirs(folders):
        real = os.path.realpath(run_dir)
        if real in seen_paths:
            continue
        seen_paths.add(real)
        run = read_run(run_dir)
        if run is None:
            ignored += 1
            continue
        other = by_id.get(run_dir.name)
        if other is None or STATUS_RANK[run.status] < STATUS_RANK[other.status]:
            by_id[run_dir.name] = run
    runs = list(by_id.values())
    if notes is not None:
        copies = len(seen_paths) - ignored - len(runs)
        if copies:
            notes.append(f"{copies} further cop{'y' if copies == 1 else 'ies'} of runs already counted "
                         "(same run id) left out")
        if ignored:
            notes.append(f"{ignored} folder(s) with a config.yaml or result.json that bench did not write "
                         "left out")
    return runs


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
            defaults = default_keys()
            flat = {v: json.loads(v) for v in same}
            keys = sorted({k for v in same for k in flat[v]})
            differing = [k for k in keys if len({json.dumps(flat[v].get(k, defaults.get(k))) for v in same}) > 1]
            for v in same:
                extra = ", ".join(f"{k}={flat[v].get(k, defaults.get(k))}" for k in differing)
                labels[(method, v)] = f"{label} [{extra}]"
    return labels
