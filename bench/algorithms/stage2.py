"""Stage-2 training on a finished parent run (cRT, LWS, MiSLAS, weight balancing).

The child's model starts from the parent's final weights (its last checkpoint, which must be the epoch its
result.json reports), or with stage.start=best_val from its epoch best on the validation split (best.pt, kept
by runs with eval.selection=best_val; the official Decoupling code loads its best model). The backbone never
trains: its parameters are frozen and outside the optimizer, so they stay bit-identical; its BN statistics
stay frozen (eval mode, stage.bn=frozen) or follow the stage-2 batches (train mode, stage.bn=update: the
official Decoupling, weight-balancing and MiSLAS "shift learning" code). What trains (stage.train):

    classifier             the linear head (re-initialised with stage.reinit, as cRT; else the parent's)
    scales                 one scale per class on the head's logits, z_c * s_c from 1 (LWS); head frozen
    classifier_and_scales  both (MiSLAS), the head at stage.classifier_lr_factor x the LR
    disalign               DisAlign's gate, magnitude and margin per class on the frozen head's logits
                           (bench.models.classifiers.DisAlign, stage.disalign_form)

with its own epochs, LR (cosine from stage.lr to 0, no warm-up), weight decay and batch size; the loss,
class weights and sampler are the child method's parts. stage.max_norm projects every classifier row
onto the ball of radius min + max_norm (max - min) of the parent's row norms, after every step or epoch
(weight balancing's MaxNorm; the bias is not capped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from bench.algorithms.posthoc import finished_parent, result_sha256
from bench.algorithms.protocol import Hook
from bench.algorithms.standard import StandardAlgorithm
from bench.errors import BenchError
from bench.parts.part import STAGE_KEYS, Stage
from bench.runconfig import RunConfig, TrainSection
from bench.store import rundir

if TYPE_CHECKING:
    import torch
    from torch import nn

    from bench.algorithms.protocol import Loop
    from bench.datasets.protocol import Dataset


def run_train_section(cfg: RunConfig) -> TrainSection:
    """The train section a run trains with: its own, or for a stage-2 child (stage.train) its parent's with the
    stage's epochs, LR, weight decay and batch size (null: the parent's), a cosine schedule to 0 and no warm-up,
    and what its stage computation declares (Stage.train_section: RIDE's router always uses Nesterov momentum). The
    trainer, the re-balancing switch and the plan-time checks all read this one section."""
    from bench.algorithms.registry import STAGES  # not at the top: the registry imports this module

    s = cfg["stage"]
    if s["train"] == "none" or s["posthoc"] != "none":
        return cfg["train"]
    section = {**cfg["train"], "epochs": s["epochs"], "lr": s["lr"], "weight_decay": s["weight_decay"],
               "batch_size": s["batch_size"] or cfg["train"]["batch_size"], "schedule": "cosine", "warmup_epochs": 0,
               "milestones": None, **dict(STAGES["train"].get_or_fail(s["train"]).train_section)}
    return cast(TrainSection, section)  # train_section's keys are train keys (tests/test_stages.py)


class Stage2:
    """Builds a stage-2 model from its parent and applies the recipe's rules during training.

    `model` below is the child's nn.Sequential(backbone, head[, scales]), indexed as such (typed Any: torch's stubs
    type a Sequential's items and their weights as bare Modules)."""

    def __init__(self, cfg: RunConfig, parent_dir: str | Path) -> None:
        self.cfg, self.s = cfg, cfg["stage"]
        self.parent_dir = Path(parent_dir)
        self.parent = finished_parent(parent_dir)
        self.parent_sha256 = result_sha256(parent_dir)
        self.cap: float | None = None  # MaxNorm's cap on the classifier's rows (stage.max_norm)

    def model(self, model: Any, num_classes: int) -> tuple[nn.Module, list]:
        """The child's model from the freshly built `model` (backbone, head): the parent's weights loaded
        (the head kept unless re-initialised), the scales appended, everything else frozen.
        Returns (model, optimizer parameter groups)."""
        from torch import nn

        from bench.models.classifiers import ClassScale, DisAlign

        state = self.parent_weights()
        own = model.state_dict()
        if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
            from bench.algorithms.network import resolve_head

            raise BenchError(f"parent run {self.parent_dir.name} has another model or head than this stage 2 "
                             f"({self.cfg['model']['name']}, {resolve_head(self.cfg['method'])} head); use the "
                             "parent method the child names")
        if self.s["reinit"] and self.s["reinit_init"] == "pytorch":
            model[1].reset_parameters()  # nn.Linear's default draw (classifier-balancing DotProductClassifier)
        fresh_head = {k: v.clone() for k, v in model[1].state_dict().items()}
        model.load_state_dict(state)
        if self.s["reinit"]:
            model[1].load_state_dict(fresh_head)  # cRT: a new classifier (drawn from the run's seed)
        train = self.s["train"]
        if train in ("scales", "classifier_and_scales"):
            model = nn.Sequential(model[0], model[1], ClassScale(num_classes))
        for p in model.parameters():
            p.requires_grad_(False)
        groups: list[dict[str, Any]] = []
        if train == "disalign":  # the gate, magnitudes and margins drawn after the parent's weights are in
            model = nn.Sequential(model[0], DisAlign(model[1], model[0].out_features, num_classes,
                                                     self.s["disalign_form"]))
            groups.append({"params": model[1].calibration(), "lr_scale": 1.0})
        if train in ("classifier", "classifier_and_scales", "ccsam"):
            groups.append({"params": list(model[1].parameters()), "lr_scale": self.s["classifier_lr_factor"]})
        if train in ("scales", "classifier_and_scales"):
            groups.append({"params": list(model[2].parameters()), "lr_scale": 1.0})
        for group in groups:
            for p in group["params"]:
                p.requires_grad_(True)
        if self.s["max_norm"] is not None:  # the cap comes from the parent's rows (also under stage.reinit)
            weight: torch.Tensor = state.get("1.weight", model[1].weight.detach())
            if weight.dim() != 2:
                raise BenchError("stage.max_norm needs a linear classifier")
            norms = self.row_norms(weight)
            self.cap = float(norms.min() + self.s["max_norm"] * (norms.max() - norms.min()))
        return model, groups

    def parent_weights(self) -> dict:
        """The parent's state_dict stage 2 starts from: its final epoch's, or (stage.start=best_val) its
        best-on-val epoch's, as the official Decoupling code loads its best model."""
        import torch

        from bench.store import checkpoint

        method = self.parent.get("method") or ""
        if self.s["start"] == "best_val":
            best = (self.parent.get("best") or {}).get("epoch")
            return checkpoint.load_best(self.parent_dir, best, torch.device("cpu"), method)["model"]
        last = (self.parent.get("last") or {}).get("epoch")
        return checkpoint.load_final(self.parent_dir, last, torch.device("cpu"), method)["model"]

    @staticmethod
    def row_norms(weight: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.linalg.vector_norm(weight.double(), dim=1)

    def train_mode(self, model: Any) -> None:
        """After model.train(): the frozen backbone in eval mode unless its BN statistics update."""
        if self.s["bn"] == "frozen":
            model[0].eval()

    def project(self, model: Any) -> None:
        """MaxNorm: rows of the classifier longer than the cap are scaled down onto it."""
        import torch

        assert self.cap is not None  # set by model() when stage.max_norm is on
        with torch.no_grad():
            weight = model[1].weight
            norms = self.row_norms(weight)
            factor = torch.where(norms > self.cap, self.cap / norms, torch.ones_like(norms))
            weight.mul_(factor.to(weight.dtype)[:, None])

    def after_train_step(self, model: Any) -> None:
        if self.cap is not None and self.s["max_norm_at"] == "step":
            self.project(model)

    def after_train_epoch(self, model: Any) -> None:
        if self.cap is not None and self.s["max_norm_at"] == "epoch":
            self.project(model)

    def record(self) -> dict:
        """What result.json keeps of the parent and the recipe."""
        stage: Mapping[str, Any] = self.s
        keys = ["train", "reinit", "reinit_init", "bn", "epochs", "lr", "weight_decay", "batch_size",
                "classifier_lr_factor", "max_norm", "max_norm_at"]
        if stage["train"] == "disalign":
            keys.append("disalign_form")
        return {"run_id": self.parent_dir.name, "method": self.parent.get("method"),
                "result_sha256": self.parent_sha256, "max_norm_cap": self.cap,
                "stage": {k: stage[k] for k in keys}}


class Stage2Rules(Hook):
    """The recipe's rules as trainer hooks: the frozen backbone's BN mode each epoch, MaxNorm after each step
    or epoch."""

    def __init__(self, stage: Stage2) -> None:
        self.stage = stage

    def before_train_epoch(self, t: Loop, epoch: int) -> None:
        self.stage.train_mode(t.model)

    def after_train_step(self, t: Loop) -> None:
        self.stage.after_train_step(t.model)

    def after_train_epoch(self, t: Loop, epoch: int) -> None:
        self.stage.after_train_epoch(t.model)


class Stage2Algorithm(StandardAlgorithm):
    """A stage-2 method on the algorithm protocol: the parent's weights with only the classifier and/or the
    per-class scales training, its own train section, the recipe's rules as hooks; the step is the
    standard one (the method's loss, weights and sampler)."""

    def __init__(self, cfg: RunConfig, data: Dataset, device: torch.device, run_dir: Path) -> None:
        super().__init__(cfg, data, device, run_dir)
        self.stage = Stage2(cfg, rundir.parent_dir(self.run_dir, cfg))

    def train_config(self) -> TrainSection:
        return run_train_section(self.cfg)

    def build_model(self) -> tuple[nn.Module, Iterable]:
        model, _ = super().build_model()
        return self.stage.model(model, self.data.num_classes)

    def parent_record(self) -> dict | None:
        return self.stage.record()

    def resumable(self, saved_state: dict) -> bool:
        """A checkpoint trained on an older result of the parent starts over (the parent was re-run)."""
        if saved_state["parent"]["result_sha256"] == self.stage.parent_sha256:
            return True
        print(f"starting {self.run_dir.name} over: its checkpoint was trained on an older result of parent "
              f"{self.stage.parent_dir.name}", flush=True)
        return False

    def hooks(self) -> list:
        return [Stage2Rules(self.stage)]


_HEAD_KEYS = tuple(k for k in STAGE_KEYS if k != "disalign_form")  # what the classifier and scales kinds read
STAGES = (Stage("train", "classifier", "the linear head (re-initialised with stage.reinit)",
                build=lambda: Stage2Algorithm, reads=_HEAD_KEYS, interchangeable=True),
          Stage("train", "scales", "one scale per class on the frozen head's logits (LWS)",
                build=lambda: Stage2Algorithm, interchangeable=True,
                reads=tuple(k for k in _HEAD_KEYS if k not in ("classifier_lr_factor", "reinit", "reinit_init",
                                                                "max_norm", "max_norm_at"))),
          Stage("train", "classifier_and_scales", "the head and the scales (MiSLAS)", build=lambda: Stage2Algorithm,
                reads=_HEAD_KEYS, interchangeable=True),
          Stage("train", "disalign", "DisAlign's gate, magnitude and margin per class on the frozen head's logits",
                build=lambda: Stage2Algorithm,
                reads=("bn", "start", "epochs", "lr", "weight_decay", "batch_size", "disalign_form")))
