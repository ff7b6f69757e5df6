"""Recipes as published (issue 26, in progress): cRT/LWS per dataset from classifier-balancing's configs, cRT's new
classifier drawn as nn.Linear's default, CutMix applied with a probability as clovaai/CutMix-PyTorch, and run ids
that change only for the methods whose computation changed."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

from bench.cli import main
from bench.parts.mix import Mixer, cutmix_box
from bench.plan.config import resolve
from bench.plan.runs import run_name

# run ids at the commit before these changes (4a8092f): the methods whose recipes did not change keep them
PINNED = [("erm", "cifar10_lt", [], "cifar10_lt-exp100-ds0__erm__seed0__78e3ded2"),
          ("ldam_drw", "cifar100_lt", [], "cifar100_lt-exp100-ds0__ldam_drw__seed0__324625f2"),
          ("erm", "cifar10_lt", ["method.mix=mixup"], "cifar10_lt-exp100-ds0__erm__seed0__e89eb48b"),
          ("logit_adjust", "cifar10_lt", ["dataset.imbalance_ratio=10"],
           "cifar10_lt-exp10-ds0__logit_adjust__seed0__8c91ebc0"),  # no official recipe at ratio 10
          ("balanced_softmax", "cifar100_lt", [], "cifar100_lt-exp100-ds0__balanced_softmax__seed0__ff4ad727"),
          # run.recipe=shared: the dataset's shared recipe, as every run had before the authors' recipes
          ("logit_adjust", "cifar10_lt", ["run.recipe=shared"], "cifar10_lt-exp100-ds0__logit_adjust__seed0__695ac2bc"),
          ("la_posthoc", "cifar10_lt", [], "cifar10_lt-exp100-ds0__la_posthoc__seed0__b1f6237b"),
          ("erm_wd", "cifar100_lt", ["dataset.imbalance_ratio=10"],
           "cifar100_lt-exp10-ds0__erm_wd__seed0__2dfaa41a")]
CHANGED = [("crt", "cifar10_lt", [], "cifar10_lt-exp100-ds0__crt__seed0__a909ad36"),  # nn.Linear's init
           # MiSLAS's stage 1 decays x0.1 on CIFAR (erm_mixup, and mislas on CIFAR with it)
           ("erm_mixup", "cifar100_lt", [], "cifar100_lt-exp100-ds0__erm_mixup__seed0__8b40c8b8"),
           ("crt", "imagenet_lt", [], "imagenet_lt-natural__crt__seed0__b376062c"),
           ("lws", "inat2018", [], "inat2018-natural__lws__seed0__5aa41240"),  # iNaturalist's weight decay
           # stage.batch_size 512 is ImageNet-LT's train.batch_size: the same run as null (bench/plan/usage.py ALIASES)
           ("lws", "imagenet_lt", [], "imagenet_lt-natural__lws__seed0__fd3719d0"),
           # keys that change nothing left the ids (bench/plan/usage.py): iNaturalist's defer epoch under erm; ride's
           # head=normed is LDAM's auto; sade_tta's and crt's stage batch equals the parent's; the router's loss
           ("erm", "inat2018", [], "inat2018-natural__erm__seed0__522e2050"),
           ("ride", "cifar10_lt", [], "cifar10_lt-exp100-ds0__ride__seed0__08f78b5d"),
           ("sade_tta", "cifar10_lt", [], "cifar10_lt-exp100-ds0__sade_tta__seed0__b07a5fb6"),
           ("mislas", "places_lt", [], "places_lt-natural__mislas__seed0__414c7579"),
           ("ride_ea", "cifar10_lt", [], "cifar10_lt-exp100-ds0__ride_ea__seed0__ae218299"),
           ("crt", "places_lt", [], "places_lt-natural__crt__seed0__6965694b"),
           ("erm", "cifar10_lt", ["method.mix=cutmix"], "cifar10_lt-exp100-ds0__erm__seed0__1b8261e2"),
           ("wb", "cifar100_lt", [], "cifar100_lt-exp100-ds0__wb__seed0__d1529a09"),  # the official CB loss
           ("mislas", "cifar100_lt", [], "cifar100_lt-exp100-ds0__mislas__seed0__c19a4cae"),  # MiSLAS per config
           ("mislas", "cifar10_lt", [], "cifar10_lt-exp100-ds0__mislas__seed0__98f67a25"),
           ("mislas", "imagenet_lt", [], "imagenet_lt-natural__mislas__seed0__05458ee2"),
           ("erm_mixup", "imagenet_lt", [], "imagenet_lt-natural__erm_mixup__seed0__6491ac71"),  # alpha 0.2
           ("logit_adjust", "cifar10_lt", [], "cifar10_lt-exp100-ds0__logit_adjust__seed0__695ac2bc"),
           ("logit_adjust", "cifar100_lt", [], "cifar100_lt-exp100-ds0__logit_adjust__seed0__7d4e5e67"),
           ("balanced_softmax", "cifar10_lt", ["dataset.imbalance_ratio=200"],
            "cifar10_lt-exp200-ds0__balanced_softmax__seed0__4d6cf012"),
           # the closed-world transcriptions (bench/methods/transcripts/): cRT / LWS / MiSLAS sample with the
           # official ClassAwareSampler, cRT / LWS update the frozen backbone's BN statistics, erm_wd trains the
           # demo's 320 epochs at batch 64 on CIFAR-100-LT ratio 100
           ("lws", "cifar10_lt", [], "cifar10_lt-exp100-ds0__lws__seed0__45e9d646"),
           ("mislas", "fashion_mnist_lt", [], "fashion_mnist_lt-exp100-ds0__mislas__seed0__09995233"),
           ("mislas", "cifar100_lt", ["run.recipe=shared"], "cifar100_lt-exp100-ds0__mislas__seed0__c19a4cae"),
           ("erm_wd", "cifar100_lt", [], "cifar100_lt-exp100-ds0__erm_wd__seed0__f606c894")]


@pytest.mark.parametrize("method, dataset, sets, old", PINNED)
def test_run_ids_of_unchanged_recipes_stay(method, dataset, sets, old):
    assert run_name(resolve(method, dataset, 0, sets=sets)) == old


@pytest.mark.parametrize("method, dataset, sets, old", CHANGED)
def test_run_ids_of_changed_recipes_move(method, dataset, sets, old):
    assert run_name(resolve(method, dataset, 0, sets=sets)) != old


@pytest.mark.parametrize("method, dataset, expected", [
    ("crt", "imagenet_lt", dict(epochs=10, batch_size=512, lr=0.2, weight_decay=5e-4)),
    ("crt", "inat2018", dict(epochs=30, batch_size=512, lr=0.2, weight_decay=1e-4)),
    ("crt", "places_lt", dict(epochs=10, batch_size=256, lr=0.1, weight_decay=5e-4)),
    ("lws", "imagenet_lt", dict(epochs=5, batch_size=512, lr=0.2, weight_decay=5e-4)),
    ("lws", "inat2018", dict(epochs=5, batch_size=512, lr=0.2, weight_decay=1e-4)),
    ("lws", "places_lt", dict(epochs=5, batch_size=256, lr=0.1, weight_decay=5e-4)),
])
def test_crt_and_lws_use_classifier_balancings_config_per_dataset(method, dataset, expected):
    """facebookresearch/classifier-balancing config/{ImageNet_LT,iNaturalist18,Places_LT}/cls_{crt,lws}.yaml."""
    stage = resolve(method, dataset, 0)["stage"]
    assert {k: stage[k] for k in expected} == expected
    assert stage["reinit_init"] == ("pytorch" if method == "crt" else "kaiming")


# dvlab-research/MiSLAS config/<dataset>/<name>_stage2_mislas.yaml, as released:
# (smooth_head, smooth_tail, shift_bn, lr_factor, weight_decay, batch_size); imb001 = ratio 100, imb002 = 50, imb01 = 10
MISLAS_CONFIGS = {
    ("cifar10_lt", 100): (0.3, 0.0, False, 0.5, 2e-4, 128), ("cifar10_lt", 50): (0.2, 0.0, False, 0.2, 2e-4, 128),
    ("cifar10_lt", 10): (0.1, 0.0, False, 0.2, 2e-4, 128), ("cifar100_lt", 100): (0.4, 0.1, True, 0.2, 2e-4, 128),
    ("cifar100_lt", 50): (0.3, 0.0, True, 0.1, 2e-4, 128), ("cifar100_lt", 10): (0.2, 0.0, True, 0.1, 2e-4, 128),
    ("imagenet_lt", None): (0.3, 0.0, True, 0.05, 5e-4, 256), ("inat2018", None): (0.3, 0.0, True, 0.05, 1e-4, 256),
    ("places_lt", None): (0.4, 0.1, True, 0.05, 5e-4, 256)}


@pytest.mark.parametrize("dataset, ratio", list(MISLAS_CONFIGS))
def test_mislas_stage2_resolves_to_the_official_config_of_the_dataset_and_ratio(dataset, ratio):
    sets = [f"dataset.imbalance_ratio={ratio}"] if ratio else []
    cfg = resolve("mislas", dataset, 0, sets=sets)
    stage, m = cfg["stage"], cfg["method"]
    batch = stage["batch_size"] or resolve("erm_mixup", dataset, 0, sets=sets)["train"]["batch_size"]
    got = (m["smooth_head"], m["smooth_tail"], stage["bn"] == "update", stage["classifier_lr_factor"],
           stage["weight_decay"], batch)
    assert got == MISLAS_CONFIGS[(dataset, ratio)]
    assert (stage["epochs"], stage["lr"]) == (10, 0.1)  # every config: num_epochs 10, lr 0.1, cosine


def test_a_users_setting_wins_over_the_ratio_recipe_and_other_ratios_keep_the_defaults():
    m = resolve("mislas", "cifar100_lt", 0, sets=["dataset.imbalance_ratio=50", "method.smooth_head=0.7"])["method"]
    assert (m["smooth_head"], m["smooth_tail"]) == (0.7, 0.0)  # the user's head, the ratio-50 config's tail
    stage = resolve("mislas", "cifar100_lt", 0, sets=["dataset.imbalance_ratio=200"])["stage"]
    assert (stage["classifier_lr_factor"], stage["bn"]) == (0.5, "update")  # no official ratio-200 config
    assert resolve("mislas", "cifar10_lt", 0, sets=["dataset.profile=step"])["stage"]["bn"] == "frozen"


def test_mixup_alpha_is_0_2_on_the_large_datasets_as_mislas_stage_1():
    alphas = {d: resolve("erm_mixup", d, 0)["method"]["mix_alpha"] for d in
              ("cifar10_lt", "cifar100_lt", "fashion_mnist_lt", "imagenet_lt", "inat2018", "places_lt")}
    assert alphas == dict(cifar10_lt=1.0, cifar100_lt=1.0, fashion_mnist_lt=1.0, imagenet_lt=0.2, inat2018=0.2,
                          places_lt=0.2)


def test_logit_adjustments_schedule_is_the_official_one_after_warm_up():
    """google-research logit_adjustment/utils.py: (multiplier, start epoch) pairs (1, 0), (0.1, 604), (0.01, 926),
    (0.001, 1128) for CIFAR-10 over 1241 epochs; 691/1059/1290 of 1419 for CIFAR-100; base 0.1. bench applies it per
    epoch: equal at every epoch's start after the warm-up (20 / 22 epochs)."""
    from bench.parts.schedules import learning_rate

    for dataset, epochs, warmup, decays in (("cifar10_lt", 1241, 20, (604, 926, 1128)),
                                            ("cifar100_lt", 1419, 22, (691, 1059, 1290))):
        train = resolve("logit_adjust", dataset, 0)["train"]
        assert (train["epochs"], train["warmup_epochs"], train["nesterov"], train["batch_size"]) == (epochs, warmup,
                                                                                                     True, 128)
        official = [0.1 * 0.1 ** sum(e >= d for d in decays) for e in range(warmup, epochs)]
        assert [learning_rate(e, train) for e in range(warmup, epochs)] == pytest.approx(official, rel=1e-12)
    quick = resolve("logit_adjust", "cifar10_lt", 0, presets=["quick"])["train"]
    assert [learning_rate(e, quick) for e in (6, 7, 11, 13)] == pytest.approx([0.1, 0.01, 1e-3, 1e-4])


