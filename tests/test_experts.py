"""Multi-expert methods (RIDE, SADE): their networks against the official parameter counts, their losses against
values computed with the official code (frank-xwang/RIDE-LongTailRecognition model/loss.py RIDELoss) and the
transcribed formulas (Vanint/SADE-AgnosticLT model/loss.py DiverseExpertLoss), recipes, bad input, an exact
mid-epoch resume."""

import contextlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from test_preempt import fixture_run, resumes_exactly

from bench.algorithms.ride import diversity_temperature, ride_loss
from bench.algorithms.sade import SADEAlgorithm, inverse_prior, sade_loss
from bench.algorithms.step import Step
from bench.cli import main
from bench.models.classifiers import NormedLinear
from bench.models.registry import MODELS
from bench.parts.loss_module import LDAMLoss
from bench.parts.weights import class_balanced_weights
from bench.plan.config import resolve


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def cifar100_lt_counts():
    return [int(500 * 0.01 ** (i / 99)) for i in range(100)]


@pytest.mark.parametrize("experts, reduce, expected", [(3, True, 783_856), (3, False, 1_362_064), (1, False, 469_904)])
def test_the_cifar_expert_resnet32_has_the_official_parameter_count(experts, reduce, expected):
    # counted on the official ride_resnet_cifar.py (100 classes, NormedLinear heads); 1 expert, full widths: the
    # plain LDAM ResNet-32
    model = MODELS["resnet32"].build_experts(3, experts, reduce, NormedLinear, 100)
    assert n_params(model) == expected
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    every = model(x, experts=True)
    assert every.shape == (2, experts, 100)
    torch.testing.assert_close(model(x), every.mean(1))  # the prediction: the experts' mean


@pytest.mark.parametrize("name, millions", [("resnet50", 43.68), ("resnext50_32x4d", 42.89), ("resnet10", 9.40)])
def test_the_imagenet_expert_nets_have_the_official_parameter_counts(name, millions):
    # RIDEResNet.py / RIDEResNeXt.py, 3 experts, reduced (192 / 384 planes), 1000 classes
    model = MODELS[name].build_experts(3, 3, True, NormedLinear, 1000)
    assert round(n_params(model) / 1e6, 2) == millions
    assert model.out_features == (384 if name == "resnet10" else 1536)


def official_example(diversity):
    """The official RIDELoss example: 3 classes of 100 / 10 / 1 images, two experts' scaled logits."""
    counts = [100, 10, 1]
    z = torch.tensor([[[10.0, 2, -3], [4, 6, 0]], [[0.0, 5, 1], [-2, 1, 7]]])  # (batch, expert, class)
    loss = LDAMLoss(counts, max_m=0.5, s=30.0, weight=class_balanced_weights(counts, 0.9999))
    temperature = torch.tensor(diversity_temperature(counts, 0.05), dtype=torch.float32)
    return z / 30, torch.tensor([0, 2]), loss, temperature


def test_the_ride_loss_is_the_official_code_s_value():
    # values computed by running the official model/loss.py (reweight_epoch 160, lambda -0.45) on this example
    cosines, labels, loss, temperature = official_example(-0.45)
    assert diversity_temperature([100, 10, 1], 0.05) == pytest.approx([1.0, 0.887920, 0.876712], abs=1e-6)
    loss.set_rebalancing(False)  # epoch 160 (1-based): no DRW weights, temperature 1
    assert ride_loss(cosines, labels, loss, 30.0, -0.45, None).item() == pytest.approx(16.200119, abs=2e-5)
    loss.set_rebalancing(True)  # epoch 161: DRW weights and the per-class temperature
    assert ride_loss(cosines, labels, loss, 30.0, -0.45, temperature).item() == pytest.approx(26.577330, abs=2e-5)
    loss.set_rebalancing(False)  # lambda = 0: each expert's term on the mean output (the official quirk)
    assert ride_loss(cosines, labels, loss, 30.0, 0.0, None).item() == pytest.approx(15.926241, abs=2e-5)


def test_the_diversity_temperature_on_cifar100_lt():
    b = diversity_temperature(cifar100_lt_counts(), 0.05)  # the official RIDELoss's vector
    assert b[:2] == pytest.approx([1.0, 0.991019], abs=1e-6) and b[-1] == pytest.approx(0.806711, abs=1e-6)
    assert b.mean() == pytest.approx(0.847114, abs=1e-6)


def test_the_inverse_prior_swaps_values_by_rank():
    assert inverse_prior([0.5, 0.3, 0.2]).tolist() == pytest.approx([0.2, 0.3, 0.5])
    assert inverse_prior([0.3, 0.5, 0.2]).tolist() == pytest.approx([0.3, 0.2, 0.5])  # not 1 / pi
    # tied counts: the official algorithm (ascending sort, value of the mirrored rank) with a stable sort gives
    # the largest value to the first of the tied classes
    ties = inverse_prior([0.4, 0.2, 0.2, 0.2])
    assert ties.tolist() == pytest.approx([0.2, 0.4, 0.2, 0.2]) and ties.sum() == pytest.approx(1.0)


