"""The algorithm protocol: what a method owns in training (DomainBed's lesson: the algorithm owns its update).

An Algorithm gives the trainer, each with today's behaviour as the default:

    views                      augmented views per image the pipeline draws (2: a tuple of two batches), or a
                               tuple of view kinds (bench.images.views: "train", "simclr", "simclr_blur")
    train_config()             the train section it runs with (stage 2: its own epochs, LR, batch)
    build_model()              the model with any modules around the backbone, and the parameter groups
                               that train (heads, experts, adapters, projections; frozen parts left out)
    setup()                    after the model is on the device: losses, samplers, buffers
    build_optimizer(groups)    SGD with the train section's LR, momentum, weight decay, Nesterov
    start_epoch(epoch, gen)    the epoch's order of training images and whether re-balancing is on
    train_step(s, images, y)   one step: forward, loss, backward, optimizer step(s); returns the detached
                               loss and the logits the training accuracy is measured on. `s` is the run's
                               Step (bench.algorithms.step): net, model, optimizer, autocast, memory format,
                               scaler and s.optimize(loss); a step never sees the trainer
    predict(model, pipe, ...)  logits at evaluation (e.g. aggregated experts)
    evaluation_extra(), result_extra(last)  its own figures in metrics.jsonl and result.json (RIDE's router)
    probability_scale()        from outputs to the logits the loss trains (LDAM: s), for ECE and NLL
    state_dict() / load_state_dict(state)   its own state, kept in every checkpoint (None: none)
    position_state() / restore_position(s)  its random state inside an epoch (the mixer's)
    hooks()                    its own trainer hooks (bench.engine.hooks), e.g. stage 2's BN and MaxNorm
    parent_record(), resumable(state)       a stage-2 method's parent (bench.algorithms.stage2.Stage2Algorithm)
    trains / compute()         False / the result, for a method computed from its parent's files without
                               data or training (post-hoc methods: bench.algorithms.posthoc.PosthocAlgorithm);
                               computes_on_device: compute() is given the run's device (else None)

StandardAlgorithm (bench/algorithms/standard.py) is every method built from parts (a loss, class weights, a
sampler, a schedule, a head, mixing: bench.algorithms.compose.Composition). A new algorithm is one file in
bench/algorithms/ (or a plugin module) holding its Params, its Part of kind "algorithm" (PART, whose build() returns
the class) and the class; `method.algorithm` selects it. The file imports torch inside its functions only, as a loss
file does, so that the registries and `bench list` stay free of torch.

The trainer's hooks follow the Hook protocol below; an algorithm adds its own with hooks().
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bench.algorithms.network import build_model
from bench.metrics.evaluate import predict
from bench.runconfig import RunConfig, TrainSection

if TYPE_CHECKING:
    import torch
    from torch import nn

    from bench.algorithms.step import Step
    from bench.datasets.protocol import Dataset


class Algorithm:
    """The protocol, with every method's default behaviour except the step (see StandardAlgorithm)."""

    views: int | tuple = 1
    trains: bool = True  # False: computed from a finished parent's files by compute(), without data or training
    computes_on_device: bool = False  # compute() uses the device (the runner resolves run.device for it)

    def __init__(self, cfg: RunConfig, data: Dataset, device: torch.device, run_dir: Path):
        self.cfg, self.data, self.device, self.run_dir = cfg, data, device, Path(run_dir)
        self.weights: list = []  # records of the pretrained weights build_model loaded (result.json `weights`)

    def train_config(self) -> TrainSection:
        return self.cfg["train"]

    def build_model(self) -> tuple[nn.Module, Iterable]:
        model = build_model(self.cfg, self.data.in_channels, self.data.num_classes, self.weights)
        return model, model.parameters()

    def setup(self) -> None:
        pass

    def build_optimizer(self, params: Iterable) -> torch.optim.Optimizer:
        import torch

        t = self.train_config()
        return torch.optim.SGD(params, lr=t["lr"], momentum=t["momentum"], weight_decay=t["weight_decay"],
                               nesterov=t["nesterov"])

    def start_epoch(self, epoch: int, generator: torch.Generator) -> tuple[torch.Tensor, bool]:
        raise NotImplementedError

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def predict(self, model: nn.Module, pipe: Any, batch_size: int, autocast: Any, split: str = "test") -> torch.Tensor:
        return predict(model, pipe, batch_size, autocast, split=split)

    def probability_scale(self) -> float:
        return 1.0

    def evaluation_extra(self) -> dict:
        """Figures of the last predict() added to the evaluation's line in metrics.jsonl ({}: none)."""
        return {}

    def result_extra(self, last: dict) -> dict:
        """Keys added to result.json, from the final evaluation's line `last` ({}: none)."""
        return {}

    def state_dict(self) -> Any:
        return None

    def load_state_dict(self, state: Any) -> None:
        pass

    def position_state(self) -> Any:
        return None

    def restore_position(self, state: Any) -> None:
        pass

    def hooks(self) -> list:
        return []

    def parent_record(self) -> dict | None:
        """What result.json and the checkpoint keep of a parent run (stage 2), None for a one-stage run."""
        return None

    def resumable(self, saved_state: dict) -> bool:
        """Whether a checkpoint's state may be resumed (False: start over, after saying why)."""
        return True

    def compute(self) -> dict:
        """An algorithm that does not train (trains = False): its result, written to result.json."""
        raise NotImplementedError


