"""Fashion-MNIST-LT from the four IDX files (gzipped or not).

Looked for in <data root>/FashionMNIST/raw (torchvision's layout), <data root>/fashion-mnist,
<data root>, then /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist);
else downloaded through torchvision into <data root>/FashionMNIST/raw.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from bench.datasets.base import data_root, make_long_tail
from bench.datasets.files import download
from bench.datasets.info import DatasetInfo
from bench.errors import BenchError
from bench.runconfig import RunConfig

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
MEAN, STD = (0.2860,), (0.3530,)
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


def _find(folder, stem):
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def candidate_dirs(root):
    return [root / "FashionMNIST" / "raw", root / "fashion-mnist", root, SYSTEM_DIR]


def find_files(root):
    for folder in candidate_dirs(root):
        paths = [_find(folder, stem) for stem in FILES]
        if all(paths):
            return paths
    return None


def read_idx(path):
    """Parse an IDX file (uint8 payload): images -> (N, 1, H, W) tensor, labels -> int64 array."""
    raw = Path(path).read_bytes()
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise BenchError(f"{path} is a truncated or corrupt gzip file ({exc}); delete it and download it "
                         "again") from None
    if len(raw) < 8:
        raise BenchError(f"{path} is truncated or not an IDX file; delete it and download it again")
    magic = struct.unpack(">I", raw[:4])[0]
    shape: tuple[int, ...]
    if magic == 0x00000803:
        if len(raw) < 16:
            raise BenchError(f"{path} is truncated (no IDX image header); delete it and download it again")
        n, rows, cols = struct.unpack(">III", raw[4:16])
        expected, offset, shape = n * rows * cols, 16, (n, 1, rows, cols)
    elif magic == 0x00000801:
        n = struct.unpack(">I", raw[4:8])[0]
        expected, offset, shape = n, 8, (n,)
    else:
        raise BenchError(f"{path} is not an IDX uint8 file (magic {magic:#010x}); delete it and download it again")
    if len(raw) - offset != expected:
        raise BenchError(
            f"{path} is truncated: the header promises {expected} bytes of data, the file has {len(raw) - offset}; "
            "delete it and download it again"
        )
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)
    import torch

    return torch.from_numpy(data.copy()) if len(shape) > 1 else data.astype(np.int64)


def read_fashion_mnist(root, allow_download=True):
    root = Path(root)
    paths = find_files(root)
    if paths is None:
        where = root / "FashionMNIST" / "raw"
        if not allow_download:
            raise BenchError(
                f"Fashion-MNIST IDX files are not in {where} nor {SYSTEM_DIR}; install Debian's "
                f"dataset-fashion-mnist package, or put {', '.join(s + '.gz' for s in FILES)} in {where}"
            )
        from torchvision.datasets import FashionMNIST

        for filename, md5 in FashionMNIST.resources:
            download(FashionMNIST.mirrors[0] + filename, where, filename, md5, "Fashion-MNIST", where,
                     f"the IDX files ({', '.join(s + '.gz' for s in FILES)})")
        paths = find_files(root)
    train_x, train_y, test_x, test_y = (read_idx(p) for p in paths)
    for x, y, split in ((train_x, train_y, "train"), (test_x, test_y, "t10k")):
        if len(x) != len(y):
            raise BenchError(f"Fashion-MNIST {split} files disagree: {len(x)} images, {len(y)} labels")
    return train_x, train_y, test_x, test_y


def load_fashion_mnist_lt(cfg: RunConfig):
    train_x, train_y, test_x, test_y = read_fashion_mnist(data_root(cfg), cfg["dataset"]["download"])
    return make_long_tail("fashion_mnist_lt", 10, train_x, train_y, test_x, test_y, MEAN, STD, cfg, CLASS_NAMES)


DATASET = DatasetInfo(
    "fashion_mnist_lt", "Fashion-MNIST-LT: long-tailed subset of Fashion-MNIST (IDX files), n_max 6000",
    "fashion_mnist_lt", load_fashion_mnist_lt, 10, 6000, 10000)
