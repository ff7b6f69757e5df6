"""One image file -> one augmented uint8 tensor, as the image-list recipes' torchvision transforms make it.

Train: RandomResizedCrop(size) (scale 0.08-1, ratio 3/4-4/3) or Resize(resize) + RandomCrop(size), then
RandomHorizontalFlip, then ColorJitter(j, j, j, 0) (brightness, contrast, saturation in a random order);
evaluation: Resize(resize) + CenterCrop(size). The parameters follow torchvision's own formulas
(`draw`, `crop_box`), drawn from random.Random(seed) with the sample's own seed, so an image's augmentation
depends neither on the worker that decodes it nor on the batches before it (a resumed epoch is exact).

Speed, for the same crop boxes: the JPEG is decoded at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling,
PIL's draft mode) when the region that is kept still has at least the output's pixels on both axes at that
scale (`reduction`); otherwise libjpeg-turbo decodes it whole (TorchCodec) and the crop is resized as a
uint8 tensor (antialiased bilinear, PIL's filter). Colour jitter (`color_jitter`) is the arithmetic of
PIL's ImageEnhance, which the reference's torchvision ColorJitter calls on PIL images, done with float32
tensor operations on the three colour planes: bit-identical to PIL, twice as fast, and usable on any
device. The result is a contiguous uint8 (3, H, W) tensor; bench.pipelines normalises batches of them on
the device.
"""

from __future__ import annotations

import io
import math
import random
from typing import NamedTuple

import numpy as np
import torch

SCALE, RATIO = (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0)  # torchvision RandomResizedCrop defaults (Decoupling's recipe)
REDUCTIONS = (8, 4, 2)  # the DCT scalings PIL's draft mode offers


class Recipe(NamedTuple):
    size: int
    resize: int
    crop: str  # random_resized | resize_random
    flip: bool
    jitter: float
    reduce: bool  # decode at reduced size where the crop allows

    @classmethod
    def from_cfg(cls, cfg):
        a = cfg["augment"]
        return cls(a["image_size"], a["resize"], a["train_crop"], bool(a["flip"]), float(a["color_jitter"]),
                   bool(cfg["loader"]["reduced_decode"]))


class Params(NamedTuple):
    """Everything random about one training sample, drawn before any pixel is decoded."""

    box: tuple  # (top, left, height, width) in the original image (random_resized) or in the resized one
    flip: bool
    order: tuple  # indices into (brightness, contrast, saturation), in the order they apply
    factors: tuple  # (brightness, contrast, saturation) factors; () without jitter


def crop_box(height, width, rng, scale=SCALE, ratio=RATIO):
    """(top, left, h, w) with the distribution of torchvision's RandomResizedCrop.get_params (10 tries, then
    the central crop clamped to the ratio range); rng is a random.Random."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        w, h = int(round(height * max(ratio))), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def resized_size(height, width, side):
    """(h, w) of torchvision's Resize(side) on an image: the shorter side becomes `side`."""
    if width <= height:
        return int(side * height / width), side
    return side, int(side * width / height)


def draw(height, width, seed, recipe):
    """The sample's Params, in torchvision's order of draws: crop, flip, jitter."""
    rng = random.Random(seed)
    if recipe.crop == "random_resized":
        box = crop_box(height, width, rng)
    else:
        rh, rw = resized_size(height, width, recipe.resize)
        box = (rng.randint(0, rh - recipe.size), rng.randint(0, rw - recipe.size), recipe.size, recipe.size)
    flip = recipe.flip and rng.random() < 0.5
    order, factors = (), ()
    if recipe.jitter:
        order = [0, 1, 2]
        rng.shuffle(order)
        low, high = max(0.0, 1.0 - recipe.jitter), 1.0 + recipe.jitter
        factors = tuple(rng.uniform(low, high) for _ in range(3))
    return Params(box, flip, tuple(order), factors)


def reduction(height, width, need_h, need_w):
    """The largest DCT scaling 1/s that leaves a height x width region at least need_h x need_w pixels."""
    for s in REDUCTIONS:
        if height / s >= need_h and width / s >= need_w:
            return s
    return 1


def is_jpeg(data):
    return bytes(data[:2]) == b"\xff\xd8"


def _tensor(image):
    """uint8 (3, H, W) view of the PIL image's (H, W, 3) pixels."""
    return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)


def decode_full(data, image):
    """uint8 (3, H, W) of the whole image: libjpeg-turbo through TorchCodec, PIL for other formats."""
    if is_jpeg(data):
        from torchcodec.decoders import decode_jpeg

        try:
            return decode_jpeg(torch.frombuffer(data, dtype=torch.uint8), mode="RGB")
        except RuntimeError:
            pass  # a JPEG variant TorchCodec refuses: PIL reads it or says why
    return _tensor(image)


