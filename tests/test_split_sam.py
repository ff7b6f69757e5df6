"""ImbSAM and Focal-SAM against their official steps, transcribed here in their own structure, on a small network
and random batches: the weights after two steps (momentum, weight decay) equal within float rounding.

- ImbSAM: cool-xuan/Imbalanced_SAM @ c65f41eb6ea54d06846180e2eff70abdfed886db, imbsam.py:42-89 (ImbSAM) and
  utils/trainval.py:128-145 (forbackward, optim_mode 'imbsam'); CE with reduction 'none'.
- Focal-SAM: scongl/Focal-SAM @ 86c13c692688abda48e51ae6217f170ef10eb45e, focal_sam.py:4-66 (FocalSAM, adaptive
  off) and train_step.py:55-113 (focal_sam_step, fp32); losses.py:95-107 (LALoss, reduction 'none').
"""

from __future__ import annotations

import contextlib
import copy
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.algorithms.split_sam import ImbSAMAlgorithm, SplitSAMAlgorithm
from bench.algorithms.step import Step
from bench.cli import main
from bench.plan.config import resolve

COUNTS = [40, 25, 12, 6, 3]


class OfficialImbSAM:
    def __init__(self, optimizer, model, rho=0.05):
        self.optimizer, self.model, self.rho, self.state = optimizer, model, rho, defaultdict(dict)

    @torch.no_grad()
    def first_step(self):
        for p in self.model.parameters():
            if p.grad is not None:
                self.state[p]["grad_normal"] = p.grad.clone()
        self.optimizer.zero_grad()

    @torch.no_grad()
    def second_step(self):
        grad_norm = torch.norm(torch.stack([torch.norm(p.grad, p=2) for p in self.model.parameters()
                                            if p.grad is not None]), p=2) + 1.0e-16
        for p in self.model.parameters():
            if p.grad is not None:
                self.state[p]["eps"] = p.grad.clone().mul_(self.rho / grad_norm)
                p.add_(self.state[p]["eps"])
        self.optimizer.zero_grad()

    @torch.no_grad()
    def third_step(self):
        for p in self.model.parameters():
            if p.grad is not None:
                p.sub_(self.state[p]["eps"])
                p.grad.add_(self.state[p]["grad_normal"])
        self.optimizer.step()
        self.optimizer.zero_grad()


def official_imbsam_step(model, optimizer, images, targets, tail_classes):
    loss = F.cross_entropy(model(images), targets, reduction="none")
    tail_mask = (targets[:, None] == tail_classes[None, :]).sum(1) == 1
    (loss[~tail_mask].sum() / targets.size(0)).backward(retain_graph=True)
    optimizer.first_step()
    (loss[tail_mask].sum() / targets.size(0) * 2).backward()
    optimizer.second_step()
    logits = model(images)
    (F.cross_entropy(logits[tail_mask], targets[tail_mask], reduction="none").sum() / targets.size(0) * 2).backward()
    optimizer.third_step()


class OfficialFocalSAM(torch.optim.Optimizer):
    def __init__(self, params, base_optimizer, rho=0.05, **kwargs):
        super().__init__(params, dict(rho=rho, **kwargs))
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups

    @torch.no_grad()
    def first_step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.state[p]["grad"] = p.grad.clone()
        self.zero_grad()

    @torch.no_grad()
    def second_step(self):
        norm = torch.norm(torch.stack([p.grad.norm(p=2) for g in self.param_groups for p in g["params"]
                                       if p.grad is not None]), p=2)
        for group in self.param_groups:
            scale = group["rho"] / (norm + 1e-12)
            for p in group["params"]:
                if p.grad is not None:
                    self.state[p]["old_p"] = p.data.clone()
                    p.add_(p.grad * scale.to(p))
        self.zero_grad()

    @torch.no_grad()
    def third_step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.data = self.state[p]["old_p"]
                    p.grad.add_(self.state[p]["grad"])
        self.base_optimizer.step()
        self.zero_grad()


def official_focal_sam_step(model, optimizer, images, targets, gamma, sharpness):
    counts = torch.tensor(COUNTS)
    prior = counts / counts.sum()
    criterion = lambda x, y: F.cross_entropy(x + torch.log(prior.float() + 1e-9), y, reduction="none")  # noqa: E731
    loss_ori = criterion(model(images), targets)
    coefficients = (1 - counts / counts.sum()) ** gamma * sharpness
    unique = torch.unique(targets)
    idx = torch.arange(targets.size(0)).unsqueeze(1)
    mask = (targets.unsqueeze(1) == unique.unsqueeze(0)).float()
    (torch.sum((1 - coefficients[unique]) * loss_ori[idx] * mask) / images.size(0)).backward(retain_graph=True)
    optimizer.first_step()
    (torch.sum(coefficients[unique] * loss_ori[idx] * mask) / images.size(0)).backward()
    optimizer.second_step()
    loss = criterion(model(images), targets)
    (torch.sum(coefficients[unique] * loss[idx] * mask) / images.size(0)).backward()
    optimizer.third_step()


