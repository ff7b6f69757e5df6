"""Every key that changes a run id changes the run (issue 36, class 6), as one rule (bench/usage.py): walks every
config key x method family x kind of dataset, and trains both values of the keys the rule says a run does not use."""

import copy
from pathlib import Path

import pytest

from bench.config import flatten, resolve
from bench.errors import BenchError
from bench.rundir import run_name
from bench.runner import PlannedRun, execute, plan
from bench.usage import unused_keys

# a valid value other than the default for every key a user sets on a run (stage keys: the children's own checks);
# two where a recipe may already give the first
OTHER = {
    "dataset.imbalance_ratio": "10", "dataset.profile": "step", "dataset.data_seed": "1",
    "dataset.image_root": "/somewhere/images", "dataset.split_dir": "/somewhere/lists",
    "dataset.path_rewrite": "[a/=b/]", "augment.crop_padding": "2", "augment.flip": "false",
    "augment.image_size": "64", "augment.resize": "300", "augment.color_jitter": ("0.4", "0.2"),
    "augment.train_crop": "resize_random", "augment.rotation": "15", "augment.policy": "randaugment",
    "augment.randaugment_ops": "3", "augment.randaugment_magnitude": "5", "augment.cutout": "8",
    "augment.normalize": ("imagenet", "inat2018"), "loader.decode": "device", "loader.reduced_decode": "false",
    "model.weights": "/somewhere/weights.safetensors", "train.epochs": "7", "train.batch_size": ("64", "32"),
    "train.lr": ("0.05", "0.07"), "train.momentum": "0.5", "train.nesterov": ("true", "false"),
    "train.weight_decay": "0.001", "train.warmup_epochs": "2", "train.milestones": "[3, 5]",
    "train.milestone_fractions": "[0.5]", "train.lr_decay": ("0.1", "0.5"), "train.schedule": ("cosine", "step"),
    "train.precision": "bf16", "eval.every": "2",
    "eval.batch_size": "100", "eval.many_above": "50", "eval.few_below": "10", "eval.selection": "best_val",
    "method.head": "linear", "stage.start": "best_val", "stage.taus": "[0, 1]",
}
FAMILIES = ("erm", "ldam_drw", "erm_mixup", "erm_sam", "ride", "sade", "paco", "bcl", "crt", "mislas", "ride_ea",
            "la_posthoc", "sade_tta", "lift", "linear_probe", "clip_zeroshot")
CLIP = ["model.name=clip_tiny", "model.weights=null"]


def _sets(method):
    return CLIP if method in ("lift", "linear_probe", "clip_zeroshot") else []


def _text(key, cfg):
    """OTHER's value of `key` that `cfg` does not have already."""
    from bench.yamltext import load

    choices = OTHER[key] if isinstance(OTHER[key], tuple) else (OTHER[key],)
    have = flatten(cfg)[key]
    return next((c for c in choices if load(c) != have and not (isinstance(have, float) and load(c) == have)),
                choices[-1])


def _plan(method, dataset, sets):
    return plan([method], [dataset], [0], "out", sets=sets)[-1].cfg


@pytest.mark.parametrize("dataset", ["cifar10_lt", "imagenet_lt"])
@pytest.mark.parametrize("method", FAMILIES)
def test_a_key_a_run_does_not_use_is_refused_when_set_and_never_in_its_id(method, dataset):
    """Set by the user (--set): refused, saying why, where the run does not use it; else another run id. A
    two-stage child's keys outside its method and stage sections reach its parent too: its id follows the parent's."""
    from bench.config import default_keys

    base_sets = _sets(method)
    base_runs = plan([method], [dataset], [0], "out", sets=base_sets)
    base = base_runs[-1].cfg
    unused = unused_keys(base)
    for key in OTHER:
        value = _text(key, base)
        passed_on = base["stage"]["parent"] is not None and key.split(".")[0] not in ("method", "stage")
        try:
            runs = plan([method], [dataset], [0], "out", sets=[*base_sets, f"{key}={value}"])
        except BenchError as exc:
            assert key not in unused or passed_on or "would change nothing" in str(exc), (key, str(exc))
            continue  # refused for another reason (a combination the checks name)
        cfg = runs[-1].cfg
        if key in unused and not passed_on:
            assert flatten(cfg)[key] == default_keys()[key], key  # accepted: only its default
        elif passed_on and key in unused:
            assert (runs[0].run_dir != base_runs[0].run_dir) == (runs[-1].run_dir != base_runs[-1].run_dir), key
        else:
            assert run_name(cfg) != run_name(base), key  # a key a run uses and the user changed: another run
    for key in unused:  # set by a preset, a flag or a recipe instead: the same run, the same id
        changed = copy.deepcopy(base)
        section, leaf = key.split(".")
        changed[section][leaf] = _value(key)
        assert run_name(changed) == run_name(base), key


