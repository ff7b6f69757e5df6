"""Find runs under result folders and read what the tables need (fast: one JSON file per run)."""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bench.errors import BenchError
from bench.metrics import priors
from bench.metrics.evaluate import (
    METRIC_NAMES as METRICS,  # the metric schema (bench/metrics/evaluate.py): what runs record
)
from bench.metrics.runresult import NotAResult, RunResult
from bench.plan.config import DEFAULTS, experiment_part, flatten
from bench.runconfig import RunConfig
from bench.store import rundir


@dataclass
class Run:
    run_dir: Path
    status: str  # done | failed | incomplete
    method: str
    dataset: str
    profile: str
    imbalance_ratio: float | None  # None: a natural split
    data_seed: int | None
    seed: int
    variant: str  # canonical text of the experiment config minus method name, dataset setting and seed
    method_params: dict  # non-default method hyper-parameters
    config: dict
    result: dict | None = None
    error: str | None = None

    eval_split: str = "test"
    # bench tune's chosen configuration: (its default's variant, "tuned, 8 trials"); its row is labelled after the
    # default's (bench/report/studies.py)
    tuned_of: tuple | None = None

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


def method_params(cfg):
    """Method hyper-parameters that differ from the named method's own defaults (on its dataset, with its authors'
    recipe there, at the run's length: declared_config)."""
    base = {k.split(".", 1)[1]: v for k, v in declared_config(cfg).items() if k.startswith("method.")}
    unused = unused_method_keys(cfg)
    own = experiment_part(cfg)["method"]  # canonical values, as the declared ones (bench/plan/usage.py ALIASES)
    return {k: v for k, v in own.items() if k != "name" and base.get(k) != v and k not in unused}


def declared_config(cfg) -> dict:
    """{dotted key: value} bench gives the run's method on its dataset before any user input: the defaults, the
    dataset's recipe preset, the method's parts, stage and train settings and its authors' recipes for the run's
    ratio, with the schedule rescaled to the run's epochs as --epochs does."""
    return _scaled({**_declared(cfg["method"]["name"], _dataset_ref(cfg)), **_authors(cfg)},
                   cfg.get("train", {}).get("epochs"))


def unused_method_keys(cfg):
    """Hyper-parameters of the config that none of its method's parts uses (e.g. max_m 0.3 that the
    iNat recipe sets, under erm): they cannot change a number, so they never split a table cell."""
    from bench.methods.registry import PARTS
    from bench.parts.part import KINDS

    m = cfg.get("method", {})
    try:
        used = {p.key for kind in KINDS for p in PARTS.kinds[kind][m.get(kind, DEFAULTS["method"][kind])].params}
    except (KeyError, TypeError):  # a part this bench does not know: keep everything
        return set()
    return set(PARTS.params) - used


SETTING_KEYS = ("method.name", "train.seed", "dataset.name", "dataset.profile", "dataset.imbalance_ratio",
                "dataset.data_seed", "dataset.eval_split", "stage.parent")  # the parent's id differs per seed


def _authors(cfg) -> dict:
    """{dotted key: value} the method's authors' recipes set for the run's dataset and ratio: what a run is
    compared with, so a run on the shared recipe (run.recipe=shared, or written before the recipe existed)
    shows where it differs and never shares a cell with one on the authors' recipe."""
    d = cfg["dataset"]
    return recipe_settings(cfg["method"]["name"], _dataset_ref(cfg), d.get("profile"), d.get("imbalance_ratio"))


def _dataset_ref(cfg) -> str:
    """A run's dataset as _dataset_info finds it: a dataset YAML file by its path, the others by name."""
    d = cfg["dataset"]
    return str(d.get("file") or d["name"])


