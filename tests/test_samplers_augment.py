"""Sampler class shares and the batch augmentation's distribution."""

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF

from bench.datasets import long_tail_counts
from bench.images.augment import BatchAugment
from bench.parts.samplers import epoch_order

COUNTS = long_tail_counts(500, 10, 100)  # 500 ... 5
LABELS = torch.cat([torch.full((n,), c) for c, n in enumerate(COUNTS)])


def test_instance_sampler_is_a_permutation():
    order = epoch_order("instance", LABELS, COUNTS, 0.9999, torch.Generator().manual_seed(0))
    assert sorted(order.tolist()) == list(range(len(LABELS)))


def draw_shares(kind, epochs=200, beta=0.9999):
    gen = torch.Generator().manual_seed(0)
    hits = torch.zeros(10)
    for _ in range(epochs):
        order = epoch_order(kind, LABELS, COUNTS, beta, gen)
        assert len(order) == len(LABELS)
        hits += torch.bincount(LABELS[order], minlength=10)
    return (hits / hits.sum()).numpy()


def test_class_balanced_sampler_shares():
    # share of class c is proportional to n_c * (1 - beta) / (1 - beta ** n_c)
    n = np.array(COUNTS, dtype=np.float64)
    expected = n * (1 - 0.9999) / (1 - 0.9999**n)
    expected /= expected.sum()
    shares = draw_shares("class_balanced")
    assert shares == pytest.approx(expected, abs=0.005)
    assert shares[0] / shares[-1] == pytest.approx(expected[0] / expected[-1], rel=0.1)


def test_class_uniform_sampler_shares():
    assert draw_shares("class_uniform") == pytest.approx([0.1] * 10, abs=0.005)


def test_crop_equals_torchvision_crop_of_padded_image():
    aug = BatchAugment((0.5, 0.5, 0.5), (0.25, 0.25, 0.25), crop_padding=4, flip=False)
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    gen = torch.Generator().manual_seed(1)
    offsets = torch.randint(0, 9, (2, 64), generator=torch.Generator().manual_seed(1))
    out = aug.crop(x, gen)
    for i in range(64):
        padded = TF.pad(x[i], [4, 4, 4, 4], fill=0)
        expected = TF.crop(padded, int(offsets[0, i]), int(offsets[1, i]), 32, 32)
        assert torch.equal(out[i], expected)


def test_crop_offsets_distribution():
    aug = BatchAugment((0.0,), (1.0,), crop_padding=4, flip=False)
    n = 20000
    # a single bright pixel at (0, 0) lands at (4 - top, 4 - left): visible when top, left <= 4
    x = torch.zeros(n, 1, 8, 8, dtype=torch.uint8)
    x[:, 0, 0, 0] = 255
    out = aug.train(x, torch.Generator().manual_seed(0))[:, 0]
    pos = (out > 0).nonzero()  # (image, row, col)
    assert len(pos) / n == pytest.approx((5 / 9) ** 2, abs=0.02)  # offsets uniform over 0..8
    for axis in (1, 2):
        hist = np.bincount(pos[:, axis].numpy(), minlength=5) / len(pos)
        assert hist == pytest.approx([0.2] * 5, abs=0.02)


def test_flip_rate_is_one_half():
    aug = BatchAugment((0.0,), (1.0,), crop_padding=0, flip=True)
    n = 20000
    x = torch.zeros(n, 1, 4, 4, dtype=torch.uint8)
    x[:, 0, :, 0] = 255  # left column bright
    out = aug.train(x, torch.Generator().manual_seed(0))[:, 0]
    flipped = out[:, :, 3].gt(0).all(1)
    assert torch.equal(flipped, ~out[:, :, 0].gt(0).all(1))  # each image flipped or not, whole
    assert flipped.float().mean().item() == pytest.approx(0.5, abs=0.015)


def test_normalize_matches_totensor_normalize():
    mean, std = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
    aug = BatchAugment(mean, std, crop_padding=0, flip=False)
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    expected = TF.normalize(x.float() / 255, list(mean), list(std))
    assert torch.allclose(aug.test(x), expected, atol=1e-6)
    assert torch.allclose(aug.train(x, torch.Generator()), expected, atol=1e-6)