def network(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, len(COUNTS)))


def ours(method, cls, model, sets=()):
    cfg = resolve(method, "cifar10_lt", 0, sets=["model.name=small_cnn", *sets])
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(COUNTS)])
    data = SimpleNamespace(train_counts=COUNTS, train_labels=labels, in_channels=1, num_classes=len(COUNTS))
    algorithm = cls(cfg, data, torch.device("cpu"), ".")
    algorithm.setup()
    m, t = cfg["method"], cfg["train"]
    optimizer = torch.optim.SGD(model.parameters(), lr=t["lr"], momentum=t["momentum"], weight_decay=t["weight_decay"])
    step = Step(net=model, model=model, optimizer=optimizer, autocast=contextlib.nullcontext,
                memory_format=torch.contiguous_format)
    return algorithm, step, m, t


def batches(seed):
    rng = np.random.default_rng(seed)
    return [(torch.tensor(rng.normal(size=(12, 6)), dtype=torch.float32),
             torch.tensor(rng.integers(0, len(COUNTS), 12))) for _ in range(2)]


def close(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        if x.is_floating_point():
            torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("seed", [0, 1])
def test_focal_sam_steps_as_the_official_code(seed):
    model = network(seed)
    theirs_model = copy.deepcopy(model)
    algorithm, step, m, t = ours("focal_sam", SplitSAMAlgorithm, model, ["method.focal_sam_gamma=2.0",
                                                                         "method.focal_sam_lambda=0.7"])
    assert (m["loss"], algorithm.rho) == ("logit_adjust", 0.2)
    optimizer = OfficialFocalSAM(theirs_model.parameters(), torch.optim.SGD, rho=0.2, lr=t["lr"],
                                 momentum=t["momentum"], weight_decay=t["weight_decay"])
    for images, targets in batches(seed):
        algorithm.train_step(step, images, targets)
        official_focal_sam_step(theirs_model, optimizer, images, targets, 2.0, 0.7)
    close(model, theirs_model)


@pytest.mark.parametrize("seed", [0, 1])
def test_imbsam_steps_as_the_official_code(seed):
    model = network(seed)
    theirs_model = copy.deepcopy(model)
    algorithm, step, m, t = ours("imbsam", ImbSAMAlgorithm, model, ["method.imbsam_eta=10"])
    assert algorithm.plain.tolist() == [1, 1, 1, 0, 0] and algorithm.sharp.tolist() == [0, 0, 0, 2, 2]
    base = torch.optim.SGD(theirs_model.parameters(), lr=t["lr"], momentum=t["momentum"],
                           weight_decay=t["weight_decay"])
    optimizer = OfficialImbSAM(base, theirs_model, rho=m["sam_rho"])
    tail = torch.where(torch.tensor(COUNTS) < 10)[0]
    for images, targets in batches(seed):
        algorithm.train_step(step, images, targets)
        official_imbsam_step(theirs_model, optimizer, images, targets, tail)
    close(model, theirs_model)


@pytest.mark.parametrize("sets, message", [
    (["method.loss=lade"], "method focal_sam needs each image's loss (it weights each image's loss by its class), "
                           "which loss lade does not give; use method.loss=ce or"),
    (["method.mix=mixup"], "method focal_sam cannot mix batches (it weights each image's loss by its class"),
])
def test_what_the_split_cannot_do_is_refused_before_anything_runs(tmp_path, capsys, sets, message):
    argv = ["run", "--methods", "focal_sam", "--datasets", "cifar10_lt", "--dry-run", "--out", str(tmp_path / "o"),
            "--set", *sets]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_focal_sam_run_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    from test_preempt import fixture_run, resumes_exactly

    argv = fixture_run("focal_sam", cifar_root)
    assert len(resumes_exactly(argv, tmp_path, 3)["metrics"]) == 2


def test_a_split_sam_method_refuses_several_processes():
    """Step 2's backward reuses step 1's forward pass, whose gradients DistributedDataParallel averages only once: a
    multi-process run would perturb each process along its own shard's gradient."""
    from bench.errors import BenchError
    from bench.plan.config import check_algorithm

    cfg = resolve("imbsam", "cifar100_lt", 0)
    check_algorithm(cfg)
    cfg["train"]["world_size"] = 2
    with pytest.raises(BenchError, match="method imbsam trains in one process only"):
        check_algorithm(cfg)
