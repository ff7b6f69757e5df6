"""A dataset declared in one YAML file (docs/own-data.md): its keys read, typed and checked, paths made absolute from
the file's folder. Torch-free: `bench list` and the plan read it.

    format: imagefolder          # imagefolder (root/class/*.jpg), csv (columns path,label), list ('path label'
                                 # lines) or huggingface (a Hub name, a save_to_disk folder or parquet files)
    train: photos/train
    test: photos/test            # optional: else a per-class split drawn from train (split:)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError, closest
from bench.store import yamltext
from bench.store.textfiles import read_text

FORMATS = ("imagefolder", "csv", "list", "huggingface")
SPLITS = ("train", "test", "val")
IN_MEMORY_MAX = 64  # images of at most this side are held in memory (CIFAR's path); larger ones are decoded per batch
KEYS = {
    "name": "the dataset's name in run ids and reports (default: the file's name without .yaml)",
    "format": "imagefolder, csv, list or huggingface",
    "train": "the training images: a folder of class folders, a csv/list file, a Hub name or a saved dataset",
    "test": "the evaluation images, in the same form (optional: else drawn from train, see split)",
    "val": "validation images for eval.selection=best_val (optional)",
    "split": "{test: 0.2, val: 0, seed: 0}: what is drawn per class from train where test or val is not given "
             "(a fraction of each class, or a whole number of images per class)",
    "long_tail": "{profile: exp, ratio: 100}: make a balanced training set long-tailed as CIFAR-LT (default: keep its "
                 "counts; --set dataset.profile / dataset.imbalance_ratio change it per run)",
    "classes": "the class names in label order (default: folder names, the labels' names, or the Hub's ClassLabel)",
    "image_size": "the side images are used at: held in memory at this size when at most 64, else the crop size "
                  "(default: from the images)",
    "mean": "normalisation mean per channel, 0..1 (default: computed from the training images, cached)",
    "std": "normalisation std per channel (given with mean)",
    "shot_groups": "{many_above: 100, few_below: 20}: the many/medium/few-shot thresholds",
    "bad_images": "refuse (default) or skip: unreadable, truncated or missing images",
    "duplicates": "refuse (default) or allow: the same image (content) in train and in test or val",
    "images": "csv / list: the folder the paths are relative to (default: the csv file's folder)",
    "allow_outside": "csv / list: paths may leave that folder (default false)",
    "image_column": "huggingface: the image column (default image)",
    "label_column": "huggingface: the label column (default label)",
    "train_split": "huggingface: the split of `train` to read (default train)",
    "test_split": "huggingface: the split read as test when `test` is not given (default test, if the dataset has it)",
    "val_split": "huggingface: the split read as val when `val` is not given (default validation, if present)",
    "config": "huggingface: the Hub dataset's configuration name",
    "revision": "huggingface: the Hub dataset's revision (a tag or commit)",
    "trust_remote_code": "huggingface: run the dataset's own loading script (default false: refused)",
}
NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Split:
    test: float = 0.2  # < 1: a fraction of each class; >= 1: that many images per class
    val: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class UserSpec:
    file: Path  # the YAML file, absolute
    name: str
    format: str
    sources: dict  # split -> absolute path (or a Hub name) of the splits given
    split: Split = Split()
    long_tail: tuple | None = None  # (profile, ratio)
    classes: tuple = ()
    image_size: int | None = None
    mean: tuple | None = None
    std: tuple | None = None
    many_above: int = 100
    few_below: int = 20
    bad_images: str = "refuse"
    duplicates: str = "refuse"  # the same image content in train and in test or val
    images: Path | None = None
    allow_outside: bool = False
    hub: dict = field(default_factory=dict)  # the huggingface keys

    def identity(self, side: int) -> dict:
        """What the spec says about the data beside where it is, as it acts: part of the dataset's fingerprint (a
        moved file with the same content keeps its runs; a key written with the value it has anyway changes
        nothing). `side`: the image size the data is used at (the file's image_size, else the images')."""
        drawn = {s: getattr(self.split, s) for s in ("test", "val") if s not in self.sources and getattr(self.split, s)}
        return {"format": self.format, "given": sorted(self.sources), "drawn": drawn,
                "seed": self.split.seed if drawn else None, "size": side, "mean": self.mean, "std": self.std,
                "bad_images": self.bad_images, "duplicates": self.duplicates,
                "hub": {k: v for k, v in self.hub.items() if k != "trust_remote_code"}}


def _fail(path: Path, text: str) -> BenchError:
    return BenchError(f"dataset file {path}: {text}")


def read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise BenchError(f"dataset file {path} does not exist; give the path of a dataset YAML file (docs/own-data.md)")
    try:
        data = yamltext.load(read_text(path, "dataset file"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise _fail(path, f"not valid YAML{where} ({getattr(exc, 'problem', None) or 'parse error'}); fix the "
                          "file") from None
    if not isinstance(data, dict):
        raise _fail(path, "expected a mapping of keys (format:, train:, ...), got "
                          f"{type(data).__name__}; see docs/own-data.md")
    return data


def _number(path, key, value, low, integer=False):
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or value < low:
        kind = "a whole number" if integer else "a number"
        raise _fail(path, f"{key} must be {kind} of at least {low}, got {value!r}")
    return value


def _split(path: Path, value: Any) -> Split:
    if value is None:
        return Split()
    if not isinstance(value, dict) or set(value) - {"test", "val", "seed"}:
        raise _fail(path, f"split must be a mapping with test, val and seed, got {value!r}")
    test, val = value.get("test", 0.2), value.get("val", 0.0)
    for key, v in (("split.test", test), ("split.val", val)):
        _number(path, key, v, 0)
        if v >= 1 and v != int(v):
            raise _fail(path, f"{key} is a fraction below 1 or a whole number of images per class, got {v!r}")
    return Split(float(test), float(val), _number(path, "split.seed", value.get("seed", 0), 0, integer=True))


def _split_used(path: Path, value: Any, sources: dict) -> None:
    """A split: key that draws nothing (its split is given) would change the run id and nothing else: refused."""
    if not isinstance(value, dict):
        return
    for key in ("test", "val"):
        if key in value and key in sources:
            raise _fail(path, f"split.{key} draws nothing: {key} is given; remove split.{key}")
    if "seed" in value and all(key in sources or not value.get(key, 0.2 if key == "test" else 0)
                               for key in ("test", "val")):
        raise _fail(path, "split.seed draws nothing: no split is drawn from train; remove it")


def _long_tail(path: Path, value: Any) -> tuple | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"profile", "ratio"} or value.get("profile", "exp") not in (
            "exp", "step"):
        raise _fail(path, f"long_tail must be {{profile: exp or step, ratio: N}}, got {value!r}")
    return value.get("profile", "exp"), float(_number(path, "long_tail.ratio", value.get("ratio", 100), 1))


def _channels(path: Path, data: dict) -> tuple:
    mean, std = data.get("mean"), data.get("std")
    if (mean is None) != (std is None):
        raise _fail(path, "give mean and std together (or neither: they are computed from the training images)")
    if mean is None or std is None:
        return None, None
    for key, v in (("mean", mean), ("std", std)):
        if not isinstance(v, list) or len(v) not in (1, 3) or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x <= 1 for x in v):
            raise _fail(path, f"{key} must be a list of 1 or 3 numbers from 0 to 1 (per channel), got {v!r}")
    if len(mean) != len(std) or min(std) <= 0:
        raise _fail(path, "mean and std need the same number of channels, and std must be positive")
    return tuple(float(x) for x in mean), tuple(float(x) for x in std)


def _shots(path: Path, value: Any) -> tuple:
    value = value or {}
    if not isinstance(value, dict) or set(value) - {"many_above", "few_below"}:
        raise _fail(path, f"shot_groups must be {{many_above: N, few_below: M}}, got {value!r}")
    many = _number(path, "shot_groups.many_above", value.get("many_above", 100), 0, integer=True)
    few = _number(path, "shot_groups.few_below", value.get("few_below", 20), 0, integer=True)
    if few > many + 1:
        raise _fail(path, f"shot_groups.few_below {few} is above many_above {many}: a class would be both")
    return many, few


def _location(path: Path, fmt: str, value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"{key} must be a path (or, for huggingface, a Hub name), got {value!r}")
    local = (path.parent / Path(value).expanduser()).absolute()
    if fmt == "huggingface" and not local.exists() and not value.startswith((".", "/", "~")):
        return value  # a Hub name such as 'user/dataset'
    if not local.exists():
        raise _fail(path, f"{key} {value} does not exist (read from the file's folder {path.parent}); fix the path")
    return str(local)


def read_spec(file: str | Path) -> UserSpec:
    """The checked declaration of a dataset YAML file; BenchError naming the key for anything wrong."""
    path = Path(file).expanduser().absolute()
    data = read_yaml(path)
    unknown_keys = [k for k in data if k not in KEYS]
    if unknown_keys:
        raise _fail(path, f"unknown key {unknown_keys[0]!r}{closest(unknown_keys[0], KEYS)}; the keys are "
                          f"{', '.join(KEYS)}")
    fmt = data.get("format")
    if fmt not in FORMATS:
        raise _fail(path, f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise _fail(path, f"name {name!r} must be lower-case letters, digits and _ (starting with a letter); set "
                          "name: in the file")
    if "train" not in data:
        raise _fail(path, "train is missing: give the training images (a folder, a csv file or a Hub name)")
    sources = {s: _location(path, fmt, data[s], s) for s in SPLITS if data.get(s) is not None}
    hub_keys = ("image_column", "label_column", "train_split", "test_split", "val_split", "config", "revision",
                "trust_remote_code")
    misplaced = [k for k in data if (k in hub_keys) != (fmt == "huggingface") and k in hub_keys]
    if misplaced:
        raise _fail(path, f"{misplaced[0]} applies to format: huggingface only; remove it")
    if fmt in ("imagefolder", "huggingface") and (data.get("images") is not None or data.get("allow_outside")):
        raise _fail(path, "images and allow_outside apply to format csv and list only; remove them")
    classes = data.get("classes") or []
    if not isinstance(classes, list) or not all(isinstance(c, (str, int)) for c in classes) or \
            len({str(c) for c in classes}) != len(classes):
        raise _fail(path, "classes must be a list of distinct class names in label order")
    size = data.get("image_size")
    if size is not None:
        _number(path, "image_size", size, 8, integer=True)
    bad = data.get("bad_images", "refuse")
    if bad not in ("refuse", "skip"):
        raise _fail(path, f"bad_images must be refuse or skip, got {bad!r}")
    duplicates = data.get("duplicates", "refuse")
    if duplicates not in ("refuse", "allow"):
        raise _fail(path, f"duplicates must be refuse or allow, got {duplicates!r}")
    _split_used(path, data.get("split"), sources)
    trust = data.get("trust_remote_code", False)
    if not isinstance(trust, bool):
        raise _fail(path, f"trust_remote_code must be true or false, got {trust!r}")
    mean, std = _channels(path, data)
    many, few = _shots(path, data.get("shot_groups"))
    images = data.get("images")
    return UserSpec(
        file=path, name=name, format=fmt, sources=sources, split=_split(path, data.get("split")),
        long_tail=_long_tail(path, data.get("long_tail")), classes=tuple(str(c) for c in classes), image_size=size,
        mean=mean, std=std, many_above=many, few_below=few, bad_images=bad, duplicates=duplicates,
        images=Path(_location(path, "csv", images, "images")) if images is not None else None,
        allow_outside=bool(data.get("allow_outside", False)),
        hub={k: data[k] for k in hub_keys if k in data})
