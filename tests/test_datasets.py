"""Loaders on generated files in the real formats: CIFAR pickles (md5 first) and Fashion-MNIST IDX."""

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import cli_without_torch, write_cifar, write_fashion_mnist

from bench.datasets.cifar import SPECS, read_cifar
from bench.datasets.fashion_mnist import SYSTEM_DIR, read_fashion_mnist, read_idx
from bench.datasets.longtail import long_tail_counts, select_long_tail
from bench.datasets.registry import DATASETS
from bench.errors import BenchError
from bench.plan.config import resolve


def load(dataset, root, *sets):
    cfg = resolve("erm", dataset, 0, flags={
        "dataset.root": str(root)}, sets=["dataset.verify=false", "dataset.download=false", *sets])
    return DATASETS[dataset].load(cfg)


def test_cifar10_fixture_long_tail(cifar_root):
    data = load("cifar10_lt", cifar_root)
    assert data.train_counts == long_tail_counts(100, 10, 100) == [100, 59, 35, 21, 12, 7, 4, 2, 1, 1]
    assert data.test_counts == [10] * 10
    assert data.train_x.dtype == torch.uint8 and data.train_x.shape[1:] == (3, 32, 32)
    assert data.class_names == [f"class{c}" for c in range(10)]
    # the kept images are exactly the reference selection from the file-order labels
    _, labels, _ = write_cifar(cifar_root / "again", "cifar10", 100, 10)
    keep = select_long_tail(labels, data.train_counts, 0)
    assert np.array_equal(data.train_indices, keep)
    assert data.train_y.tolist() == labels[keep].tolist()


def test_cifar_pixels_follow_the_file_layout(tmp_path):
    folder, labels, _ = write_cifar(tmp_path, "cifar10", 10, 2)
    train_x, train_y, *_ = read_cifar(tmp_path, "cifar10", verify=False, allow_download=False)
    with open(folder / "data_batch_2", "rb") as f:
        second = pickle.load(f, encoding="latin1")
    first_len = len(train_y) // 5
    raw = second["data"][0]
    # 1024 R then 1024 G then 1024 B values, each row-major 32x32
    assert train_x[first_len, 1, 0, 5].item() == raw[1024 + 5]
    assert train_x[first_len, 2, 31, 31].item() == raw[3071]


def test_cifar100_fixture(cifar_root):
    data = load("cifar100_lt", cifar_root, "dataset.imbalance_ratio=10")
    assert data.num_classes == 100
    assert data.train_counts == long_tail_counts(10, 100, 10)
    assert data.test_counts == [2] * 100


def test_empty_class_is_a_clear_error(cifar_root):
    with pytest.raises(BenchError, match="leaves class .* with no training image"):
        load("cifar100_lt", cifar_root)  # 10 per class at ratio 100 -> 0 images in the tail


def test_md5_mismatch_names_the_file(cifar_root):
    cfg = resolve("erm", "cifar10_lt", 0, flags={"dataset.root": str(cifar_root)}, sets=["dataset.download=false"])
    with pytest.raises(BenchError, match=r"data_batch_1 has md5 .* published CIFAR-10 file has c99cafc1"):
        DATASETS["cifar10_lt"].load(cfg)


class _Boom:
    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_md5_is_checked_before_unpickling(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "pwned"
    boom = _Boom()
    boom.marker = str(marker)
    payload = pickle.dumps(boom)
    for name, _ in SPECS["cifar10"]["train"] + SPECS["cifar10"]["test"]:
        (folder / name).write_bytes(payload)
    with pytest.raises(BenchError, match="md5"):
        read_cifar(tmp_path, "cifar10", verify=True, allow_download=False)
    assert not marker.exists()
    with pytest.raises(BenchError):  # with verification off the user opted in: it is unpickled
        read_cifar(tmp_path, "cifar10", verify=False, allow_download=False)
    assert marker.exists()


def test_missing_cifar_says_where_to_put_it(tmp_path):
    with pytest.raises(BenchError, match=r"are not in .*cifar-10-batches-py; put the python-version files there"):
        read_cifar(tmp_path, "cifar10", allow_download=False)


def test_missing_cifar_download_failure_is_one_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tvu

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(tvu, "download_and_extract_archive", offline)
    with pytest.raises(BenchError, match=r"downloading them failed .*put the python-version files \(train, test, "
                                         r"from cifar-100-python.tar.gz\) there"):
        read_cifar(tmp_path, "cifar100")


def test_truncated_pickle_is_a_clear_error(tmp_path):
    folder, *_ = write_cifar(tmp_path, "cifar100", 2, 1)
    raw = (folder / "train").read_bytes()
    (folder / "train").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(BenchError, match="truncated or not a CIFAR pickle"):
        read_cifar(tmp_path, "cifar100", verify=False, allow_download=False)


def test_fashion_mnist_fixture(fmnist_root):
    data = load("fashion_mnist_lt", fmnist_root)
    assert data.train_counts == long_tail_counts(100, 10, 100)
    assert data.train_x.shape[1:] == (1, 28, 28) and data.test_counts == [10] * 10


def test_idx_plain_and_gzip_agree(tmp_path):
    write_fashion_mnist(tmp_path / "a", gz=True)
    write_fashion_mnist(tmp_path / "b", gz=False)
    a = read_idx(tmp_path / "a" / "train-images-idx3-ubyte.gz")
    b = read_idx(tmp_path / "b" / "train-images-idx3-ubyte")
    assert a.shape == (1000, 1, 28, 28) and (a == b).all()


def test_truncated_idx_is_a_clear_error(tmp_path):
    folder = write_fashion_mnist(tmp_path / "FashionMNIST" / "raw", gz=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(BenchError, match="truncated: the header promises"):
        read_fashion_mnist(tmp_path, allow_download=False)
    gz = tmp_path / "x-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-6])
    with pytest.raises(BenchError, match="gzip"):
        read_idx(gz)


@pytest.mark.skipif(not SYSTEM_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist(tmp_path):
    train_x, train_y, test_x, test_y = read_fashion_mnist(tmp_path / "empty", allow_download=False)
    assert train_x.shape == (60000, 1, 28, 28) and test_x.shape == (10000, 1, 28, 28)
    assert np.bincount(train_y).tolist() == [6000] * 10
    assert np.bincount(test_y).tolist() == [1000] * 10


def test_every_dataset_file_of_the_package_is_found_by_its_declaration_and_listed_without_torch():
    """A dataset is one file declaring DATASET(S): the registry holds exactly the declarations of the package's
    modules, each with a loader in its own file, and listing them imports no torch (the dataset files import it
    inside their functions)."""
    import importlib
    import pkgutil

    import bench.datasets
    from bench.datasets.info import DatasetInfo
    from bench.registry import declared

    found = {}
    for info in pkgutil.iter_modules(bench.datasets.__path__):
        module = importlib.import_module(f"bench.datasets.{info.name}")
        for entry in declared(module, DatasetInfo, ("DATASETS", "DATASET")):
            assert entry.loader.__module__ == module.__name__, entry.name
            found[entry.name] = entry
    assert found == dict(DATASETS)
    assert list(DATASETS) == ["cifar10_lt", "cifar100_lt", "fashion_mnist_lt", "imagenet_lt", "places_lt", "inat2018"]
    torch_loaded, lines = cli_without_torch(["list", "datasets"])
    assert not torch_loaded and [line.split()[0] for line in lines if line.strip()][:6] == list(DATASETS)
