"""Cost of a sweep before launching it: from measured images/second where results exist,
else from the dataset size, the epochs and an assumed speed (labelled as such)."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench import rundir
from bench.config import stage_kind
from bench.datasets.longtail import long_tail_counts


def measured_speeds(out):
    """{(dataset, model): [train images/s of finished runs]} under the results folder."""
    speeds = {}
    for path in Path(out).glob("*/result.json"):
        result = rundir.read_result(path.parent)
        if not result or result.get("status") != "done":
            continue
        try:
            speed = float(result["timing"]["train_images_per_second"])
            key = (str(result["dataset"]), str(result["config"]["model"]["name"]))
        except (KeyError, TypeError, ValueError):
            continue  # not a result bench wrote: no speed from it
        if speed > 0:
            speeds.setdefault(key, []).append(speed)
    return speeds


def estimate(run, speeds):
    """(seconds, how the speed was obtained) for one planned run; seconds is None when no speed is known."""
    from bench.datasets.registry import DATASETS
    from bench.models.registry import MODELS

    cfg = run.cfg
    info = DATASETS[cfg["dataset"]["name"]]
    d = cfg["dataset"]
    if info.natural:
        train = info.train_size
    else:
        train = sum(long_tail_counts(info.n_max, info.num_classes, d["imbalance_ratio"], d["profile"]))
    stage2 = stage_kind(cfg) == "train"  # a frozen backbone: forward only, about a third of a training step
    epochs = cfg["stage"]["epochs"] if stage2 else cfg["train"]["epochs"]
    evals = -(-epochs // cfg["eval"]["every"])
    measured = speeds.get((d["name"], cfg["model"]["name"]))
    if measured:
        speed, source = statistics.median(measured), f"measured ({len(measured)} runs)"
    else:
        speed, source = MODELS.get_or_fail(cfg["model"]["name"]).assumed_images_per_second, "assumed"
        if not speed:
            return None, f"no measured or assumed speed for {cfg['model']['name']}; run one to measure it"
    images = train * epochs / (3 if stage2 else 1) + info.test_size * evals / 3  # evaluation: ~3x cheaper per image
    return images / speed, f"{speed:.0f} img/s {source}" + (" (stage 2: a third of a training step)" if stage2 else "")
