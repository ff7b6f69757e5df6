"""File helpers shared by loaders: md5 verification and torchvision downloads."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.errors import BenchError


def md5sum(path, chunk=1 << 20):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_md5(path, expected, dataset):
    actual = md5sum(path)
    if actual != expected:
        raise BenchError(
            f"{path} has md5 {actual} but the published {dataset} file has {expected}: it is corrupt or "
            "not the original; delete it and download it again (or set dataset.verify=false for generated files)"
        )


def download(url, root, filename, md5, dataset, where, files):
    """Download and extract an archive with torchvision; one clear error if that fails."""
    from torchvision.datasets.utils import download_and_extract_archive

    root = Path(root)
    created = [p for p in (root, *root.parents) if not p.exists()]
    root.mkdir(parents=True, exist_ok=True)
    try:
        download_and_extract_archive(url, download_root=str(root), filename=filename, md5=md5)
    except Exception as exc:  # no network, proxy, disk full: the user needs the same advice
        for folder in created:  # leave no empty folders behind
            try:
                folder.rmdir()
            except OSError:
                break
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise BenchError(
            f"{dataset} files are not in {where} and downloading them failed ({reason}); "
            f"put {files} there, or point --data-root (or $BENCH_DATA) at the folder that holds them"
        ) from None
