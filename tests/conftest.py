"""Generated fixtures in the real on-disk formats (CIFAR python pickles, Fashion-MNIST IDX)."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

# A test-only algorithm (tests/bench_test_plugin.py), registered in this process and every bench process a test
# starts (bench is imported after this file): the registry-wide tests cover it like any built-in method.
_TESTS = os.path.dirname(os.path.abspath(__file__))
os.environ["BENCH_PLUGINS"] = "bench_test_plugin"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (_TESTS, os.environ.get("PYTHONPATH"))))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

# Under pytest-xdist (the README's `-n 2`) the test processes share the cores: each one, and every bench process it
# starts, trains on its share of them (OMP_NUM_THREADS sets torch's default), or 2 x 2 threads on 2 cores make every
# training test 2-3 times slower. A run that names its thread count (run.threads, the local executor) keeps it.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT", "").isdigit():
    _CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    _SHARE = max(1, _CORES // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ["OMP_NUM_THREADS"] = str(_SHARE)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(_SHARE)


def write_cifar(root, which="cifar10", per_class_train=100, per_class_test=10, seed=0, bytes_keys_batch=1,
                learnable=False):
    """Write a CIFAR-10/100 python-version folder with random images, labels in random file order.

    learnable=True draws each image around a class-specific pattern, so a model can learn the classes.
    """
    rng = np.random.RandomState(seed)
    num_classes = 10 if which == "cifar10" else 100
    label_key = "labels" if which == "cifar10" else "fine_labels"
    folder = Path(root) / ("cifar-10-batches-py" if which == "cifar10" else "cifar-100-python")
    folder.mkdir(parents=True, exist_ok=True)

    patterns = np.random.RandomState(seed + 1000).randint(0, 256, size=(num_classes, 3072)).astype(np.float64)

    def split(per_class):
        labels = rng.permutation(np.repeat(np.arange(num_classes), per_class))
        data = rng.randint(0, 256, size=(len(labels), 3072), dtype=np.uint8)
        if learnable:
            noise = data.astype(np.float64)
            data = np.clip(0.5 * patterns[labels] + 0.5 * noise, 0, 255).astype(np.uint8)
        return data, labels

    def dump(name, data, labels, use_bytes=False):
        entry = {"data": data, label_key: labels.tolist(), "batch_label": name}
        if which == "cifar100":
            entry["coarse_labels"] = (labels // 5).tolist()
        if use_bytes:
            entry = {k.encode(): v for k, v in entry.items()}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)

    train_data, train_labels = split(per_class_train)
    test_data, test_labels = split(per_class_test)
    if which == "cifar10":
        for i, idx in enumerate(np.array_split(np.arange(len(train_labels)), 5), start=1):
            dump(f"data_batch_{i}", train_data[idx], train_labels[idx], use_bytes=(i == bytes_keys_batch))
        dump("test_batch", test_data, test_labels)
        meta_name, meta = "batches.meta", {"label_names": [f"class{c}" for c in range(10)]}
    else:
        dump("train", train_data, train_labels)
        dump("test", test_data, test_labels)
        meta_name, meta = "meta", {"fine_label_names": [f"fine{c}" for c in range(100)],
                                   "coarse_label_names": [f"coarse{c}" for c in range(20)]}
    with open(folder / meta_name, "wb") as f:
        pickle.dump(meta, f)
    return folder, train_labels, test_labels


def write_idx(path, array, gz=True):
    array = np.asarray(array, dtype=np.uint8)
    if array.ndim == 3:
        header = struct.pack(">IIII", 0x00000803, *array.shape)
    else:
        header = struct.pack(">II", 0x00000801, len(array))
    raw = header + array.tobytes()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(gzip.compress(raw) if gz else raw)


def write_fashion_mnist(folder, per_class_train=100, per_class_test=10, seed=0, gz=True):
    rng = np.random.RandomState(seed)
    ext = ".gz" if gz else ""
    for prefix, per_class in (("train", per_class_train), ("t10k", per_class_test)):
        labels = rng.permutation(np.repeat(np.arange(10), per_class))
        images = rng.randint(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
        write_idx(Path(folder) / f"{prefix}-images-idx3-ubyte{ext}", images, gz)
        write_idx(Path(folder) / f"{prefix}-labels-idx1-ubyte{ext}", labels, gz)
    return Path(folder)


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory):
    """A data root with CIFAR-10 (100/class train, 10/class test) and CIFAR-100 (10/class, 2/class)."""
    root = tmp_path_factory.mktemp("data")
    write_cifar(root, "cifar10", per_class_train=100, per_class_test=10)
    write_cifar(root, "cifar100", per_class_train=10, per_class_test=2, seed=1)
    return root


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmnist")
    write_fashion_mnist(root / "FashionMNIST" / "raw")
    return root


@pytest.fixture(autouse=True)
def _no_bench_data_env(monkeypatch):
    monkeypatch.delenv("BENCH_DATA", raising=False)


def write_jpeg(path, label, size=40, seed=0):
    """A small JPEG whose colour depends on the label (so a model can learn something)."""
    from PIL import Image

    rng = np.random.RandomState(seed)
    base = np.array([(label * 53) % 256, (label * 97) % 256, (label * 31) % 256], dtype=np.float64)
    pixels = np.clip(base + rng.randint(-40, 40, size=(size, size, 3)), 0, 255).astype(np.uint8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=80)


TRAIN_COUNTS = [8, 5, 3, 2, 1]  # 5 classes, long-tailed


def _write_lists(folder, prefix, lists):
    """<folder>/<prefix>_<split>.txt, one '<path> <label>' line per image."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, lines in lists.items():
        (folder / f"{prefix}_{split}.txt").write_text("\n".join(lines) + "\n")


