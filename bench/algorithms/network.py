"""The network a method trains: the registered backbone with the classifier its method asks for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bench.models import MODELS, load_backbone_weights
from bench.runconfig import RunConfig

if TYPE_CHECKING:
    from torch import nn


def resolve_head(method_cfg: Mapping[str, Any]) -> str:
    """The classifier a method trains: its algorithm's own where it builds one (PaCo, BCL, the foundation track:
    the algorithm part's traits.head), else method.head, where `auto` takes the head the loss part asks for
    (normed cosine for LDAM, Linear otherwise, as the reference)."""
    from bench.algorithms.registry import PARTS  # not at the top: the registry imports this module

    own = PARTS.get("algorithm", method_cfg.get("algorithm", "standard")).traits.head
    if own is not None:
        return own(method_cfg) if callable(own) else own
    head = method_cfg["head"]
    return PARTS.get("loss", method_cfg["loss"]).head if head == "auto" else head


def build_model(cfg: RunConfig, in_channels: int, num_classes: int, weights_out: list | None = None) -> nn.Module:
    """The registered backbone with the method's head; `model.weights` loaded into the backbone (its record
    appended to `weights_out` when given: result.json's `weights`)."""
    from torch import nn

    from bench.parts.registry import PARTS

    backbone = MODELS.get_or_fail(cfg["model"]["name"]).build(in_channels)
    if cfg["model"].get("weights"):
        found = load_backbone_weights(backbone, cfg["model"]["weights"], cfg["model"]["name"])
        if weights_out is not None:
            weights_out.append(found)
    head = PARTS.build("head", resolve_head(cfg["method"]), backbone.out_features, num_classes)
    return nn.Sequential(backbone, head)
