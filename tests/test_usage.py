"""Every key that changes a run id changes the run (issue 36, class 6), as one rule (bench/plan/usage.py): walks every
config key x method family x kind of dataset, and trains both values of the keys the rule says a run does not use."""

import copy
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.plan.config import flatten, resolve
from bench.plan.runs import PlannedRun, plan, run_name
from bench.plan.usage import unused_keys
from bench.run.runner import execute

# a valid value other than the default for every key a user sets on a run (stage keys: the children's own checks);
# two where a recipe may already give the first
OTHER = {
    "dataset.imbalance_ratio": "10", "dataset.profile": "step", "dataset.data_seed": "1",
    "dataset.image_root": "/somewhere/images", "dataset.split_dir": "/somewhere/lists",
    "dataset.path_rewrite": "[a/=b/]", "augment.crop_padding": "2", "augment.flip": "false",
    "augment.image_size": "64", "augment.resize": "300", "augment.color_jitter": ("0.4", "0.2"),
    "augment.train_crop": "resize_random", "augment.rotation": ("15", "10"), "augment.policy": "randaugment",
    "augment.randaugment_ops": "3", "augment.randaugment_magnitude": "5", "augment.cutout": "8",
    "augment.normalize": ("imagenet", "inat2018"), "loader.decode": "device", "loader.reduced_decode": "false",
    "model.weights": "/somewhere/weights.safetensors", "train.epochs": "7", "train.batch_size": ("64", "32"),
    "train.lr": ("0.05", "0.07"), "train.momentum": "0.5", "train.nesterov": ("true", "false"),
    "train.weight_decay": "0.001", "train.warmup_epochs": "2", "train.milestones": "[3, 5]",
    "train.milestone_fractions": "[0.5]", "train.lr_decay": ("0.1", "0.5"), "train.schedule": ("cosine", "step"),
    "train.cosine_offset": ("1", "0"), "train.drop_last": ("true", "false"),
    "train.precision": "bf16", "eval.every": "2",
    "eval.batch_size": "100", "eval.many_above": "50", "eval.few_below": "10", "eval.selection": "best_val",
    "method.head": ("normed", "linear"), "stage.start": "best_val", "stage.taus": "[0, 1]",
    "method.loss": ("ldam", "focal"), "method.weights": ("cb", "inverse_frequency"),
    "method.sampler": ("class_uniform", "class_aware"), "method.schedule": ("deferred", "start"),
    "method.s": ("20", "25"), "method.peft_dim": "8", "method.vpt_length": "5", "method.head_init": "random",
    "method.prompts": "ensemble", "method.tte_expand": "8",
}
WALKED_ALIASES = {("ldam_drw", "method.head")}  # OTHER's normed is what auto gives LDAM: the same run, one id
FAMILIES = ("erm", "ldam_drw", "erm_mixup", "erm_sam", "ride", "sade", "paco", "bcl", "crt", "mislas", "ride_ea",
            "la_posthoc", "sade_tta", "lift", "linear_probe", "clip_zeroshot", "deit_lt")
CLIP = ["model.name=clip_tiny", "model.weights=null"]


def _sets(method):
    return CLIP if method in ("lift", "linear_probe", "clip_zeroshot") else []


def _text(key, cfg):
    """OTHER's value of `key` that `cfg` does not have already."""
    from bench.store.yamltext import load

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
    from bench.plan.config import default_keys

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
        elif (method, key) in WALKED_ALIASES:  # a value that makes the same run as the old one (ALIASES)
            assert run_name(cfg) == run_name(base), key
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
    from bench.store.yamltext import load

    text = OTHER.get(key, "0.3")  # method.sam_rho
    return load(text[0] if isinstance(text, tuple) else text)


