"""LADE's loss and GRW's weights against their official code, transcribed here in its own structure (random inputs,
values and gradients equal within float rounding), and usable by every method through --set method.loss / weights.

- LADE: hyperconnect/LADE @ 5db5d134720872620706025bc4dec8347ddc349b, loss/PriorCELoss.py:17-25 and
  loss/LADELoss.py:14-53 (per-class spread matrices C x N, the MINE bound, the ReMINE penalty, weights = the
  training prior), summed in run_networks.py:266-280 with weights 1 and alpha.
- GRW: Megvii-BaseDetection/cvpods @ 2deea5dc659371318c8a570c644201d913a83027, cvpods/modeling/losses/grw_loss.py:21-30.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.parts.loss_module import build_loss
from bench.parts.weights import grw_weights


def official_lade(y_pred, target, counts, alpha, remine_lambda):
    """PriorCELoss + alpha * LADELoss, in the official modules' structure (float32 as they run it)."""
    num_classes = y_pred.shape[1]
    img_num_per_cls = torch.tensor(counts, dtype=torch.float32)
    prior = img_num_per_cls / img_num_per_cls.sum()
    prior_ce = F.cross_entropy(y_pred + torch.log(prior + 1e-9), target)
    balanced_prior = torch.tensor(1.0 / num_classes).float()
    cls_weight = img_num_per_cls.float() / torch.sum(img_num_per_cls.float())
    is_class = target == torch.arange(0, num_classes).view(-1, 1).type_as(target)  # C x N
    per_cls_pred_spread = y_pred.T * is_class
    pred_spread = (y_pred - torch.log(prior + 1e-9) + torch.log(balanced_prior + 1e-9)).T
    num_samples_per_cls = torch.sum(is_class, -1).float()
    n = pred_spread.size(-1)
    first_term = torch.sum(per_cls_pred_spread, -1) / (num_samples_per_cls + 1e-8)
    second_term = torch.logsumexp(pred_spread, -1) - np.log(n)
    estim = first_term - second_term - (second_term**2) * remine_lambda
    return prior_ce + alpha * -torch.sum(estim * cls_weight)


@pytest.mark.parametrize("batch, classes, alpha, lam", [(16, 5, 0.1, 0.1), (64, 10, 0.05, 0.5), (8, 20, 0.005, 0.01)])
def test_lade_equals_the_official_loss_and_its_gradient(batch, classes, alpha, lam):
    gen = torch.Generator().manual_seed(batch + classes)
    counts = [int(500 * 0.01 ** (c / (classes - 1))) for c in range(classes)]  # some classes absent from a batch
    logits = (3 * torch.randn(batch, classes, generator=gen)).requires_grad_()
    target = torch.randint(0, classes, (batch,), generator=gen)
    ours = build_loss({"loss": "lade", "lade_alpha": alpha, "lade_lambda": lam}, counts)(logits, target)
    (ours_grad,) = torch.autograd.grad(ours, logits)
    theirs = official_lade(logits, target, counts, alpha, lam)
    (theirs_grad,) = torch.autograd.grad(theirs, logits)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5, abs=1e-6)
    torch.testing.assert_close(ours_grad, theirs_grad, rtol=1e-4, atol=1e-7)
    # without the regulariser it is the logit-adjusted CE (tau 1): the regulariser is really in the loss
    plain = build_loss({"loss": "logit_adjust", "la_tau": 1.0}, counts)(logits, target)
    assert abs(ours.item() - plain.item()) > 1e-4
    zero = build_loss({"loss": "lade", "lade_alpha": 0.0, "lade_lambda": lam}, counts)(logits, target)
    assert zero.item() == pytest.approx(plain.item(), rel=1e-6)


def official_grw(counts, exp_scale):
    """cvpods GRWCrossEntropyLoss's weights: (n_c / sum n)^-rho rescaled to sum to C."""
    num_classes = len(counts)
    ratio = np.asarray(counts, dtype=np.float64) / np.sum(counts)
    weights = 1.0 / ratio**exp_scale
    return weights / np.sum(weights) * num_classes


@pytest.mark.parametrize("rho", [0.0, 0.8, 1.0, 1.2])
def test_grw_weights_equal_the_official_ones(rho):
    counts = [5000, 1200, 300, 77, 50]
    torch.testing.assert_close(grw_weights(counts, rho), torch.tensor(official_grw(counts, rho), dtype=torch.float32))
    if rho == 0.0:
        assert grw_weights(counts, rho).tolist() == [1.0] * 5
    if rho == 1.0:  # the inverse frequency
        expected = np.array([1 / n for n in counts])
        np.testing.assert_allclose(grw_weights(counts, rho).numpy(), expected / expected.sum() * 5, rtol=1e-6)


def test_every_method_takes_them_with_set(tmp_path):
    """--set method.loss=lade / method.weights=grw on any standard method: planned, the id moves, the keys are read."""
    from bench.cli import main
    from bench.plan.config import config_hash, resolve

    base = resolve("erm", "cifar10_lt", 0)
    lade = resolve("erm", "cifar10_lt", 0, sets=["method.loss=lade", "method.lade_alpha=0.05"])
    grw = resolve("ldam_drw", "cifar10_lt", 0, sets=["method.weights=grw", "method.grw_rho=1.2"])
    assert lade["method"]["lade_lambda"] == 0.1 and grw["method"]["grw_rho"] == 1.2
    assert len({config_hash(base), config_hash(lade), config_hash(grw)}) == 3
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--set", "method.grw_rho=2",
                 "--dry-run", "--out", str(tmp_path / "r")]) == 2  # erm has no class weights: refused


def test_a_lade_run_with_grw_weights_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    """The named method on its recipe's dataset, with GRW weights switched on at the deferred epoch: stopped by
    SIGTERM mid-epoch and resumed, the same metrics, predictions and weights as a run never stopped."""
    from test_preempt import fixture_run, resumes_exactly

    argv = fixture_run("lade", cifar_root, "method.weights=grw", "method.schedule=deferred", "method.defer_epoch=1")
    assert len(resumes_exactly(argv, tmp_path, 3)["metrics"]) == 2
