"""bench.images.jpeg: the crop boxes have torchvision's distribution, reduced-size decoding keeps the requested
output and the box, and the on-device decode path matches the worker path."""

import random

import numpy as np
import pytest
import torch

from bench.images.jpeg import Recipe, color_jitter, crop_box, draw, eval_image, jpeg_size, reduction, train_image

RECIPE = Recipe(size=224, resize=256, crop="random_resized", flip=True, jitter=0.0, reduce=True)


def ks_statistic(a, b):
    """Two-sample Kolmogorov-Smirnov statistic."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return np.max(np.abs(np.searchsorted(a, grid, side="right") / len(a)
                         - np.searchsorted(b, grid, side="right") / len(b)))


@pytest.mark.parametrize("height,width", [(375, 500), (500, 375), (100, 700)])  # the last: ratio fallback
def test_crop_boxes_have_torchvision_distribution(height, width):
    """20,000 boxes each from bench's sampler and torchvision's RandomResizedCrop.get_params: area fraction,
    aspect, and both offsets agree (KS statistic below 0.02, the 1% critical value is 0.016 -> generous for
    n = 20,000; a wrong scale range, ratio or offset rule moves them by far more)."""
    from torchvision.transforms import RandomResizedCrop

    torch.manual_seed(0)
    image = torch.zeros(3, height, width)
    theirs = np.array([RandomResizedCrop.get_params(image, [0.08, 1.0], [3 / 4, 4 / 3]) for _ in range(20000)])
    rng = random.Random(1)
    ours = np.array([crop_box(height, width, rng) for _ in range(20000)])
    for boxes in (theirs, ours):
        assert (boxes[:, 0] + boxes[:, 2] <= height).all() and (boxes[:, 1] + boxes[:, 3] <= width).all()
    features = [lambda b: b[:, 2] * b[:, 3] / (height * width), lambda b: b[:, 3] / b[:, 2],
                lambda b: b[:, 0], lambda b: b[:, 1]]
    for feature in features:
        assert ks_statistic(feature(ours), feature(theirs)) < 0.02
    # the test can fail: the same sampler with scale (0.25, 1) is far off
    wrong = np.array([crop_box(height, width, rng, scale=(0.25, 1.0)) for _ in range(20000)])
    assert ks_statistic(features[0](wrong), features[0](theirs)) > 0.1


def gradient_jpeg(height, width):
    """A JPEG whose red channel is the column and green the row (scaled to 0..255): a crop shows its box."""
    import io

    from PIL import Image

    cols = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    rows = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    pixels = np.stack([cols, rows, np.full_like(cols, 128)], -1).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=95)
    return bytearray(buf.getvalue())


def test_reduced_decode_gives_the_requested_size_and_the_drawn_box():
    """A 1600x1200 image: most crops allow 1/2 to 1/4 scale decoding. Output is size x size, and its corner
    pixels are where the drawn box's corners are (within a few pixels of the 1600-pixel gradient)."""
    height, width = 1200, 1600
    data = gradient_jpeg(height, width)
    recipe = RECIPE._replace(flip=False)
    reduced = 0
    for seed in range(60):
        top, left, h, w = draw(height, width, seed, recipe).box
        reduced += reduction(h, w, 224, 224) > 1
        x = train_image(data, seed, recipe)
        assert x.shape == (3, 224, 224) and x.dtype == torch.uint8 and x.is_contiguous()
        col = lambda v: float(v) / 255 * (width - 1)  # noqa: E731
        row = lambda v: float(v) / 255 * (height - 1)  # noqa: E731
        assert abs(col(x[0, 112, 0]) - left) < 12 and abs(col(x[0, 112, -1]) - (left + w - 1)) < 12
        assert abs(row(x[1, 0, 112]) - top) < 12 and abs(row(x[1, -1, 112]) - (top + h - 1)) < 12
        full = train_image(data, seed, recipe._replace(reduce=False))
        assert (x.float() - full.float()).abs().mean() < 2.0  # the same picture, up to DCT-domain scaling
    assert reduced >= 20


def test_cpu_resize_equals_torchvisions():
    """bench.images.jpeg.resize keeps the decoder's channels-last layout on a CPU: the values must be torchvision's
    (uint8 antialiased bilinear) for crops of a decoded JPEG, up- and downscaled."""
    from torchvision.transforms.v2 import functional as F

    from bench.images.jpeg import Encoded, decode_full, resize

    x = decode_full(Encoded(gradient_jpeg(375, 500)))
    assert x.stride()[0] == 1  # channels-last, as TorchCodec decodes
    for top, left, h, w, out in [(0, 0, 375, 500, 224), (17, 40, 120, 301, 224), (100, 3, 50, 60, 224),
                                 (0, 0, 375, 500, 256)]:
        crop = x[:, top:top + h, left:left + w]
        assert torch.equal(resize(crop, out, out), F.resize(crop, [out, out], antialias=True))


