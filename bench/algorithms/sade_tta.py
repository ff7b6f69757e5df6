"""SADE's test-time self-supervised aggregation (Zhang et al., NeurIPS 2022), as Vanint/SADE-AgnosticLT
test_training_cifar.py (and its ImageNet-LT / iNaturalist / Places-LT siblings) does it.

A child of a finished `sade` run. Its three experts stay frozen (eval mode: BN uses its running statistics);
only three aggregation weights w train, from 1/3 each, on the UNLABELLED images of the reported test split
(transductive: the result says so). The aggregated logits of a view are sum_k softmax(w)_k s cos_k (a weighted
sum of the experts' logits, s = 30); the loss is the negative batch mean of the cosine similarity (eps 1e-6)
between the two views' class probabilities softmax(z_1), softmax(z_2): prediction stability. SGD with Nesterov
momentum 0.9 on w alone, constant LR (stage.lr; 0.1 on CIFAR), weight decay (stage.weight_decay; 5e-4), batch
stage.batch_size (128) of shuffled test images, stage.epochs (5) passes, stopping after an epoch in which a
weight rounded to 2 decimals is below 0.05. The prediction: argmax of the aggregated logits of the plain test
images. With w = 1/3 it is the parent's prediction (the mean of the experts).

Views (bench.images.views): `padcrop_blur` on in-memory datasets (the official CIFAR view), `simclr_blur` on image lists
(the official ImageNet-LT and Places-LT view: RandomResizedCrop(224, scale (0.2, 1)), jitter p 0.8, grayscale
p 0.2, blur p 0.5, flip; drawn in the loader's workers). Not reproduced: iNaturalist's crop scale (0.08, 1) and
its extra entropy term (weight 0.01); the official scripts also adapt separately on each of several re-sampled
test distributions, while bench adapts on its reported test split.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.algorithms.protocol import Algorithm
from bench.images.keys import TRAIN_AUGMENT
from bench.parts.part import Stage
from bench.runconfig import RunConfig
from bench.store import rundir

if TYPE_CHECKING:
    import torch


STOP_BELOW = 0.05  # an epoch ending with a rounded weight below this is the last (official scripts)
VIEWS = {"memory": "padcrop_blur", "files": "simclr_blur"}  # CIFAR's view; ImageNet-LT's and Places-LT's


def stability_loss(cosines_1: torch.Tensor, cosines_2: torch.Tensor, w: torch.Tensor, s: float) -> torch.Tensor:
    """-mean_b cos(softmax(z_1), softmax(z_2)) with z_v = sum_k softmax(w)_k s cos_k(view v); cosines (B, K, C)."""
    import torch
    import torch.nn.functional as F

    a = torch.softmax(w, 0).view(1, -1, 1)
    p1 = torch.softmax((a * s * cosines_1).sum(1), 1)
    p2 = torch.softmax((a * s * cosines_2).sum(1), 1)
    return -F.cosine_similarity(p1, p2, dim=1, eps=1e-6).mean()


def aggregated_logits(cosines: torch.Tensor, w: torch.Tensor, s: float) -> torch.Tensor:
    import torch

    return (torch.softmax(w, 0).view(1, -1, 1) * s * cosines).sum(1)


def parent_model(cfg: RunConfig, data: Any, parent_dir: Path, parent: dict, device: torch.device) -> torch.nn.Module:
    """The parent's multi-expert network with the weights of its final epoch, in eval mode, frozen."""
    import torch

    from bench.algorithms.experts import ExpertAlgorithm
    from bench.store import checkpoint

    model, _ = ExpertAlgorithm(cfg, data, device, parent_dir).build_model()
    epoch = (parent.get("last") or {}).get("epoch")
    ckpt = checkpoint.load_final(parent_dir, epoch, torch.device("cpu"), parent.get("method") or "sade")
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def adapt(model: torch.nn.Module, pipe: Any, cfg: RunConfig, device: torch.device,
          view: str) -> tuple[torch.Tensor, list]:
    """The aggregation weights trained on the unlabelled test images; (w, one history row per epoch)."""
    import torch

    s, st = cfg["stage"], float(cfg["method"]["s"])
    w = torch.full((model_experts(model),), 1.0 / model_experts(model), device=device, requires_grad=True)
    opt = torch.optim.SGD([w], lr=s["lr"], momentum=0.9, nesterov=True, weight_decay=s["weight_decay"])
    generator = torch.Generator().manual_seed(int(cfg["train"]["seed"]))
    batch_size = s["batch_size"] or cfg["train"]["batch_size"]
    history = []
    for epoch in range(s["epochs"]):
        total, batches = 0.0, 0
        order = torch.randperm(len(pipe.test_labels), generator=generator)
        for first, second in pipe.test_views(order, batch_size, generator, (view, view)):
            with torch.no_grad():
                c1, c2 = (model(v, experts=True).float() for v in (first, second))
            loss = stability_loss(c1, c2, w, st)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, batches = total + loss.item(), batches + 1
        weights = torch.softmax(w.detach(), 0).cpu()
        history.append({"epoch": epoch, "loss": total / max(1, batches), "weights": weights.tolist()})
        if (weights.numpy().round(2) < STOP_BELOW).any():
            break
    return w.detach(), history


