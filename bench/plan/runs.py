"""Planned runs: every (method, dataset, seed) of a command resolved to its checked config, its folder and id,
with a parent planned for each two-stage child, before anything is written."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from bench.errors import BenchError
from bench.plan import config as config_mod
from bench.plan.config import config_hash
from bench.runconfig import RunConfig


@dataclass
class PlannedRun:
    cfg: RunConfig
    run_dir: Path
    parent: Path | None = None  # a two-stage run: the run folder of its stage-1 parent
    named: bool = True  # asked for by the user (False: a parent planned for a child): --force applies to it


def _num(x):
    return f"{x:g}"


def run_name(cfg: RunConfig):
    """A run's folder name, its run id: dataset-setting__method__seed__hash (bench.plan.config.config_hash)."""
    d = cfg["dataset"]
    if d["profile"] == "natural":
        setting = "natural"
    else:
        setting = f"{d['profile']}{_num(d['imbalance_ratio'])}-ds{d['data_seed']}"
    return f"{d['name']}-{setting}__{cfg['method']['name']}__seed{cfg['train']['seed']}__{config_hash(cfg)}"


def parent_sets(sets):
    """--set items a parent inherits: all but the child's own method and stage settings."""
    return [s for s in sets if not s.split("=", 1)[0].strip().startswith(("method.", "stage."))]


def _resolve_parent(method, parent, dataset, seed, presets, config_files, flags, sets):
    try:
        return config_mod.resolve(parent, dataset, seed, presets, config_mod.parent_config_files(config_files),
                                  flags, parent_sets(sets))
    except BenchError as exc:
        raise BenchError(f"{method} starts from a finished {parent} run on {dataset}, and that run cannot be "
                         f"planned: {exc}") from None


def plan(methods, datasets, seeds, out, presets=(), config_files=(), flags=None, sets=()):
    """Resolve and validate every run's config before anything is written.

    The config is resolved once per (dataset, method); seeds only change train.seed."""
    ok, phrase = config_mod.RANGES["train.seed"]
    for seed in seeds:  # the configs below are resolved once, with the first seed
        if not isinstance(seed, int) or isinstance(seed, bool) or not ok(seed):
            raise BenchError(f"seed {seed!r} must be {phrase} below 2**63")
    from bench.datasets.registry import forget
    from bench.methods.registry import METHODS

    forget()  # a dataset YAML file's images are read afresh by each command
    runs: list[PlannedRun] = []
    seen: dict[Path, PlannedRun] = {}

    def add(run):
        first = seen.setdefault(run.run_dir, run)  # a parent asked for itself, or shared by children: planned once
        if first is run:
            runs.append(run)
        else:
            first.named = first.named or run.named
        return first

    for dataset in datasets:
        for method in methods:
            base = config_mod.resolve(method, dataset, seeds[0], presets, config_files, flags, sets)
            parent = METHODS[method].parent
            parent_base = _resolve_parent(method, parent, dataset, seeds[0], presets, config_files, flags,
                                          sets) if parent else None
            if parent_base is not None and config_mod.stage_kind(base) == "train":
                check_parent_model(base, parent_base)
            for seed in seeds:
                cfg = copy.deepcopy(base)
                cfg["train"]["seed"] = seed
                parent_dir = None
                if parent_base is not None:
                    parent_cfg = copy.deepcopy(parent_base)
                    parent_cfg["train"]["seed"] = seed
                    parent_dir = Path(out) / run_name(parent_cfg)
                    planned = add(PlannedRun(parent_cfg, parent_dir, named=False))  # parents before children
                    if config_mod.stage_kind(cfg) == "posthoc" and planned.cfg["eval"]["save_logits"] == "auto":
                        planned.cfg["eval"]["save_logits"] = "always"  # the child is computed from them (runtime key)
                    cfg["stage"]["parent"] = parent_dir.name
                add(PlannedRun(cfg, Path(out) / run_name(cfg), parent_dir))
    return runs


def model_signature(cfg: RunConfig) -> dict:
    """{key: value} of what shapes the network a run trains: the backbone, its weights, the head (the loss's for
    head=auto) and, for a multi-expert network, its experts and the scale of their cosine heads."""
    from bench.algorithms.network import resolve_head
    from bench.methods.registry import PARTS

    m = cfg["method"]
    out: dict[str, object] = {"model.name": cfg["model"]["name"], "model.weights": cfg["model"]["weights"],
                              "method.head": resolve_head(m)}
    if PARTS.kinds["algorithm"][m["algorithm"]].traits.experts:
        out.update({"method.experts": m["experts"], "method.reduce_experts": m["reduce_experts"], "method.s": m["s"]})
    return out


def check_parent_model(child, parent):
    """A stage-2 child loads its parent's network into one it builds from its own config: what shapes that network
    must be the parent's (a parent planned for a child never takes the child's method.* keys). Refused at plan time,
    before the parent trains, rather than as a state-dict error after it."""
    mine, theirs = model_signature(child), model_signature(parent)
    differ = [k for k in mine if k in theirs and mine[k] != theirs[k]]
    if differ:
        m = child["method"]
        given = {k: "method.loss" if k == "method.head" and m["head"] == "auto" else k for k in differ}
        said = ", ".join(f"{k}={mine[k]}" + (f" (method.loss={m['loss']} asks for it)" if given[k] != k else "")
                         + f" where the parent's is {theirs[k]}" for k in differ)
        raise BenchError(f"{m['name']} loads the network of its {parent['method']['name']} parent, which a parent "
                         f"planned for it never changes, and {said} would not fit it; remove "
                         f"{' and '.join(sorted(set(given.values())))} (a method's keys stay with the child)")


def forced(run, force):
    """--force re-runs the runs the user named, never a parent planned only for a child."""
    return bool(force) and run.named


def to_spec(run, force=False):
    return {"cfg": run.cfg, "run_dir": str(run.run_dir), "force": forced(run, force),
            "parent": str(run.parent) if run.parent else None}


def from_spec(spec: dict) -> PlannedRun:
    """The run a spec describes (to_spec's, read by a worker: its config was resolved by the planner)."""
    parent = Path(spec["parent"]) if spec.get("parent") else None
    return PlannedRun(cast(RunConfig, spec["cfg"]), Path(spec["run_dir"]), parent)
