"""Models: a backbone from the registry plus a classifier head."""

from bench.models.registry import MODELS


def resolve_head(method_cfg):
    """`auto` picks the normed cosine head for LDAM losses and a Linear head otherwise (as the reference)."""
    head = method_cfg["head"]
    if head == "auto":
        return "normed" if method_cfg["loss"] == "ldam" else "linear"
    return head


def build_model(cfg, in_channels, num_classes):
    from torch import nn

    from bench.models.heads import build_head

    backbone = MODELS.get_or_fail(cfg["model"]["name"]).build(in_channels)
    head = build_head(resolve_head(cfg["method"]), backbone.out_features, num_classes)
    return nn.Sequential(backbone, head)


__all__ = ["MODELS", "build_model", "resolve_head"]
