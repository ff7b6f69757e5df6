"""What a method does to training, built from its parts: the loss module, the epoch order, the
epoch from which re-balancing is on, and batch mixing. The trainer talks to this object only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.algorithms.registry import PARTS
from bench.runconfig import RunConfig

if TYPE_CHECKING:
    import torch

    from bench.parts.mix import Mixer


def process_rank() -> int:
    """This process's rank in a distributed run (0 otherwise)."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


class Composition:
    def __init__(self, cfg: RunConfig, class_counts: Sequence[int], train_labels: torch.Tensor,
                 device: torch.device) -> None:
        from bench.parts.loss_module import build_loss  # torch: this module is imported by the registry

        m = cfg["method"]
        self.method_cfg = m
        weights = PARTS.build("weights", m["weights"], class_counts, m)
        self.loss = build_loss(m, class_counts, weights).to(device)
        self.sampler = PARTS.build("sampler", m["sampler"], train_labels, class_counts, m)
        self.switch = PARTS.build("schedule", m["schedule"], cfg)  # first epoch with re-balancing on
        self.mix_name = m["mix"]
        self.mixer: Mixer | None = None

    def probability_scale(self) -> float:
        """Factor from the model's outputs to the logits the loss trains (LDAM: s), for ECE and NLL."""
        return PARTS.probability_scale(self.method_cfg)

    def start_epoch(self, epoch: int, generator: torch.Generator) -> tuple[torch.Tensor, bool]:
        """(order of the epoch's images, re-balancing on?). Switches the loss's class weights and the
        sampler through their hooks; a mixing method seeds its mixer from the epoch's generator."""
        rebalancing = epoch >= self.switch
        self.loss.set_rebalancing(rebalancing)
        order = self.sampler.epoch_order(generator, rebalancing)
        self.mixer = PARTS.build("mix", self.mix_name, self.method_cfg, generator)
        self.loss.reseed(generator, process_rank())  # a loss that draws (GCL) after the mixer: others unchanged
        return order, rebalancing

    def mixer_state(self) -> str | None:
        """The random state inside an epoch (a mid-epoch checkpoint), as text: the mixer's; with a loss that draws,
        {"mixer": ..., "loss": its generator's state}; None without either."""
        import json

        mixer = None if self.mixer is None else json.dumps(self.mixer.rng.bit_generator.state)
        if self.loss.generator is None:
            return mixer
        return json.dumps({"mixer": mixer, "loss": self.loss.generator.get_state().tolist()})

    def restore_mixer(self, text: str | None) -> None:
        import json

        import torch

        if text is not None and self.loss.generator is not None:
            saved = json.loads(text)
            self.loss.generator.set_state(torch.tensor(saved["loss"], dtype=torch.uint8))
            text = saved["mixer"]
        if text is not None and self.mixer is not None:
            self.mixer.rng.bit_generator.state = json.loads(text)

    def mix_batch(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """(images, targets) of a batch; targets are (labels, partner labels or None, lambda)."""
        if self.mixer is None:
            return images, (labels, None, 1.0)
        images, partner, lam = self.mixer(images, labels)
        return images, (labels, partner, lam)

    def loss_value(self, logits: torch.Tensor, targets: tuple) -> torch.Tensor:
        labels, partner, lam = targets
        if partner is None:
            return self.loss(logits, labels)
        return lam * self.loss(logits, labels) + (1.0 - lam) * self.loss(logits, partner)
