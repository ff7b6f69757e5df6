"""Class weights, LDAM margins and loss values against hand computations."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.datasets import long_tail_counts
from bench.methods import FocalLoss, LDAMLoss, class_balanced_weights, inverse_frequency_weights
from bench.parts.loss_module import build_loss

C10_100 = long_tail_counts(5000, 10, 100)


def test_cb_weights_closed_form():
    counts = [10, 1]
    beta = 0.9
    raw = [(1 - beta) / (1 - beta**10), (1 - beta) / (1 - beta)]
    expected = [r / sum(raw) * 2 for r in raw]
    assert class_balanced_weights(counts, beta).tolist() == pytest.approx(expected, rel=1e-6)


def test_cb_weights_cifar10_lt_tail_head_ratio():
    w = class_balanced_weights(C10_100, 0.9999)
    assert w.sum().item() == pytest.approx(10.0, rel=1e-6)
    assert (w[-1] / w[0]).item() == pytest.approx(78.9, abs=0.05)  # ldam-drw.md: 78.9, not 100
    assert torch.all(w[1:] > w[:-1])


def test_cb_weights_beta_zero_all_ones():
    assert class_balanced_weights(C10_100, 0.0).tolist() == [1.0] * 10


def test_inverse_frequency_weights():
    w = inverse_frequency_weights([100, 50, 25])
    assert w.tolist() == pytest.approx([3 / 7, 6 / 7, 12 / 7], rel=1e-6)
    assert (w[-1] / w[0]).item() == pytest.approx(4.0)


def test_ldam_margins_cifar10_lt():
    loss = LDAMLoss(C10_100, max_m=0.5, s=30)
    expected = [0.1581, 0.1797, 0.2042, 0.2321, 0.2638, 0.2998, 0.3407, 0.3872, 0.4405, 0.5000]
    assert loss.margins.tolist() == pytest.approx(expected, abs=1e-4)


def test_ldam_loss_value_by_hand():
    counts = [16, 1]  # margins: 1/16**0.25 = 0.5 -> 0.25, 1 -> 0.5 (max_m 0.5)
    cos = torch.tensor([[0.3, -0.2], [0.1, 0.4]])
    target = torch.tensor([0, 1])
    s = 10.0
    loss = LDAMLoss(counts, max_m=0.5, s=s)(cos, target)
    # sample 0: target 0 shifted by 0.25 -> logits 10*(0.05, -0.2); sample 1: 10*(0.1, -0.1)
    l0 = -math.log(math.exp(0.5) / (math.exp(0.5) + math.exp(-2.0)))
    l1 = -math.log(math.exp(-1.0) / (math.exp(1.0) + math.exp(-1.0)))
    assert loss.item() == pytest.approx((l0 + l1) / 2, rel=1e-6)
    weighted = LDAMLoss(counts, max_m=0.5, s=s, weight=torch.tensor([1.0, 3.0]))(cos, target)
    assert weighted.item() == pytest.approx((1 * l0 + 3 * l1) / 4, rel=1e-6)  # weighted mean


def test_ldam_matches_reference_matmul_form():
    torch.manual_seed(0)
    counts = C10_100
    cos = torch.rand(8, 10) * 2 - 1
    target = torch.randint(0, 10, (8,))
    ours = LDAMLoss(counts)(cos, target)
    m_list = 1.0 / np.sqrt(np.sqrt(counts))
    m_list = torch.tensor(m_list * (0.5 / np.max(m_list)), dtype=torch.float32)
    index = torch.zeros_like(cos, dtype=torch.uint8).scatter_(1, target.view(-1, 1), 1)
    batch_m = torch.matmul(m_list[None, :], index.float().t()).view(-1, 1)
    ref = F.cross_entropy(30 * torch.where(index.bool(), cos - batch_m, cos), target)
    assert ours.item() == ref.item()


def test_focal_gamma_zero_is_cross_entropy():
    torch.manual_seed(0)
    x, y = torch.randn(16, 5), torch.randint(0, 5, (16,))
    assert FocalLoss(gamma=0.0)(x, y).item() == pytest.approx(F.cross_entropy(x, y).item(), rel=1e-6)


def test_focal_value_by_hand():
    x = torch.tensor([[2.0, 0.0]])
    y = torch.tensor([0])
    p = math.exp(2) / (math.exp(2) + 1)
    assert FocalLoss(gamma=1.0)(x, y).item() == pytest.approx((1 - p) * -math.log(p), rel=1e-6)
    assert FocalLoss(gamma=2.0)(x, y).item() == pytest.approx((1 - p) ** 2 * -math.log(p), rel=1e-5)


def test_focal_weighted_reference_quirk_vs_standard():
    x = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    w = torch.tensor([0.5, 2.0])
    p0 = math.exp(2) / (math.exp(2) + 1)
    p1 = math.exp(1) / (math.exp(1) + 1)
    # reference: ce_i = -w_y log p_y, p = exp(-ce) = p_y ** w_y, plain mean over the batch
    ref = ((1 - p0**0.5) * -0.5 * math.log(p0) + (1 - p1**2.0) * -2.0 * math.log(p1)) / 2
    std = (0.5 * (1 - p0) * -math.log(p0) + 2.0 * (1 - p1) * -math.log(p1)) / 2
    assert FocalLoss(1.0, weight=w)(x, y).item() == pytest.approx(ref, rel=1e-6)
    assert FocalLoss(1.0, weight=w, form="standard")(x, y).item() == pytest.approx(std, rel=1e-6)


def test_build_loss_weights_follow_the_rebalancing_hook():
    cfg = {"loss": "ce", "gamma": 1.0, "focal_form": "reference", "max_m": 0.5, "s": 30.0}
    loss = build_loss(cfg, [10, 1], torch.tensor([1.0, 0.0]))
    x, y = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    only_first = F.cross_entropy(x[:1], y[:1]).item()
    assert loss(x, y).item() == pytest.approx(only_first, rel=1e-6)  # on by default (schedule start)
    loss.set_rebalancing(False)
    assert loss.weight is None and loss(x, y).item() == F.cross_entropy(x, y).item()
    loss.set_rebalancing(True)
    assert loss(x, y).item() == pytest.approx(only_first, rel=1e-6)
