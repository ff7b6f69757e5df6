"""Contrastive methods: the SimCLR views against torchvision's kernels and draw rates, PaCo's loss against the
transcribed official formula (dvlab-research/Parametric-Contrastive-Learning PaCo/LT/losses.py PaCoLoss), its
queue and momentum encoder, its recipe, bad input and an exact mid-epoch resume."""

import json

import pytest
import torch
from scipy.stats import binomtest
from test_preempt import fixture_run, resumes_exactly
from torchvision.transforms.v2 import functional as TF

from bench.algorithms.bcl import balanced_contrastive_loss
from bench.algorithms.paco import paco_loss
from bench.cli import main
from bench.images.views import build_view, color_jitter, gaussian_blur
from bench.models.bclnet import BCLNet
from bench.models.paconet import PaCoNet
from bench.models.small_cnn import small_cnn
from bench.plan.config import resolve


def test_the_view_kernels_are_torchvision_s_with_each_image_s_factors():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (24, 3, 16, 16), dtype=torch.uint8)
    order = torch.argsort(torch.rand(24, 4), 1)
    factors = torch.cat([torch.rand(24, 3) * 0.8 + 0.6, torch.rand(24, 1) * 0.2 - 0.1], 1)
    ours = color_jitter(x, order, factors, torch.ones(24, dtype=torch.bool))
    ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for i in range(24):
        expected = x[i]
        for op in order[i].tolist():
            expected = ops[op](expected, float(factors[i, op]))
        assert (expected.int() - ours[i].int()).abs().max() <= 1  # float rounding of a per-image ratio
    sigma = torch.rand(24) * 1.9 + 0.1
    blurred = gaussian_blur(x, 3, sigma)
    for i in range(24):
        assert torch.equal(blurred[i], TF.gaussian_blur(x[i], [3, 3], [float(sigma[i])] * 2))
    off = color_jitter(x, order, factors, torch.zeros(24, dtype=torch.bool))
    assert torch.equal(off, x)


def test_a_simclr_view_draws_grey_and_blur_at_torchvision_s_rates():
    x = torch.zeros(4000, 3, 8, 8, dtype=torch.uint8)
    x[:, 0] = 200  # a red image: grey only through RandomGrayscale (jitter keeps saturation >= 0.6)
    out = build_view("simclr", 8)(x, torch.Generator().manual_seed(0))
    grey = ((out[:, 0] == out[:, 1]) & (out[:, 1] == out[:, 2])).flatten(1).all(1).sum().item()
    assert binomtest(grey, 4000, 0.2).pvalue > 1e-3
    assert build_view("simclr_blur", 32).kernel == 3 and build_view("simclr_blur", 224).kernel == 23


def reference_paco_loss(q, contrast, contrast_labels, class_logits, labels, log_prior, alpha, beta, gamma, t):
    """The per-anchor formula, written out with loops (the official PaCoLoss, transcribed)."""
    total = 0.0
    for i in range(len(q)):
        z = class_logits[i] + log_prior
        s = torch.stack([q[i] @ contrast[j] / t for j in range(len(contrast))])
        others = [j for j in range(len(contrast)) if j != i]
        denominator = z.exp().sum() + gamma * sum(s[j].exp() for j in others)
        positives = [j for j in others if contrast_labels[j] == labels[i]]
        numerator = beta * (z[labels[i]] - denominator.log()) + alpha * sum(s[j] - denominator.log() for j in positives)
        total = total - numerator / (beta + alpha * len(positives))
    return total / len(q)


def test_the_paco_loss_is_the_transcribed_formula():
    torch.manual_seed(0)
    b, k, classes, dim = 6, 5, 4, 8
    q = torch.nn.functional.normalize(torch.randn(b, dim), dim=1)
    contrast = torch.cat([q, torch.nn.functional.normalize(torch.randn(b + k, dim), dim=1)])
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    contrast_labels = torch.cat([labels, labels, torch.randint(classes, (k,))])
    class_logits, log_prior = torch.randn(b, classes), torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    for alpha, beta, gamma, t in ((0.01, 1.0, 1.0, 0.05), (0.5, 2.0, 0.5, 0.2)):
        ours = paco_loss(q, contrast, contrast_labels, class_logits, labels, log_prior, alpha, beta, gamma, t)
        expected = reference_paco_loss(q, contrast, contrast_labels, class_logits, labels, log_prior, alpha, beta,
                                       gamma, t)
        assert ours.item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_queue_is_a_ring_and_the_key_encoder_a_moving_average():
    torch.manual_seed(0)
    net = PaCoNet(small_cnn(1), num_classes=3, dim=4, queue=5, momentum=0.9)
    assert torch.allclose(net.queue.norm(dim=0), torch.ones(4))  # the official init: unit columns
    net.enqueue(torch.ones(3, 4), torch.tensor([0, 1, 2]))
    net.enqueue(2 * torch.ones(3, 4), torch.tensor([2, 2, 2]))  # wraps around: rows 3, 4, 0
    assert net.queue[:, 0].tolist() == [2, 1, 1, 2, 2] and net.queue_labels.tolist() == [2, 1, 2, 2, 2]
    assert net.queue_ptr.item() == 1
    with torch.no_grad():
        for p in net.backbone.parameters():
            p.add_(1.0)
    before = [p.clone() for p in net.key_backbone.parameters()]
    net.train()
    net(torch.randn(2, 1, 8, 8), keys_from=torch.randn(2, 1, 8, 8))
    for old, key, own in zip(before, net.key_backbone.parameters(), net.backbone.parameters()):
        torch.testing.assert_close(key, 0.9 * old + 0.1 * own)


