"""The standard algorithm: every method built from parts (a loss, class weights, a sampler, a schedule, a head,
mixing: bench.algorithms.compose.Composition) trains with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.algorithms.protocol import Algorithm
from bench.parts.part import Part
from bench.runconfig import RunConfig

if TYPE_CHECKING:
    import torch

    from bench.algorithms.step import Step


class StandardAlgorithm(Algorithm):
    """One view, the method's parts' loss (mixed over two labels when a mix part is on), one SGD step."""

    def setup(self) -> None:
        from bench.algorithms.compose import Composition

        # the switch follows the schedule the run trains with
        cfg: RunConfig = {**self.cfg, "train": self.train_config()}
        self.method = Composition(cfg, self.data.train_counts, self.data.train_labels, self.device)

    def start_epoch(self, epoch: int, generator: torch.Generator) -> tuple[torch.Tensor, bool]:
        return self.method.start_epoch(epoch, generator)

    def train_step(self, s: Step, images: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images, targets = self.method.mix_batch(images, labels)
        images = images.contiguous(memory_format=s.memory_format)
        with s.autocast():
            logits = s.net(images)
        loss = self.method.loss_value(logits.float(), targets)  # losses in fp32 whatever the precision
        s.optimize(loss)
        return loss.detach(), logits.detach()

    def probability_scale(self) -> float:
        return self.method.probability_scale()

    def position_state(self) -> Any:
        return self.method.mixer_state()

    def restore_position(self, state: Any) -> None:
        self.method.restore_mixer(state)


PART = Part("algorithm", "standard", "one augmented view per image, the loss of the method's parts (mixed over two "
            "labels with a mix part), one optimizer step per batch", build=lambda: StandardAlgorithm)