def write_imagenet_lt(root, flat_val=False, per_class_eval=2):
    """ImageNet-LT layout: <root>/imagenet/{train,val}/..., lists in <root>/ImageNet_LT/."""
    root = Path(root)
    wnids = [f"n0{1440764 + i}" for i in range(len(TRAIN_COUNTS))]
    lists = {"train": [], "val": [], "test": []}
    seed = 0
    for label, (wnid, n) in enumerate(zip(wnids, TRAIN_COUNTS)):
        for i in range(n):
            rel = f"train/{wnid}/{wnid}_{i}.JPEG"
            write_jpeg(root / "imagenet" / rel, label, seed=seed)
            lists["train"].append(f"{rel} {label}")
            seed += 1
        for split in ("val", "test"):  # ImageNet-LT val images come from ILSVRC train, test = ILSVRC val
            for i in range(per_class_eval):
                if split == "val":
                    rel = f"train/{wnid}/{wnid}_val{i}.JPEG"
                    disk = rel
                else:
                    name = f"ILSVRC2012_val_{seed:08d}.JPEG"
                    rel = f"val/{wnid}/{name}"
                    disk = f"val/{name}" if flat_val else rel
                write_jpeg(root / "imagenet" / disk, label, seed=seed)
                lists[split].append(f"{rel} {label}")
                seed += 1
    _write_lists(root / "ImageNet_LT", "ImageNet_LT", lists)
    return root


def write_places_lt(root):
    """Places-LT with the `data_256/<letter>/<class>/` list prefix; images stored under places365/train/."""
    root = Path(root)
    classes = ["abbey", "airfield", "alley", "amphitheater", "arch"]
    lists = {"train": [], "val": [], "test": []}
    seed = 100
    for label, (name, n) in enumerate(zip(classes, TRAIN_COUNTS)):
        for split, count in (("train", n), ("val", 1), ("test", 2)):
            for i in range(count):
                file = f"{name}/{split}_{i:08d}.jpg"
                write_jpeg(root / "places365" / "train" / file, label, seed=seed)
                lists[split].append(f"data_256/a/{file} {label}")
                seed += 1
    _write_lists(root / "Places_LT", "Places_LT", lists)
    return root


