"""Recipes as published (issue 26, in progress): cRT/LWS per dataset from classifier-balancing's configs, cRT's new
classifier drawn as nn.Linear's default, CutMix applied with a probability as clovaai/CutMix-PyTorch, and run ids
that change only for the methods whose computation changed."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

from bench.cli import main
from bench.config import resolve
from bench.methods.mix import Mixer, cutmix_box
from bench.rundir import run_name

# run ids at the commit before these changes (4a8092f): the methods whose recipes did not change keep them
PINNED = [("erm", "cifar10_lt", [], "cifar10_lt-exp100-ds0__erm__seed0__78e3ded2"),
          ("ldam_drw", "cifar100_lt", [], "cifar100_lt-exp100-ds0__ldam_drw__seed0__324625f2"),
          ("lws", "cifar10_lt", [], "cifar10_lt-exp100-ds0__lws__seed0__45e9d646"),
          ("lws", "imagenet_lt", [], "imagenet_lt-natural__lws__seed0__fd3719d0"),
          ("erm", "cifar10_lt", ["method.mix=mixup"], "cifar10_lt-exp100-ds0__erm__seed0__e89eb48b"),
          ("mislas", "cifar100_lt", [], "cifar100_lt-exp100-ds0__mislas__seed0__c19a4cae"),
          ("la_posthoc", "cifar10_lt", [], "cifar10_lt-exp100-ds0__la_posthoc__seed0__b1f6237b"),
          ("erm_wd", "cifar100_lt", [], "cifar100_lt-exp100-ds0__erm_wd__seed0__f606c894")]
CHANGED = [("crt", "cifar10_lt", [], "cifar10_lt-exp100-ds0__crt__seed0__a909ad36"),  # nn.Linear's init
           ("crt", "imagenet_lt", [], "imagenet_lt-natural__crt__seed0__b376062c"),
           ("lws", "inat2018", [], "inat2018-natural__lws__seed0__5aa41240"),  # iNaturalist's weight decay
           ("erm", "cifar10_lt", ["method.mix=cutmix"], "cifar10_lt-exp100-ds0__erm__seed0__1b8261e2"),
           ("wb", "cifar100_lt", [], "cifar100_lt-exp100-ds0__wb__seed0__d1529a09")]  # the official CB loss


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


def test_crts_new_classifier_is_drawn_as_nn_linears_default(cifar_root, tmp_path):
    """classifier-balancing's DotProductClassifier is nn.Linear with its default init: |w| <= 1 / sqrt(in); bench's
    Kaiming-normal linear head (std sqrt(2 / in)) would exceed that bound many times over."""
    from bench.checkpoint import decode

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
    assert "deviation: the frozen backbone's BN statistics stay fixed" in crt and "(stage.bn=update)" in crt
    assert "erm\n    every dataset: the dataset's shared recipe preset" in text
    assert "(stage.max_norm_at=epoch)" in text.split("\nwb  [")[1]


def test_the_class_aware_sampler_cycles_classes_and_each_classs_images():
    """classifier-balancing data/ClassAwareSampler.py: every pass over the classes visits each class once, 4 images
    of it in a row; a class's images come in a cycle (none again before all were drawn)."""
    from bench.methods.samplers import class_aware_order

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
