"""Head parts: the classifier on top of the backbone. A head's build(in_features, num_classes) returns the module
(the built-in ones are in bench.models.classifiers); adding a head is one Part here, or a plugin's PART."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.parts.part import Part

if TYPE_CHECKING:
    from torch import nn


def _linear(in_features: int, num_classes: int) -> nn.Module:
    from bench.models.classifiers import linear_head

    return linear_head(in_features, num_classes)


def _normed(in_features: int, num_classes: int) -> nn.Module:
    from bench.models.classifiers import NormedLinear

    return NormedLinear(in_features, num_classes)


# `auto` takes the head its loss asks for (Part.head of the loss: normed for ldam, linear otherwise)
AUTO = Part("head", "auto", "the head the loss asks for (normed cosine head for ldam, linear otherwise)")
LINEAR = Part("head", "linear", "nn.Linear, Kaiming-normal weights (the reference's init)", build=_linear)
NORMED = Part("head", "normed", "cosine head normalize(x) @ normalize(W), no bias (LDAM's NormedLinear)",
              build=_normed, source="kaidic/LDAM-DRW models/resnet_cifar.py NormedLinear")
PARTS = (AUTO, LINEAR, NORMED)
