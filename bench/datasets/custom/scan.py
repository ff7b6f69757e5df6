"""Every image of a dataset file read once: its content hash (the dataset's fingerprint), whether it decodes whole,
its size and colour, and its pixel sums (the normalisation statistics). Records are cached by file (path, size,
modification time) or by a Hugging Face dataset's own fingerprint, so a dataset is read in full the first time only.

The cache folder is $BENCH_CACHE, else $XDG_CACHE_HOME/bench, else ~/.cache/bench; deleting it only costs a re-read.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from bench.store.atomic import write_json

VERSION = 1  # of the record layout: a new layout is a new cache file


class Record(NamedTuple):
    sha256: str
    error: str  # "" when the image decodes whole
    width: int
    height: int
    gray: bool
    sums: tuple  # per RGB channel: sum of values in 0..1, sum of squares, and the pixel count last
    # (an image's gray value counts in all three channels)


def cache_dir() -> Path:
    if os.environ.get("BENCH_CACHE"):
        return Path(os.environ["BENCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bench"


def inspect(data: bytes) -> Record:
    """The record of one encoded image (PIL decodes it in full: a truncated file is an error here, not mid-run)."""
    import numpy as np
    from PIL import Image

    sha = hashlib.sha256(data).hexdigest()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            gray = image.mode in ("1", "L", "LA", "I", "I;16", "F")
            pixels = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    except Exception as exc:  # noqa: BLE001 - any undecodable file: recorded with its reason
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        return Record(sha, f"{type(exc).__name__}: {reason}", 0, 0, False, ())
    flat = pixels.reshape(-1, 3)
    sums = tuple(float(v) for v in flat.sum(0)) + tuple(float(v) for v in (flat**2).sum(0)) + (float(len(flat)),)
    return Record(sha, "", int(pixels.shape[1]), int(pixels.shape[0]), gray, sums)


def _record(row: list) -> Record:
    return Record(str(row[0]), str(row[1]), int(row[2]), int(row[3]), bool(row[4]), tuple(row[5]))


MISSING = Record("", "the file does not exist", 0, 0, False, ())


class Scanner:
    """Records of image files, cached per folder of the dataset file."""

    def __init__(self, name: str):
        self.path = cache_dir() / "images" / f"{hashlib.sha256(name.encode()).hexdigest()[:24]}.v{VERSION}.json"
        try:
            self.known = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.known = {}
        self.changed = False

    def file(self, path: str) -> Record:
        try:
            stat = os.stat(path)
        except OSError:
            return MISSING
        key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in self.known:
            with open(path, "rb") as f:
                self.known[key] = list(inspect(f.read()))
            self.changed = True
        return _record(self.known[key])

    def blob(self, key: str, read: Callable[[], bytes]) -> Record:
        """A record cached under `key` (a Hugging Face dataset's fingerprint and row), read only when absent."""
        if key not in self.known:
            self.known[key] = list(inspect(read()))
            self.changed = True
        return _record(self.known[key])

    def save(self) -> None:
        if self.changed:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_json(self.path, self.known)
            except OSError:
                pass  # a read-only home: the next command reads the images again, nothing else changes
            self.changed = False


def statistics(records: Iterable[Record], gray: bool) -> tuple[tuple, tuple]:
    """Per-channel mean and std of the pixels of `records` (one channel when the dataset is gray)."""
    import numpy as np

    total = np.zeros(7)
    for r in records:
        total += np.asarray(r.sums)
    n = max(total[6], 1.0)
    mean = total[:3] / n
    std = np.sqrt(np.maximum(total[3:6] / n - mean**2, 0.0))
    std = np.where(std > 0, std, 1.0)
    keep = 1 if gray else 3
    return tuple(round(float(v), 6) for v in mean[:keep]), tuple(round(float(v), 6) for v in std[:keep])
