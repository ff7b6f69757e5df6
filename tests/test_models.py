"""The reference ResNet-32, the NormedLinear head and the head choice."""


import pytest
import torch
from torch import nn

from bench.algorithms.network import build_model, resolve_head
from bench.models.classifiers import NormedLinear
from bench.models.resnet_cifar import ShortcutA, resnet32
from bench.plan.config import resolve


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_resnet32_parameter_count():
    cfg = resolve("erm", "cifar10_lt", 0)
    model = build_model(cfg, 3, 10)
    assert n_params(model) == 464154
    assert isinstance(model[1], nn.Linear)
    assert n_params(build_model(cfg, 3, 100)) == 464154 + 90 * 65


def test_resnet32_structure():
    net = resnet32()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 31  # stem + 15 blocks x 2 (+ the head: 32 layers)
    assert sum(isinstance(m, ShortcutA) for m in net.modules()) == 2  # 16->32 and 32->64, no parameters
    assert all(c.bias is None for c in convs)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 64)
    assert resnet32(in_channels=1)(torch.zeros(2, 1, 28, 28)).shape == (2, 64)


def test_option_a_shortcut():
    x = torch.arange(2 * 16 * 4 * 4, dtype=torch.float32).view(2, 16, 4, 4)
    y = ShortcutA(32)(x)
    assert y.shape == (2, 32, 2, 2)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2])
    assert y[:, :8].abs().sum() == 0 and y[:, 24:].abs().sum() == 0


def test_normed_linear():
    torch.manual_seed(0)
    head = NormedLinear(64, 10)
    assert torch.allclose(head.weight.norm(dim=0), torch.ones(10), atol=1e-4)
    out = head(torch.randn(32, 64) * 50)
    assert out.abs().max() <= 1.0 + 1e-6
    x = torch.randn(4, 64)
    expected = (x / x.norm(dim=1, keepdim=True)) @ (head.weight / head.weight.norm(dim=0, keepdim=True))
    assert torch.allclose(head(x), expected, atol=1e-6)


@pytest.mark.parametrize("method,head", [
    ("erm", "linear"), ("focal", "linear"), ("cb", "linear"), ("drw", "linear"), ("resample", "linear"),
    ("ldam", "normed"), ("ldam_drw", "normed"),
])
def test_head_follows_reference(method, head):
    cfg = resolve(method, "cifar10_lt", 0)
    assert resolve_head(cfg["method"]) == head
    model = build_model(cfg, 3, 10)
    assert isinstance(model[1], NormedLinear if head == "normed" else nn.Linear)


def test_head_can_be_overridden():
    cfg = resolve("ldam", "cifar10_lt", 0, sets=["method.head=linear"])
    assert isinstance(build_model(cfg, 3, 10)[1], nn.Linear)


def test_every_head_part_but_auto_builds_its_classifier_and_a_new_head_is_one_part():
    """A head is one Part whose build(in_features, num_classes) returns the module: the single-network and the
    multi-expert models both take it from the part registry, so a head registered there (as a plugin's PART is)
    is trained without any other file naming it."""
    from bench.models.registry import MODELS
    from bench.parts.part import Part
    from bench.parts.registry import PARTS

    heads = PARTS.kinds["head"]
    assert heads["auto"].build is None
    for name, part in heads.items():
        if name != "auto":
            module = part.build(64, 10)
            assert module(torch.randn(3, 64)).shape == (3, 10), name
    twice = Part("head", "toy_twice", "a test head: 2 x Linear", build=lambda f, c: nn.Sequential(
        nn.Linear(f, c), nn.Identity()))
    PARTS.register(twice)
    try:
        cfg = resolve("erm", "cifar10_lt", 0)
        cfg["method"]["head"] = "toy_twice"  # the schema's choices are read once, at import (a plugin's are there)
        assert isinstance(build_model(cfg, 3, 10)[1], nn.Sequential)
        experts = MODELS["resnet32"].build_experts(3, 2, True, lambda f, c: PARTS.build("head", "toy_twice", f, c), 10)
        assert all(isinstance(h, nn.Sequential) for h in experts.heads)
    finally:
        del PARTS.kinds["head"]["toy_twice"]