def test_balanced_softmax_epochs_come_from_the_official_iterations_and_the_ratio_200_subset():
    """balanced_softmax_imba200.yaml: num_iterations 13000, warmup_iterations 800, batch 512; run_networks.py turns
    them into epochs with len(loader) = ceil(N / 512), N from ImbalanceCIFAR's int(n_max * (1/200)^(c/(C-1)))."""
    for dataset, classes, n_max in (("cifar10_lt", 10, 5000), ("cifar100_lt", 100, 500)):
        n = sum(int(n_max * (1 / 200) ** (c / (classes - 1))) for c in range(classes))
        steps = math.ceil(n / 512)
        cfg = resolve("balanced_softmax", dataset, 0, sets=["dataset.imbalance_ratio=200"])
        t = cfg["train"]
        # the scheduler steps before each 1-based epoch: 0-based epochs up to ceil(800 / steps) - 2 warm up, the
        # cosine peaks at the next (run_networks.py:57, 320, 328)
        assert (t["epochs"], t["warmup_epochs"]) == (math.ceil(13000 / steps), math.ceil(800 / steps) - 1)
        assert (t["lr"], t["batch_size"], t["weight_decay"], t["schedule"]) == (0.1, 512, 5e-4, "cosine")
        assert (cfg["augment"]["policy"], cfg["augment"]["cutout"]) == ("autoaugment_cifar", 16)


