"""Checkpoints inside an epoch: a run stopped mid-epoch (SIGTERM, SIGUSR2, a timed checkpoint then
SIGKILL, an unreadable image) resumes at the batch it stopped after and ends bit-identical."""

import json
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import bench_process, write_imagenet_lt

from bench.store.checkpoint import decode

CIFAR = ["run", "--methods", "erm_mixup", "--datasets", "cifar10_lt", "--epochs", "2", "--no-progress", "--set",
         "dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "train.batch_size=64",
         "eval.batch_size=100"]
IMAGES = ["run", "--methods", "erm", "--datasets", "imagenet_lt", "--epochs", "2", "--no-progress", "--set",
          "model.name=small_cnn", "augment.image_size=32", "augment.resize=36", "augment.color_jitter=0.4",
          "train.batch_size=4", "eval.batch_size=8", "loader.workers=2"]


def snapshot(out):
    (run_dir,) = [p for p in Path(out).iterdir() if (p / "config.yaml").exists()]
    result = json.loads((run_dir / "result.json").read_text())
    with np.load(run_dir / "predictions.npz", allow_pickle=False) as saved:
        predictions = saved["predictions"].tolist()
    model = decode((run_dir / "checkpoint.pt").read_bytes(), "cpu")["model"]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    return {"last": result["last"], "status": result["status"], "metrics": metrics, "predictions": predictions,
            "model": {k: v.tolist() for k, v in model.items()}}


def position(out):
    (ckpt,) = Path(out).glob("*/checkpoint.pt")
    return decode(ckpt.read_bytes(), "cpu")["state"]["position"]


def fixture_run(method, root, *sets, epochs=2):
    """`bench run` argv of one method on the CIFAR-10 fixture: the small CNN, batch 64, `sets` added."""
    return ["run", "--methods", method, "--datasets", "cifar10_lt", "--epochs", str(epochs), "--no-progress", "--set",
            "dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "train.batch_size=64",
            "eval.batch_size=100", *sets, "--data-root", str(root)]


def resumes_exactly(argv, tmp_path, batch):
    """`bench run argv` to the end in one folder; in another stopped by SIGTERM at its `batch`-th step (of the
    first epoch) and run again: the same result, metrics, predictions and weights. Returns the snapshot."""
    plain, cut = tmp_path / "plain", tmp_path / "cut"
    done = bench_process([*argv, "--out", str(plain)])
    assert done.returncode == 0, done.stdout + done.stderr
    stopped = bench_process([*argv, "--out", str(cut)], f"mid-epoch:{batch}:SIGTERM")
    assert stopped.returncode == 128 + signal.SIGTERM and position(cut)["batches"] == batch
    resumed = bench_process([*argv, "--out", str(cut)])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    reference = snapshot(plain)
    assert snapshot(cut) == reference
    return reference


def uninterrupted(argv, root, out):
    proc = bench_process([*argv, "--data-root", str(root), "--out", str(out)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return snapshot(out)


@pytest.fixture(scope="module")
def cifar_reference(cifar_root, tmp_path_factory):
    return uninterrupted(CIFAR, cifar_root, tmp_path_factory.mktemp("plain"))


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGUSR2"])
def test_signal_mid_epoch_saves_the_position_and_resumes_exactly(cifar_root, tmp_path, cifar_reference, signame):
    out = tmp_path / "out"
    argv = [*CIFAR, "--data-root", str(cifar_root), "--out", str(out)]
    stopped = bench_process(argv, f"mid-epoch:3:{signame}")  # during the 3rd step of epoch 0
    signum = getattr(signal, signame)
    assert stopped.returncode == 128 + signum, stopped.stdout + stopped.stderr
    assert f"caught {signame}: checkpointing after this step" in stopped.stdout
    saved = position(out)
    assert saved["batches"] == 3 and saved["mixer"] is not None  # the step in progress finished first
    assert not list(out.glob("*/result.json"))
    resumed = bench_process(argv)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming epoch 0 of 0-1 after batch 3" in resumed.stdout
    assert snapshot(out) == cifar_reference


def test_timed_checkpoints_survive_a_hard_kill(cifar_root, tmp_path, cifar_reference):
    """run.checkpoint_minutes: a checkpoint inside the epoch; SIGKILL right after the 5th (epoch 1, batch 2)
    loses nothing but the batch in progress."""
    out = tmp_path / "out"
    argv = [*CIFAR, "run.checkpoint_minutes=1e-9", "--data-root", str(cifar_root), "--out", str(out)]
    killed = bench_process(argv, "mid-epoch-checkpoint:5")
    assert killed.returncode == -signal.SIGKILL
    saved = position(out)
    resumed = bench_process(argv)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"after batch {saved['batches']}" in resumed.stdout
    assert snapshot(out) == cifar_reference


def test_timed_checkpoints_are_off_for_short_epochs(cifar_root, tmp_path):
    """The default (30 minutes) never fires in a CIFAR-size epoch: the run's checkpoints are its epochs'."""
    out = tmp_path / "out"
    stopped = bench_process([*CIFAR, "--epochs", "1", "--data-root", str(cifar_root), "--out", str(out)])
    assert stopped.returncode == 0
    assert position(out) is None


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory):
    return write_imagenet_lt(tmp_path_factory.mktemp("imagenet"))


@pytest.fixture(scope="module")
def images_reference(imagenet, tmp_path_factory):
    return uninterrupted(IMAGES, imagenet, tmp_path_factory.mktemp("plain"))


def test_image_list_run_resumes_mid_epoch_exactly(imagenet, tmp_path, images_reference):
    """Worker-decoded JPEGs with colour jitter: a SIGUSR2 in epoch 1 (the 7th step, at 5 an epoch), then a
    resume with another worker count, ends identical: each image carries its own seed."""
    out = tmp_path / "out"
    argv = ["--data-root", str(imagenet), "--out", str(out)]
    assert bench_process([*IMAGES, *argv], "mid-epoch:7:SIGUSR2").returncode == 128 + signal.SIGUSR2
    assert position(out)["batches"] == 2
    resumed = bench_process([*IMAGES, "loader.workers=0", *argv])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming epoch 1 of 0-1 after batch 2" in resumed.stdout
    assert snapshot(out) == images_reference


def test_unreadable_image_fails_the_run_naming_it_and_a_fixed_file_resumes_exactly(imagenet, tmp_path,
                                                                                    images_reference):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(imagenet, root)
    lines = (root / "ImageNet_LT" / "ImageNet_LT_train.txt").read_text().splitlines()
    rel = lines[11].split()[0]  # the 12th line of the list
    image = root / "imagenet" / rel
    good = image.read_bytes()
    image.write_bytes(good[:200])  # a truncated JPEG
    out = tmp_path / "out"
    argv = [*IMAGES, "--data-root", str(root), "--out", str(out)]
    failed = bench_process(argv)
    assert failed.returncode == 1
    result = json.loads(next(out.glob("*/result.json")).read_text())
    assert result["status"] == "failed"
    assert result["error"].startswith(f"image {image} (line 12 of {root / 'ImageNet_LT' / 'ImageNet_LT_train.txt'}) "
                                      "cannot be read as an image (")
    assert result["error"].endswith("replace the file, or remove its line from the list")
    saved = position(out)
    assert saved is not None and saved["batches"] < 5  # where epoch 0 stopped: before the batch with the file
    image.write_bytes(good)
    resumed = bench_process(argv)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming epoch 0 of 0-1 after batch {saved['batches']}" in resumed.stdout
    assert snapshot(out) == images_reference
