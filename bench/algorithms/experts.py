"""The base of multi-expert algorithms (RIDE, SADE): the backbone's multi-expert version as the model.

The model (bench.models.experts.MultiExpert) predicts the mean of its experts' outputs, so evaluation, the
saved logits and every metric need nothing new; a training step asks for every expert's output with
`s.net(images, experts=True)` (through DDP and torch.compile alike).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from bench.algorithms.network import resolve_head
from bench.algorithms.standard import StandardAlgorithm
from bench.algorithms.step import Step
from bench.models.registry import MODELS
from bench.parts.part import Param
from bench.parts.registry import PARTS

if TYPE_CHECKING:
    import torch
    from torch import nn


class ExpertAlgorithm(StandardAlgorithm):
    """StandardAlgorithm's epoch order, re-balancing switch and loss parts, on a multi-expert network."""

    def build_model(self) -> tuple[nn.Module, Iterable]:
        m = self.cfg["method"]
        info = MODELS.get_or_fail(self.cfg["model"]["name"])
        model = info.build_experts(self.data.in_channels, m["experts"], m["reduce_experts"],
                                   partial(PARTS.build, "head", resolve_head(m)), self.data.num_classes)
        return model, model.parameters()

    def expert_outputs(self, s: Step, images: torch.Tensor) -> torch.Tensor:
        """(batch, K, classes) in fp32, whatever the precision of the forward pass."""
        images = images.contiguous(memory_format=s.memory_format)
        with s.autocast():
            outputs = s.net(images, experts=True)
        return outputs.float()


EXPERTS = Param("experts", 3, "number of experts: branches with their own later stages and classifier on a shared "
                "trunk; the prediction is the mean of their outputs",
                source="frank-xwang/RIDE-LongTailRecognition and Vanint/SADE-AgnosticLT configs (num_experts 3)",
                check=lambda v: 1 <= v <= 16, phrase="between 1 and 16")


REDUCE_EXPERTS = Param("reduce_experts", True, "expert branches at reduced widths (CIFAR ResNet-32: 24/48 channels "
                       "instead of 32/64; ImageNet ResNets: 192/384 planes instead of 256/512)",
                       source="RIDE and SADE configs (reduce_dimension true)")
