"""Atomic file writes: a temporary file in the same folder, flushed, fsynced and renamed over the target, so a
reader never sees a torn file and a kill at any point leaves the old file or the new one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp alone gives 0600


def atomic_write_bytes(path, data):
    """Write to a temporary file in the same folder, flush, fsync, rename: readers never see a torn file."""
    from bench.store import faults

    path = Path(path)
    stem = path.name.split(".")[0]  # fault points: "<stem>-half-written", "<stem>-tmp-written"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data[: len(data) // 2])
            faults.point(f"{stem}-half-written")
            f.write(data[len(data) // 2:])
            f.flush()
            os.fsync(f.fileno())
        faults.point(f"{stem}-tmp-written")
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None:  # a write or fsync error names no file: say which one bench was writing
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path, obj):
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")