def write_inat2018(root):
    """iNaturalist 2018: COCO-style train2018.json / val2018.json, images in train_val2018/<super>/<id>/."""
    import json

    root = Path(root) / "inat2018"
    categories = [{"id": c, "name": f"Species {c}", "supercategory": "Plantae"} for c in range(len(TRAIN_COUNTS))]
    seed, image_id = 200, 0
    for split, counts in (("train", TRAIN_COUNTS), ("val", [3] * len(TRAIN_COUNTS))):
        images, annotations = [], []
        for cat, n in enumerate(counts):
            for _ in range(n):
                file = f"train_val2018/Plantae/{cat}/{split}{seed:06x}.jpg"
                write_jpeg(root / file, cat, seed=seed)
                images.append({"id": image_id, "file_name": file, "width": 40, "height": 40})
                annotations.append({"id": image_id, "image_id": image_id, "category_id": cat})
                seed += 1
                image_id += 1
        (root / f"{split}2018.json").write_text(json.dumps(
            {"images": images, "annotations": annotations, "categories": categories}))
    return root.parent


def cli_without_torch(*commands):
    """Run `bench` commands in a fresh interpreter: (whether torch got imported, their stdout lines)."""
    import subprocess
    import sys

    calls = "; ".join(f"main({list(c)!r})" for c in commands)
    code = ("import sys, io, contextlib; from bench.cli import main; buf = io.StringIO()\n"
            f"with contextlib.redirect_stdout(buf): {calls}\n"
            "print('torch' in sys.modules); print(buf.getvalue())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    first, *rest = proc.stdout.splitlines()
    return first == "True", rest


def bench_process(argv, fault=None, timeout=300):
    """`python -m bench ARGV` in a fresh process, killed at a fault point when `fault` ("<point>:<n>") is
    given (bench.store.faults); the environment carries no fault or W&B setting of the test process."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "BENCH_FAULT" and not k.startswith("WANDB_")}
    if fault:
        env["BENCH_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "bench", *argv], capture_output=True, text=True, env=env,
                          timeout=timeout)


def stop_and_resume(argv, tmp_path, batch=3):
    """`bench ARGV` uninterrupted into tmp_path/plain, and into tmp_path/cut stopped by SIGTERM at its `batch`-th
    step then run again, which must say it resumed after that batch: (plain, cut) folders to compare."""
    import signal

    plain, cut = tmp_path / "plain", tmp_path / "cut"
    assert bench_process([*argv, "--out", str(plain)]).returncode == 0
    stopped = bench_process([*argv, "--out", str(cut)], f"mid-epoch:{batch}:SIGTERM")
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stdout + stopped.stderr
    resumed = bench_process([*argv, "--out", str(cut)])
    assert resumed.returncode == 0 and f"after batch {batch}" in resumed.stdout, resumed.stdout + resumed.stderr
    return plain, cut


def write_scored_run(out, method, seed, top1, sets=()):
    """A finished CIFAR-10-LT run with a known top-1 (the rest of its result from a golden erm run, the config bench
    gives that method and seed with `sets`); its run id."""
    import json

    from bench.plan.config import resolve
    from bench.plan.runs import run_name
    from bench.store import rundir

    (golden,) = (Path(__file__).parent / "data" / "golden").glob("*exp100*__erm__seed0__*")
    cfg = resolve(method, "cifar10_lt", seed, sets=list(sets))
    result = json.loads((golden / rundir.RESULT).read_text())
    run_dir = Path(out) / run_name(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    result.update(config=cfg, run_id=run_dir.name, method=method, seed=seed)
    result["last"]["top1"] = top1
    (run_dir / rundir.RESULT).write_text(json.dumps(result))
    return run_dir.name


def write_scored_runs(out, tops):
    """Finished CIFAR-10-LT runs with known top-1: tops = {method: {imbalance ratio: [top-1 of seed 0, 1, ...]}}."""
    for method, by_ratio in tops.items():
        for ratio, values in by_ratio.items():
            for seed, top1 in enumerate(values):
                write_scored_run(out, method, seed, top1, [f"dataset.imbalance_ratio={ratio}"])
