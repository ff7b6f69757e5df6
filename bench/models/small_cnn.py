"""A small, fast CNN for quick CPU runs on 28x28 / 32x32 images (not a paper model)."""

from torch import nn


def _block(cin, cout, pool):
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return layers + ([nn.MaxPool2d(2)] if pool else [])


class SmallCNN(nn.Module):
    def __init__(self, in_channels=1):
        super().__init__()
        self.features = nn.Sequential(
            *_block(in_channels, 16, True), *_block(16, 32, True), *_block(32, 64, False),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_features = 64
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        return self.features(x)


def small_cnn(in_channels=1):
    return SmallCNN(in_channels)
