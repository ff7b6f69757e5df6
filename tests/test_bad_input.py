"""Every mistake a user can make at the command line: one line naming the fix, exit 2, nothing written.

The table in TESTING.md lists these cases; keep the two in step."""

from pathlib import Path

import pytest
from conftest import write_cifar, write_fashion_mnist, write_imagenet_lt

from bench.cli import main

RUN = ["run", "--no-progress"]


def cifar_truncated(tmp):
    folder, *_ = write_cifar(tmp, "cifar10", 10, 2)
    raw = (folder / "data_batch_3").read_bytes()
    (folder / "data_batch_3").write_bytes(raw[: len(raw) // 3])
    return ["--methods", "erm", "--datasets", "cifar10_lt", "--data-root", str(tmp), "--set", "dataset.verify=false",
            "dataset.imbalance_ratio=10"]


def cifar_md5(tmp):
    write_cifar(tmp, "cifar10", 10, 2)
    return ["--methods", "erm", "--datasets", "cifar10_lt", "--data-root", str(tmp)]


def idx_truncated(tmp):
    folder = write_fashion_mnist(Path(tmp) / "FashionMNIST" / "raw", gz=False)
    path = folder / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-3])
    return ["--methods", "erm", "--datasets", "fashion_mnist_lt", "--data-root", str(tmp)]


def split_missing(tmp):
    return ["--methods", "erm", "--datasets", "imagenet_lt", "--data-root", str(tmp)]


def split_malformed(tmp):
    root = write_imagenet_lt(tmp)
    path = root / "ImageNet_LT" / "ImageNet_LT_train.txt"
    path.write_text("train/n01440764/a.JPEG\n" + path.read_text())
    return ["--methods", "erm", "--datasets", "imagenet_lt", "--data-root", str(tmp)]


def config_file(text):
    def make(tmp):
        path = Path(tmp) / "config.yaml"
        path.write_text(text)
        return ["--methods", "erm", "--datasets", "cifar10_lt", "--config", str(path)]
    return make


def plain(*args):
    return lambda tmp: ["--methods", "erm", "--datasets", "cifar10_lt", *args]


CASES = [
    ("unknown method", lambda tmp: ["--methods", "ldam-drw", "--datasets", "cifar10_lt"], "did you mean 'ldam_drw'"),
    ("unknown dataset", lambda tmp: ["--methods", "erm", "--datasets", "cifar_10_lt"], "did you mean 'cifar10_lt'"),
    ("unknown model", plain("--set", "model.name=resnet-32"), "did you mean 'resnet32'"),
    ("unknown preset", plain("--preset", "quik"), "did you mean 'quick'"),
    ("--set without =", plain("--set", "train.lr"), "--set expects KEY=VALUE"),
    ("--set unknown key", plain("--set", "train.learning_rate=0.1"), "unknown config key 'train.learning_rate'"),
    ("--set wrong type", plain("--set", "train.batch_size=big"), "train.batch_size must be an integer"),
    ("imbalance ratio < 1", plain("--set", "dataset.imbalance_ratio=0.5"),
     "dataset.imbalance_ratio must be at least 1"),
    ("epochs <= 0", plain("--epochs", "0"), "train.epochs must be at least 1"),
    ("negative lr", plain("--set", "train.lr=-0.1"), "train.lr must be positive"),
    ("seeds not integers", plain("--seeds", "0,1.5"), "--seeds takes comma-separated non-negative integers"),
    ("malformed YAML config", config_file("train: {epochs: 3\n"), "is not valid YAML"),
    ("non-mapping YAML config", config_file("- erm\n"), "must be a YAML mapping"),
    ("YAML config unknown key", config_file("train:\n  epoch: 3\n"), "did you mean 'train.epochs'"),
    ("missing data files", lambda tmp: ["--methods", "erm", "--datasets", "cifar10_lt", "--data-root", str(tmp),
                                        "--set", "dataset.download=false"], "put the python-version files there"),
    ("md5 mismatch", cifar_md5, "has md5"),
    ("truncated CIFAR pickle", cifar_truncated, "is truncated or not a CIFAR pickle"),
    ("truncated IDX file", idx_truncated, "is truncated: the header promises"),
    ("split list missing", split_missing, "ImageNet_LT_train.txt does not exist"),
    ("split list malformed", split_malformed, "ImageNet_LT_train.txt:1: expected '<relative path> <integer label>'"),
    ("output folder not writable", plain("--out", "/proc/bench-results"), "is not writable"),
    ("output path is a file", lambda tmp: ["--methods", "erm", "--datasets", "cifar10_lt", "--out",
                                           str(Path(tmp) / "config.yaml")], "is not a folder"),
    ("unknown SLURM profile", plain("--executor", "slurm", "--slurm-profile", "mycluster"),
     "unknown SLURM profile 'mycluster'"),
    ("fp16 on CPU", plain("--precision", "fp16", "--set", "dataset.download=false"), "fp16 needs a CUDA GPU"),
]


@pytest.mark.parametrize("name,make,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(tmp_path, capsys, monkeypatch, name, make, message):
    import torch

    if name == "fp16 on CPU" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").touch()
    args = make(tmp_path)
    out = [] if "--out" in args else ["--out", str(tmp_path / "results")]
    before = set(tmp_path.rglob("*"))
    assert main([*RUN, *args, *out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error: ") and message in err[0], err
    assert set(tmp_path.rglob("*")) == before  # nothing written


def test_run_folder_names_cannot_escape_the_output_folder(tmp_path, capsys):
    for args in (["--methods", "../erm", "--datasets", "cifar10_lt"], ["--methods", "erm", "--datasets", "/etc"],
                 ["--methods", "erm", "--datasets", "cifar10_lt", "--set", "dataset.profile=../x"]):
        assert main([*RUN, *args, "--out", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r").exists()
    from bench.plan.config import resolve
    from bench.plan.runs import run_name

    name = run_name(resolve("erm", "cifar10_lt", 7, sets=["dataset.data_seed=3", "dataset.imbalance_ratio=12.5"]))
    assert "/" not in name and ".." not in name and not name.startswith(".")
