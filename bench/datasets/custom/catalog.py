"""A dataset file read into its catalogue: the classes, the train / test / val images with integer labels (given, or
drawn per class from train with a recorded seed), every image's record (bench.datasets.custom.scan), and the
fingerprint that identifies the data in run ids. Bad data is one BenchError here, before any run starts."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from bench.datasets.custom.scan import Scanner
from bench.datasets.custom.sources import Entry, file_entries
from bench.datasets.custom.spec import IN_MEMORY_MAX, UserSpec, read_spec
from bench.errors import BenchError

SHOWN = 5  # bad images named in a message


@dataclass
class Catalog:
    spec: UserSpec
    classes: list[str]
    splits: dict  # split -> list of (Entry, label index), train always, test always, val when given or drawn
    records: dict  # Entry.key -> Record
    drawn: dict  # split -> {"from": "train", "per_class": x, "seed": s} for the splits drawn from train
    skipped: list = field(default_factory=list)  # (Entry, reason) left out by bad_images: skip
    duplicates: list = field(default_factory=list)  # groups of entries with the same content
    reader: Callable[[str], bytes] | None = None  # encoded bytes of a Hub row; None: files read from disk
    fingerprint: str = ""
    side: int = 0  # the size the images are used at: the file's image_size, else the training images' median side

    @property
    def in_memory(self) -> bool:
        """Held as tensors (CIFAR's path); else decoded from their files (or Hub rows) per batch."""
        return self.side <= IN_MEMORY_MAX

    def counts(self, split: str) -> list[int]:
        c = Counter(label for _, label in self.splits.get(split, []))
        return [c.get(i, 0) for i in range(len(self.classes))]

    @cached_property
    def gray(self) -> bool:
        return all(self.records[e.key].gray for items in self.splits.values() for e, _ in items)


def median_side(items: list, records: dict) -> int:
    """The median longer side of the images that decode (0 when none does)."""
    sides = sorted(max(records[e.key].width, records[e.key].height) for e, _ in items if not records[e.key].error)
    return sides[len(sides) // 2] if sides else 0


def _given(spec: UserSpec) -> tuple[dict, list[str], Callable[[str], bytes] | None]:
    """({split: entries} of the splits the source gives, the source's class names, the Hub reader)."""
    if spec.format != "huggingface":
        return {s: file_entries(spec, s) for s in spec.sources}, [], None
    from bench.datasets.custom.hub import HubReader, class_names, hub_entries, hub_splits

    splits = hub_splits(spec)
    found = {s: hub_entries(spec, s, ds) for s, ds in splits.items()}
    return found, class_names(splits["train"], spec), HubReader(splits, spec.hub.get("image_column", "image"))


def _classes(spec: UserSpec, given: dict, source_names: list[str]) -> tuple[list[str], bool]:
    """(class names in label order, whether labels are written as indices)."""
    labels = [e.label for items in given.values() for e in items]
    by_index = spec.format != "imagefolder" and all(lab.isdecimal() and lab.isascii() for lab in labels)
    if spec.classes:
        return list(spec.classes), by_index
    if by_index:
        top = max(int(e.label) for e in given["train"])
        names = source_names if len(source_names) > top else [str(i) for i in range(top + 1)]
        return list(names), True
    return sorted({e.label for e in given["train"]}), False


def _labelled(spec: UserSpec, split: str, items: list[Entry], classes: list[str], by_index: bool) -> list:
    index = {name: i for i, name in enumerate(classes)}
    out = []
    for e in items:
        label = int(e.label) if by_index else index.get(e.label)
        if label is None or label >= len(classes):
            listed = f"the {len(classes)} classes of the dataset file's classes:" if spec.classes else \
                "the classes of the training split"
            what = "a test class absent from training" if split != "train" and not spec.classes else \
                "a label outside the class list"
            raise BenchError(f"{e.where}: label {e.label[:40]!r} is {what} ({listed} {', '.join(classes[:8])}"
                             f"{', ...' if len(classes) > 8 else ''}); fix the label, or list every class under "
                             "classes: in the dataset file")
        out.append((e, label))
    return out


def _scan(spec: UserSpec, given: dict, reader) -> dict:
    scanner = Scanner(str(spec.file.parent))
    keys = list(dict.fromkeys(e.key for items in given.values() for e in items))
    prefix = ""
    if reader is not None:
        from bench.datasets.custom.hub import fingerprint_files

        prefix = "|".join(fingerprint_files(reader.splits[s]) for s in sorted(reader.splits))
    records = scanner.records(keys, reader, prefix, what=str(spec.file))
    scanner.save()
    return records


def _bad(spec: UserSpec, labelled: dict, records: dict) -> list:
    bad = [(e, records[e.key].error) for items in labelled.values() for e, _ in items if records[e.key].error]
    if bad and spec.bad_images == "refuse":
        named = "; ".join(f"{e.key} ({e.where}): {why}" for e, why in bad[:SHOWN])
        raise BenchError(f"{len(bad)} image(s) cannot be read whole: {named}{'; ...' if len(bad) > SHOWN else ''}; "
                         "replace or remove them, or set bad_images: skip in the dataset file to leave them out")
    return bad


def draw(items: list, num_classes: int, amount: float, seed: int, what: str) -> tuple[list, list]:
    """(kept, drawn): per class, a seeded random `amount` (a fraction, rounded down, or a number of images) of
    `items` is drawn; every class keeps at least one image."""
    rng = np.random.default_rng(seed)
    labels = np.asarray([label for _, label in items], dtype=np.int64)
    take = np.zeros(len(items), dtype=bool)
    for cls in range(num_classes):
        idx = np.flatnonzero(labels == cls)
        k = int(amount) if amount >= 1 else int(len(idx) * amount)
        if k >= len(idx) and k > 0:
            raise BenchError(f"class {cls} has {len(idx)} training image(s), so drawing {k} per class for {what} "
                             "leaves it none; give split: a smaller value, or a separate "
                             f"{what} folder or file")
        take[idx[rng.permutation(len(idx))[:k]]] = True
    return [it for it, t in zip(items, take) if not t], [it for it, t in zip(items, take) if t]


def _split(spec: UserSpec, labelled: dict, num_classes: int) -> dict:
    drawn = {}
    for split, amount, offset in (("test", spec.split.test, 0), ("val", spec.split.val, 1)):
        if split in labelled or amount == 0:
            continue
        labelled["train"], labelled[split] = draw(labelled["train"], num_classes, amount, spec.split.seed + offset,
                                                  split)
        drawn[split] = {"from": "train", "per_class": amount, "seed": spec.split.seed + offset}
    if "test" not in labelled:
        raise BenchError(f"dataset file {spec.file} gives no test images and split.test is 0; give test: or a "
                         "split.test fraction")
    return drawn


def _check_classes(spec: UserSpec, classes: list[str], labelled: dict) -> None:
    train = Counter(label for _, label in labelled["train"])
    empty = [c for c in range(len(classes)) if not train.get(c)]
    if empty:
        fix = "remove it from classes:, or add images" if spec.classes else \
            "labels written as numbers count from 0, so a class between them needs images too; or name the classes"
        raise BenchError(f"class {classes[empty[0]]!r} has no training image ({len(empty)} such class(es)) in "
                         f"{spec.file}; every class needs at least one ({fix})")


def _duplicates(labelled: dict, records: dict) -> list:
    seen: dict[str, list] = {}
    for split, items in labelled.items():
        for e, _ in items:
            if records[e.key].sha256:
                seen.setdefault(records[e.key].sha256, []).append((split, e))
    return [group for group in seen.values() if len(group) > 1]


def _leaks(spec: UserSpec, groups: list) -> None:
    """The same image content in train and in test or val: a test image the model has seen, refused unless the file
    says duplicates: allow."""
    leaks = [group for group in groups if {split for split, _ in group} - {"train"} and
             any(split == "train" for split, _ in group)]
    if leaks and spec.duplicates == "refuse":
        named = "; ".join(" = ".join(f"{split} {e.key}" for split, e in group) for group in leaks[:3])
        raise BenchError(f"{len(leaks)} training image(s) also appear (same content) in test or val: {named}"
                         f"{'; ...' if len(leaks) > 3 else ''}; remove the copies (from one split, or the duplicate "
                         "files a split is drawn from), or set duplicates: allow in the dataset file")


def _fingerprint(spec: UserSpec, classes: list[str], labelled: dict, records: dict, side: int) -> str:
    data = {"spec": spec.identity(side), "classes": classes,
            "splits": {s: sorted([e.rel, label, records[e.key].sha256] for e, label in items)
                       for s, items in labelled.items()}}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def build(spec: UserSpec) -> Catalog:
    given, source_names, reader = _given(spec)
    classes, by_index = _classes(spec, given, source_names)
    labelled = {s: _labelled(spec, s, items, classes, by_index) for s, items in given.items()}
    records = _scan(spec, given, reader)
    side = spec.image_size or median_side(labelled["train"], records)
    fingerprint = _fingerprint(spec, classes, labelled, records, side)  # of the data as given, before any draw
    bad = _bad(spec, labelled, records)
    skip = {e.key for e, _ in bad}
    labelled = {s: [(e, label) for e, label in items if e.key not in skip] for s, items in labelled.items()}
    _check_classes(spec, classes, labelled)
    drawn = _split(spec, labelled, len(classes))
    duplicates = _duplicates(labelled, records)
    _leaks(spec, duplicates)
    return Catalog(spec, classes, labelled, records, drawn, bad, duplicates, reader, fingerprint, side)


_BUILT: dict = {}


def forget() -> None:
    """Read the data again at the next catalog() (a new command: the images may have changed since)."""
    _BUILT.clear()


def catalog(file: str | Path, fresh: bool = False) -> Catalog:
    """The catalogue of a dataset file, built once per command (bench.plan.runs.plan calls forget) for the same file
    content; `fresh`: read the data again now (a run about to load it: it must be the data it was planned on)."""
    spec = read_spec(file)
    key = (str(spec.file), spec.file.stat().st_mtime_ns, repr(spec))
    if fresh or key not in _BUILT:
        _BUILT.clear()
        _BUILT[key] = build(spec)
    return _BUILT[key]
