"""Registry-wide contracts: every registered dataset, model and method is covered here without a
test of its own. A new registry entry is picked up automatically; a new dataset needs a fixture
writer in FIXTURES (the first test says so)."""

import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import write_cifar, write_fashion_mnist, write_imagenet_lt, write_inat2018, write_places_lt

from bench.datasets.registry import DATASETS
from bench.errors import BenchError
from bench.methods.registry import METHODS, PARTS
from bench.models.registry import MODELS
from bench.plan.config import resolve
from bench.plan.runs import PlannedRun
from bench.run.launch import check_model

SMALL = ["dataset.imbalance_ratio=10"]  # a few images per class still leave every class one
# dataset -> (fixture writer(root), extra --set items to load it)
FIXTURES = {
    "cifar10_lt": (lambda root: write_cifar(root, "cifar10", per_class_train=20, per_class_test=2), SMALL),
    "cifar100_lt": (lambda root: write_cifar(root, "cifar100", per_class_train=10, per_class_test=2), SMALL),
    "fashion_mnist_lt": (lambda root: write_fashion_mnist(root / "FashionMNIST" / "raw", per_class_train=20,
                                                          per_class_test=2), SMALL),
    "imagenet_lt": (write_imagenet_lt, ["dataset.check_split=false"]),
    "places_lt": (write_places_lt, ["dataset.check_split=false", "dataset.path_rewrite=[data_256/a/=train/]"]),
    "inat2018": (write_inat2018, ["dataset.check_split=false"]),
}
LOAD_SETS = ["dataset.verify=false", "dataset.download=false", "loader.workers=0"]


def test_every_dataset_has_a_fixture():
    assert set(DATASETS) == set(FIXTURES), "add a fixture writer for the new dataset to FIXTURES"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """{dataset: (cfg, data)} loaded from each fixture the way a run loads it."""
    out = {}
    for name, (writer, sets) in FIXTURES.items():
        root = tmp_path_factory.mktemp(name)
        written = writer(root)
        root = written if isinstance(written, (str, Path)) else root  # some writers return the data root
        cfg = resolve("erm", name, 0, flags={"dataset.root": str(root)}, sets=[*LOAD_SETS, *sets])
        out[name] = (cfg, DATASETS[name].load(cfg))
    return out


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_dataset_loads_from_its_fixture(loaded, dataset):
    cfg, data = loaded[dataset]
    assert len(data.train_counts) == data.num_classes and len(data.class_names) in (0, data.num_classes)
    assert sum(data.train_counts) == len(data.train_labels)
    assert int(data.train_labels.max()) < data.num_classes and len(data.test_counts) == data.num_classes
    assert len(data.train_indices_sha256) == 64
    assert data.in_channels in (1, 3)


@pytest.mark.parametrize("model, dataset", list(itertools.product(MODELS, DATASETS)))
def test_every_model_takes_every_dataset_or_is_refused_at_plan_time(loaded, model, dataset):
    """The plan-time model check with the dataset's channels, recipe image size and real class count."""
    cfg, data = loaded[dataset]
    cfg = {**cfg, "model": {**cfg["model"], "name": model}}
    info = DATASETS[dataset]
    stub = SimpleNamespace(name=dataset, in_channels=data.in_channels, num_classes=info.num_classes,
                           in_memory=data.in_memory)
    if data.in_memory:
        stub.train_x = data.train_x
    run = PlannedRun(cfg, "x")
    torch.manual_seed(0)
    try:
        check_model(run, stub)  # builds the model, passes two images, checks the output shape
    except BenchError as exc:  # refused before anything runs: a one-line reason naming the fix
        assert "\n" not in str(exc) and "model.name" in str(exc)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_resolves_to_registered_parts(method):
    cfg = resolve(method, "cifar10_lt", 0, sets=["eval.selection=best_val"])  # tau_norm needs a validation split
    for kind, registry in PARTS.kinds.items():
        assert cfg["method"][kind] in registry
    for key in METHODS[method].parts:
        assert key in cfg["method"], f"method {method} sets unknown key {key}"


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_dataset_has_a_deterministic_validation_split_disjoint_from_the_reported_images(tmp_path, dataset):
    writer, sets = FIXTURES[dataset]
    written = writer(tmp_path)
    root = written if isinstance(written, (str, Path)) else tmp_path
    cfg = resolve("erm", dataset, 0, flags={"dataset.root": str(root)},
                  sets=[*LOAD_SETS, *sets, "eval.selection=best_val"])
    first, second = DATASETS[dataset].load(cfg), DATASETS[dataset].load(cfg)
    assert first.selection == second.selection and first.selection["val"]["size"] > 0
    assert first.selection["protocol"] == DATASETS[dataset].selection
    if hasattr(first, "val_items"):
        selecting = {path for path, _ in first.val_items}
        assert selecting and not selecting & {path for path, _ in first.eval_items}
    else:
        selecting = {tuple(x.flatten().tolist()) for x in first.val_x}
        assert not any(tuple(x.flatten().tolist()) in selecting for x in first.test_x)
    plain = resolve("erm", dataset, 0, flags={"dataset.root": str(root)}, sets=[*LOAD_SETS, *sets])
    assert DATASETS[dataset].load(plain).train_indices_sha256 == first.train_indices_sha256
