"""SAM for long-tailed training (bench/algorithms/sam.py) against a hand-computed step and the official code's rules
(val-iisc/Saddle-LongTail sam.py, cifar_train_sam.py), its rho schedule, bad input, and an exact mid-epoch resume."""

import contextlib
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from test_preempt import resumes_exactly
from torch import nn

from bench.algorithms.sam import SAMAlgorithm, rho_at
from bench.algorithms.step import Step
from bench.cli import main
from bench.plan.config import resolve

SMALL = ["--datasets", "cifar10_lt", "--epochs", "2", "--no-progress", "--set", "dataset.verify=false",
         "dataset.download=false", "model.name=small_cnn", "train.batch_size=64", "eval.batch_size=100"]


def sam_step(model, x, y, rho, lr=0.1, wd=1e-3):
    """One step of erm_sam's algorithm on `model` with SGD(momentum 0.9, weight decay wd)."""
    algorithm = SAMAlgorithm(resolve("erm_sam", "cifar10_lt", 0, sets=[f"method.sam_rho={rho}"]),
                             SimpleNamespace(train_counts=[2, 2], train_labels=y), torch.device("cpu"), ".")
    algorithm.setup()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
    step = Step(net=model, model=model, optimizer=optimizer, autocast=contextlib.nullcontext,
                memory_format=torch.contiguous_format)
    return algorithm.train_step(step, x, y)


def test_the_two_pass_step_is_the_hand_computed_one():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 1, 0])
    w0 = [p.detach().clone() for p in model.parameters()]

    def loss_at(weights):
        return F.cross_entropy(F.linear(x, weights[0], weights[1]), y)

    leaves = [w.clone().requires_grad_(True) for w in w0]
    first = torch.autograd.grad(loss_at(leaves), leaves)
    norm = torch.sqrt(sum((g ** 2).sum() for g in first))  # the global 2-norm of the loss gradient
    moved = [(w + 0.8 * g / (norm + 1e-12)).requires_grad_(True) for w, g in zip(w0, first)]
    second = torch.autograd.grad(loss_at(moved), moved)  # the gradient at w + e_w ...
    expected = [w - 0.1 * (g + 1e-3 * w) for w, g in zip(w0, second)]  # ... steps from w (SGD, weight decay on w)

    loss, logits = sam_step(model, x, y, rho=0.8)
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), e, rtol=1e-6, atol=1e-7)
    assert loss.item() == pytest.approx(loss_at(w0).item(), rel=1e-6)  # the step reports the first pass
    assert torch.equal(logits, F.linear(x, w0[0], w0[1]))


def test_both_passes_run_in_train_mode_so_bn_statistics_update_twice():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    sam_step(model, torch.randn(8, 3), torch.tensor([0, 1] * 4), rho=0.1)
    assert model[1].num_batches_tracked.item() == 2  # as the official loop (no BN switch)


def test_the_rho_schedule_steps_per_epoch_and_scales_with_epochs(tmp_path):
    steps = [[0, 0.05], [5, 0.1], [60, 0.5], [75, 0.5]]  # the official ImageNet-LT LDAM+DRW+SAM steps
    assert [rho_at(steps, e) for e in (0, 4, 5, 59, 60, 89)] == [0.05, 0.05, 0.1, 0.1, 0.5, 0.5]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("method:\n  sam_rho_schedule: [[0, 0.05], [100, 0.1], [160, 0.5]]\n")
    cfg = resolve("ldam_drw_sam", "cifar10_lt", 0, config_files=[str(recipe)], flags={"train.epochs": 20})
    assert cfg["method"]["sam_rho_schedule"] == [[0, 0.05], [10, 0.1], [16, 0.5]]  # as milestones: 200 -> 20
    literal = resolve("ldam_drw_sam", "cifar10_lt", 0, flags={"train.epochs": 20},
                      sets=["method.sam_rho_schedule=[[0, 0.05], [12, 0.1]]"])
    assert literal["method"]["sam_rho_schedule"] == [[0, 0.05], [12, 0.1]]  # --set is taken as written


@pytest.mark.parametrize("setting, message", [
    ("method.sam_rho=0", "config key method.sam_rho must be positive (and at most 10), got 0"),
    ("method.sam_rho_schedule=[[1, 0.1]]", "method.sam_rho_schedule must be a list of [epoch, rho] pairs, the "
                                           "first at epoch 0"),
    ("train.precision=fp16", "does not run under train.precision=fp16's gradient scaler; use --precision bf16"),
])
def test_bad_sam_settings_are_one_line_before_anything_runs(tmp_path, capsys, setting, message):
    out = tmp_path / "out"
    code = main(["run", "--methods", "ldam_drw_sam", "--datasets", "cifar10_lt", "--out", str(out), "--set", setting])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_a_sam_run_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    resumes_exactly(["run", "--methods", "ldam_drw_sam", *SMALL, "--data-root", str(cifar_root)], tmp_path, 2)


def test_a_sam_run_is_priced_at_two_steps_an_image(tmp_path):
    import json

    from bench.plan.cost import estimate, measured_speeds

    plain, sam = (SimpleNamespace(cfg=resolve(m, "cifar10_lt", 0)) for m in ("ldam_drw", "ldam_drw_sam"))
    (seconds, _), (sam_seconds, how) = estimate(plain, {}), estimate(sam, {})
    evaluation = 10000 * 200 / 3  # the test images, every epoch, at a third of a step's cost
    assert "x2: sam steps" in how
    speed = float(how.split(" img/s")[0])
    train = sum([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]) * 200
    assert sam_seconds == pytest.approx((2 * train + evaluation) / speed) and \
        seconds == pytest.approx((train + evaluation) / speed)
    run = tmp_path / "cifar10_lt-exp100-ds0__ldam_drw_sam__seed0__00000000"  # a finished SAM run at 100 img/s ...
    run.mkdir()
    (run / "result.json").write_text(json.dumps({"status": "done", "dataset": "cifar10_lt", "config": sam.cfg,
                                                 "timing": {"train_images_per_second": 100.0}}))
    assert measured_speeds(tmp_path) == {("cifar10_lt", "resnet32"): [200.0]}  # ... trains 200 standard steps/s