def model_experts(model: torch.nn.Module) -> int:
    from bench.models.experts import MultiExpert

    assert isinstance(model, MultiExpert)
    return len(model.branches)


def test_cosines(model: torch.nn.Module, pipe: Any, batch_size: int) -> torch.Tensor:
    """(N, K, C) expert outputs of the plain (evaluation) test images."""
    import torch

    with torch.no_grad():
        return torch.cat([model(images, experts=True).float().cpu() for images in pipe.test_batches(batch_size)])


def run_aggregation(cfg: RunConfig, run_dir: Path, parent_dir: Path, device: torch.device) -> dict:
    import torch

    from bench.algorithms.posthoc import finished_parent, write_child_result
    from bench.datasets.registry import for_config

    parent = finished_parent(parent_dir)
    data = for_config(cfg).load(cfg)
    pipe = data.pipeline(cfg, device)
    torch.manual_seed(int(cfg["train"]["seed"]))
    model = parent_model(cfg, data, parent_dir, parent, device)
    start = time.perf_counter()
    w, history = adapt(model, pipe, cfg, device, VIEWS["memory" if data.in_memory else "files"])
    seconds = time.perf_counter() - start
    logits = aggregated_logits(test_cosines(model, pipe, cfg["eval"]["batch_size"]), w.cpu(), float(cfg["method"]["s"]))
    weights = torch.softmax(w.cpu(), 0).tolist()
    selection = {"posthoc": "sade_aggregation", "aggregation_weights": weights, "epochs_run": len(history),
                 "history": history, "transductive": "the aggregation weights were trained on the reported test "
                                                     "images, without their labels (SADE's test-time protocol)"}
    images = len(pipe.test_labels) * len(history) * 2
    return write_child_result(cfg, run_dir, parent_dir, parent, logits.numpy(), np.asarray(pipe.test_labels),
                              selection, "fixed", {"aggregation_weights": weights}, device=device,
                              timing={"train_seconds": seconds, "train_images_per_second": images / seconds})


class AggregationAlgorithm(Algorithm):
    """A child computed without the trainer (as bench.algorithms.posthoc's): compute() adapts the aggregation
    weights on the test images and writes the result."""

    views = 2  # two views of each test image
    trains = False
    computes_on_device = True  # the runner resolves run.device for it

    def compute(self) -> dict:
        return run_aggregation(self.cfg, self.run_dir, rundir.parent_dir(self.run_dir, self.cfg), self.device)


def _unused(cfg: RunConfig) -> dict[str, str]:
    name = cfg["method"]["name"]
    return {**{key: f"{name} adapts on its own fixed views of the test images" for key in TRAIN_AUGMENT},
            "stage.taus": f"{name} learns its expert weights; it has no tau grid"}


STAGES = (Stage("posthoc", "sade_aggregation", "SADE's expert weights learnt on the unlabelled test images",
                build=lambda: AggregationAlgorithm, reads=("epochs", "lr", "weight_decay", "batch_size"),
                work="test-time aggregation: forward passes over the test images", unused=_unused),)
