"""Head parts: the classifier on top of the backbone (the modules are in bench.models.classifiers)."""

from bench.parts.part import Part

# `auto` takes the head its loss asks for (Part.head of the loss: normed for ldam, linear otherwise)
AUTO = Part("head", "auto", "the head the loss asks for (normed cosine head for ldam, linear otherwise)")
LINEAR = Part("head", "linear", "nn.Linear, Kaiming-normal weights (the reference's init)")
NORMED = Part("head", "normed", "cosine head normalize(x) @ normalize(W), no bias (LDAM's NormedLinear)",
              source="kaidic/LDAM-DRW models/resnet_cifar.py NormedLinear")
PARTS = (AUTO, LINEAR, NORMED)
