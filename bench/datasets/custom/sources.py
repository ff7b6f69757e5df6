"""The entries of each split a dataset file gives: (image, label as written, where it was read), from a folder of
class folders, a csv or list file, or a Hugging Face dataset (bench.datasets.custom.hub). Every problem of the
listing itself is one BenchError naming the file and line: an empty class folder, a malformed line, a duplicate
entry, a path that leaves the images folder."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import NamedTuple

from bench.datasets.custom.spec import UserSpec
from bench.errors import BenchError
from bench.store.textfiles import read_text

# torchvision.datasets.folder.IMG_EXTENSIONS (ImageFolder's), without importing torchvision in the plan
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class Entry(NamedTuple):
    key: str  # an absolute image path, or 'split/row' of a Hugging Face dataset
    label: str  # as written: a class folder, a label name or index, a Hub label
    where: str  # for messages: 'line 12 of labels.csv', 'folder cat', 'row 7 of train'
    rel: str  # the image's name relative to its split's root (part of the fingerprint)


def folder_entries(root: Path) -> list[Entry]:
    """torchvision's ImageFolder layout: root/<class>/**/<image>; a class folder without an image is refused."""
    classes = sorted(d.name for d in os.scandir(root) if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise BenchError(f"{root} has no class folders; format: imagefolder reads root/<class name>/<image files> "
                         "(or use format: csv)")
    out: list[Entry] = []
    for name in classes:
        found: list[str] = []
        for folder, dirs, files in os.walk(root / name, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(os.path.join(folder, f) for f in sorted(files)
                         if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith("."))
        if not found:
            raise BenchError(f"class folder {root / name} has no image ({', '.join(IMAGE_EXTENSIONS)}); add images "
                             "or remove the folder")
        out.extend(Entry(p, name, f"folder {name} of {root}", os.path.relpath(p, root)) for p in found)
    return out


def _rows(path: Path, fmt: str) -> list[tuple[int, str, str]]:
    """(line number, path, label) of a csv file (header path,label) or a list file ('<path> <label>' lines)."""
    text = read_text(path, f"{fmt} file")
    rows = []
    if fmt == "list":
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                parts = line.strip().rsplit(maxsplit=1)
                if len(parts) != 2:
                    raise BenchError(f"{path}:{number}: expected '<image path> <label>', got {line[:80]!r}")
                rows.append((number, parts[0], parts[1]))
        return rows
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if "path" not in header or "label" not in header:
        raise BenchError(f"{path}: the first line must name the columns path and label (e.g. 'path,label'), got "
                         f"{','.join(header)!r}")
    ip, il = header.index("path"), header.index("label")
    for number, row in enumerate(reader, 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(ip, il) or not row[ip].strip() or not row[il].strip():
            raise BenchError(f"{path}:{number}: expected a path and a label, got {','.join(row)[:80]!r}")
        rows.append((number, row[ip].strip(), row[il].strip()))
    return rows


def listed_entries(path: Path, spec: UserSpec) -> list[Entry]:
    """The entries of a csv or list file; paths relative to spec.images (else the file's folder), kept inside it
    unless allow_outside."""
    root = spec.images or path.parent
    real_root = root.resolve()
    first: dict[str, int] = {}
    out = []
    for number, rel, label in _rows(path, spec.format):
        full = (root / rel).absolute()
        if not spec.allow_outside and not full.resolve().is_relative_to(real_root):
            raise BenchError(f"{path}:{number}: {rel} leaves {root}, the folder the paths are read from; move the "
                             "image there, or set allow_outside: true in the dataset file")
        key = os.path.normpath(str(full))
        if first.setdefault(key, number) != number:
            raise BenchError(f"{path}:{number}: {rel} is listed again (first on line {first[key]}), so it would "
                             "count twice; remove the duplicate line")
        out.append(Entry(key, label, f"line {number} of {path}", os.path.relpath(key, root)))
    if not out:
        raise BenchError(f"{path} lists no image; give one '{'path,label' if spec.format == 'csv' else 'path label'}' "
                         "line per image")
    return out


def file_entries(spec: UserSpec, split: str) -> list[Entry]:
    """The entries of a split of files the dataset file gives (spec.sources[split])."""
    path = Path(spec.sources[split])
    if spec.format == "imagefolder":
        if not path.is_dir():
            raise BenchError(f"{split} {path} is not a folder; format: imagefolder reads a folder of class folders")
        return folder_entries(path)
    if not path.is_file():
        raise BenchError(f"{split} {path} is not a file; format: {spec.format} reads a {spec.format} file")
    return listed_entries(path, spec)
