"""Which config keys a run does not use: one table of rules, read by everything that decides what a run is.

A key a run does not use cannot change its numbers, so it must not change its id either. bench.config refuses such
a key where the user set it (--set, --grid, a --config file: one error saying why it changes nothing), and leaves it
out of the run id where a preset, a flag or a recipe set it (config_hash); the report leaves it out of a run's
variant and shown config. Each rule names the keys, when they are unused and why; tests/test_usage.py walks every
key x method family against these rules and trains both values of each rule's keys to show the run is the same.

Keys not in the table are used by every run whose checks accept them (the parts' own hyper-parameters are refused by
their parts' declarations: bench/methods/parts.py, PARTS.check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

IMAGE_LIST_ONLY = ("dataset.image_root", "dataset.split_dir", "dataset.path_rewrite", "augment.image_size",
                   "augment.resize", "augment.color_jitter", "augment.train_crop", "augment.normalize", "loader.decode",
                   "loader.reduced_decode")
IN_MEMORY_ONLY = ("dataset.data_seed", "augment.crop_padding", "augment.rotation")
TRAIN_AUGMENT = ("augment.crop_padding", "augment.flip", "augment.rotation", "augment.policy",
                 "augment.randaugment_ops", "augment.randaugment_magnitude", "augment.cutout", "augment.color_jitter",
                 "augment.train_crop")
TRAINING = ("train.epochs", "train.batch_size", "train.lr", "train.momentum", "train.nesterov", "train.weight_decay",
            "train.warmup_epochs", "train.milestones", "train.milestone_fractions", "train.lr_decay",
            "train.schedule", "eval.every")
RANDAUGMENT = ("randaugment", "timm_randaugment")


@dataclass(frozen=True)
class Rule:
    keys: tuple
    when: Callable[[dict], bool]  # on the resolved config
    why: Callable[[dict], str]  # what the error and the docs say


def _image_list(cfg: dict) -> bool:
    return cfg["dataset"]["profile"] == "natural"


def _algorithm(cfg: dict) -> str:
    return cfg["method"].get("algorithm", "standard")


def _zeroshot(cfg: dict) -> bool:
    return _algorithm(cfg) == "foundation" and cfg["method"].get("tuning") == "zeroshot"


def _stage(cfg: dict) -> str:
    s = cfg["stage"]
    return s["posthoc"] if s["posthoc"] != "none" else s["train"]


def _cosine_milestones_unused(cfg: dict) -> bool:
    """Under the cosine schedule the milestones set no LR decay; they still switch deferred re-balancing on when no
    defer epoch is given (bench/schedule.py)."""
    m = cfg["method"]
    return cfg["train"]["schedule"] == "cosine" and not (m["schedule"] == "deferred" and m["defer_epoch"] is None)


RULES = (
    Rule(IMAGE_LIST_ONLY, lambda c: not _image_list(c),
         lambda c: f"{c['dataset']['name']} is held in memory: no image file is decoded, cropped or resized"),
    Rule(IN_MEMORY_ONLY, _image_list,
         lambda c: f"{c['dataset']['name']} is a published split of image files: no long-tail draw, padding crop or "
                   "rotation"),
    Rule(TRAIN_AUGMENT, lambda c: _zeroshot(c), lambda c: f"{c['method']['name']} trains nothing (zero-shot)"),
    Rule(TRAINING, lambda c: _zeroshot(c), lambda c: f"{c['method']['name']} trains nothing (zero-shot)"),
    Rule(TRAIN_AUGMENT, lambda c: _algorithm(c) == "foundation" and not _image_list(c),
         lambda c: f"{c['method']['name']} trains on its own view of in-memory images (a random resized crop and "
                   "flip at the model's side, LIFT's)"),
    Rule(TRAIN_AUGMENT, lambda c: _stage(c) == "sade_aggregation",
         lambda c: f"{c['method']['name']} adapts on its own fixed views of the test images"),
    Rule(("augment.randaugment_ops", "augment.randaugment_magnitude"),
         lambda c: c["augment"]["policy"] not in RANDAUGMENT,
         lambda c: f"only RandAugment reads them, and augment.policy is {c['augment']['policy']}"),
    Rule(("train.lr_decay", "train.milestone_fractions"), lambda c: c["train"]["schedule"] == "cosine",
         lambda c: "train.schedule=cosine decays the LR to 0 without milestones"),
    Rule(("train.milestones",), _cosine_milestones_unused,
         lambda c: "train.schedule=cosine decays the LR to 0 without milestones (and no deferred re-balancing "
                   "switches on at the first)"),
    Rule(("train.milestone_fractions",), lambda c: c["train"]["milestones"] is not None,
         lambda c: "train.milestones gives the epochs of the LR decays"),
    Rule(("model.weights",), lambda c: _algorithm(c) in ("paco", "bcl"),
         lambda c: f"{c['method']['name']} builds its own network and loads no weights into it"),
    Rule(("method.head",), lambda c: _algorithm(c) in ("paco", "bcl", "foundation"),
         lambda c: f"{c['method']['name']} has its own classifier"),
    Rule(("method.sam_rho",), lambda c: _algorithm(c) == "sam" and bool(c["method"].get("sam_rho_schedule")),
         lambda c: "method.sam_rho_schedule gives rho per epoch"),
    Rule(("stage.start", "train.nesterov"), lambda c: _stage(c) == "router",
         lambda c: f"{c['method']['name']}'s router starts from its parent's last epoch, with Nesterov momentum"),
    Rule(("stage.taus",), lambda c: _stage(c) == "sade_aggregation",
         lambda c: f"{c['method']['name']} learns its expert weights; it has no tau grid"),
    Rule(("stage.taus",), lambda c: _stage(c) == "la" and c["eval"]["selection"] != "best_val",
         lambda c: f"{c['method']['name']} chooses tau on validation logits, and without eval.selection=best_val "
                   "it uses tau 1"),
)


def unused_keys(cfg: dict) -> dict[str, str]:
    """{dotted key: why the run does not use it} of a resolved config (RULES)."""
    out: dict[str, str] = {}
    for rule in RULES:
        if rule.when(cfg):
            reason = rule.why(cfg)
            for key in rule.keys:
                out.setdefault(key, reason)
    return out
