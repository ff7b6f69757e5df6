"""ImageNet-style backbones (224 px): torchvision ResNets and any timm model, classifier removed."""

from __future__ import annotations

from torch import nn


def _torchvision_backbone(net):
    features = net.fc.in_features
    net.fc = nn.Identity()
    net.out_features = features
    return net


def resnet10(in_channels=3):
    """ResNet-10 as in OLTR / Decoupling: torchvision ResNet(BasicBlock, [1, 1, 1, 1]), 7x7 stem.

    (timm's resnet10t is a different network.)"""
    from torchvision.models.resnet import BasicBlock, ResNet

    return _torchvision_backbone(ResNet(BasicBlock, [1, 1, 1, 1]))


def resnet50(in_channels=3):
    from torchvision.models import resnet50 as build

    return _torchvision_backbone(build(weights=None))


def resnext50_32x4d(in_channels=3):
    from torchvision.models import resnext50_32x4d as build

    return _torchvision_backbone(build(weights=None))


class TimmBackbone(nn.Module):
    def __init__(self, name, in_channels=3):
        super().__init__()
        import timm

        self.net = timm.create_model(name, pretrained=False, num_classes=0, in_chans=in_channels)
        self.out_features = self.net.num_features

    def forward(self, x):
        return self.net(x)
