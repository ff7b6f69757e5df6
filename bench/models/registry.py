"""Model registry: name -> backbone builder.

Adding a model: its builder `build(in_channels) -> nn.Module` (with `out_features`: the method's head goes on top)
in a module of this package, and its line below naming it as "module:function" (the model modules import torch
at the top, so they are imported on use, not to list them); any timm model needs neither (`timm:<name>`). A plugin
module (BENCH_PLUGINS) declares `MODEL = ModelInfo(..., builder=build)` with the builder in the same file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.registry import Registry

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str
    builder: str | Callable[..., nn.Module]  # "module:function[:argument]", imported on use, or the function
    assumed_images_per_second: float = 0.0  # for cost estimates when no run measured it
    experts: str = ""  # "module:function" of its multi-expert version (RIDE, SADE), "" when it has none
    clip: bool = False  # a CLIP model (bench.models.clip): the foundation-model methods' only, built by them
    hub_weights: bool = True  # has published weights for model.weights=hub (False: a random-initialised test model)

    def build(self, in_channels: int) -> nn.Module:
        import importlib

        if callable(self.builder):
            return self.builder(in_channels=in_channels)
        module, func, *arg = self.builder.split(":")
        return getattr(importlib.import_module(module), func)(*arg, in_channels=in_channels)

    def build_experts(self, in_channels: int, experts: int, reduce: bool, head: Callable[[int, int], nn.Module],
                      num_classes: int) -> nn.Module:
        """The multi-expert network (bench.models.experts): a shared trunk, `experts` branches and a head on each
        (head(in_features, num_classes): the method's head part, bench.parts.heads)."""
        import importlib

        module, func = self.experts.split(":")
        return getattr(importlib.import_module(module), func)(in_channels, experts, reduce, head, num_classes)


class ModelRegistry(Registry):
    """Registered models, plus any timm model as `timm:<name>` (e.g. timm:convnext_tiny)."""

    def get_or_fail(self, name: str) -> ModelInfo:
        if isinstance(name, str) and name.startswith("timm:"):
            import timm

            if not timm.is_model(name[5:]):
                from bench.errors import BenchError, closest

                raise BenchError(f"unknown timm model {name[5:]!r}{closest(name[5:], timm.list_models())}; "
                                 "timm.list_models() lists the names")
            return ModelInfo(name, f"timm model {name[5:]}", f"bench.models.imagenet:TimmBackbone:{name[5:]}")
        return super().get_or_fail(name)


MODELS = ModelRegistry("model")
MODELS.register("resnet32", ModelInfo(
    "resnet32", "reference CIFAR ResNet-32 (option-A shortcuts, 0.46M parameters)",
    "bench.models.resnet_cifar:resnet32", 5000.0, "bench.models.experts:cifar_resnet32"))
MODELS.register("small_cnn", ModelInfo(
    "small_cnn", "3-conv CNN (24k parameters) for quick CPU runs; not a paper model",
    "bench.models.small_cnn:small_cnn", 5000.0, "bench.models.experts:small_cnn"))
MODELS.register("resnet10", ModelInfo(
    "resnet10",
    "ResNet-10 of OLTR/Decoupling: torchvision ResNet(BasicBlock, [1,1,1,1]), 7x7 stem (not timm's resnet10t)",
    "bench.models.imagenet:resnet10", 2000.0, "bench.models.experts:resnet10"))
MODELS.register("resnet50", ModelInfo(
    "resnet50", "torchvision ResNet-50 (iNaturalist recipe of the LDAM paper)", "bench.models.imagenet:resnet50",
    1500.0, "bench.models.experts:resnet50"))
MODELS.register("resnext50_32x4d", ModelInfo(
    "resnext50_32x4d", "torchvision ResNeXt-50 32x4d (Decoupling ImageNet-LT recipe)",
    "bench.models.imagenet:resnext50_32x4d", 1200.0, "bench.models.experts:resnext50_32x4d"))
MODELS.register("clip_vit_b16", ModelInfo(
    "clip_vit_b16", "CLIP ViT-B/16 (open_clip ViT-B-16, 86M image parameters; OpenAI's weights: "
    "model.weights=hub:openai or the file): the foundation-model methods", "bench.models.clip:build_clip",
    400.0, clip=True))
MODELS.register("clip_vit_l14", ModelInfo(
    "clip_vit_l14", "CLIP ViT-L/14 (open_clip ViT-L-14, 304M image parameters): the foundation-model methods",
    "bench.models.clip:build_clip", 120.0, clip=True))
MODELS.register("clip_tiny", ModelInfo(
    "clip_tiny", "a toy CLIP (2-layer ViT, width 64, patch 32, 224 px; random init) that runs the foundation-model "
    "methods offline; not a paper model", "bench.models.clip:build_clip", 2000.0, clip=True, hub_weights=False))
