"""What a dataset YAML file costs before training: a generated image folder of N images (default 20,000 PNGs of
32x32, 100 classes, exp profile ratio 100 on a balanced pool), then the time of

- the first `bench data describe` (every image read once: hash, decode, pixel sums; thread pool),
- a second one (records cached by file stat),
- planning 10 methods (`bench run --dry-run`),
- loading the training split into memory for a run.

    python benchmarks/own_data.py [--images 20000] [--side 32]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def write(root: Path, images: int, side: int, classes: int = 100) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    counts = [max(1, int(images / classes * 0.01 ** (c / (classes - 1)))) for c in range(classes)]
    scale = images / sum(counts)
    for c, n in enumerate(counts):
        folder = root / "train" / f"class{c:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(max(2, int(n * scale))):
            Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (root / "data.yaml").write_text("format: imagefolder\ntrain: train\nsplit: {test: 1, seed: 0}\n")
    return root / "data.yaml"


def timed(what: str, fn) -> object:
    start = time.perf_counter()
    out = fn()
    print(f"{what}: {time.perf_counter() - start:.2f} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--side", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_CACHE"] = str(Path(tmp) / "cache")
        target = timed(f"writing {args.images:,} PNGs of {args.side} px", lambda: write(Path(tmp), args.images,
                                                                                         args.side))
        from bench.datasets.registry import for_config, forget
        from bench.plan.config import resolve
        from bench.plan.data import describe_dataset
        from bench.plan.runs import plan

        timed("first bench data describe (every image read)", lambda: describe_dataset(str(target), []))
        timed("second bench data describe (cached records)", lambda: describe_dataset(str(target), []))
        methods = ["erm", "focal", "cb", "ldam_drw", "logit_adjust", "balanced_softmax", "ride", "bcl", "crt",
                   "la_posthoc"]
        timed("planning 10 methods", lambda: plan(methods, [str(target)], [0], Path(tmp) / "results"))
        forget()
        cfg = resolve("erm", str(target), 0)
        data = timed("loading the training and test splits into memory", lambda: for_config(cfg).load(cfg))
        print(f"{len(data.train_y):,} training images, {len(data.test_y):,} test images, {data.num_classes} classes")


if __name__ == "__main__":
    main()
