"""Multi-expert backbones (RIDE, SADE): a shared trunk, K expert branches and K classifier heads.

As the official code builds them (frank-xwang/RIDE-LongTailRecognition model/ldam_drw_resnets/
ride_resnet_cifar.py and model/fb_resnets/RIDEResNet.py, RIDEResNeXt.py; Vanint/SADE-AgnosticLT
model/ldam_drw_resnets/expert_resnet_cifar.py and model/fb_resnets/Expert_ResNet*.py, the same networks):

    CIFAR ResNet-32        shared: stem + stage 1 (16 ch); per expert: stages 2 and 3, widths 24 / 48 when
                           reduced (32 / 64 otherwise), option-A shortcuts; pooled feature 48 (64)
    ImageNet ResNet-10/50, shared: stem + stages 1 and 2; per expert: stages 3 and 4 with 192 / 384 planes when
    ResNeXt-50 32x4d       reduced (256 / 512 otherwise); pooled feature 1536 for the bottleneck nets
    small_cnn (bench's)    shared: the first block; per expert: the other two, widths 24 / 48 when reduced

Each expert has its own head (the method's: NormedLinear cosines for RIDE and SADE, which the official code
multiplies by s = 30 inside the model; bench keeps the cosines and the loss scales them, as for LDAM).
forward(x) is the mean of the experts' outputs (the official prediction without a router or test-time
weights); forward(x, experts=True) is every expert's, (batch, K, classes). The official ImageNet nets pool with
AvgPool2d(7), which needs 224 px inputs; bench pools adaptively (the same at 224 px).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import nn

HeadBuilder = Callable[[int, int], nn.Module]  # (in_features, num_classes) -> the classifier


class MultiExpert(nn.Module):
    def __init__(self, trunk: nn.Module, branches: Sequence[nn.Module], features: int, head: HeadBuilder,
                 num_classes: int):
        super().__init__()
        self.trunk = trunk
        self.branches = nn.ModuleList(branches)
        self.heads = nn.ModuleList(head(features, num_classes) for _ in branches)
        self.out_features = features

    def forward(self, x: torch.Tensor, experts: bool = False) -> torch.Tensor:
        shared = self.trunk(x)
        outputs = torch.stack([head(branch(shared)) for branch, head in zip(self.branches, self.heads)], 1)
        return outputs if experts else outputs.mean(1)


def _pooled(*modules: nn.Module) -> nn.Sequential:
    return nn.Sequential(*modules, nn.AdaptiveAvgPool2d(1), nn.Flatten())


def _kaiming_convs(module: nn.Module, mode: Literal["fan_in", "fan_out"] = "fan_in") -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")


def cifar_resnet32(in_channels: int, experts: int, reduce: bool, head: HeadBuilder, num_classes: int) -> MultiExpert:
    from bench.models.resnet_cifar import BasicBlock

    def stage(in_planes, planes, stride):
        blocks = [BasicBlock(in_planes, planes, stride)] + [BasicBlock(planes, planes) for _ in range(4)]
        return nn.Sequential(*blocks)

    w2, w3 = (24, 48) if reduce else (32, 64)
    trunk = nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                          stage(16, 16, 1))
    branches = [_pooled(stage(16, w2, 2), stage(w2, w3, 2)) for _ in range(experts)]
    model = MultiExpert(trunk, branches, w3, head, num_classes)
    _kaiming_convs(model)  # the reference's _weights_init (NormedLinear keeps its own)
    return model


def small_cnn(in_channels: int, experts: int, reduce: bool, head: HeadBuilder, num_classes: int) -> MultiExpert:
    from bench.models.small_cnn import _block

    w2, w3 = (24, 48) if reduce else (32, 64)
    trunk = nn.Sequential(*_block(in_channels, 16, True))
    branches = [_pooled(*_block(16, w2, True), *_block(w2, w3, False)) for _ in range(experts)]
    model = MultiExpert(trunk, branches, w3, head, num_classes)
    _kaiming_convs(model)
    return model


def _imagenet(net, experts: int, reduce: bool, head: HeadBuilder, num_classes: int) -> MultiExpert:
    """Stages 3 and 4 of a torchvision ResNet rebuilt per expert with its _make_layer."""
    block, depths = net.expert_block, net.expert_depths
    planes3, planes4 = (192, 384) if reduce else (256, 512)
    trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2)
    after_trunk, branches = net.inplanes, []
    for _ in range(experts):
        net.inplanes = after_trunk
        branch = _pooled(net._make_layer(block, planes3, depths[2], stride=2),
                         net._make_layer(block, planes4, depths[3], stride=2))
        _kaiming_convs(branch, "fan_out")  # as torchvision's (and the official) init of the shared layers
        branches.append(branch)
    return MultiExpert(trunk, branches, planes4 * block.expansion, head, num_classes)


def _torchvision(block_name: str, depths: list, **kwargs):
    from torchvision.models import resnet

    block = getattr(resnet, block_name)
    net = resnet.ResNet(block, depths, **kwargs)
    net.inplanes = 128 * block.expansion  # after layer2
    net.expert_block, net.expert_depths = block, depths
    return net


def resnet10(in_channels, experts, reduce, head, num_classes):
    return _imagenet(_torchvision("BasicBlock", [1, 1, 1, 1]), experts, reduce, head, num_classes)


def resnet50(in_channels, experts, reduce, head, num_classes):
    return _imagenet(_torchvision("Bottleneck", [3, 4, 6, 3]), experts, reduce, head, num_classes)


def resnext50_32x4d(in_channels, experts, reduce, head, num_classes):
    net = _torchvision("Bottleneck", [3, 4, 6, 3], groups=32, width_per_group=4)
    return _imagenet(net, experts, reduce, head, num_classes)