@functools.cache
def _dataset_info(ref: str):
    """The DatasetInfo of a built-in dataset or a dataset YAML file (its recipe preset, the file's own values), or None
    where it is unknown or cannot be read now (a plugin not loaded, a file moved since the run)."""
    from bench.datasets.registry import DATASETS, is_file_name

    if not is_file_name(ref):
        return DATASETS.get(ref)
    from bench.datasets.custom.declare import user_info

    try:
        return user_info(ref)
    except (BenchError, OSError):
        return None


@functools.cache
def recipe_settings(method, dataset, profile, ratio):
    """{dotted key: value} the authors' recipes of `method` set on `dataset` with that profile and imbalance ratio
    (the ratio None on a natural split); {} for a method or dataset this bench does not know."""
    from bench.methods.registry import METHODS
    from bench.plan.config import recipe_layers

    info, spec = _dataset_info(dataset), METHODS.get(method)
    if info is None or spec is None:
        return {}
    out: dict = {}
    for _, tree in recipe_layers(spec, info, {"profile": profile, "imbalance_ratio": ratio}):
        out.update(flatten(tree))
    return out


@functools.cache
def _declared(method, dataset):
    """The flat config bench gives `method` on `dataset` before any user input: the defaults, the dataset's
    recipe preset and the method's own parts, stage and train settings (unknown names: the defaults); the
    authors' recipes for the run's ratio are added by config_differences."""
    from bench.methods.registry import METHODS
    from bench.plan.config import load_preset, merge

    cfg = copy.deepcopy(DEFAULTS)
    try:
        info, spec = _dataset_info(dataset), METHODS.get(method)
        if info is not None:
            merge(cfg, load_preset(info.recipe), info.recipe)
            merge(cfg, info.layer, "the dataset file")  # a dataset YAML file's own values ({} for the others)
            cfg["dataset"]["file"], cfg["dataset"]["fingerprint"] = info.file or None, info.fingerprint or None
        if spec is not None:
            merge(cfg, {"method": dict(spec.parts), "stage": dict(spec.stage), "train": dict(spec.train)}, method)
    except Exception:  # noqa: BLE001 - a preset or method this bench no longer has: compare with the defaults
        cfg = copy.deepcopy(DEFAULTS)
    return flatten(experiment_part(cfg))


SCALED_KEYS = ("train.milestones", "method.defer_epoch", "method.sam_rho_schedule")  # what --epochs rescales


def _scaled(declared: dict, epochs) -> dict:
    """The declared config's schedule as `--epochs epochs` rescales it (config.scale_schedule): a recipe's own
    milestones at another length are the recipe's, never a difference of the run (inat2018's [30, 60] are [0, 0]
    in a one-epoch run; a run over inat2018 and places_lt is one row). The epochs stay the recipe's."""
    from bench.plan.config import scale_schedule

    before = declared.get("train.epochs")
    if not isinstance(epochs, int) or epochs == before or not any(declared.get(k) is not None for k in SCALED_KEYS):
        return declared
    tree = {"train": {"epochs": epochs, "milestones": declared.get("train.milestones")},
            "method": {"defer_epoch": declared.get("method.defer_epoch"),
                       "sam_rho_schedule": declared.get("method.sam_rho_schedule")}}
    scale_schedule(tree, before)
    return {**declared, **{k: tree[k.split(".")[0]][k.split(".")[1]] for k in SCALED_KEYS if k in declared}}


def config_differences(cfg):
    """{key: value} of the experiment config that differ from what bench gives its method on its dataset
    (bench's defaults, the dataset's recipe, the method's own settings), minus method name, dataset setting,
    seed, hyper-parameters no part of the method uses and keys the run does not use (bench/plan/usage.py). A value
    that makes the same run as the declared one (bench/plan/usage.py ALIASES: ride's declared head=normed and auto
    under LDAM) is no difference; the value shown is the canonical one."""
    declared = declared_config(cfg)
    raw, flat = flatten(cfg), flatten(experiment_part(cfg))
    unused = {f"method.{k}" for k in unused_method_keys(cfg)} | set(_unused(cfg))
    return {k: v for k, v in flat.items() if k not in SETTING_KEYS and k not in unused
            and (k not in declared or declared[k] != v and raw.get(k, v) != declared[k]
                 and not _same_run(cfg, k, declared[k]))}


