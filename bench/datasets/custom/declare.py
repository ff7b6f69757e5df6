"""A dataset file as bench's other datasets are declared (bench.datasets.info.DatasetInfo), with the recipe chosen
by image size and class count:

- images of at most 64 px (the file's image_size, else the training images' median longer side) are held in
  memory at that size and take the CIFAR-LT recipe (preset cifar_lt, ResNet-32) and the methods' recipes for
  CIFAR-10-LT (at most 10 classes) or CIFAR-100-LT;
- larger images are decoded per batch from their files and take ImageNet-LT's (preset imagenet_lt_resnext50) or,
  above 1000 classes, iNaturalist 2018's recipes (preset inat2018_resnet50).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from bench.datasets.custom.catalog import Catalog, catalog
from bench.datasets.info import DatasetInfo
from bench.runconfig import RunConfig

LIKE = {"cifar10_lt": "cifar_lt", "cifar100_lt": "cifar_lt", "imagenet_lt": "imagenet_lt_resnext50",
        "inat2018": "inat2018_resnet50"}


def closest_builtin(in_memory: bool, num_classes: int) -> str:
    if in_memory:
        return "cifar10_lt" if num_classes <= 10 else "cifar100_lt"
    return "imagenet_lt" if num_classes <= 1000 else "inat2018"


def _layer(cat: Catalog, in_memory: bool, size: int) -> dict:
    spec = cat.spec
    profile, ratio = spec.long_tail if spec.long_tail else ("natural", None)
    layer: dict = {"dataset": {"profile": profile, "imbalance_ratio": ratio},
                   "eval": {"many_above": spec.many_above, "few_below": spec.few_below}}
    if not in_memory:  # the dataset's own statistics (the recipe preset's are ImageNet's or iNaturalist's)
        layer["augment"] = {"normalize": "auto"}
    if not in_memory and spec.image_size:  # the crop; the test resize keeps ImageNet's 256/224
        layer["augment"].update(image_size=size, resize=round(size * 256 / 224))
    return layer


_INFO: dict = {}  # id of a catalogue -> (the catalogue, its DatasetInfo): the plan asks for it many times


def user_info(file: str | Path) -> DatasetInfo:
    """The DatasetInfo of a dataset file (its catalogue is built, so bad data fails here, before any run)."""
    cat = catalog(file)
    known = _INFO.get(id(cat))
    if known is None or known[0] is not cat:
        _INFO.clear()
        known = _INFO[id(cat)] = (cat, _info(cat))
    return known[1]


def _info(cat: Catalog) -> DatasetInfo:
    spec = cat.spec
    size, in_memory = cat.side, cat.in_memory
    like = closest_builtin(in_memory, len(cat.classes))
    counts = cat.counts("train")
    crop = spec.image_size or 224  # the recipe preset's crop unless the file gives its size
    where = f"{size} px images held in memory" if in_memory else \
        f"{size} px image files decoded per batch, crop {crop}"
    why = f"{where}, {len(cat.classes)} classes: the recipes of {like} (preset {LIKE[like]})"
    return DatasetInfo(
        name=spec.name, description=f"your dataset from {spec.file} ({spec.format}; {why})", recipe=LIKE[like],
        loader=partial(load_user, str(spec.file)), num_classes=len(cat.classes), n_max=min(counts),
        test_size=len(cat.splits["test"]), natural=spec.long_tail is None, train_size=sum(counts),
        eval_split="test", selection="official" if "val" in cat.splits else "half", in_memory=in_memory,
        file=str(spec.file), fingerprint=cat.fingerprint, like=like, layer=_layer(cat, in_memory, size), why=why)


def load_user(file: str, cfg: RunConfig):
    from bench.datasets.custom.load import load

    data = load(catalog(file, fresh=True), cfg)  # the data as it is now, checked against the planned fingerprint
    data.source["recipe"] = user_info(file).why  # result.json names the recipe bench chose
    return data