def test_crts_new_classifier_is_drawn_as_nn_linears_default(cifar_root, tmp_path):
    """classifier-balancing's DotProductClassifier is nn.Linear with its default init: |w| <= 1 / sqrt(in); bench's
    Kaiming-normal linear head (std sqrt(2 / in)) would exceed that bound many times over."""
    from bench.store.checkpoint import decode

    out = tmp_path / "out"
    sets = ["dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "dataset.imbalance_ratio=10",
            "stage.epochs=1", "stage.lr=1e-12", "stage.weight_decay=0"]
    assert main(["run", "--methods", "crt", "--datasets", "cifar10_lt", "--epochs", "1", "--data-root",
                 str(cifar_root), "--out", str(out), "--no-progress", "--set", *sets]) == 0
    (run_dir,) = [p.parent for p in out.glob("*__crt__*/result.json")]
    head = decode((run_dir / "checkpoint.pt").read_bytes(), "cpu")["model"]["1.weight"]
    bound = 1 / math.sqrt(head.shape[1])
    assert head.abs().max() <= bound + 1e-6 and head.abs().max() > 0.9 * bound  # uniform(-bound, bound)


def official_cutmix(seed, prob, images, labels, calls):
    """clovaai/CutMix-PyTorch train.py, per batch: r = rand(); if r < cutmix_prob: lam ~ Beta(1, 1), a random
    permutation, rand_bbox, lam recomputed from the box (bench draws them from one NumPy generator in that order)."""
    rng, out = np.random.default_rng(seed), []
    for _ in range(calls):
        if not rng.random() < prob:
            out.append((images, labels, 1.0))
            continue
        lam = rng.beta(1.0, 1.0)
        perm = torch.from_numpy(rng.permutation(len(labels)))
        h, w = images.shape[-2:]
        y1, y2, x1, x2 = cutmix_box(h, w, lam, rng)
        mixed = images.clone()
        mixed[..., y1:y2, x1:x2] = images[perm][..., y1:y2, x1:x2]
        out.append((mixed, labels[perm], 1.0 - (y2 - y1) * (x2 - x1) / (h * w)))
    return out


