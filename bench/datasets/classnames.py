"""Class names for prompts (the foundation-model track): every dataset names its classes.

CIFAR: the meta files' label_names / fine_label_names; Fashion-MNIST: its published names; iNaturalist: the
annotation JSON's categories (or categories.json beside the list files); ImageNet-LT: CLIP's curated ImageNet
names (OpenAI's "Prompt Engineering for ImageNet" notebook, shipped by open_clip as IMAGENET_CLASSNAMES);
Places-LT: the category folders of the training paths. A `classnames.txt` in the split folder (one class per
line in label order, LIFT's format '<id> <name>': the words after the first) overrides them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.store.textfiles import read_text

NAMES_FILE = "classnames.txt"


def read_names_file(path: Path, num_classes: int) -> list[str]:
    """classnames.txt, one class per line in label order: a plain name ('great white shark'), or LIFT's files:
    '<WordNet id> <name>' (ImageNet-LT) and '<folder> <folder>' (Places-LT), whose first word is dropped."""
    import re

    lines = [line.split() for line in read_text(path, "class-name file").splitlines() if line.strip()]
    if len(lines) != num_classes:
        raise BenchError(f"{path} names {len(lines)} classes, the dataset has {num_classes}; give one line per class "
                         "in label order")

    def name(words: list[str]) -> str:
        lift = len(words) > 1 and (re.fullmatch(r"n\d{8}", words[0]) or words == [words[0]] * 2)
        return " ".join(words[1:] if lift else words)

    return [name(words) for words in lines]


def read_categories(path: Path, num_classes: int) -> list[str]:
    """iNaturalist's categories.json: [{"id": ..., "name": ...}, ...]."""
    try:
        names = {int(c["id"]): str(c["name"]) for c in json.loads(read_text(path, "categories file"))}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"{path} is not iNaturalist's categories.json ({type(exc).__name__}); download it "
                         "again") from None
    return [names.get(c, "") for c in range(num_classes)]


def folder_names(train_items: list, num_classes: int) -> list[str]:
    """Places365's category of each class from its training paths: the folders after the one-letter folder
    (OLTR's data_256/a/airfield/x.jpg, data_256/b/bus_station/indoor/x.jpg) or after the split folder (LIFT's
    train/airfield/x.jpg)."""
    names = [""] * num_classes
    for path, label in train_items:
        if names[label]:
            continue
        parts = Path(path).parts[:-1]
        letters = [i for i, p in enumerate(parts) if len(p) == 1 and p.isalpha()]
        names[label] = "/".join(parts[letters[-1] + 1:] if letters else parts[-1:])
    return names


def names_file(name: str, split_dir: Path, json_names: dict) -> Path | None:
    """The file an image-list dataset's class names come from, where one does (a run records its sha256)."""
    if (split_dir / NAMES_FILE).is_file():
        return split_dir / NAMES_FILE
    if not json_names and name == "inat2018" and (split_dir / "categories.json").is_file():
        return split_dir / "categories.json"
    return None


def list_names(name: str, split_dir: Path, num_classes: int, train_items: list, json_names: dict) -> list[str]:
    """The class names of an image-list dataset ([] where none is known)."""
    found = names_file(name, split_dir, json_names)
    if found is not None and found.name == NAMES_FILE:
        return read_names_file(found, num_classes)
    if json_names:
        return [json_names.get(c, "") for c in range(num_classes)]
    if found is not None:
        return read_categories(found, num_classes)
    if name == "places_lt":
        return folder_names(train_items, num_classes)
    return []


def prompt_names(data: Any) -> list[str]:
    """The names prompts are made of: underscores and folder separators as spaces (LIFT's replace('_', ' '))."""
    names = list(getattr(data, "class_names", []) or [])
    if not any(names) and data.name == "imagenet_lt" and data.num_classes == 1000:
        from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

        names = list(IMAGENET_CLASSNAMES)
    missing = [c for c in range(data.num_classes) if c >= len(names) or not str(names[c]).strip()]
    if missing:
        raise BenchError(f"{data.name} has no name for class {missing[0]} ({len(missing)} unnamed), which the "
                         f"text prompts need; put a {NAMES_FILE} (one class name per line, in label order) in the "
                         "folder of the split lists (dataset.split_dir)")
    return [str(n).replace("_", " ").replace("/", " ") for n in names]
