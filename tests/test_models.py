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
