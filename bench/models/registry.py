"""Model registry: name -> backbone builder ("module:function", imported on use)."""

from dataclasses import dataclass

from bench.registry import Registry


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str
    builder: str
    assumed_images_per_second: float = 0.0  # for cost estimates when no run measured it

    def build(self, in_channels):
        import importlib

        module, func = self.builder.split(":")
        return getattr(importlib.import_module(module), func)(in_channels=in_channels)


MODELS = Registry("model")
MODELS.register("resnet32", ModelInfo(
    "resnet32", "reference CIFAR ResNet-32 (option-A shortcuts, 0.46M parameters)",
    "bench.models.resnet_cifar:resnet32", 5000.0))
MODELS.register("small_cnn", ModelInfo(
    "small_cnn", "3-conv CNN (24k parameters) for quick CPU runs; not a paper model",
    "bench.models.small_cnn:small_cnn", 5000.0))
