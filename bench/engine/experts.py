"""The base of multi-expert algorithms (RIDE, SADE): the backbone's multi-expert version as the model.

The model (bench.models.experts.MultiExpert) predicts the mean of its experts' outputs, so evaluation, the
saved logits and every metric need nothing new; a training step asks for every expert's output with
`s.net(images, experts=True)` (through DDP and torch.compile alike).
"""

from __future__ import annotations

import torch

from bench.engine.algorithm import StandardAlgorithm
from bench.engine.step import Step
from bench.methods.network import resolve_head
from bench.models.registry import MODELS


class ExpertAlgorithm(StandardAlgorithm):
    """StandardAlgorithm's epoch order, re-balancing switch and loss parts, on a multi-expert network."""

    def build_model(self):
        m = self.cfg["method"]
        info = MODELS.get_or_fail(self.cfg["model"]["name"])
        model = info.build_experts(self.data.in_channels, m["experts"], m["reduce_experts"], resolve_head(m),
                                   self.data.num_classes)
        return model, model.parameters()

    def expert_outputs(self, s: Step, images: torch.Tensor) -> torch.Tensor:
        """(batch, K, classes) in fp32, whatever the precision of the forward pass."""
        images = images.contiguous(memory_format=s.memory_format)
        with s.autocast():
            outputs = s.net(images, experts=True)
        return outputs.float()