def _same_run(cfg, key, value) -> bool:
    """`value` of `key` makes the same run as the config's own value (bench/plan/usage.py ALIASES)."""
    from bench.plan.usage import ALIASES

    if key not in ALIASES:
        return False
    section, leaf = key.split(".")
    try:
        changed = cast(RunConfig, {**cfg, section: {**cfg[section], leaf: value}})
        return ALIASES[key](changed) == ALIASES[key](cfg)
    except (KeyError, TypeError, AttributeError, BenchError):
        return False


def _unused(cfg) -> dict:
    """bench/plan/usage.py's unused keys of a config a report reads (one of an older bench without some key: none)."""
    from bench.plan.usage import unused_keys

    try:
        return unused_keys(cfg)
    except (KeyError, TypeError, AttributeError, BenchError):  # a part of a plugin not loaded: none
        return {}


def _variant(cfg):
    """The config differences (config_differences) as canonical text: runs of one method with the same variant
    in one setting are seeds of one cell. Relative to the dataset's recipe, so one method run with each
    dataset's own recipe is one row across the datasets; only differences count (as in run ids), so runs
    written before a key existed match newer ones."""
    return json.dumps(config_differences(cfg), sort_keys=True, separators=(",", ":"))


def _first_line(text):
    lines = str(text).strip().splitlines()
    return lines[0] if lines else "unknown error"


def _result_problem(result):
    """Why a result.json is not one bench wrote (it does not parse as a RunResult: blocks the tables read of the
    wrong types, or numbers bench never writes such as NaN), or None."""
    try:
        RunResult.from_json(result)
    except NotAResult as exc:
        return str(exc)
    return None