def test_eval_image_is_resize_then_centre_crop():
    import io

    import torchvision.transforms as T
    from PIL import Image

    data = gradient_jpeg(375, 500)
    ours = eval_image(data, RECIPE._replace(reduce=False))
    image = Image.open(io.BytesIO(bytes(data))).convert("RGB")
    theirs = torch.from_numpy(np.array(T.Compose([T.Resize(256), T.CenterCrop(224)])(image))).permute(2, 0, 1)
    assert ours.shape == theirs.shape == (3, 224, 224)
    assert (ours.float() - theirs.float()).abs().max() <= 2  # torch's uint8 antialias vs PIL's: rounding only


def test_flip_and_jitter_follow_the_drawn_parameters():
    import torchvision.transforms.functional as TF
    from PIL import Image

    data = gradient_jpeg(375, 500)
    recipe = RECIPE._replace(jitter=0.4, reduce=False)
    flips = [draw(375, 500, seed, recipe).flip for seed in range(400)]
    assert 160 < sum(flips) < 240
    seed = flips.index(True)
    params = draw(375, 500, seed, recipe)
    assert sorted(params.order) == [0, 1, 2] and all(0.6 <= f <= 1.4 for f in params.factors)
    plain = train_image(data, seed, recipe._replace(jitter=0.0))
    image = Image.fromarray(plain.permute(1, 2, 0).numpy())  # flipped already; the reference's ops in order
    for op in params.order:
        image = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation)[op](image, params.factors[op])
    assert torch.equal(train_image(data, seed, recipe), torch.from_numpy(np.array(image)).permute(2, 0, 1))
    assert torch.equal(plain[:, :, 0], train_image(data, seed, recipe._replace(jitter=0.0, flip=False))[:, :, -1])


def test_jpeg_size_reads_the_frame_header_as_pil_does():
    """Baseline, progressive, optimised, with EXIF and ICC segments, greyscale, CMYK, 4:4:4 and a fill byte
    before a marker: the size PIL reports. Not a JPEG, or cut before its frame header: None."""
    import io

    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (37, 61, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: PIL's size (and the reference's) ignores it, so must ours
    variants = [("RGB", {}), ("RGB", {"progressive": True}), ("RGB", {"optimize": True}),
                ("RGB", {"exif": exif.tobytes(), "icc_profile": b"\0" * 3000}), ("L", {}), ("CMYK", {}),
                ("RGB", {"subsampling": 0, "quality": 95})]
    for mode, options in variants:
        buf = io.BytesIO()
        Image.fromarray(pixels).convert(mode).save(buf, format="JPEG", **options)
        data = buf.getvalue()
        assert jpeg_size(data) == (37, 61) == Image.open(io.BytesIO(data)).size[::-1], (mode, options)
    padded = data[:2] + b"\xff" + data[2:]  # a fill byte before the first marker is legal
    assert jpeg_size(padded) == (37, 61)
    png = io.BytesIO()
    Image.fromarray(pixels).save(png, format="PNG")
    assert jpeg_size(png.getvalue()) is None and jpeg_size(data[:20]) is None and jpeg_size(b"") is None


def test_color_jitter_is_pil_imageenhance_bit_for_bit():
    """The tensor colour jitter against torchvision's ColorJitter ops on PIL images (ImageEnhance), for 300
    draws: all six orders, factors on both sides of 1 (PIL's interpolating and clipping branches), photo-like
    pixels and saturated ones. Equal byte for byte; rounding instead of truncating, or one clip too few,
    changes thousands of bytes."""
    import torchvision.transforms.functional as TF
    from PIL import Image

    from bench.perf.decoding import natural_image

    rng = np.random.default_rng(0)
    images = [natural_image(224, 160, rng) for _ in range(6)]
    images.append(np.clip(images[0].astype(int) * 3 - 200, 0, 255).astype(np.uint8))  # many 0s and 255s
    ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation)
    orders = set()
    for i in range(300):
        r = random.Random(i)
        order, factors = tuple(r.sample([0, 1, 2], 3)), tuple(r.uniform(0.6, 1.4) for _ in range(3))
        orders.add(order)
        pixels = images[i % len(images)]
        image = Image.fromarray(pixels)
        for op in order:
            image = ops[op](image, factors[op])
        ours = color_jitter(torch.from_numpy(pixels).permute(2, 0, 1), order, factors)
        assert torch.equal(ours, torch.from_numpy(np.array(image)).permute(2, 0, 1)), (i, order, factors)
    assert len(orders) == 6
    # the test can fail: rounding to nearest instead of PIL's truncation is off by one in many bytes
    x = torch.from_numpy(images[0]).permute(2, 0, 1)
    rounded = (x.float() * 1.13).round().clamp(0, 255).to(torch.uint8)
    assert (rounded != color_jitter(x, (0,), (1.13, 1.0, 1.0))).sum() > 10000


