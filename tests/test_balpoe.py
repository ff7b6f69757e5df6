"""BalPoE against its official code, transcribed here in its own structure: emasa/BalPoE-CalibratedLT @
ca607aed79e2444684f492035e9c0e7f823084d8 (code as released in 11f38d1), model/loss.py:8-61 BSExpertLoss (the experts'
logits as [experts, batch, classes]) and utils/combiner.py:53-99 (mixup: lam L(y) + (1 - lam) L(y_partner) on the
same logits). Values and gradients on random inputs; the method's recipes; an exact mid-epoch resume."""

from __future__ import annotations

import contextlib
import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_preempt import fixture_run, resumes_exactly

from bench.algorithms.balpoe import BalPoEAlgorithm, balpoe_loss
from bench.algorithms.protocol import log_prior
from bench.algorithms.step import Step
from bench.cli import main
from bench.plan.config import resolve


class OfficialBSExpertLoss(torch.nn.Module):
    def __init__(self, cls_num_list, tau_list=(0, 1, 2), eps=1e-9):
        super().__init__()
        self.register_buffer("bsce_weight", torch.tensor(cls_num_list).float())
        self.register_buffer("tau_list", torch.tensor(tau_list).float())
        self.num_experts, self.eps = len(tau_list), eps

    def forward(self, output_logits, targets, extra_info):
        logits = extra_info["logits"]
        loss = 0.0
        for idx in range(self.num_experts):
            prior = self.bsce_weight / self.bsce_weight.sum()
            loss = loss + F.cross_entropy(logits[idx] + self.tau_list[idx] * torch.log(prior + self.eps), targets)
        return loss / self.num_experts


@pytest.mark.parametrize("taus, seed", [((0.0, 1.0, 2.0), 0), ((0.0, 1.25, 2.5), 1), ((-1.0, 1.0, 3.0), 2)])
def test_the_loss_under_mixup_equals_the_official_in_value_and_gradient(taus, seed):
    rng = np.random.default_rng(seed)
    counts = [int(500 * 0.01 ** (i / 19)) for i in range(20)]
    cosines = torch.tensor(rng.uniform(-1, 1, (16, 3, 20)), dtype=torch.float32)
    labels, partner = (torch.tensor(rng.integers(0, 20, 16)) for _ in range(2))
    lam = 0.61
    ours_x, theirs_x = cosines.clone().requires_grad_(True), cosines.clone().requires_grad_(True)
    lp = log_prior(counts, torch.device("cpu"), eps=1e-9)
    tau_t = torch.tensor(taus)
    ours = lam * balpoe_loss(ours_x, labels, 30.0, lp, tau_t) + (1 - lam) * balpoe_loss(ours_x, partner, 30.0, lp,
                                                                                         tau_t)
    official = OfficialBSExpertLoss(counts, taus)
    logits = {"logits": (30.0 * theirs_x).transpose(0, 1)}  # the model returns [experts, batch, classes] logits x s
    theirs = lam * official(None, labels, logits) + (1 - lam) * official(None, partner, logits)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(ours_x.grad, theirs_x.grad, rtol=1e-5, atol=1e-7)


def test_an_expert_with_tau_one_is_balanced_softmax_and_zero_is_plain_ce():
    counts = [50, 10, 2]
    cosines = torch.tensor([[[0.2, -0.1, 0.4]], [[0.0, 0.3, -0.2]]])  # (batch 2, 1 expert, 3 classes)
    labels = torch.tensor([2, 1])
    lp = log_prior(counts, torch.device("cpu"), eps=1e-9)
    plain = balpoe_loss(cosines, labels, 30.0, lp, torch.tensor([0.0]))
    balanced = balpoe_loss(cosines, labels, 30.0, lp, torch.tensor([1.0]))
    torch.testing.assert_close(plain, F.cross_entropy(30 * cosines[:, 0], labels))
    torch.testing.assert_close(balanced, F.cross_entropy(30 * cosines[:, 0] + torch.log(torch.tensor(counts) / 62.0
                                                                                         + 1e-9), labels))


def test_a_step_mixes_the_batch_and_trains_every_expert():
    torch.manual_seed(0)
    cfg = resolve("balpoe", "cifar10_lt", 0, sets=["model.name=small_cnn"])
    data = SimpleNamespace(train_counts=[6, 3, 1], train_labels=torch.tensor([0] * 6 + [1] * 3 + [2]),
                           in_channels=1, num_classes=3)
    algorithm = BalPoEAlgorithm(cfg, data, torch.device("cpu"), ".")
    model, params = algorithm.build_model()
    algorithm.setup()
    algorithm.start_epoch(0, torch.Generator().manual_seed(0))
    assert algorithm.method.mixer is not None and algorithm.taus.tolist() == [0.0, 1.0, 2.0]
    step = Step(net=model, model=model, optimizer=torch.optim.SGD(params, lr=0.1), autocast=contextlib.nullcontext,
                memory_format=torch.contiguous_format)
    x, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 0])
    # the loss the step must take: the batch mixed as the mixer draws it, lam L(y) + (1 - lam) L(partner)
    state, twin = algorithm.method.mixer_state(), copy.deepcopy(model)
    mixed, (_, partner, lam) = algorithm.method.mix_batch(x, y)
    cosines = twin(mixed, experts=True)
    expected = lam * balpoe_loss(cosines, y, 30.0, algorithm.log_prior, algorithm.taus) + (1 - lam) * balpoe_loss(
        cosines, partner, 30.0, algorithm.log_prior, algorithm.taus)
    assert 0 < lam < 1 and not torch.equal(partner, y)
    algorithm.method.restore_mixer(state)
    before = [p.detach().clone() for p in model.heads.parameters()]
    loss, logits = algorithm.train_step(step, x, y)
    torch.testing.assert_close(loss, expected.detach())
    assert all(not torch.equal(b, p) for b, p in zip(before, model.heads.parameters()))
    assert logits.shape == (4, 3) and algorithm.probability_scale() == 30.0 and torch.isfinite(loss)


def test_the_recipes_apply_per_dataset_and_three_experts_are_required(tmp_path, capsys):
    c10, c100 = resolve("balpoe", "cifar10_lt", 0), resolve("balpoe", "cifar100_lt", 0)
    assert (c10["method"]["mix_alpha"], c100["method"]["mix_alpha"]) == (0.8, 0.4)
    assert c10["train"]["batch_size"] == 128 and c10["train"]["nesterov"] and c10["augment"]["rotation"] == 15.0
    inat = resolve("balpoe", "inat2018", 0)
    assert inat["method"]["balpoe_taus"] == [-1.0, 1.0, 3.0] and inat["train"]["epochs"] == 100
    assert resolve("balpoe", "imagenet_lt", 0)["method"]["balpoe_taus"] == [0.0, 1.25, 2.5]
    assert not c10["method"]["reduce_experts"]
    argv = ["run", "--methods", "balpoe", "--datasets", "cifar10_lt", "--dry-run", "--out", str(tmp_path / "o")]
    assert main([*argv, "--set", "method.balpoe_taus=[0,1]"]) == 2
    assert "a list of 3 numbers in [-10, 10], one per expert" in capsys.readouterr().err
    assert main([*argv, "--set", "method.experts=2"]) == 2
    assert "method balpoe has exactly 3 experts" in capsys.readouterr().err


def test_a_balpoe_run_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    argv = fixture_run("balpoe", cifar_root)
    assert len(resumes_exactly(argv, tmp_path, 2)["metrics"]) == 2
