"""The reference learning-rate schedule and the deferred switch epoch."""


import pytest

from bench.errors import BenchError
from bench.parts.schedules import defer_epoch, learning_rate
from bench.plan.config import milestones, resolve


def reference_lr(epoch, lr=0.1):
    """kaidic/LDAM-DRW cifar_train.py adjust_learning_rate, 0-based epoch."""
    epoch = epoch + 1
    if epoch <= 5:
        return lr * epoch / 5
    if epoch > 180:
        return lr * 0.0001
    if epoch > 160:
        return lr * 0.01
    return lr


def cifar_cfg(method="ldam_drw"):
    return resolve(method, "cifar10_lt", 0)


def test_every_epoch_of_the_200_epoch_schedule():
    train = cifar_cfg()["train"]
    assert milestones(train) == [160, 180]
    lrs = [learning_rate(e, train) for e in range(200)]
    assert lrs == pytest.approx([reference_lr(e) for e in range(200)], rel=1e-12)
    assert lrs[:5] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])
    assert lrs[159] == 0.1 and lrs[160] == pytest.approx(1e-3) and lrs[180] == pytest.approx(1e-5)


def test_deferred_switch_is_first_decay():
    assert defer_epoch(cifar_cfg("ldam_drw")) == 160
    assert defer_epoch(cifar_cfg("drs")) == 160
    assert defer_epoch(cifar_cfg("cb")) == 0
    assert defer_epoch(cifar_cfg("erm")) == 0


def test_epochs_scale_milestones():
    cfg = resolve("drw", "cifar10_lt", 0, flags={"train.epochs": 10})
    assert milestones(cfg["train"]) == [8, 9]
    assert defer_epoch(cfg) == 8
    cfg = resolve("drw", "cifar10_lt", 0, sets=["method.defer_epoch=3"])
    assert defer_epoch(cfg) == 3


def test_quick_preset_schedule():
    cfg = resolve("ldam_drw", "fashion_mnist_lt", 0, presets=["quick"])
    lrs = [learning_rate(e, cfg["train"]) for e in range(15)]
    assert lrs == pytest.approx([0.1] * 12 + [1e-3] + [1e-5] * 2)
    assert defer_epoch(cfg) == 12


def test_deferred_without_milestone_is_an_error():
    with pytest.raises(BenchError, match="switches re-balancing on at the first LR milestone, and train.milestones "
                                         "is empty"):  # at plan time (issue 21), not when the run starts
        resolve("drw", "cifar10_lt", 0, sets=["train.milestone_fractions=[]"])
    cfg = resolve("drw", "cifar10_lt", 0)
    cfg["train"]["milestone_fractions"] = []
    with pytest.raises(BenchError, match="milestone"):
        defer_epoch(cfg)