def test_device_decode_path_matches_the_worker_path(tmp_path):
    """loader.decode=device run on the CPU: the same crops and flips (the GPU's nvJPEG is not tested here)."""
    from bench.datasets.imagelist import IMAGENET_MEAN, IMAGENET_STD, ImageListData
    from bench.images.imagefiles import Files, collate
    from bench.plan.config import resolve

    paths = []
    for i, (h, w) in enumerate([(375, 500), (500, 375), (300, 300)]):
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(bytes(gradient_jpeg(h, w)))
        paths.append((str(path), i))
    data = ImageListData("t", 3, paths, paths, "test", IMAGENET_MEAN, IMAGENET_STD, "")
    worker = Files(data, resolve("erm", "imagenet_lt", 0), torch.device("cpu"))
    device = Files(data, resolve("erm", "imagenet_lt", 0, sets=["loader.decode=device"]), torch.device("cpu"))
    for split in ("train", "eval"):
        keys = [(split, i, 1000 + i, ()) for i in range(3)]
        a, _ = worker.finish(collate([worker[k] for k in keys]))
        b, _ = device.finish(collate([device[k] for k in keys]))
        assert a.shape == b.shape == (3, 3, 224, 224)
        assert (a.float() - b.float()).abs().mean() < 1.0


def test_without_torchcodec_s_image_decoder_torchvision_decodes_the_same_pixels(monkeypatch):
    """A torch older than the pin (a GPU image's preinstalled one) comes with a TorchCodec that has no image
    decoder, or none: bench.images.jpeg then decodes with torchvision.io, libjpeg-turbo too, to the same pixels."""
    import io
    import sys

    from PIL import Image

    from bench.images import jpeg

    buf = io.BytesIO()
    rng = np.random.RandomState(3)
    Image.fromarray(rng.randint(0, 256, (37, 53, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=85)
    data = torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8)
    monkeypatch.setattr(jpeg, "_DECODER", [])
    first = jpeg.decode_jpeg(data)
    assert jpeg._DECODER[0] == "torchcodec"
    monkeypatch.setattr(jpeg, "_DECODER", [])
    monkeypatch.setitem(sys.modules, "torchcodec.decoders", None)  # import fails as without the decoder
    second = jpeg.decode_jpeg(data)
    assert jpeg._DECODER[0] == "torchvision.io"
    assert second.shape == (3, 37, 53) and torch.equal(first, second)
    assert torch.equal(second, torch.from_numpy(np.array(Image.open(buf).convert("RGB"))).permute(2, 0, 1))


def test_the_views_of_a_file_are_bench_views_of_the_decoded_image():
    """Image lists draw a contrastive method's views in the workers: view v of a sample is the recipe's
    augmentation ("train") or bench.images.views' view of the whole decoded image, from the seed view_seed(seed, v)."""
    from bench.images.imageviews import view_images, view_seed
    from bench.images.jpeg import Encoded, decode_full
    from bench.images.views import build_view
    from bench.plan.config import resolve

    data = bytes(gradient_jpeg(375, 500))
    recipe = Recipe.from_cfg(resolve("erm", "imagenet_lt", 0, sets=["augment.color_jitter=0.4"]))
    views = view_images(data, 7, recipe, ("train", "simclr_blur", "simclr"))
    assert torch.equal(views[0], train_image(data, view_seed(7, 0), recipe))
    whole = decode_full(Encoded(data))[None]
    for v, kind in ((1, "simclr_blur"), (2, "simclr")):
        expected = build_view(kind, recipe.size)(whole, torch.Generator().manual_seed(view_seed(7, v)))[0]
        assert views[v].shape == (3, 224, 224) and torch.equal(views[v], expected)
    assert len({view_seed(7, v) for v in range(3)}) == 3 and view_seed(7, 1) == view_seed(7, 1)