def test_cutmix_is_applied_with_the_official_probability_and_draw_order():
    images, labels = torch.rand(6, 3, 8, 8), torch.arange(6)
    generator = torch.Generator().manual_seed(3)
    seed = int(torch.randint(0, 2**62, (1,), generator=torch.Generator().manual_seed(3)))
    mixer = Mixer("cutmix", 1.0, generator, prob=0.5)
    for got, expected in zip((mixer(images, labels) for _ in range(40)), official_cutmix(seed, 0.5, images, labels,
                                                                                           40)):
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1]) and got[2] == expected[2]
    mixer = Mixer("cutmix", 1.0, torch.Generator().manual_seed(4), prob=0.5)
    big = torch.rand(6, 3, 32, 32)  # a box of no pixel (lam drawn above 1 - 1/1024) is rare at this side
    mixed = sum(mixer(big, labels)[2] != 1.0 for _ in range(2000))
    assert binomtest(int(mixed), 2000, 0.5).pvalue > 1e-4
    assert resolve("erm", "cifar10_lt", 0, sets=["method.mix=cutmix"])["method"]["cutmix_prob"] == 0.5


def official_cb_softmax_loss(logits, labels, counts, beta=0.9999):
    """ShadeAlsha/LTR-weight-balancing utils/class_balanced_loss.py CB_loss(loss_type="softmax"), loop-written:
    w_c = (1 - beta) / (1 - beta^n_c) normalised to sum to C; p = softmax(z); the mean over the B x C entries of
    w_{y_i} * BCE(p_ic, 1[c = y_i]), logs clamped at -100 as torch's binary_cross_entropy."""
    b, c = logits.shape
    w = (1 - beta) / (1 - np.power(beta, np.asarray(counts, dtype=np.float64)))
    w = w / w.sum() * c
    p = np.exp(logits - logits.max(1, keepdims=True))
    p = p / p.sum(1, keepdims=True)
    total = 0.0
    for i in range(b):
        for k in range(c):
            target = 1.0 if k == labels[i] else 0.0
            total += w[labels[i]] * -(target * max(math.log(p[i, k]), -100)
                                      + (1 - target) * max(math.log(1 - p[i, k]), -100))
    return total / (b * c), w