def open_image(data):
    """PIL image of the file's bytes with only the header read (size and format)."""
    from PIL import Image

    return Image.open(io.BytesIO(data))


def resize(x, h, w):
    from torchvision.transforms.v2 import functional as F

    return F.resize(x, [h, w], antialias=True)


def resized(data, image, side, reduce):
    """uint8 (3, h, w): the image resized so its shorter side is `side` (torchvision's Resize(side))."""
    width, height = image.size
    rh, rw = resized_size(height, width, side)
    s = reduction(height, width, rh, rw) if reduce and image.format == "JPEG" else 1
    if s > 1:
        image.draft("RGB", (width // s, height // s))
        x = _tensor(image)
    else:
        x = decode_full(data, image)
    return resize(x, rh, rw)


def cut(x, params, recipe):
    """The training crop of a whole decoded image (3, H, W) on any device: RandomResizedCrop's box resized
    to size x size, or Resize(resize) then the box."""
    top, left, h, w = params.box
    if recipe.crop == "random_resized":
        return resize(x[:, top:top + h, left:left + w], recipe.size, recipe.size)
    x = resize(x, *resized_size(*x.shape[-2:], recipe.resize))
    return x[:, top:top + h, left:left + w]


def centre(x, size):
    """CenterCrop(size) of a (3, H, W) image, torchvision's rounding of the offsets."""
    h, w = x.shape[-2:]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return x[:, top:top + size, left:left + size]


GREY = (19595.0, 38470.0, 7471.0)  # PIL's RGB -> L: (19595 R + 38470 G + 7471 B + 0x8000) >> 16


def grey(y):
    """PIL's luminance ("L") of a float (3, H, W) image of whole numbers, as (H, W). Exact in float32: every
    product and partial sum is a whole number below 2**24, and dividing by 65536 is a power of two."""
    g = y[0] * GREY[0]
    return g.add_(y[1], alpha=GREY[1]).add_(y[2], alpha=GREY[2]).add_(32768.0).mul_(1.0 / 65536).floor_()


def color_jitter(x, order, factors):
    """torchvision's ColorJitter on a PIL image (ImageEnhance.Brightness, Contrast, Color in `order`) on a
    uint8 (3, H, W) tensor, bit for bit. Each PIL op is ImagingBlend(degenerate, image, f): per byte, in
    float32, d + f * (x - d), then clipped to 0..255 and truncated; the degenerate image d is black
    (brightness), the rounded mean of the luminance (contrast) or the pixel's luminance (saturation).
    The same float32 steps here, one tensor operation each (no fused multiply-add across them)."""
    y = x.float()
    for op in order:
        f = factors[op]
        if op == 0:  # brightness: 0 + f * x
            y.mul_(f)
        else:
            d = grey(y)
            if op == 1:  # contrast: ImageStat's mean of the luminance histogram, rounded half up
                total = d.sum() if d.numel() * 255 < 2**24 else d.sum(dtype=torch.float64)
                d = int(total.item() / d.numel() + 0.5)
            y.sub_(d).mul_(f).add_(d)
        y.clamp_(0, 255).floor_()
    return y.to(torch.int32).to(torch.uint8)  # (two steps: a direct float -> uint8 cast is 3x slower)


def finish(x, params=None):
    """uint8 (3, h, w) -> contiguous (3, h, w), flipped and colour-jittered as `params` say."""
    if params is not None and params.flip:
        x = x.flip(-1)
    if params is not None and params.order:
        return color_jitter(x, params.order, params.factors)
    return x.contiguous()


def train_image(data, seed, recipe):
    """The augmented uint8 (3, size, size) training image of one file's bytes."""
    from PIL import Image

    image = open_image(data)
    width, height = image.size
    params = draw(height, width, seed, recipe)
    top, left, h, w = params.box
    size = recipe.size
    if recipe.crop == "random_resized":
        s = reduction(h, w, size, size) if recipe.reduce and image.format == "JPEG" else 1
        if s > 1:  # DCT-scaled decode; PIL resizes the exact (fractional) box of the scaled image
            image.draft("RGB", (width // s, height // s))
            fx, fy = image.size[0] / width, image.size[1] / height
            x = _tensor(image.convert("RGB").resize(
                (size, size), Image.BILINEAR, box=(left * fx, top * fy, (left + w) * fx, (top + h) * fy)))
        else:
            x = cut(decode_full(data, image), params, recipe)
    else:  # resize_random: the resize may decode at reduced size
        x = resized(data, image, recipe.resize, recipe.reduce)[:, top:top + h, left:left + w]
    return finish(x, params)


def eval_image(data, recipe):
    """uint8 (3, size, size): Resize(resize) + CenterCrop(size)."""
    return finish(centre(resized(data, open_image(data), recipe.resize, recipe.reduce), recipe.size))
