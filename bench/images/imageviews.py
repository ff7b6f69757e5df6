"""Several augmented views of one image file, for the image-list workers (contrastive methods): each view from
its own seed, the "train" view as bench.images.jpeg's recipe, the others as bench.images.views' batched code on
the decoded image."""

from __future__ import annotations

import numpy as np
import torch

from bench.images import jpeg
from bench.images.views import build_view


def view_seed(seed: int, view: int) -> int:
    """The seed of a sample's `view`-th view (0-based), independent of the other views' draws."""
    return int(np.random.SeedSequence([seed, view]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def view_images(data, seed, recipe, kinds):
    """The views `kinds` (bench.images.views kinds; "train": the recipe's own augmentation) of one file's bytes, each
    uint8 (3, size, size) from its own seed. The file is decoded whole once for the contrastive views."""
    whole, out = None, []
    for v, kind in enumerate(kinds):
        if kind == "train":
            out.append(jpeg.train_image(data, view_seed(seed, v), recipe))
            continue
        if whole is None:
            whole = jpeg.decode_full(jpeg.Encoded(data))[None]
        generator = torch.Generator().manual_seed(view_seed(seed, v))
        out.append(build_view(kind, recipe.size)(whole, generator)[0].contiguous())
    return tuple(out)