# ------------------------------------------------------------------ trained: the unused keys change nothing

FIXTURE = ["dataset.verify=false", "dataset.download=false", "eval.batch_size=200"]


def _trained(cfg, out, parent=None):
    """The last evaluation of a run of `cfg` in a fresh folder of `out` (its parent's folder given for a child)."""
    run_dir = Path(out) / f"{len(list(Path(out).glob('*')))}-{run_name(cfg)}"
    (result,) = execute([PlannedRun(cfg, run_dir, parent)], progress=False)
    assert result["status"] == "done", result
    return result["last"]


def _value(key):
    from bench.yamltext import load

    text = OTHER.get(key, "0.3")  # method.sam_rho
    return load(text[0] if isinstance(text, tuple) else text)


CASES = [  # (method, sets that make the rule apply, keys the rule leaves unused)
    ("erm", ["model.name=small_cnn"], ["augment.image_size", "augment.resize", "augment.color_jitter",
                                       "augment.train_crop", "augment.normalize", "loader.decode",
                                       "loader.reduced_decode", "dataset.path_rewrite", "augment.randaugment_ops",
                                       "augment.randaugment_magnitude"]),
    ("erm", ["model.name=small_cnn", "train.schedule=cosine"], ["train.lr_decay", "train.milestone_fractions"]),
    ("erm", ["model.name=small_cnn", "train.milestones=[0]"], ["train.milestone_fractions"]),
    ("erm_sam", ["model.name=small_cnn", "method.sam_rho_schedule=[[0,0.05],[1,0.1]]"], ["method.sam_rho"]),
    ("paco", ["model.name=small_cnn"], ["method.head"]),
    ("lift", CLIP, ["augment.flip", "augment.cutout", "augment.rotation", "augment.policy", "augment.crop_padding"]),
    ("clip_zeroshot", CLIP, ["train.lr", "train.batch_size", "augment.cutout", "train.schedule", "eval.every"]),
]


@pytest.mark.parametrize("method, sets, keys", CASES)
def test_what_the_rule_calls_unused_trains_to_the_same_numbers(cifar_root, tmp_path, method, sets, keys):
    """One tiny run as planned, one with every listed key changed: the same numbers to the last bit (top-1, NLL,
    ECE, per-class accuracy), so leaving these keys out of the run id is right."""
    cfg = resolve(method, "cifar10_lt", 0, flags={"dataset.root": str(cifar_root), "train.epochs": 1,
                                                  "train.batch_size": 64}, sets=[*FIXTURE, *sets])
    assert set(keys) <= set(unused_keys(cfg))
    other = copy.deepcopy(cfg)
    for key in keys:
        section, leaf = key.split(".")
        other[section][leaf] = "normed" if key == "method.head" else _value(key)
    assert run_name(other) == run_name(cfg)
    assert _trained(other, tmp_path) == _trained(cfg, tmp_path)


def test_image_list_runs_ignore_the_in_memory_keys(tmp_path):
    from conftest import write_imagenet_lt

    root = write_imagenet_lt(tmp_path / "data")
    cfg = resolve("erm", "imagenet_lt", 0, flags={"dataset.root": str(root), "train.epochs": 1},
                  sets=["model.name=small_cnn", "dataset.check_split=false", "augment.image_size=32",
                        "augment.resize=36", "train.batch_size=16", "loader.workers=0"])
    assert {"dataset.data_seed", "augment.crop_padding", "augment.rotation"} <= set(unused_keys(cfg))
    other = copy.deepcopy(cfg)
    other["dataset"]["data_seed"], other["augment"]["crop_padding"], other["augment"]["rotation"] = 3, 8, 30.0
    assert run_name(other) == run_name(cfg)
    assert _trained(other, tmp_path / "out") == _trained(cfg, tmp_path / "out")


def test_the_report_and_the_html_config_leave_unused_keys_out(tmp_path):
    from bench.report.collect import config_differences
    from bench.report.html import shown_config

    cfg = resolve("clip_zeroshot", "cifar10_lt", 0, flags={"train.epochs": 3}, sets=CLIP)
    assert "train.epochs" not in config_differences(cfg)
    shown = flatten(shown_config(cfg))
    assert not set(unused_keys(cfg)) & set(shown) and "model.name" in shown
