"""The search space of a run's config, and the values trial k draws from it (plain data, no torch)."""

from __future__ import annotations

import random

from bench.parts.search import Search

# trial 0 is the config as planned (the authors' recipe and the method's defaults): a tuned method is never
# worse on validation than its default, and the default row of the report is that trial's config
DEFAULT_TRIAL = 0


def search_space(cfg: dict, pinned: frozenset | set = frozenset(), scale: dict | None = None) -> dict[str, Search]:
    """{dotted key: Search} that trials of this run draw, in key order: the searched hyper-parameters of the parts
    the run computes with, and the optimiser keys of what it trains (stage 2: the stage's; a post-hoc method: its
    parent's, which `train.*` items reach). Keys in `pinned` (the keys the user sets) stay fixed. `scale`: the
    config whose values relative searches scale (scale_config; default `cfg`)."""
    from bench.plan.config import flatten, stage_kind
    from bench.plan.schema import KEYS

    if cfg["method"].get("tuning") == "zeroshot":  # zero-shot CLIP trains nothing: nothing to tune
        return {}
    flat = flatten(scale or cfg)
    space = {f"method.{p.key}": p.search for part in own_parts(cfg) for p in part.params if p.search is not None}
    if cfg["method"].get("sam_rho_schedule") is not None:  # a per-epoch rho replaces sam_rho
        space.pop("method.sam_rho", None)
    section = "stage." if stage_kind(cfg) == "train" else "train."
    space.update({k.name: k.search for k in KEYS if k.search is not None and k.name.startswith(section)})
    return {k: space[k] for k in sorted(space) if k not in pinned and space[k].usable(flat.get(k))}


def own_parts(cfg: dict) -> list:
    """The parts whose hyper-parameters change what this run computes: all of a one-stage run's; a stage-2 run's
    parts that its parent does not have (MiSLAS's label-aware smoothing, weight balancing's class weights: the
    method.* items never reach the parent, and the parent's own parts are fixed by then); none of a post-hoc
    run's (its rule works on the parent's logits)."""
    from bench.methods.registry import METHODS, PARTS
    from bench.parts.part import DEFAULT_PART
    from bench.plan.config import stage_kind

    kind = stage_kind(cfg)
    if kind == "posthoc":
        return []
    chosen = PARTS.chosen(cfg["method"])
    if kind is None:
        return [part for _, part in chosen]
    parent = METHODS[METHODS[cfg["method"]["name"]].parent].parts
    return [part for k, part in chosen if part.name != parent.get(k, DEFAULT_PART[k])]


def scale_config(planned: list) -> dict:
    """The config whose values relative searches scale, of a run planned with its parent (`planned`: the parent
    first): a post-hoc run's parent's, since the `train.*` keys it searches are what its parent trains with."""
    from bench.plan.config import stage_kind

    return planned[0].cfg if stage_kind(planned[-1].cfg) == "posthoc" else planned[-1].cfg


def draw(space: dict[str, Search], cfg: dict, trial: int, search_seed: int, redraw: int = 0) -> dict:
    """{dotted key: value} of trial `trial` (`cfg`: scale_config's): {} for the default trial, else one draw per
    key. Each key's draw depends on the seed, the trial and the key only: every method tries the same multiples of
    its recipe's learning rate (a post-hoc method's trial k post-processes the parent ERM's trial k), and a larger
    budget extends a smaller one. `redraw` > 0: another draw for a trial that repeated an earlier one."""
    if trial == DEFAULT_TRIAL:
        return {}
    from bench.plan.config import flatten

    flat = flatten(cfg)
    again = f":redraw{redraw}" if redraw else ""
    return {key: search.draw(random.Random(f"bench-tune:{search_seed}:{trial}:{key}{again}"), flat.get(key))
            for key, search in space.items()}


def as_sets(values: dict) -> list[str]:
    """--set items of drawn values."""
    import json

    return [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in values.items()]


def describe(space: dict[str, Search], cfg: dict) -> dict[str, str]:
    from bench.plan.config import flatten

    flat = flatten(cfg)
    return {key: search.describe(flat.get(key)) for key, search in space.items()}


def values_text(values: dict) -> str:
    """'key=value, ...' of a trial's values; 'the defaults' for none."""
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "the defaults"