def test_wbs_loss_is_the_official_class_balanced_softmax_bce_and_its_gradient_scale():
    import torch.nn.functional as F

    from bench.methods.registry import PARTS

    rng = np.random.default_rng(0)
    counts = [int(500 * 0.01 ** (k / 99)) for k in range(100)]  # CIFAR-100-LT, ratio 100
    logits, labels = rng.normal(0, 3, (16, 100)), rng.integers(0, 100, 16)
    expected, w = official_cb_softmax_loss(logits, labels, counts)
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    weight = torch.tensor(w)
    loss = PARTS.get("loss", "softmax_bce").forward(z, torch.tensor(labels), weight)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-9)
    assert resolve("wb", "cifar100_lt", 0)["method"]["loss"] == "softmax_bce"
    # the scale the issue describes: about (1 + p_y) sum w_y / (B C) of the weighted cross-entropy's gradient
    loss.backward()
    ce = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    F.cross_entropy(ce, torch.tensor(labels), weight=weight).backward()
    ratio = float(z.grad.norm() / ce.grad.norm())
    assert 1 / 600 < ratio < 1 / 100


def test_bench_list_recipes_says_which_recipe_applies_where_and_how_to_restore_the_official_one():
    from conftest import cli_without_torch

    imported_torch, lines = cli_without_torch(["list", "recipes"])
    assert not imported_torch
    text = "\n".join(lines)
    crt = text.split("\ncrt  [")[1].split("\nlws  [")[0]
    assert "inat2018: authors' (stage.epochs=30, stage.weight_decay=0.0001)" in crt
    assert "places_lt: authors' (stage.batch_size=256, stage.lr=0.1)" in crt
    assert ("deviation: the authors' stage.start=best_val, stage 1 eval.selection=best_val on imagenet_lt; places_lt: "
            "stage 2 starts from the parent's last epoch") in crt
    assert "(--set stage.start=best_val --set eval.selection=best_val)" in crt
    assert ("erm  [transcribed key by key: bench/methods/transcripts/ldam_drw.yaml (kaidic/LDAM-DRW)]\n    every "
            "dataset: the dataset's shared recipe preset") in text
    assert "the authors' stage.start=best_val on cifar100_lt@100" in text.split("\nwb  [")[1]
    mislas = text.split("\nmislas  [")[1].split("\nwb  [")[0]
    assert ("cifar100_lt: authors' (ratio 100: method.smooth_head=0.4, method.smooth_tail=0.1, "
            "stage.classifier_lr_factor=0.2; ratio 50:") in mislas
    assert "cifar10_lt: authors' (stage.bn=frozen; ratio 100:" in mislas
    assert "other ratios and the step profile: the shared preset with the settings above)" in mislas
    assert "fashion_mnist_lt: its stage recipe over the parent's run" in mislas
    assert "\nrun.recipe=shared runs every method on the dataset's shared recipe instead" in text
    lift = text.split("\nlift  [")[1].split("\nla_posthoc  [")[0]  # a recipe named by the preset and the dataset
    assert "cifar10_lt, cifar100_lt, fashion_mnist_lt, imagenet_lt, places_lt: authors' (model.name=" in lift
    assert all(line.count("model.name=") == 1 for line in lift.splitlines() if "authors' (" in line)


def test_a_recipe_named_by_a_dataset_and_its_preset_is_applied_once():
    from bench.datasets.registry import DATASETS
    from bench.methods.registry import METHODS
    from bench.plan.config import DEFAULTS, recipe_layers

    for method in METHODS.values():
        for dataset in DATASETS.values():
            for shared in (False, True):
                sources = [source for source, _ in recipe_layers(method, dataset, DEFAULTS["dataset"], shared)]
                assert len(sources) == len(set(sources)), (method.name, dataset.name, sources)


