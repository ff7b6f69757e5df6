"""GCL's loss against its official code, transcribed here in its own structure (Keke921/GCLLoss @
c2a62338ebb7753178b5c3ec5a69a4fb04069109, losses.py:9-13 focal_loss and :53-83 GCLLoss; on the CPU, where the
official module builds its constants as torch.cuda.FloatTensor), and its two stages as bench methods.

The official loss draws its noise from torch's global generator; bench's from the loss's own generator. Seeded alike,
they draw the same numbers (torch.normal from one generator), so values and gradients are compared exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import normal

from bench.cli import main
from bench.parts.loss_module import build_loss
from bench.parts.registry import PARTS


def official_focal_loss(input_values, gamma):
    p = torch.exp(-input_values)
    return ((1 - p.detach()) ** gamma * input_values).mean()


class OfficialGCLLoss(nn.Module):
    def __init__(self, cls_num_list, m=0.5, weight=None, s=30, train_cls=False, noise_mul=1.0, gamma=0.0):
        super().__init__()
        m_list = torch.log(torch.tensor(cls_num_list, dtype=torch.float32))
        self.m_list = m_list.max() - m_list
        self.m, self.s, self.weight = m, s, weight
        self.simpler = normal.Normal(0, 1 / 3)
        self.train_cls, self.noise_mul, self.gamma = train_cls, noise_mul, gamma

    def forward(self, cosine, target):
        index = torch.zeros_like(cosine, dtype=torch.bool)
        index.scatter_(1, target.view(-1, 1), True)
        noise = self.simpler.sample(cosine.shape).clamp(-1, 1)
        cosine = cosine - self.noise_mul * noise.abs() / self.m_list.max() * self.m_list
        output = torch.where(index, cosine - self.m, cosine)
        if self.train_cls:
            return official_focal_loss(F.cross_entropy(self.s * output, target, reduction="none",
                                                       weight=self.weight), self.gamma)
        return F.cross_entropy(self.s * output, target, weight=self.weight)


STAGES = {  # (bench's method keys, the official constructor's arguments): cifar_train_backbone.py:238, _classifier:221
    "stage1": ({"gcl_noise_mul": 0.5, "gcl_margin": 0.0, "gcl_gamma": 0.0, "s": 30.0},
               {"m": 0.0, "s": 30, "noise_mul": 0.5}),
    "stage2": ({"gcl_noise_mul": 0.5, "gcl_margin": 0.1, "gcl_gamma": 1.0, "s": 20.0},
               {"m": 0.1, "s": 20, "noise_mul": 0.5, "train_cls": True, "gamma": 1.0}),
}


def pair(stage, counts):
    ours, theirs = STAGES[stage]
    return build_loss({"loss": "gcl", **ours}, counts), OfficialGCLLoss(counts, **theirs)


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
@pytest.mark.parametrize("seed, classes", [(0, 10), (1, 100), (2, 7)])
def test_the_loss_and_its_gradient_equal_the_official_under_mixup(stage, seed, classes):
    counts = [int(500 * 0.01 ** (i / (classes - 1))) for i in range(classes)]
    ours, theirs = pair(stage, counts)
    rng = np.random.default_rng(seed)
    cosine = torch.tensor(rng.uniform(-1, 1, (32, classes)), dtype=torch.float32)
    target, partner = (torch.tensor(rng.integers(0, classes, 32)) for _ in range(2))
    lam = 0.37
    values, grads = [], []
    for loss, seeding in ((ours, lambda: ours.generator.manual_seed(seed)), (theirs, lambda: torch.manual_seed(seed))):
        x = cosine.clone().requires_grad_(True)
        seeding()  # mixup_criterion: two calls, each its own noise (utils.py mixup_criterion)
        value = lam * loss(x, target) + (1 - lam) * loss(x, partner)
        value.backward()
        values.append(value.detach())
        grads.append(x.grad)
    torch.testing.assert_close(values[0], values[1], rtol=2e-6, atol=1e-6)
    torch.testing.assert_close(grads[0], grads[1], rtol=2e-5, atol=1e-7)


def test_the_clouds_grow_to_the_tail_and_only_lower_the_cosines(monkeypatch):
    counts = [1000, 100, 10]
    loss = build_loss({"loss": "gcl", "gcl_noise_mul": 1.0, "gcl_margin": 0.0, "gcl_gamma": 0.0, "s": 1.0}, counts)
    np.testing.assert_allclose(loss.cloud.numpy(), [0.0, 0.5, 1.0], rtol=1e-6)  # log(1000 / n) / log(100)
    cosine = torch.zeros(4000, 3)
    seen = []
    part = PARTS.get("loss", "gcl")
    original = F.cross_entropy

    def capture(logits, *args, **kwargs):
        seen.append(logits.detach())
        return original(logits, *args, **kwargs)

    monkeypatch.setattr(F, "cross_entropy", capture)
    part.forward(cosine, torch.zeros(4000, dtype=torch.long), None, loss.cloud, 0.0, 0.0, 1.0, loss.generator)
    (clouded,) = seen
    assert torch.equal(clouded[:, 0], torch.zeros(4000)) and bool((clouded <= 0).all())
    # E|eps| of N(0, 1/3) is (1/3) sqrt(2/pi) = 0.266: the tail's mean drop, the middle class's half of it
    assert -clouded[:, 2].mean() == pytest.approx(0.266, abs=0.01)
    assert -clouded[:, 1].mean() == pytest.approx(0.133, abs=0.01) and clouded.min() >= -1.0


def test_balanced_counts_draw_no_cloud():
    loss = build_loss({"loss": "gcl", "gcl_noise_mul": 0.5, "gcl_margin": 0.1, "gcl_gamma": 0.0, "s": 20.0}, [5, 5])
    cosine, target = torch.tensor([[0.3, -0.2], [0.1, 0.4]]), torch.tensor([0, 1])
    expected = F.cross_entropy(20 * (cosine - 0.1 * F.one_hot(target, 2)), target)
    torch.testing.assert_close(loss(cosine, target), expected)


SETS = ["dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "dataset.imbalance_ratio=10",
        "train.warmup_epochs=1", "train.batch_size=64", "eval.batch_size=100", "stage.epochs=2"]


def test_stage2_retrains_the_stage1_cosine_classifier_on_a_frozen_backbone(cifar_root, tmp_path):
    from test_stage2 import found, weights

    out = tmp_path / "out"
    argv = ["run", "--methods", "gcl", "--datasets", "cifar10_lt", "--epochs", "2", "--data-root", str(cifar_root),
            "--out", str(out), "--no-progress", "--set", *SETS]
    assert main(argv) == 0
    result, run_dir = found(out, "gcl")
    assert result["status"] == "done" and result["parent"]["method"] == "gcl_stage1"
    parent, model = weights(out / result["parent"]["run_id"]), weights(run_dir)
    backbone = [k for k in parent if k.startswith("0.")]
    assert backbone and all(torch.equal(parent[k], model[k]) for k in backbone)  # stage.bn=frozen: stats too
    assert parent["1.weight"].shape[1] == 10 and "1.bias" not in parent  # the cosine head, (in, C), no bias
    assert not torch.equal(parent["1.weight"], model["1.weight"])  # kept (stage.reinit=false) and re-trained
    config = result["config"]["method"]
    assert (config["loss"], config["sampler"], config["mix"], config["s"]) == ("gcl", "class_uniform", "mixup", 20.0)


def test_a_gcl_run_resumes_mid_epoch_exactly_with_its_noise(cifar_root, tmp_path):
    """The loss's generator is reseeded each epoch and saved mid-epoch with the mixer's state: a run stopped by
    SIGTERM mid-epoch and resumed draws the same clouds (the same metrics, predictions and weights)."""
    from test_preempt import resumes_exactly

    argv = ["run", "--methods", "gcl_stage1", "--datasets", "cifar10_lt", "--epochs", "2", "--no-progress",
            "--data-root", str(cifar_root), "--set", *SETS[:-1]]
    assert len(resumes_exactly(argv, tmp_path, 3)["metrics"]) == 2


def test_each_process_of_a_distributed_run_draws_its_own_clouds():
    loss = build_loss({"loss": "gcl", **STAGES["stage1"][0]}, [100, 10, 1])
    draws = []
    for rank in (0, 0, 1):
        loss.reseed(torch.Generator().manual_seed(7), rank)
        draws.append(torch.normal(0.0, 1.0, (5,), generator=loss.generator))
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