CASES = [  # (method, sets that make the rule apply, keys the rule leaves unused)
    ("erm", ["model.name=small_cnn"], ["augment.image_size", "augment.resize", "augment.color_jitter",
                                       "augment.train_crop", "augment.normalize", "loader.decode",
                                       "loader.reduced_decode", "dataset.path_rewrite", "augment.randaugment_ops",
                                       "augment.randaugment_magnitude"]),
    ("erm", ["model.name=small_cnn", "train.schedule=cosine", "train.warmup_epochs=0"],
     ["train.lr_decay", "train.milestone_fractions"]),
    ("erm", ["model.name=small_cnn", "train.milestones=[0]", "train.warmup_epochs=0"], ["train.milestone_fractions"]),
    ("erm_sam", ["model.name=small_cnn", "method.sam_rho_schedule=[[0,0.05],[1,0.1]]"], ["method.sam_rho"]),
    ("focal_sam", ["model.name=small_cnn", "method.sam_rho_schedule=[[0,0.05],[1,0.1]]"], ["method.sam_rho"]),
    ("erm", ["model.name=small_cnn", "train.warmup_epochs=2"], ["train.schedule", "train.lr_decay",
                                                                "train.milestone_fractions", "train.cosine_offset"]),
    ("erm", ["model.name=small_cnn"], ["train.cosine_offset"]),  # the step schedule
    ("erm", ["model.name=small_cnn"], ["method.schedule"]),  # nothing re-balances
    ("paco", ["model.name=small_cnn"], ["method.head", "method.loss", "method.weights"]),  # ldam: ECE's scale too
    ("lift", [*CLIP, "method.tte=false"], ["augment.flip", "augment.cutout", "augment.rotation", "augment.policy",
                                           "augment.crop_padding", "method.vpt_length", "method.tte_expand"]),
    ("clip_zeroshot", CLIP, ["train.lr", "train.batch_size", "augment.cutout", "train.schedule", "eval.every",
                             "method.s", "method.head_init", "method.sampler"]),
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
        other[section][leaf] = _value(key)
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


# ------------------------------------------------------------------ values that make the same run: one id

ALIAS_CASES = [  # (method, sets, key, value, the value it makes the same run as, a value that is another run)
    ("erm", ["train.epochs=5"], "eval.every", 9, 5, 4),  # past the last epoch: the last epoch only
    ("erm", [], "augment.cutout", 15, 14, 16),  # the hole spans 2 * (15 // 2) pixels
    ("ldam_drw", [], "method.head", "normed", "auto", "linear"),  # what auto resolves to for LDAM
    ("erm", [], "method.head", "linear", "auto", "normed"),
    ("mislas", [], "stage.batch_size", 128, None, 64),  # null: the parent's batch
    ("lift", ["model.name=clip_vit_b16"], "model.weights", "hub", "hub:openai", "hub:laion2b_s34b_b88k"),
    ("erm", [], "dataset.eval_split", "test", None, None),  # CIFAR-10-LT is evaluated on its test set only
    ("erm", [], "augment.rotation", 15, 15.0, 14.5),  # a real number written as an integer
]


def _run_id(method, sets, key, value):
    return run_name(resolve(method, "cifar10_lt", 0, sets=[*sets, f"{key}={'null' if value is None else value}"]))


def test_a_one_pixel_cutout_is_not_no_cutout():
    """Its hole is empty, but it draws the holes' centres from the epoch's generator: every later batch differs."""
    assert _run_id("erm", [], "augment.cutout", 1) != _run_id("erm", [], "augment.cutout", 0)


@pytest.mark.parametrize("method, sets, key, value, same, other", ALIAS_CASES)
def test_values_that_make_the_same_run_have_one_id(method, sets, key, value, same, other):
    assert _run_id(method, sets, key, value) == _run_id(method, sets, key, same)
    if other is not None:
        assert _run_id(method, sets, key, other) != _run_id(method, sets, key, same)


def test_an_odd_cutout_eval_every_past_the_end_and_auto_s_head_train_as_their_canonical_value(cifar_root, tmp_path):
    flags = {"dataset.root": str(cifar_root), "train.epochs": 1, "train.batch_size": 64}
    runs = [resolve("erm", "cifar10_lt", 0, flags=flags, sets=[*FIXTURE, "model.name=small_cnn", *sets])
            for sets in (["augment.cutout=15", "eval.every=3", "method.head=linear"], ["augment.cutout=14"])]
    assert run_name(runs[0]) == run_name(runs[1])
    assert _trained(runs[0], tmp_path) == _trained(runs[1], tmp_path)


# ------------------------------------------------------------------ stage 2 trains with its own schedule


def test_a_stage2_childs_deferred_switch_follows_its_own_schedule(cifar_root, tmp_path):
    """crt with method.schedule=deferred: the class-uniform sampler switches on at int(0.8 x stage.epochs) of the
    child's own epochs (its cosine schedule's first milestone fraction), not at its parent's first LR decay."""
    import json

    from bench.algorithms.stage2 import run_train_section
    from bench.plan.config import check_combinations

    flags = {"dataset.root": str(cifar_root), "train.epochs": 2, "train.batch_size": 64}
    runs = plan(["crt"], ["cifar10_lt"], [0], str(tmp_path / "out"), flags=flags,
                sets=[*FIXTURE, "model.name=small_cnn", "method.schedule=deferred", "stage.epochs=10"])
    parent, child = runs
    assert run_train_section(child.cfg)["epochs"] == 10 and parent.cfg["train"]["milestone_fractions"][0] == 0.8
    execute([parent], progress=False)
    execute([child], progress=False)
    lines = [json.loads(line) for line in (child.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [line["rebalancing"] for line in lines if "rebalancing" in line] == [False] * 8 + [True] * 2
    late = copy.deepcopy(child.cfg)
    late["method"]["defer_epoch"] = 4  # past the last of the child's 3 epochs
    late["stage"]["epochs"] = 3
    with pytest.raises(BenchError, match="at or past the last of 3 epochs"):
        check_combinations(late)


def test_the_router_trains_with_nesterov_so_a_parent_without_momentum_is_refused_at_plan_time():
    with pytest.raises(BenchError, match="Nesterov momentum, which needs train.momentum > 0"):
        plan(["ride_ea"], ["cifar10_lt"], [0], "out", sets=["train.momentum=0", "train.nesterov=false"])


@pytest.mark.parametrize("method, key, value, instead", [("tau_norm", "stage.posthoc", "la", "la_posthoc"),
                                                        ("crt", "stage.train", "router", "ride_ea"),
                                                        ("ride_ea", "stage.train", "classifier", "crt")])
def test_a_childs_stage_kind_is_its_identity(method, key, value, instead):
    with pytest.raises(BenchError, match=f"another method under its name; use method {instead}"):
        resolve(method, "cifar10_lt", 0, sets=[f"{key}={value}"])
    assert resolve("crt", "cifar10_lt", 0, sets=["stage.train=classifier_and_scales"])  # a setting of crt


def test_own_loss_algorithms_report_their_own_classifier_and_probability_scale():
    from bench.algorithms.network import resolve_head
    from bench.methods.registry import PARTS

    for method, head, scale in (("paco", "linear", 1.0), ("bcl", "normed", 30.0), ("sade", "normed", 30.0),
                                ("ride_ea", "normed", 30.0), ("lift", "normed", 1.0), ("ldam_drw", "normed", 30.0),
                                ("erm", "linear", 1.0)):
        m = resolve(method, "cifar10_lt", 0)["method"]
        assert (resolve_head(m), PARTS.probability_scale(m)) == (head, scale), method
        if method in ("paco", "bcl", "sade", "ride_ea"):
            assert PARTS.probability_scale({**m, "loss": "ldam", "s": 30.0}) == scale  # the loss part is not read



@pytest.mark.parametrize("method, reads", [("erm", False), ("focal", False), ("ldam", True)])
def test_a_hyper_parameter_no_part_reads_leaves_the_run_id(method, reads):
    """The iNaturalist preset sets max_m 0.3 for every method: erm and focal have no margin, so their ids may not
    depend on it; ldam's does."""
    from bench.plan.config import config_hash

    cfg = resolve(method, "inat2018", 0)
    assert cfg["method"]["max_m"] == 0.3
    assert ("method.max_m" in unused_keys(cfg)) != reads
    other = copy.deepcopy(cfg)
    other["method"]["max_m"] = 0.5
    assert (config_hash(cfg) != config_hash(other)) == reads


def test_a_one_stage_run_reads_no_stage_setting():
    cfg = resolve("erm", "cifar10_lt", 0)
    assert {k for k in unused_keys(cfg) if k.startswith("stage.")} == {
        f"stage.{k}" for k in cfg["stage"] if k not in ("posthoc", "train", "parent")}
    crt = resolve("crt", "cifar10_lt", 0)
    assert "stage.epochs" not in unused_keys(crt) and "stage.reinit_init" not in unused_keys(crt)
    assert "stage.reinit_init" in unused_keys(resolve("lws", "cifar10_lt", 0))  # keeps its classifier: no draw