def test_the_class_aware_sampler_cycles_classes_and_each_classs_images():
    """classifier-balancing data/ClassAwareSampler.py: every pass over the classes visits each class once, 4 images
    of it in a row; a class's images come in a cycle (none again before all were drawn)."""
    from bench.parts.samplers import class_aware_order

    labels = torch.tensor([0] * 10 + [1] * 5 + [2] * 2 + [3] * 1)
    order = class_aware_order(labels, 4, 4, torch.Generator().manual_seed(0))
    assert len(order) == len(labels) and torch.equal(order, class_aware_order(labels, 4, 4,
                                                                              torch.Generator().manual_seed(0)))
    visits = [labels[order[i:i + 4]] for i in range(0, 16, 4)]  # 4 visits of 4: the first pass over the classes
    assert all(len(set(v.tolist())) == 1 for v in visits)
    assert sorted(int(v[0]) for v in visits) == [0, 1, 2, 3]
    longer = class_aware_order(labels.repeat(10), 4, 4, torch.Generator().manual_seed(1))
    drawn = labels.repeat(10)[longer].view(-1, 4)
    assert all(len(set(row.tolist())) == 1 for row in drawn)
    visited = drawn[:, 0]
    passes = visited[:len(visited) // 4 * 4].view(-1, 4)  # every complete pass of 4 visits covers the 4 classes
    assert all(sorted(p.tolist()) == [0, 1, 2, 3] for p in passes)
    first_class = longer[labels.repeat(10)[longer] == 3][:10]  # class 3 has 10 images: a full cycle first
    assert len(set(first_class.tolist())) == 10


@pytest.mark.parametrize("recipe, shared", [("authors", False), ("shared", True)])
def test_the_paper_comparison_shows_mislas_published_number_and_flags_a_run_off_the_authors_recipe(
        tmp_path, recipe, shared):
    """MiSLAS README: 47.0% on CIFAR-100-LT ratio 100; every key where a run differs from the authors'
    transcription is listed: the declared deviations (the last epoch reported), and on the shared recipe its
    smoothing 0.3 -> 0.0 and LR factor 0.5."""
    import json
    import shutil
    from pathlib import Path

    from bench.report.build import report

    golden = Path(__file__).parent / "data" / "golden"
    template = next(golden.glob("*__ldam_drw__seed0__*"))
    run = tmp_path / "r" / "cifar100_lt-exp100-ds0__mislas__seed0"
    shutil.copytree(template, run)
    result = json.loads((run / "result.json").read_text())
    cfg = resolve("mislas", "cifar100_lt", 0, sets=[f"run.recipe={recipe}"])
    result.update(config=cfg, method="mislas", dataset="cifar100_lt", run_id=run.name)
    (run / "result.json").write_text(json.dumps(result))
    paper = report([tmp_path / "r"], compare="paper")[-1]
    (row,) = [r for r in paper.rows if r[0].startswith("mislas") and r[0].endswith(" = MiSLAS")]
    ours = 100 - result["last"]["top1"]
    assert row[1][0].text == f"{ours:.2f} / {100 - 47.0:.2f} ({ours - 53.0:+.2f})"  # one seed: no sd
    notes = [text for text, _ in paper.notes]
    (off,) = [n for n in notes if "differ from the authors' code behind the published number" in n]
    assert "eval.selection=last (the authors' best_test)" in off
    smoothing = ("method.smooth_head=0.3 (the authors' 0.4), method.smooth_tail=0.0 (the authors' 0.1), "
                 "stage.classifier_lr_factor=0.5 (the authors' 0.2)")
    assert (smoothing in off) == shared
    assert any(n.startswith("Zhong et al., CVPR 2021; dvlab-research/MiSLAS README.md") for n in notes)
    # the method's declared deviations, the same text as bench list recipes and docs/recipes.md
    from bench.methods.registry import METHODS

    (declared,) = [n for n in notes if n.startswith("mislas: what differs from the official code")]
    assert all(d in declared for d in METHODS["mislas"].deviations)


def test_stage2_starts_from_the_parents_best_on_val_epoch_when_asked(cifar_root, tmp_path, monkeypatch):
    """classifier-balancing loads the stage-1 model best on validation: with stage.start=best_val cRT's frozen
    backbone is bit-identical to the parent's best.pt (the epoch its result reports as best), not its last. The
    validation scores are set (epoch 1 best), so the test never depends on what a CPU's float order trains."""
    from bench.engine import trainer
    from bench.store.checkpoint import decode

    scores, real = iter([10.0, 60.0, 20.0, 20.0]), trainer.evaluate_metrics

    def scored(logits, labels, counts, *args):
        metrics = real(logits, labels, counts, *args)
        return metrics if args else {**metrics, "top1": next(scores, 0.0)}  # the val split's: 3 arguments

    monkeypatch.setattr(trainer, "evaluate_metrics", scored)
    out = tmp_path / "out"
    sets = ["dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "dataset.imbalance_ratio=10",
            "eval.selection=best_val", "stage.epochs=1", "stage.batch_size=64", "train.lr=5"]
    argv = ["run", "--methods", "crt", "--datasets", "cifar10_lt", "--epochs", "4", "--data-root", str(cifar_root),
            "--out", str(out), "--no-progress", "--set", *sets]
    assert main([*argv, "stage.start=best_val"]) == 0
    (child,) = [p.parent for p in out.glob("*__crt__*/result.json")]
    (parent,) = [p.parent for p in out.glob("*__erm__*/result.json")]
    import json

    best_epoch = json.loads((parent / "result.json").read_text())["best"]["epoch"]
    best = decode((parent / "best.pt").read_bytes(), "cpu")
    assert best["epoch"] == best_epoch
    last = decode((parent / "checkpoint.pt").read_bytes(), "cpu")["model"]
    model = decode((child / "checkpoint.pt").read_bytes(), "cpu")["model"]
    backbone = [k for k in model if k.startswith("0.") and "running_" not in k and "num_batches" not in k]
    assert all(torch.equal(model[k], best["model"][k]) for k in backbone)
    assert best_epoch == 1 and not all(torch.equal(model[k], last[k]) for k in backbone)
    plain = [a for a in argv if a != "eval.selection=best_val"]
    assert main([*plain, "stage.start=best_val"]) == 2  # without a validation split: refused


def test_the_zoo_page_shows_every_published_number_bench_compares_against():
    """docs/zoo.md's 'As published' table and bench/report/published.yaml stay in step: each number is in its
    method's row (to one decimal), and every method with a number has a row."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "zoo.md").read_text().split("## As published")[1]
    rows = {line.split("|")[1].strip().strip("`"): line for line in page.splitlines() if line.startswith("| `")}
    for entry in yaml.safe_load((root / "bench" / "report" / "published.yaml").read_text())["numbers"]:
        cells = [c.strip() for c in rows[entry["method"]].split("|")]
        assert f"{entry['top1']:.1f}" in cells, entry


def test_the_shared_recipe_keeps_what_a_method_needs_and_never_shares_a_cell_with_the_authors(tmp_path):
    """run.recipe=shared drops the per-dataset and per-ratio schedules only: a CLIP method keeps its network and
    SADE its CIFAR recipe (same run id); a report puts mislas on each recipe in its own row."""
    import json
    import shutil
    from pathlib import Path

    from bench.report.build import report

    assert resolve("lift", "cifar100_lt", 0, sets=["run.recipe=shared"])["model"]["name"] == "clip_vit_b16"
    assert run_name(resolve("sade", "cifar10_lt", 0, sets=["run.recipe=shared"])) == \
        run_name(resolve("sade", "cifar10_lt", 0))
    template = next((Path(__file__).parent / "data" / "golden").glob("*__ldam_drw__seed0__*"))
    for recipe in ("authors", "shared"):
        cfg = resolve("mislas", "cifar100_lt", 0, sets=[f"run.recipe={recipe}"])
        run = tmp_path / "r" / run_name(cfg)
        shutil.copytree(template, run)
        result = json.loads((run / "result.json").read_text())
        result.update(config=cfg, method="mislas", dataset="cifar100_lt", run_id=run.name)
        (run / "result.json").write_text(json.dumps(result))
    labels = [label for label, _ in report([tmp_path / "r"])[0].rows]
    assert len(labels) == 2 and "mislas" in labels
    (shared,) = [label for label in labels if label != "mislas"]
    assert "smooth_head=0.3" in shared and "classifier_lr_factor=0.5" in shared


def test_the_official_step_and_cosine_schedules_of_mislas_stage_1_paco_and_bcl():
    """Transcribed from the official adjust_learning_rate functions (0-based epochs): MiSLAS train_stage1.py
    (epoch += 1; <= 5 warm-up lr * epoch / 5; > 180: x0.01; > 160: x0.1), PaCo paco_cifar.py (<= 10: lr / 10 *
    (epoch + 1); > 360: x0.01; > 320: x0.1), PaCo paco_lt.py and BCL main.py (< W: lr / W * (epoch + 1); else
    lr * 0.5 * (1 + cos(pi * (epoch - W + 1) / (epochs - W + 1))))."""
    from bench.parts.schedules import learning_rate

    def mislas(e):
        e += 1
        return 0.1 * e / 5 if e <= 5 else 0.1 * (0.01 if e > 180 else 0.1 if e > 160 else 1)

    def paco_cifar(e):
        return 0.05 / 10 * (e + 1) if e <= 10 else 0.05 * (0.01 if e > 360 else 0.1 if e > 320 else 1)

    def cosine(e, lr, warmup, epochs):
        return lr / warmup * (e + 1) if e < warmup else \
            lr * 0.5 * (1 + math.cos(math.pi * (e - warmup + 1) / (epochs - warmup + 1)))

    for dataset in ("cifar10_lt", "cifar100_lt"):
        train = resolve("erm_mixup", dataset, 0)["train"]
        assert [learning_rate(e, train) for e in range(200)] == pytest.approx([mislas(e) for e in range(200)])
        train = resolve("paco", dataset, 0)["train"]
        # all but epoch 10, where the official warm-up's `<=` gives 1.1x the peak (a declared deviation)
        assert [learning_rate(e, train) for e in range(400) if e != 10] == \
            pytest.approx([paco_cifar(e) for e in range(400) if e != 10])
    for method, dataset, lr, warmup, epochs in (("paco", "imagenet_lt", 0.02, 10, 400),
                                                ("paco", "inat2018", 0.02, 10, 400),
                                                ("bcl", "imagenet_lt", 0.1, 0, 90), ("bcl", "inat2018", 0.2, 0, 100)):
        train = resolve(method, dataset, 0)["train"]
        assert [learning_rate(e, train) for e in range(epochs)] == \
            pytest.approx([cosine(e, lr, warmup, epochs) for e in range(epochs)], rel=1e-12), (method, dataset)


def test_inaturalist_trains_on_random_resized_crops_where_the_official_codes_do():
    """RIDE, SADE (data_loader/inaturalist_data_loaders.py), PaCo (paco_lt.py) and BCL (main.py) train iNaturalist
    on RandomResizedCrop(224), not the LDAM-DRW preset's Resize(256) + RandomCrop(224)."""
    for method in ("ride", "sade", "paco", "bcl"):
        assert resolve(method, "inat2018", 0)["augment"]["train_crop"] == "random_resized", method
    assert resolve("ldam_drw", "inat2018", 0)["augment"]["train_crop"] == "resize_random"


def test_drop_last_trains_full_batches_only_as_the_official_loaders_of_balanced_softmax_and_paco(cifar_root,
                                                                                               tmp_path):
    """train.drop_last leaves out the images past an epoch's last full batch (the same order, the tail dropped);
    Balanced Softmax's and PaCo's CIFAR recipes set it (run_networks.py int(N / 512) steps; paco_cifar.py
    drop_last=True); an epoch with no full batch is one clear error."""
    from bench.cli import main
    from bench.engine.trainer import full_batches
    from bench.errors import BenchError
    from bench.store.checkpoint import decode

    assert full_batches(torch.arange(10), 4).tolist() == list(range(8))
    with pytest.raises(BenchError, match="train.drop_last leaves no full batch of 16 from the epoch's 10 images"):
        full_batches(torch.arange(10), 16)
    assert resolve("balanced_softmax", "cifar10_lt", 0, sets=["dataset.imbalance_ratio=200"])["train"]["drop_last"]
    assert resolve("paco", "cifar100_lt", 0)["train"]["drop_last"]
    assert not resolve("ldam_drw", "cifar10_lt", 0)["train"]["drop_last"]
    seen = {}
    for drop in ("true", "false"):
        out = tmp_path / drop
        assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "1", "--data-root",
                     str(cifar_root), "--out", str(out), "--no-progress", "--set", "model.name=small_cnn",
                     "dataset.imbalance_ratio=10", "dataset.verify=false", "train.batch_size=64",
                     f"train.drop_last={drop}"]) == 0
        (run,) = [p for p in out.iterdir() if p.is_dir()]
        seen[drop] = decode((run / "checkpoint.pt").read_bytes(), "cpu")["state"]["images_seen"]
    assert seen["true"] == seen["false"] // 64 * 64 and seen["false"] % 64 != 0