def test_the_sade_loss_is_the_transcribed_formula():
    torch.manual_seed(0)
    cosines, labels = torch.rand(6, 3, 4) * 2 - 1, torch.tensor([0, 1, 2, 3, 0, 1])
    prior = np.array([0.5, 0.25, 0.15, 0.1])
    log_p = torch.tensor(np.log(prior + 1e-9), dtype=torch.float32)
    log_inv = torch.tensor(np.log(prior[::-1] + 1e-9).copy(), dtype=torch.float32)  # sorted prior: reversed

    def nll(logits):  # -log softmax(logits)_y, averaged
        return -(logits - logits.logsumexp(1, keepdim=True)).gather(1, labels[:, None]).mean()

    z = 30 * cosines
    expected = nll(z[:, 0]) + nll(z[:, 1] + log_p) + nll(z[:, 2] + log_p - 2.0 * log_inv)
    assert sade_loss(cosines, labels, 30.0, log_p, log_inv, 2.0).item() == pytest.approx(expected.item(), rel=1e-6)


def test_a_sade_step_trains_all_three_experts_and_predicts_their_mean():
    torch.manual_seed(0)
    cfg = resolve("sade", "cifar10_lt", 0, sets=["model.name=small_cnn"])
    data = SimpleNamespace(train_counts=[6, 3, 1], train_labels=torch.tensor([0] * 6 + [1] * 3 + [2]), in_channels=1,
                           num_classes=3)
    algorithm = SADEAlgorithm(cfg, data, torch.device("cpu"), ".")
    model, params = algorithm.build_model()
    algorithm.setup()
    assert algorithm.log_inverse.exp().tolist() == pytest.approx([0.1, 0.3, 0.6], abs=1e-6)
    optimizer = torch.optim.SGD(params, lr=0.1)
    step = Step(net=model, model=model, optimizer=optimizer, autocast=contextlib.nullcontext,
                memory_format=torch.contiguous_format)
    x, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 0])
    before = [p.detach().clone() for p in model.heads.parameters()]
    loss, logits = algorithm.train_step(step, x, y)
    assert all(not torch.equal(b, p) for b, p in zip(before, model.heads.parameters()))
    assert logits.shape == (4, 3) and algorithm.probability_scale() == 30.0
    assert torch.isfinite(loss)


def test_the_published_recipes_apply_per_dataset():
    ride = resolve("ride", "cifar100_lt", 0)
    assert (ride["train"]["nesterov"], ride["train"]["weight_decay"], ride["train"]["lr_decay"]) == (True, 5e-4, 0.01)
    assert ride["method"]["ride_diversity"] == -0.45 and ride["method"]["experts"] == 3
    big = resolve("ride", "imagenet_lt", 0)["train"], resolve("ride", "imagenet_lt", 0)["method"]
    assert (big[0]["epochs"], big[0]["milestones"], big[0]["batch_size"]) == (100, [60, 80], 256)
    assert (big[1]["defer_epoch"], big[1]["ride_diversity"], big[1]["ride_reweight_factor"]) == (80, -0.2, 0.02)
    assert ride["augment"]["rotation"] == 15.0 and resolve("erm", "cifar100_lt", 0)["augment"]["rotation"] == 0.0
    sade = resolve("sade", "cifar100_lt", 0)["train"]
    assert (sade["lr_decay"], sade["weight_decay"], sade["nesterov"]) == (0.1, 5e-4, True)
    assert resolve("sade", "inat2018", 0)["method"]["sade_tau"] == 1.0
    quick = resolve("ride", "cifar100_lt", 0, presets=["quick"])["train"]  # a user's preset still wins
    assert quick["epochs"] == resolve("erm", "cifar100_lt", 0, presets=["quick"])["train"]["epochs"]


@pytest.mark.parametrize("method, setting, message", [
    ("ride", "model.name=timm:resnet18", "which model timm:resnet18 cannot host; use model.name=resnet32 or"),
    ("sade", "method.experts=2", "method sade has exactly 3 experts, one per loss; remove method.experts"),
    ("ride", "method.mix=mixup", "method ride cannot mix batches (RIDE trains its experts on plain batches)"),
    ("ride", "method.experts=0", "config key method.experts must be between 1 and 16, got 0"),
    ("ride", "model.weights=/tmp/w.pt", "into which model.weights is not loaded; remove model.weights"),
])
def test_bad_expert_settings_are_one_line_before_anything_runs(tmp_path, capsys, method, setting, message):
    out = tmp_path / "out"
    code = main(["run", "--methods", method, "--datasets", "cifar10_lt", "--out", str(out), "--set", setting])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_a_ride_run_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    argv = fixture_run("ride", cifar_root)
    reference = resumes_exactly(argv, tmp_path, 2)
    assert [m["rebalancing"] for m in reference["metrics"]] == [False, True]  # DRW (and the temperature) at 1


def test_the_newer_methods_published_cifar_recipes_are_planned_and_priced(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--methods", "ride,sade,paco,bcl,ldam_drw_sam", "--datasets", "cifar100_lt", "--dry-run",
                 "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    priced = {line.split("__")[1]: line for line in lines if line.startswith("start")}
    assert set(priced) == {"ride", "sade", "paco", "bcl", "ldam_drw_sam"}
    for method, factor in (("ride", "x1.5"), ("sade", "x1.5"), ("paco", "x1.4"), ("bcl", "x3"), ("ldam_drw_sam", "x2")):
        assert f"({factor}: {method.split('_')[-1] if method.endswith('sam') else method} steps)" in priced[method]
    assert lines[-1].startswith("dry run: 5 to start") and not out.exists()
