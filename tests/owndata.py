"""Datasets of one's own in their real formats, generated: a folder of class folders of PNG files, a csv file of JPEG
paths, a Hugging Face dataset written by save_to_disk and as parquet. Each image is a class colour plus noise, so a
model can learn the classes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

TRAIN = {"cat": 30, "dog": 9, "fox": 4}  # long-tailed
TEST = 3  # per class


def image(rng, cls, height, width, gray=False):
    base = 40 + 80 * cls
    if gray:
        return Image.fromarray((rng.integers(0, 40, (height, width)) + base).astype(np.uint8), "L")
    return Image.fromarray((rng.integers(0, 40, (height, width, 3)) + base).astype(np.uint8), "RGB")


def write_folder(root: Path, counts=None, test=TEST, size=(20, 24), seed=0) -> Path:
    """root/photos/{train,test}/<class>/<i>.png and root/pets.yaml."""
    rng = np.random.default_rng(seed)
    for split, per in (("train", counts or TRAIN), ("test", {c: test for c in counts or TRAIN})):
        for cls, (name, n) in enumerate(per.items()):
            folder = root / "photos" / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                image(rng, cls, *size).save(folder / f"{i}.png")
    (root / "pets.yaml").write_text("name: pets\nformat: imagefolder\ntrain: photos/train\ntest: photos/test\n")
    return root / "pets.yaml"


def write_csv(root: Path, size=(80, 96), seed=1) -> Path:
    """root/images/*.jpg, root/train.csv and root/test.csv (path,label with label names), root/bugs.yaml (the
    image-file path: crop 72)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = {"train": ["path,label"], "test": ["path,label"]}
    for cls, (name, n) in enumerate(TRAIN.items()):
        for i in range(n + TEST):
            path = f"images/{name}_{i}.jpg"
            image(rng, cls, *size).save(root / path, quality=90)
            rows["train" if i < n else "test"].append(f"{path},{name}")
    for split, lines in rows.items():
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
    (root / "bugs.yaml").write_text("name: bugs\nformat: csv\ntrain: train.csv\ntest: test.csv\nimage_size: 72\n"
                                    "shot_groups: {many_above: 20, few_below: 5}\n")
    return root / "bugs.yaml"


def write_hub(root: Path, seed=2) -> tuple[Path, Path]:
    """A DatasetDict (train, test) of 16x16 gray PNGs with a ClassLabel, saved with save_to_disk (root/saved,
    root/birds.yaml) and its train split as parquet (root/train.parquet, root/owls.yaml: test drawn, 2 per class)."""
    import datasets

    rng = np.random.default_rng(seed)
    names = list(TRAIN)
    features = datasets.Features({"picture": datasets.Image(), "kind": datasets.ClassLabel(names=names)})

    def split(per_class):
        pictures, kinds = [], []
        for cls, n in enumerate(per_class):
            for _ in range(n):
                pictures.append(image(rng, cls, 16, 16, gray=True))
                kinds.append(cls)
        return datasets.Dataset.from_dict({"picture": pictures, "kind": kinds}, features=features)

    saved = datasets.DatasetDict({"train": split(TRAIN.values()), "test": split([TEST] * len(TRAIN))})
    saved.save_to_disk(str(root / "saved"))
    saved["train"].to_parquet(str(root / "train.parquet"))
    (root / "birds.yaml").write_text("name: birds\nformat: huggingface\ntrain: saved\nimage_column: picture\n"
                                     "label_column: kind\n")
    (root / "owls.yaml").write_text("name: owls\nformat: huggingface\ntrain: train.parquet\nimage_column: picture\n"
                                    "label_column: kind\nsplit: {test: 2, seed: 5}\n")
    return root / "birds.yaml", root / "owls.yaml"


def write_hub_large(root: Path, seed=3) -> Path:
    """A DatasetDict of 80x96 RGB JPEG-encoded images (image, label columns) saved with save_to_disk, root/hawks.yaml:
    decoded per batch by the image-list pipeline's workers, through the rows' bytes."""
    import io

    import datasets

    rng = np.random.default_rng(seed)
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=list(TRAIN))})

    def split(per_class):
        images, labels = [], []
        for cls, n in enumerate(per_class):
            for _ in range(n):
                buffer = io.BytesIO()
                image(rng, cls, 80, 96).save(buffer, format="JPEG", quality=90)
                images.append({"bytes": buffer.getvalue(), "path": None})
                labels.append(cls)
        return datasets.Dataset.from_dict({"image": images, "label": labels}, features=features)

    datasets.DatasetDict({"train": split(TRAIN.values()), "test": split([TEST] * len(TRAIN))}).save_to_disk(
        str(root / "large"))
    (root / "hawks.yaml").write_text("name: hawks\nformat: huggingface\ntrain: large\nimage_size: 72\n")
    return root / "hawks.yaml"


def files_per_class(folder: Path) -> dict:
    return {d: len(os.listdir(folder / d)) for d in sorted(os.listdir(folder))}