def check_views(method: str, views: int | tuple, data: Dataset, decode: str = "workers") -> None:
    """Several views of each image come from the in-memory pipeline and the image lists' workers; a clear
    refusal where they cannot be drawn (loader.decode=device)."""
    from bench.errors import BenchError

    views = len(views) if isinstance(views, tuple) else views
    if views > 1 and not data.in_memory and decode == "device":
        raise BenchError(f"method {method} trains on {views} augmented views of each image, which "
                         "loader.decode=device does not draw; use loader.decode=workers")


def log_tensor(values: Any, device: torch.device, eps: float = 0.0) -> torch.Tensor:
    """log(values + eps) computed in float64 (the official codes' priors are ratios of counts), as float32 on
    `device`."""
    import numpy as np
    import torch

    return torch.tensor(np.log(np.asarray(values, dtype=np.float64) + eps), dtype=torch.float32, device=device)


def log_prior(class_counts: Any, device: torch.device, eps: float = 0.0) -> torch.Tensor:
    """log(n_c / sum n + eps): the training prior the logit-adjusted losses of SADE, PaCo and BCL add."""
    import numpy as np

    counts = np.asarray(class_counts, dtype=np.float64)
    return log_tensor(counts / counts.sum(), device, eps)


def gathered(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor of every process, concatenated in rank order (the official codes' all_gather: ProCo's statistics,
    PaCo's and GPaCo's queue); itself in one process. No gradient flows through it."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    parts = [torch.zeros_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


EVENTS = ("before_run", "before_train_epoch", "after_train_step", "after_train_epoch", "before_evaluation",
          "after_evaluation", "after_checkpoint", "after_epoch", "after_run", "after_result")
"""A hook is an object with any of these methods (all optional; Hook gives each a no-op), called by
bench.engine.trainer.Trainer in this order, with the loop (a `Loop`: the trainer) as first argument. Events come
in before_/after_ pairs around the run, each epoch's training steps and each evaluation:

    before_run(t)                      the model, optimizer and state are ready (resumed or fresh)
    before_train_epoch(t, epoch)       the epoch's order is drawn, the model is in train mode
    after_train_step(t)                a batch has trained (t.batches_done, t.loss_sum, t.images_done)
    after_train_epoch(t, epoch)        the epoch's last step is done, before its metrics
    before_evaluation(t, epoch)
    after_evaluation(t, line)          every epoch on rank 0: its metrics.jsonl line (test metrics if evaluated)
    after_checkpoint(t, mid_epoch)     a checkpoint was written (mid_epoch: inside an epoch; at an epoch's end, rank 0)
    after_epoch(t, line)               rank 0: the epoch is evaluated and saved, and every rank is past it
    after_run(t)                       always, also after an error (a finally block)
    after_result(t, result)            result.json is written

A method that trains nothing (zero-shot, 0 epochs) is evaluated once: before_evaluation(t, -1), with no
after_evaluation (there is no epoch line). Hooks are called in list order; a method's own hooks (Algorithm.hooks)
come before the standard ones (bench.engine.hooks).
"""


class Loop(Protocol):
    """What a hook reads of the training loop (bench.engine.trainer.Trainer is one)."""

    model: nn.Module  # the model itself (not its DDP or compiled wrapper)
    epoch: int  # the epoch training now (0-based)
    epochs: int
    n_batches: int  # batches of this epoch
    batches_done: int  # of this epoch, also those done before a resume
    images_done: int
    last_batch_size: int
    loss_sum: torch.Tensor  # the epoch's summed loss so far (float64, on the device)


class Hook:
    def before_run(self, t: Loop) -> None: ...

    def before_train_epoch(self, t: Loop, epoch: int) -> None: ...

    def after_train_step(self, t: Loop) -> None: ...

    def after_train_epoch(self, t: Loop, epoch: int) -> None: ...

    def before_evaluation(self, t: Loop, epoch: int) -> None: ...

    def after_evaluation(self, t: Loop, line: dict) -> None: ...

    def after_checkpoint(self, t: Loop, mid_epoch: bool) -> None: ...

    def after_epoch(self, t: Loop, line: dict) -> None: ...

    def after_run(self, t: Loop) -> None: ...

    def after_result(self, t: Loop, result: dict) -> None: ...
