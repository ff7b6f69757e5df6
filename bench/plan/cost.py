"""Cost of a sweep before launching it: from measured images/second where results exist,
else from the dataset size, the epochs and an assumed speed (labelled as such)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.datasets.longtail import long_tail_counts
from bench.plan.config import stage_kind
from bench.runconfig import RunConfig
from bench.store import rundir


def step_cost(cfg: RunConfig):
    """Training cost of an image relative to a standard step: the algorithm part's declared `step_cost` (SAM: two
    forward/backward passes, 2.0); 1.0 for the rest and for configs that name no algorithm."""
    from bench.methods.registry import PARTS

    try:
        part = PARTS.kinds["algorithm"].get((cfg.get("method") or {}).get("algorithm", "standard"))
    except AttributeError:
        return 1.0
    return float(part.traits.step_cost) if part is not None else 1.0


def network(cfg: Any) -> tuple[str, float | None]:
    """(the network a run trains, its assumed images/s or None): the algorithm's own (Traits.network: DeiT-LT's
    student) or model.name's."""
    from bench.methods.registry import PARTS
    from bench.models.registry import MODELS

    m = cfg.get("method") or {}
    part = PARTS.kinds["algorithm"].get(m.get("algorithm", "standard"))
    if part is not None and part.traits.network is not None:
        return part.traits.network(m)
    info = MODELS.get(cfg["model"]["name"])
    return str(cfg["model"]["name"]), (info.assumed_images_per_second if info is not None else None)


def measured_speeds(out):
    """{(dataset, model): [train images/s of finished runs, as standard steps]} under the results folder (a SAM
    run's measured speed counts double: its images cost two passes)."""
    speeds: dict[Any, Any] = {}
    for path in Path(out).glob("*/result.json"):
        result = rundir.read_result(path.parent)
        if not result or result.get("status") != "done":
            continue
        try:
            speed = float(result["timing"]["train_images_per_second"]) * step_cost(result["config"])
            key = (str(result["dataset"]), network(result["config"])[0])
        except (KeyError, TypeError, ValueError):
            continue  # not a result bench wrote: no speed from it
        if speed > 0:
            speeds.setdefault(key, []).append(speed)
    return speeds


def estimate(run, speeds):
    """(seconds, how the speed was obtained) for one planned run; seconds is None when no speed is known."""
    from bench.datasets.registry import for_config
    from bench.models.registry import MODELS

    cfg = run.cfg
    info = for_config(cfg)
    d = cfg["dataset"]
    if d["profile"] == "natural":
        train = info.train_size
    else:
        train = sum(long_tail_counts(info.n_max, info.num_classes, d["imbalance_ratio"], d["profile"]))
    stage2 = stage_kind(cfg) == "train"  # a frozen backbone: forward only, about a third of a training step
    epochs = cfg["stage"]["epochs"] if stage2 else cfg["train"]["epochs"]
    evals = -(-epochs // cfg["eval"]["every"])
    if cfg["method"].get("tuning") == "zeroshot":  # zero-shot CLIP trains nothing: one evaluation
        epochs, evals = 0, 1
    name, assumed = network(cfg)
    measured = speeds.get((d["name"], name))
    if measured:
        speed, source = statistics.median(measured), f"measured ({len(measured)} runs)"
    else:
        if assumed is None:
            MODELS.get_or_fail(name)  # an unknown model: its registry's error
        speed, source = assumed or 0.0, "assumed"
        if not speed:
            return None, f"no measured or assumed speed for {name}; run one to measure it"
    cost = 1 / 3 if stage2 else step_cost(cfg)
    images = train * epochs * cost + info.test_size * evals / 3  # evaluation: ~3x cheaper per image
    note = (" (stage 2: a third of a training step)" if stage2 else
            f" (x{cost:g}: {cfg['method'].get('algorithm')} steps)" if cost != 1 else "")
    return images / speed, f"{speed:.0f} img/s {source}" + note