def _read_result(result_path):
    """(result, its config, None) of a result.json bench wrote; (None, its config if readable, why not) else."""
    try:
        result = json.loads(result_path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None, None, "result.json is unreadable"
    problem = _result_problem(result)
    cfg = result.get("config") if isinstance(result, dict) else None
    if not isinstance(cfg, dict) or not rundir.config_ok(cfg):
        return None, None, "result.json is not a bench result: " + (problem or "its config is not one bench wrote")
    if problem is not None:
        return None, cfg, f"result.json is not a bench result: {problem}"
    return result, cfg, None


def read_run(run_dir):
    """A Run from a run folder, or None if the folder is not a bench run (e.g. a user's own files). A result.json
    bench did not write (damaged, hand-edited) makes the run a failed one, with the reason."""
    run_dir = Path(run_dir)
    result, cfg, error = None, None, None
    if (run_dir / rundir.RESULT).is_file():
        result, cfg, error = _read_result(run_dir / rundir.RESULT)
    if result is not None:
        status = "done" if result.get("status") == "done" else "failed"
        if status == "failed":
            error = _first_line(result.get("error") or "failed without a reason")
    else:
        try:
            cfg = rundir.load_yaml(run_dir / rundir.CONFIG) if cfg is None else cfg
        except Exception:  # unreadable or not YAML: not a run we can place in a table
            return None
        if not isinstance(cfg, dict) or not rundir.config_ok(cfg):
            return None
        status = "failed" if error else "incomplete"
    if result is not None and status == "done":
        fill_from_logits(run_dir, result)
        priors.fill(result)
    assert cfg is not None  # read above, or the folder is not a run
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
    Their names go to result["recomputed"]. Nothing happens without logits or with unreadable ones.
    A metric that is present but null (an empty shot group) is legitimately empty: it is not recomputed, so a
    report over current runs never reads logits or imports torch. Recomputed values are cached beside the
    logits (recomputed.json, keyed by the logits file's size and time), so the next report reads no logits."""
    last = result.get("last") or {}
    missing = [m for m in METRICS if m not in last]
    path = Path(run_dir) / rundir.LOGITS
    if not missing or not path.is_file():
        return
    values = _cached_metrics(run_dir, path, missing)
    if values is None:
        values = _metrics_from_logits(path, result)
        if values is None:
            return
        _cache_metrics(run_dir, path, missing, values)
    best = result.get("best") or {}
    for block in (last, best) if best.get("epoch") == last.get("epoch") else (last,):
        for metric in missing:
            if block.get(metric) is None and values.get(metric) is not None:
                block[metric] = values[metric]
    result["recomputed"] = [m for m in missing if last.get(m) is not None]


def _metrics_from_logits(path, result):
    try:
        import numpy as np
        import torch

        from bench.methods.registry import PARTS
        from bench.metrics.evaluate import evaluate_metrics

        with np.load(path, allow_pickle=False) as saved:
            logits, labels = saved["test_logits"], saved["test_labels"]
        method = result["config"]["method"]
        shot = result["shot_rule"]
        return evaluate_metrics(torch.from_numpy(np.asarray(logits, dtype=np.float32)),
                                torch.from_numpy(np.asarray(labels, dtype=np.int64)), result["train_class_counts"],
                                shot["many_above"], shot["few_below"],
                                1.0 if (result["config"].get("stage") or {}).get("posthoc", "none") != "none"
                                else PARTS.probability_scale(method))  # a post-hoc child's metrics: as written
    except Exception:  # noqa: BLE001 - not logits bench wrote for this result: the cell stays "not recorded"
        return None


def _logits_key(path):
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _cached_metrics(run_dir, path, missing):
    try:
        cache = json.loads((Path(run_dir) / rundir.RECOMPUTED).read_text())
        if cache["logits"] == _logits_key(path) and set(missing) <= set(cache["values"]):
            return {m: cache["values"][m] for m in missing}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _cache_metrics(run_dir, path, missing, values):
    """Best effort: a results folder the report may not write to (read-only, full) just recomputes next time."""
    from bench.store.results import write_json

    with contextlib.suppress(OSError):
        write_json(Path(run_dir) / rundir.RECOMPUTED,
                   {"logits": _logits_key(path), "values": {m: values.get(m) for m in missing}})


STATUS_RANK = {"done": 0, "failed": 1, "incomplete": 2}


def identity(run):
    """What makes two run folders the same run: method, configuration, dataset setting and seed (a copied or
    renamed folder is the same run; the folder name is not)."""
    return (run.method, run.variant, run.setting, run.seed, run.config.get("stage", {}).get("parent"),
            (run.config.get("dataset") or {}).get("fingerprint"))  # a dataset file's data: other data, another run


def label_data_versions(runs) -> None:
    """Runs of one dataset name on different data (a dataset file edited, or two files of one name) become
    different settings: the name gets the data's fingerprint, 'skin [602a25eb]'."""
    versions: dict[str, set] = {}
    for run in runs:
        versions.setdefault(run.dataset, set()).add((run.config.get("dataset") or {}).get("fingerprint"))
    for run in runs:
        fingerprint = (run.config.get("dataset") or {}).get("fingerprint")
        if len(versions[run.dataset]) > 1 and fingerprint:
            run.dataset = f"{run.dataset} [{fingerprint[:8]}]"


def _rank(run):
    """Which of two copies of a run counts: a finished one, then the one in the folder named by its run id."""
    own_name = (run.result or {}).get("run_id") == run.run_dir.name
    return STATUS_RANK[run.status], not own_name, str(run.run_dir)


def stale_child(run):
    """A finished two-stage run whose parent (in the same results folder) has another result now than the one
    it was computed from: its numbers are out of date (`bench status` says so; `bench run` recomputes it)."""
    parent = ((run.result or {}).get("parent") or {}).get("run_id") if run.status == "done" else None
    if not parent or not (run.run_dir.parent / parent / rundir.RESULT).is_file():
        return False  # a one-stage run, or its parent is not here to compare with
    from bench.algorithms.posthoc import is_current

    return not is_current(run.run_dir, run.run_dir.parent / parent)


def collect(folders, notes=None):
    """Every run under the folders, each run once: the same folder given twice, a run copied into two merged
    folders or copied beside itself counts once (a finished copy wins). Children computed from an older
    result of their parent are left out. `notes` collects what was left out."""
    by_id: dict[Any, Any] = {}
    seen_paths, ignored, stale = set(), 0, []
    for run_dir in rundir.find_run_dirs(folders):
        real = os.path.realpath(run_dir)
        if real in seen_paths:
            continue
        seen_paths.add(real)
        run = read_run(run_dir)
        if run is None:
            ignored += 1
            continue
        if stale_child(run):
            stale.append(run_dir)
            continue
        key = identity(run)
        other = by_id.get(key)
        if other is None or _rank(run) < _rank(other):
            by_id[key] = run
    runs = list(by_id.values())
    label_data_versions(runs)
    if notes is not None:
        copies = len(seen_paths) - ignored - len(stale) - len(runs)
        if copies:
            notes.append(f"{copies} further cop{'y' if copies == 1 else 'ies'} of runs already counted "
                         "(same method, configuration, setting and seed) left out")
        if stale:
            notes.append(f"{len(stale)} two-stage run(s) computed from an older result of their parent left out "
                         f"(bench status lists them; the next bench run recomputes them): "
                         f"{', '.join(d.name for d in stale[:3])}{' ...' if len(stale) > 3 else ''}")
        if ignored:
            notes.append(f"{ignored} folder(s) with a config.yaml or result.json that bench did not write "
                         "left out")
    return runs


def variant_labels(runs):
    """Readable label per (method, variant): the method name with its non-default hyper-parameters (and a
    two-stage method's stage settings), then, in brackets, every other config key whose value differs between
    the variants of the report that have numbers (epochs, recipe, model, precision, world size, ...), and the
    keys that tell apart variants that would still share a label: no row mixes or hides a setting."""
    variants: dict[Any, Any] = {}
    for run in runs:
        variants.setdefault((run.method, run.variant), []).append(run)
    diffs = {key: json.loads(key[1]) for key in variants}
    with_numbers = {key: group for key, group in variants.items() if any(r.status == "done" for r in group)}
    shared = _differing_keys({k: variants[k] for k in with_numbers} or variants, diffs)
    labels = {}
    for key, group in variants.items():
        own = sorted(group[0].method_params.items()) + sorted((k, v) for k, v in diffs[key].items()
                                                                if k.startswith("stage."))
        params = ", ".join(f"{k}={v}" for k, v in own)
        labels[key] = (f"{key[0]} ({params})" if params else key[0]) + _bracket(group[0], shared)
    for label in set(labels.values()):  # variants still alike (e.g. one failed with another learning rate)
        same = [key for key in labels if labels[key] == label]
        if len(same) > 1:
            keys = _differing_keys({k: variants[k] for k in same}, diffs, with_stage=True)
            for key in same:
                labels[key] = label + _bracket(variants[key][0], [k for k in keys if k not in shared])
    return labels


def _bracket(run, keys):
    if not keys:
        return ""
    flat = flatten(experiment_part(run.config))
    return " [" + ", ".join(f"{k}={flat.get(k)}" for k in keys) + "]"


def _differing_keys(variants, diffs, with_stage=False):
    """Config keys (beyond method and stage keys, which the label shows itself) that one of the variants
    changes and whose values are not the same in all of them."""
    skip = ("method.",) if with_stage else ("method.", "stage.")
    candidates = sorted({k for key in variants for k in diffs[key] if not k.startswith(skip)})
    out = []
    for k in candidates:
        values = {json.dumps(flatten(experiment_part(group[0].config)).get(k), sort_keys=True)
                  for group in variants.values()}
        if len(values) > 1:
            out.append(k)
    return out
