"""Long-tailed subsets: exact counts (ldam-drw.md section 1) and the reference selection procedure."""

import hashlib

import numpy as np
import pytest

from bench.datasets import long_tail_counts
from bench.datasets.longtail import indices_sha256, select_long_tail
from bench.errors import BenchError
from bench.metrics.evaluate import shot_groups


@pytest.mark.parametrize("n_max,classes,rho,profile,total", [
    (5000, 10, 100, "exp", 12406), (5000, 10, 10, "exp", 20431), (5000, 10, 50, "exp", 13996),
    (5000, 10, 200, "exp", 11203), (5000, 10, 100, "step", 25250), (5000, 10, 10, "step", 27500),
    (500, 100, 100, "exp", 10847), (500, 100, 10, "exp", 19573), (500, 100, 50, "exp", 12608),
    (500, 100, 200, "exp", 9502), (500, 100, 100, "step", 25250), (500, 100, 10, "step", 27500),
])
def test_subset_totals(n_max, classes, rho, profile, total):
    counts = long_tail_counts(n_max, classes, rho, profile)
    assert len(counts) == classes
    assert sum(counts) == total
    assert counts[0] == n_max


def test_cifar10_per_class_counts():
    assert long_tail_counts(5000, 10, 100) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert long_tail_counts(5000, 10, 10) == [5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500]
    assert long_tail_counts(5000, 10, 50)[-1] == 100
    assert long_tail_counts(5000, 10, 200)[-1] == 25
    assert long_tail_counts(5000, 10, 100, "step") == [5000] * 5 + [50] * 5


def test_cifar100_per_class_counts():
    c100 = long_tail_counts(500, 100, 100)
    assert c100[:3] == [500, 477, 455] and c100[-5:] == [6, 5, 5, 5, 5]
    c10 = long_tail_counts(500, 100, 10)
    assert c10[:3] == [500, 488, 477] and c10[-2:] == [51, 50]
    assert long_tail_counts(500, 100, 10, "step") == [500] * 50 + [50] * 50


def test_float_n_max_as_reference():
    # the reference passes img_max = len(data) / cls_num, a float
    assert long_tail_counts(50000 / 10, 10, 100) == long_tail_counts(5000, 10, 100)
    assert long_tail_counts(6000, 10, 100) == [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]


def test_ratio_below_one_rejected():
    with pytest.raises(BenchError, match="at least 1"):
        long_tail_counts(5000, 10, 0.5)


@pytest.mark.parametrize("classes,n_max,rho,sizes", [
    (100, 500, 100, (35, 35, 30)), (100, 500, 50, (41, 41, 18)), (100, 500, 200, (30, 31, 39)),
    (10, 5000, 100, (8, 2, 0)),
])
def test_shot_group_sizes(classes, n_max, rho, sizes):
    groups = shot_groups(long_tail_counts(n_max, classes, rho))
    assert (len(groups["many"]), len(groups["medium"]), len(groups["few"])) == sizes


def reference_gen_imbalanced_data(targets, img_num_per_cls, seed):
    """kaidic/LDAM-DRW imbalance_cifar.py: np.random.seed once, shuffle class by class."""
    np.random.seed(seed)
    targets_np = np.array(targets, dtype=np.int64)
    classes = np.unique(targets_np)
    selected = []
    for the_class, the_img_num in zip(classes, img_num_per_cls):
        idx = np.where(targets_np == the_class)[0]
        np.random.shuffle(idx)
        selected.append(idx[:the_img_num])
    return np.concatenate(selected)


@pytest.mark.parametrize("classes,per_class,rho,profile,seed", [
    (10, 5000, 100, "exp", 0), (10, 5000, 10, "step", 3), (100, 500, 100, "exp", 0), (100, 500, 50, "exp", 7),
])
def test_selection_equals_reference(classes, per_class, rho, profile, seed):
    labels = np.random.RandomState(123).permutation(np.repeat(np.arange(classes), per_class))
    counts = long_tail_counts(len(labels) / classes, classes, rho, profile)
    ours = select_long_tail(labels, counts, seed)
    assert np.array_equal(ours, reference_gen_imbalanced_data(labels, counts, seed))
    assert np.bincount(labels[ours], minlength=classes).tolist() == counts


def test_selection_depends_on_data_seed():
    labels = np.repeat(np.arange(10), 100)
    counts = long_tail_counts(100, 10, 10)
    assert not np.array_equal(select_long_tail(labels, counts, 0), select_long_tail(labels, counts, 1))


def test_indices_sha256_is_sorted_comma_joined():
    assert indices_sha256([10, 2, 33]) == hashlib.sha256(b"2,10,33").hexdigest()
