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
device. The result is a contiguous uint8 (3, H, W) tensor; bench.images.pipelines normalises batches of them on
the device.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from bench.runconfig import RunConfig

SCALE, RATIO = (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0)  # torchvision RandomResizedCrop defaults (Decoupling's recipe)
REDUCTIONS = (8, 4, 2)  # the DCT scalings PIL's draft mode offers


class Recipe(NamedTuple):
    size: int
    resize: int
    crop: str  # random_resized | resize_random
    flip: bool
    jitter: float
    reduce: bool  # decode at reduced size where the crop allows
    policy: tuple = ()  # (name, RandAugment ops, magnitude) of augment.policy; (): none
    cutout: int = 0  # Cutout's hole side (0: none)

    @classmethod
    def from_cfg(cls, cfg: RunConfig):
        a = cfg["augment"]
        policy = (a["policy"], a["randaugment_ops"], a["randaugment_magnitude"]) if a["policy"] != "none" else ()
        return cls(a["image_size"], a["resize"], a["train_crop"], bool(a["flip"]), float(a["color_jitter"]),
                   bool(cfg["loader"]["reduced_decode"]), policy, int(a["cutout"]))


class Params(NamedTuple):
    """Everything random about one training sample, drawn before any pixel is decoded."""

    box: tuple  # (top, left, height, width) in the original image (random_resized) or in the resized one
    flip: bool
    order: tuple  # indices into (brightness, contrast, saturation), in the order they apply
    factors: tuple  # (brightness, contrast, saturation) factors; () without jitter
    seed: int = 0  # of the policy's and Cutout's draws (drawn last, only with a policy or Cutout)


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
    order: Sequence[int] = ()
    factors: tuple[float, ...] = ()
    if recipe.jitter:
        order = [0, 1, 2]
        rng.shuffle(order)
        low, high = max(0.0, 1.0 - recipe.jitter), 1.0 + recipe.jitter
        factors = tuple(rng.uniform(low, high) for _ in range(3))
    seed = rng.getrandbits(63) if recipe.policy or recipe.cutout else 0
    return Params(box, flip, tuple(order), factors, seed)


_POLICIES: dict = {}


def policy_and_cutout(x, params, recipe):
    """augment.policy and Cutout on one uint8 (3, H, W) image, drawn from the sample's own seed (bench.images.policies:
    the same code as the in-memory batches)."""
    if not recipe.policy and not recipe.cutout:
        return x
    from bench.images.policies import cutout, make_policy

    generator = torch.Generator().manual_seed(params.seed)
    batch = x.unsqueeze(0)
    if recipe.policy:
        if recipe.policy not in _POLICIES:  # one per worker process
            _POLICIES[recipe.policy] = make_policy(*recipe.policy)
        batch = _POLICIES[recipe.policy](batch, generator)
    if recipe.cutout:
        batch = cutout(batch, recipe.cutout, generator)
    return batch[0].contiguous()


def reduction(height, width, need_h, need_w):
    """The largest DCT scaling 1/s that leaves a height x width region at least need_h x need_w pixels."""
    for s in REDUCTIONS:
        if height / s >= need_h and width / s >= need_w:
            return s
    return 1


SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start-of-frame markers (DHT, JPG, DAC excluded)


def jpeg_size(data):
    """(height, width) from a JPEG's start-of-frame segment, or None when the bytes are not a JPEG this walk
    of the markers can read (PIL then opens the file and says what it is). 30x faster than PIL's header
    parser, which runs in Python."""
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return None
    i = 2
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            i += 2
        elif marker in SOF:
            if i + 9 > n:
                return None
            return (data[i + 5] << 8) | data[i + 6], (data[i + 7] << 8) | data[i + 8]
        else:
            i += 2 + ((data[i + 2] << 8) | data[i + 3])
    return None


class Encoded:
    """One file's bytes, its size, and the PIL image (header only), opened only where needed: the reduced
    decode, or a file that is not a JPEG."""

    def __init__(self, data):
        self.data = data
        size = jpeg_size(data)
        self.jpeg, self._image = size is not None, None
        if size is None:
            size = self.image.size[::-1]
        self.height, self.width = size

    @property
    def image(self):
        if self._image is None:
            from PIL import Image

            self._image = Image.open(io.BytesIO(self.data))
        return self._image


def _tensor(image):
    """uint8 (3, H, W) view of the PIL image's (H, W, 3) pixels."""
    return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)


_DECODER: list = []  # [library name, function], chosen at the first JPEG


def decode_jpeg(data: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (3, H, W) RGB of JPEG bytes (a uint8 tensor): TorchCodec's decoder (libjpeg-turbo; nvJPEG on
    CUDA), or torchvision.io's where the installed TorchCodec has no image decoder or does not load (a torch
    older than the pin, such as a GPU image's preinstalled one). RuntimeError for bytes neither reads."""
    if not _DECODER:
        try:
            from torchcodec.decoders import decode_jpeg as codec

            _DECODER[:] = ["torchcodec", lambda d, dev: codec(d, mode="RGB", device=dev)]
        except (ImportError, RuntimeError, OSError):
            from torchvision.io import ImageReadMode
            from torchvision.io import decode_jpeg as vision

            _DECODER[:] = ["torchvision.io", lambda d, dev: vision(d, mode=ImageReadMode.RGB, device=dev)]
    return _DECODER[1](data, device)


def decode_full(src):
    """uint8 (3, H, W) of the whole image: libjpeg-turbo (`decode_jpeg`), PIL for other formats."""
    if src.jpeg:
        try:
            return decode_jpeg(torch.frombuffer(src.data, dtype=torch.uint8))
        except RuntimeError:
            pass  # a JPEG variant the decoder refuses: PIL reads it or says why
    return _tensor(src.image)