def test_the_paco_recipe_on_cifar():
    cfg = resolve("paco", "cifar100_lt", 0)
    t, a = cfg["train"], cfg["augment"]
    assert (t["epochs"], t["lr"], t["nesterov"], t["weight_decay"], t["warmup_epochs"]) == (400, 0.05, False, 5e-4, 10)
    assert (t["milestone_fractions"], t["lr_decay"]) == ([0.8, 0.9], 0.1)  # epochs 320 and 360
    assert (a["policy"], a["cutout"]) == ("autoaugment_cifar", 16)
    assert (cfg["method"]["paco_alpha"], cfg["method"]["paco_temperature"], cfg["method"]["paco_queue"]) == \
        (0.01, 0.05, 1024)


def test_a_bad_paco_setting_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "--methods", "paco", "--datasets", "cifar10_lt", "--out", str(out), "--set",
                 "method.paco_temperature=0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "method.paco_temperature must be in (0, 10], got 0" in err[0], err
    assert not out.exists()


def reference_bcl_loss(features, centers, labels, t):
    """BalSCL written out per anchor (FlamieZhu/Balanced-Contrastive-Learning loss/contrastive.py, transcribed)."""
    members = torch.cat([features, centers])
    member_labels = torch.cat([labels, labels, torch.arange(len(centers))])
    total = 0.0
    for i in range(len(features)):
        s = [features[i] @ members[k] / t for k in range(len(members))]
        denominator = 0.0
        for j in range(len(centers)):
            ks = [k for k in range(len(members)) if member_labels[k] == j and k != i]
            denominator = denominator + sum(s[k].exp() for k in ks) / len(ks)
        positives = [k for k in range(len(members)) if member_labels[k] == member_labels[i] and k != i]
        total = total - sum(s[p] - torch.log(denominator) for p in positives) / len(positives)
    return total / len(features)


def test_the_balanced_contrastive_loss_is_the_transcribed_formula():
    torch.manual_seed(0)
    labels = torch.tensor([0, 1, 1, 3, 0])  # class 2 absent: its prototype is still in the contrast set
    features = torch.nn.functional.normalize(torch.randn(10, 6), dim=1)
    centers = torch.nn.functional.normalize(torch.randn(4, 6), dim=1)
    for t in (0.1, 0.07):
        expected = reference_bcl_loss(features, centers, labels, t)
        assert balanced_contrastive_loss(features, centers, labels, t).item() == pytest.approx(expected.item(),
                                                                                              rel=1e-5)


def test_bcl_prototypes_come_from_the_classifier_and_train_it():
    torch.manual_seed(0)
    net = BCLNet(small_cnn(1), num_classes=3, hidden=8, dim=4)
    net.train()
    cosines, features, prototypes = net(torch.randn(6, 1, 8, 8), contrastive=True)
    assert cosines.shape == (6, 3) and features.shape == (6, 4) and prototypes.shape == (3, 4)
    balanced_contrastive_loss(features[:4], prototypes, torch.tensor([0, 1]), 0.1).backward()
    assert net.classifier.weight.grad.abs().sum() > 0  # not detached, as the official code
    cfg = resolve("bcl", "cifar100_lt", 0)
    assert (cfg["train"]["batch_size"], cfg["train"]["lr"], cfg["augment"]["policy"]) == \
        (256, 0.15, "autoaugment_cifar")
    assert (cfg["method"]["bcl_alpha"], cfg["method"]["bcl_beta"], cfg["method"]["bcl_temperature"]) == (2.0, 0.6, 0.1)


@pytest.mark.parametrize("method, epochs, extra", [("paco", 2, ["method.paco_queue=100"]), ("bcl", 1, [])])
def test_a_contrastive_run_resumes_mid_epoch_exactly(cifar_root, tmp_path, method, epochs, extra):
    argv = fixture_run(method, cifar_root, *extra, epochs=epochs)
    assert len(resumes_exactly(argv, tmp_path, 3)["metrics"]) == epochs


def test_paco_and_bcl_train_on_image_lists_with_views_drawn_in_the_workers(tmp_path):
    from conftest import write_imagenet_lt

    root, out = write_imagenet_lt(tmp_path / "data"), tmp_path / "out"
    assert main(["run", "--methods", "paco,bcl", "--datasets", "imagenet_lt", "--epochs", "1", "--data-root",
                 str(root), "--out", str(out), "--no-progress", "--set", "model.name=small_cnn",
                 "augment.image_size=32", "augment.resize=36", "train.batch_size=4", "loader.workers=2"]) == 0
    results = {r["method"]: r for r in (json.loads(p.read_text()) for p in out.glob("*/result.json"))}
    assert sorted(results) == ["bcl", "paco"]
    assert all(r["status"] == "done" and r["timing"]["train_images_per_second"] > 0 for r in results.values())
    # the authors' ImageNet-LT recipes: timm's RandAugment on the query / classification view, PaCo's 'sim' key view
    paco, bcl = results["paco"]["config"], results["bcl"]["config"]
    assert paco["augment"]["policy"] == bcl["augment"]["policy"] == "timm_randaugment"
    assert paco["method"]["paco_key_view"] == "moco_sim" and paco["method"]["paco_queue"] == 8192
    assert (paco["train"]["lr"], paco["method"]["paco_temperature"], bcl["train"]["lr"], bcl["method"]["bcl_dim"]) == \
        (0.02, 0.07, 0.1, 1024)
