"""Image-folder long-tailed datasets read from their published split files.

ImageNet-LT / Places-LT (OLTR, Liu et al. 2019): `<Name>_train.txt`, `_val.txt`, `_test.txt`
with one `<relative path> <label>` per line. iNaturalist 2018: the official COCO-style
`train2018.json` / `val2018.json` or `iNaturalist18_train.txt` / `_val.txt` lists.
The split files are third-party data: bench never ships them; it reads and checks them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, NamedTuple

from bench.datasets.base import data_root
from bench.datasets.classnames import list_names, names_file
from bench.datasets.info import DatasetInfo
from bench.errors import BenchError
from bench.runconfig import RunConfig
from bench.store.textfiles import read_text

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
INAT_MEAN, INAT_STD = (0.466, 0.471, 0.380), (0.195, 0.194, 0.192)


@dataclass(frozen=True)
class SplitFacts:
    lines: int
    classes: int = 0
    md5: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    split_dir: str  # default folder of the lists under the data root
    image_dir: str  # default image root under the data root
    prefix: str  # list file prefix, e.g. ImageNet_LT
    default_eval: str
    normalize: str
    facts: dict  # split -> SplitFacts of the standard files

    @property
    def selection(self):
        """Validation protocol for eval.selection=best_val: the published val list where the test list is the
        reported one (ImageNet-LT, Places-LT), else half of the evaluation list (iNat: bench.datasets.selection)."""
        return "official" if "val" in self.facts and self.default_eval != "val" else "half"


SPECS = {
    "imagenet_lt": Spec("imagenet_lt", "ImageNet-LT", "ImageNet_LT", "imagenet", "ImageNet_LT", "test", "imagenet", {
        "train": SplitFacts(115846, 1000, sha256="efdbdad4f050237c310b2f354cf95a8b1d7c8d57a63c4ea4bb6bf2bcb012f37f"),
        "val": SplitFacts(20000, 1000, md5="ef44f8e43fbc904809a77216042e7498"),
        "test": SplitFacts(50000, 1000, md5="5f5f97c738923e877c5c78accce6744f")}),
    "places_lt": Spec("places_lt", "Places-LT", "Places_LT", "places365", "Places_LT", "test", "imagenet", {
        "train": SplitFacts(62500, 365), "val": SplitFacts(7300, 365), "test": SplitFacts(36500, 365)}),
    "inat2018": Spec("inat2018", "iNaturalist 2018", "inat2018", "inat2018", "iNaturalist18", "val", "inat2018", {
        "train": SplitFacts(437513, 8142), "val": SplitFacts(24426, 8142)}),
}


@dataclass
class ImageListData:
    """Lists of (image path, label); images are decoded by DataLoader workers."""

    in_memory: ClassVar[bool] = False  # bench.datasets.protocol.Dataset
    name: str
    num_classes: int
    train_items: list
    eval_items: list
    eval_split: str
    mean: tuple
    std: tuple
    train_list_sha256: str
    class_names: list = field(default_factory=list)
    in_channels: int = 3
    val_items: list = field(default_factory=list)  # eval.selection=best_val: the images that select
    selection: dict | None = None
    # split -> (list file, "line" | "annotation", 1-based entry of each item or None for index + 1): where an
    # unreadable image is named
    sources: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)  # files besides the lists a run reads, with their sha256
    # the encoded bytes of an item whose "path" is a key into a Hugging Face dataset (bench/datasets/custom/hub.py);
    # None: the paths are files
    reader: Callable[[str], bytes] | None = None

    @property
    def train_labels(self):
        import torch

        return torch.tensor([label for _, label in self.train_items], dtype=torch.int64)

    @property
    def train_counts(self):
        import torch

        return torch.bincount(self.train_labels, minlength=self.num_classes).tolist()

    @property
    def test_counts(self):
        import torch

        labels = torch.tensor([label for _, label in self.eval_items], dtype=torch.int64)
        return torch.bincount(labels, minlength=self.num_classes).tolist()

    @property
    def train_indices_sha256(self):
        return self.train_list_sha256  # the split's provenance: the training list itself

    def pipeline(self, cfg: RunConfig, device):
        from bench.images.pipelines import ImagePipeline

        return ImagePipeline(self, cfg, device)


def file_hashes(path):
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def read_list(path):
    """([(relative path, label)], line numbers or None when they are 1..n) from a `<path> <label>` file;
    a malformed line is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"split list {path} does not exist; set dataset.split_dir (or --data-root) to the folder "
                         "holding it")
    first: dict[str, int] = {}
    items, lines = [], []
    # one reader for every text file a user gives (bench/store/textfiles.py: UTF-8, no byte-order mark)
    for number, line in enumerate(read_text(path, "split list").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.rsplit(maxsplit=1)
        if len(parts) == 2 and parts[1].startswith("-") and parts[1][1:].isdecimal():
            raise BenchError(f"{path}:{number}: label {parts[1]} is negative; labels are class indices from 0")
        if len(parts) != 2 or not (parts[1].isdecimal() and parts[1].isascii()):
            raise BenchError(f"{path}:{number}: expected '<relative path> <integer label>', got {line[:80]!r}")
        if first.setdefault(parts[0], number) != number:
            raise BenchError(f"{path}:{number}: {parts[0]} is listed again (first on line {first[parts[0]]}), so "
                             "it would count twice; remove the duplicate line")
        items.append((parts[0], int(parts[1])))
        lines.append(number)
    return items, (None if not lines or lines[-1] == len(lines) else lines)


class _Image(NamedTuple):
    id: object
    file_name: str


class _Annotation(NamedTuple):
    image_id: object
    category_id: object


def _coco_object(pairs):
    """Images and annotations become small tuples while the JSON is parsed (iNat 2018's 462k of each
    as dicts with every field would take several times the memory); other objects stay dicts."""
    obj = dict(pairs)
    if "file_name" in obj and "id" in obj:
        return _Image(obj["id"], obj["file_name"])
    if "image_id" in obj and "category_id" in obj:
        return _Annotation(obj["image_id"], obj["category_id"])
    return obj


def read_coco(path):
    """[(file_name, category_id)] and category names from an iNaturalist COCO-style JSON."""
    try:
        data = json.loads(Path(path).read_bytes(), object_pairs_hook=_coco_object)
        files = {image.id: image.file_name for image in data["images"]}
        items = [(files[a.image_id], int(a.category_id)) for a in data["annotations"]]
        names = {int(c["id"]): c.get("name", str(c["id"])) for c in data.get("categories", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BenchError(f"{path} is not a COCO-style annotation file ({type(exc).__name__}: {exc}); "
                         "use the official train2018.json / val2018.json") from None
    return items, names


def check_facts(spec, split, path, items, enabled):
    """Warn, naming the difference, when a list is not the standard split."""
    if not enabled or split not in spec.facts:
        return
    facts = spec.facts[split]
    problems = []
    if len(items) != facts.lines:
        problems.append(f"{len(items):,} entries, the standard split has {facts.lines:,}")
    classes = len({label for _, label in items})
    if facts.classes and classes != facts.classes:
        problems.append(f"{classes} classes, the standard split has {facts.classes}")
    if (facts.md5 or facts.sha256) and not problems:
        md5, sha = file_hashes(path)
        if (facts.md5 and md5 != facts.md5) or (facts.sha256 and sha != facts.sha256):
            problems.append("the same size but different content (hash mismatch)")
    if problems:
        print(f"warning: {path} is not the standard {spec.title} {split} split: {'; '.join(problems)}; "
              "results will not be comparable with published numbers", flush=True)


def rewrite(path, rules):
    for rule in rules:
        old, new = rule.split("=", 1)
        if path.startswith(old):
            return new + path[len(old):]
    return path


def resolve_images(items, image_root, rules, list_path, lines=None):
    """Absolute paths; the flat `val/<file>` layout is tried when `val/<class>/<file>` is absent.

    The first missing image is an error naming it and its line (entry, for a JSON file).
    """
    out = []
    unit = "annotation" if str(list_path).endswith(".json") else "line"
    for index, (rel, label) in enumerate(items):
        number = lines[index] if lines else index + 1
        rel = rewrite(rel, rules)
        full = os.path.join(image_root, rel)
        if not os.path.isfile(full):
            parts = Path(rel).parts
            flat = os.path.join(image_root, parts[0], parts[-1]) if len(parts) >= 3 else None
            if flat and os.path.isfile(flat):
                full = flat
            else:
                raise BenchError(f"image {full} ({unit} {number} of {list_path}) does not exist; set "
                                 "dataset.image_root to the folder the list paths start from, or dataset.path_rewrite "
                                 "for another path layout")
        out.append((full, label))
    return out


def load_image_list(cfg: RunConfig, name):
    spec = SPECS[name]
    d = cfg["dataset"]
    root = data_root(cfg)
    split_dir = Path(d["split_dir"]).expanduser() if d["split_dir"] else root / spec.split_dir
    image_root = Path(d["image_root"]).expanduser() if d["image_root"] else root / spec.image_dir
    eval_split = d["eval_split"] or spec.default_eval
    if eval_split not in spec.facts:
        raise BenchError(f"{spec.title} has no {eval_split} split; use dataset.eval_split="
                         f"{' or '.join(s for s in spec.facts if s != 'train')}")
    best_val = cfg["eval"]["selection"] == "best_val"
    if best_val and spec.selection == "official" and eval_split == "val":
        raise BenchError(f"eval.selection=best_val selects on {name}'s val list, so it cannot also be the reported "
                         "split; use dataset.eval_split=test")
    names = {}
    lists = {}
    for split in ("train", eval_split) + (("val",) if best_val and spec.selection == "official" else ()):
        json_path = split_dir / f"{split}2018.json"
        txt_path = split_dir / f"{spec.prefix}_{split}.txt"
        if name == "inat2018" and json_path.is_file():
            items, names = read_coco(json_path)
            lists[split] = (json_path, items, None)
        else:
            lists[split] = (txt_path, *read_list(txt_path))
    for split, (path, items, _) in lists.items():
        if not items:
            raise BenchError(f"split list {path} is empty; point dataset.split_dir at the real files")
        check_facts(spec, split, path, items, d["check_split"])
    train_path, train_items, train_lines = lists["train"]
    eval_path, eval_items, eval_lines = lists[eval_split]
    num_classes = max(label for _, label in train_items + eval_items) + 1
    present = {label for _, label in train_items}
    if len(present) != num_classes:
        missing = min(set(range(num_classes)) - present)
        raise BenchError(f"{train_path} has no training image of class {missing}; every class needs at least one")
    rules = d["path_rewrite"]
    norm = spec.normalize if cfg["augment"]["normalize"] == "auto" else cfg["augment"]["normalize"]
    mean, std = (INAT_MEAN, INAT_STD) if norm == "inat2018" else (IMAGENET_MEAN, IMAGENET_STD)
    data = ImageListData(
        name=name, num_classes=num_classes,
        train_items=resolve_images(train_items, image_root, rules, train_path, train_lines),
        eval_items=resolve_images(eval_items, image_root, rules, eval_path, eval_lines),
        eval_split=eval_split, mean=mean, std=std, train_list_sha256=file_hashes(train_path)[1],
        class_names=list_names(name, split_dir, num_classes, train_items, names),
        inputs=_names_input(names_file(name, split_dir, names)),
        sources={"train": _source(train_path, train_lines), "eval": _source(eval_path, eval_lines)})
    if best_val and spec.selection == "official":
        from bench.datasets.selection import describe

        val_path, val_items, val_lines = lists["val"]
        data.val_items = resolve_images(val_items, image_root, rules, val_path, val_lines)
        data.sources["val"] = _source(val_path, val_lines)
        data.selection = describe("official", range(len(val_items)), range(len(data.eval_items)),
                                  f"val list {val_path.name}", f"{eval_split} list {eval_path.name}")
    elif best_val:
        from bench.datasets.selection import split_items

        split_items(data)  # also narrows the eval source's entries to the reported half
    return data


def _names_input(path):
    """result.json's record of the class-name file a run read (bench/plan/external.py checks it on every re-run)."""
    return [] if path is None else [{"what": "class names", "file": str(path), "sha256": file_hashes(path)[1]}]


def _source(path, lines):
    return (str(path), "annotation" if str(path).endswith(".json") else "line", lines)


def load_imagenet_lt(cfg: RunConfig):
    return load_image_list(cfg, "imagenet_lt")


def load_places_lt(cfg: RunConfig):
    return load_image_list(cfg, "places_lt")


def load_inat2018(cfg: RunConfig):
    return load_image_list(cfg, "inat2018")


DATASETS = (
    DatasetInfo("imagenet_lt", "ImageNet-LT (OLTR split lists + ImageNet images), 1000 classes, 1280..5 per class",
                "imagenet_lt_resnext50", load_imagenet_lt, 1000, 1280, 50000, natural=True, train_size=115846,
                selection="official", in_memory=False),
    DatasetInfo("places_lt", "Places-LT (OLTR split lists + Places365 images), 365 classes, 4980..5 per class",
                "places_lt_resnet50", load_places_lt, 365, 4980, 36500, natural=True, train_size=62500,
                selection="official", in_memory=False),
    DatasetInfo("inat2018", "iNaturalist 2018 (COCO-style JSON or list files), 8142 classes, 1000..2 per class",
                "inat2018_resnet50", load_inat2018, 8142, 1000, 24426, natural=True, train_size=437513,
                eval_split="val", in_memory=False),
)