def resize(x, h, w):
    """uint8 (3, H, W) resized to (3, h, w), antialiased bilinear. On a CPU the region is made channels-last
    first (as the decoders lay pixels out) and the result stays channels-last: the same values as
    torchvision's resize (tested), in two thirds of the time; `finish` makes it planar."""
    if x.device.type != "cpu":
        from torchvision.transforms.v2 import functional as F

        return F.resize(x, [h, w], antialias=True)
    x = x[None].contiguous(memory_format=torch.channels_last)
    return torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)[0]


def resized(src, side, reduce):
    """uint8 (3, h, w): the image resized so its shorter side is `side` (torchvision's Resize(side))."""
    width, height = src.width, src.height
    rh, rw = resized_size(height, width, side)
    s = reduction(height, width, rh, rw) if reduce and src.jpeg else 1
    if s > 1:
        src.image.draft("RGB", (width // s, height // s))
        x = _tensor(src.image)
    else:
        x = decode_full(src)
    return resize(x, rh, rw)


def cut(x, params, recipe):
    """The training crop of a whole decoded image (3, H, W) on any device: RandomResizedCrop's box resized
    to size x size, or Resize(resize) then the box."""
    top, left, h, w = params.box
    if recipe.crop == "random_resized":
        return resize(x[:, top:top + h, left:left + w], recipe.size, recipe.size)
    height, width = x.shape[-2:]
    x = resize(x, *resized_size(height, width, recipe.resize))
    return x[:, top:top + h, left:left + w]


def centre(x, size):
    """CenterCrop(size) of a (3, H, W) image, torchvision's rounding of the offsets."""
    h, w = x.shape[-2:]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return x[:, top:top + size, left:left + size]


GREY = tuple(w / 65536 for w in (19595, 38470, 7471))  # PIL's RGB -> L: (19595 R + 38470 G + 7471 B + 0x8000) >> 16


def grey(y):
    """PIL's luminance ("L") of a float (3, H, W) image of whole numbers, as (H, W). Exact in float32: with
    the weights over 65536 (exact: 16-bit numerators), every product and partial sum is a multiple of 2**-16
    below 256, which float32's 24-bit significand holds."""
    g = y[0] * GREY[0]
    return g.add_(y[1], alpha=GREY[1]).add_(y[2], alpha=GREY[2]).add_(0.5).floor_()


def color_jitter(x, order, factors):
    """torchvision's ColorJitter on a PIL image (ImageEnhance.Brightness, Contrast, Color in `order`) on a
    uint8 (3, H, W) tensor, bit for bit; the result is contiguous. Each PIL op is ImagingBlend(degenerate,
    image, f): per byte, in float32, d + f * (x - d), then clipped to 0..255 and truncated; the degenerate
    image d is black (brightness), the rounded mean of the luminance (contrast) or the pixel's luminance
    (saturation). The same float32 steps here, one tensor operation each (no fused multiply-add across
    them)."""
    y = torch.empty(x.shape, dtype=torch.float32, device=x.device).copy_(x)  # planar, whatever x's layout
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
        if f > 1.0:  # extrapolating; for f <= 1 the value lies between d and x, as PIL's unclipped branch knows
            y.clamp_(0, 255)
        y.floor_()
    if y.device.type == "cpu":
        return torch.from_numpy(y.numpy().astype(np.uint8))  # NumPy's cast: twice as fast as torch's
    return y.to(torch.int32).to(torch.uint8)  # (two steps: a direct float -> uint8 cast is 3x slower)


def planar(x):
    """Contiguous uint8 (3, H, W) of a view in any layout (on a CPU NumPy's transposing copy: twice as fast)."""
    if x.is_contiguous() or x.device.type != "cpu":
        return x.contiguous()
    return torch.from_numpy(np.ascontiguousarray(x.numpy()))


def finish(x, params=None):
    """uint8 (3, h, w) in any layout -> contiguous (3, h, w), flipped and colour-jittered as `params` say."""
    if params is not None and params.flip:
        x = x.flip(-1)
    if params is not None and params.order:
        return color_jitter(x, params.order, params.factors)
    return planar(x)


def train_image(data, seed, recipe):
    """The augmented uint8 (3, size, size) training image of one file's bytes."""
    from PIL import Image

    src = Encoded(data)
    width, height = src.width, src.height
    params = draw(height, width, seed, recipe)
    top, left, h, w = params.box
    size = recipe.size
    if recipe.crop == "random_resized":
        s = reduction(h, w, size, size) if recipe.reduce and src.jpeg else 1
        if s > 1:  # DCT-scaled decode; PIL resizes the exact (fractional) box of the scaled image
            image = src.image
            image.draft("RGB", (width // s, height // s))
            fx, fy = image.size[0] / width, image.size[1] / height
            x = _tensor(image.convert("RGB").resize(
                (size, size), Image.Resampling.BILINEAR, box=(left * fx, top * fy, (left + w) * fx, (top + h) * fy)))
        else:
            x = cut(decode_full(src), params, recipe)
    else:  # resize_random: the resize may decode at reduced size
        x = resized(src, recipe.resize, recipe.reduce)[:, top:top + h, left:left + w]
    return policy_and_cutout(finish(x, params), params, recipe)


def eval_image(data, recipe):
    """uint8 (3, size, size): Resize(resize) + CenterCrop(size)."""
    return finish(centre(resized(Encoded(data), recipe.resize, recipe.reduce), recipe.size))
