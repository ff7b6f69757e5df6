"""Every image of a dataset file read once: its content hash (the dataset's fingerprint), whether it decodes whole,
its size and colour, and its pixel sums (the normalisation statistics). Records are cached by file (path, size,
modification and change time, inode) or by a Hugging Face dataset's arrow files, so a dataset is read in full the
first time only.

The cache folder is $BENCH_CACHE, else $XDG_CACHE_HOME/bench, else ~/.cache/bench; deleting it only costs a re-read.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from bench.store.atomic import write_json

VERSION = 2  # of the record layout: a new layout is a new cache file


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
            pixels = np.asarray(image.convert("RGB"))
    except Exception as exc:  # noqa: BLE001 - any undecodable file: recorded with its reason
        from PIL import UnidentifiedImageError

        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        if isinstance(exc, UnidentifiedImageError):
            reason = "not an image file PIL can read"
        return Record(sha, f"{type(exc).__name__}: {reason[:120]}", 0, 0, False, ())
    flat = pixels.reshape(-1, 3).astype(np.uint32)  # exact integer sums, in 0..1 units below
    first, second = flat.sum(0, dtype=np.uint64), (flat * flat).sum(0, dtype=np.uint64)
    sums = tuple(float(v) / 255 for v in first) + tuple(float(v) / 255**2 for v in second) + (float(len(flat)),)
    return Record(sha, "", int(pixels.shape[1]), int(pixels.shape[0]), gray, sums)


def _record(row: list) -> Record:
    return Record(str(row[0]), str(row[1]), int(row[2]), int(row[3]), bool(row[4]), tuple(row[5]))


MISSING = Record("", "the file does not exist", 0, 0, False, ())


PARALLEL_FROM = 64  # images read by a thread pool from this many on (decoding, hashing and sums release the GIL)


class Scanner:
    """Records of image files (cached by path, size and modification time) or of a Hugging Face dataset's rows
    (cached under its arrow files' identity), in one cache file per dataset file's folder."""

    def __init__(self, name: str):
        self.path = cache_dir() / "images" / f"{hashlib.sha256(name.encode()).hexdigest()[:24]}.v{VERSION}.json"
        try:
            self.known = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.known = {}
        self.changed = False

    def _cache_key(self, key: str, read: Callable[[str], bytes] | None, prefix: str) -> str | None:
        if read is not None:
            return f"{prefix}|{key}" if prefix else None  # a dataset held only in memory: not cached
        try:
            stat = os.stat(key)
        except OSError:
            return ""  # missing
        # the change time too: a file rewritten with its old size and modification time (cp -p, rsync -t) is read
        # again
        return f"{key}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}|{stat.st_ino}"

    def records(self, keys: list[str], read: Callable[[str], bytes] | None = None, prefix: str = "",
                what: str = "") -> dict[str, Record]:
        """{key: Record} of image files (`read` None) or of rows whose bytes `read(key)` gives, the uncached ones
        read by a thread pool."""
        cache_keys = {key: self._cache_key(key, read, prefix) for key in keys}
        todo = [k for k, c in cache_keys.items() if c is None or (c and c not in self.known)]
        if len(todo) >= 1000:
            print(f"reading {len(todo):,} images of {what} once: their hashes, whether they decode, their pixel "
                  f"statistics (cached in {self.path.parent})", file=sys.stderr, flush=True)

        def one(key: str) -> Record:
            if read is not None:
                return inspect(read(key))
            with open(key, "rb") as f:
                return inspect(f.read())

        from bench.images.imagefiles import worker_count  # the CPUs this process may use, as the loader's workers

        threads = worker_count("auto")
        if len(todo) >= PARALLEL_FROM and threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(threads) as pool:
                found = dict(zip(todo, pool.map(one, todo)))
        else:
            found = {k: one(k) for k in todo}
        out = {}
        for key, cache_key in cache_keys.items():
            if cache_key == "":
                out[key] = MISSING
            elif cache_key is None:
                out[key] = found[key]
            else:
                if key in found:
                    self.known[cache_key] = list(found[key])
                    self.changed = True
                out[key] = _record(self.known[cache_key])
        return out

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
