"""`bench run` end to end on generated CIFAR / Fashion-MNIST files: results, skip, resume, errors."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import cli_without_torch

from bench.cli import main
from bench.datasets.longtail import indices_sha256
from bench.engine import trainer
from bench.methods.registry import METHODS

ALL_METHODS = list(METHODS)
# two-stage methods: tests/test_stages.py; the foundation-model methods (a CLIP, 2-epoch runs of each on this
# fixture with the toy clip_tiny): tests/test_foundation.py
TRAINED = [m for m in METHODS if not METHODS[m].parent and METHODS[m].parts.get("algorithm") != "foundation"]
OWN_NETWORK = [m for m in TRAINED if METHODS[m].parts.get("algorithm") in ("ride", "sade", "paco", "bcl", "balpoe",
                                                                            "proco", "dirmixe", "gpaco")]
FIXTURE_SETS = ["dataset.verify=false", "dataset.download=false"]


def run_cli(root, out, methods, dataset="cifar10_lt", epochs=2, extra=(), seeds="0"):
    argv = ["run", "--methods", methods, "--datasets", dataset, "--seeds", seeds, "--epochs", str(epochs),
            "--data-root", str(root), "--out", str(out), "--no-progress", "--set", *FIXTURE_SETS, *extra]
    return main(argv)


def results_by_method(out):
    found = {}
    for path in Path(out).glob("*/result.json"):
        result = json.loads(path.read_text())
        found[result["method"]] = (result, path.parent)
    return found


def metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def check_result(result, run_dir, epochs, num_classes):
    assert result["status"] == "done"
    assert result["run_id"] == run_dir.name
    assert len(result["train_class_counts"]) == len(result["test_class_counts"]) == num_classes
    assert set(result["data"]) == {"data_seed", "imbalance_ratio", "profile", "train_indices_sha256"}
    assert len(result["data"]["train_indices_sha256"]) == 64
    assert result["shot_rule"]["many_above"] == 100 and result["shot_rule"]["few_below"] == 20
    for key in ("last", "best"):
        block = result[key]
        assert set(block) >= {"epoch", "top1", "top5", "many", "medium", "few", "per_class_acc"}
        assert 0 <= block["top1"] <= 100 and block["top1"] <= block["top5"]
        assert len(block["per_class_acc"]) == num_classes
    assert result["last"]["epoch"] == epochs - 1
    assert result["best"]["selected_on"] == "test"
    assert result["best"]["top1"] >= result["last"]["top1"]
    assert set(result["env"]) >= {"python", "torch", "git_sha", "host", "device"}
    assert result["timing"]["train_seconds"] > 0 and result["timing"]["train_images_per_second"] > 0
    assert result["config"]["method"]["name"] == result["method"]
    files = {p.name for p in run_dir.iterdir()}
    assert files - {"checkpoint.prev.pt"} == {"config.yaml", "metrics.jsonl", "checkpoint.pt", "result.json",
                                              "predictions.npz", "logits.npz", "run.lock"}
    assert ("checkpoint.prev.pt" in files) == (epochs > 1)
    assert [m["epoch"] for m in metrics(run_dir)] == list(range(epochs))
    with np.load(run_dir / "predictions.npz", allow_pickle=False) as saved:
        labels, predictions = saved["labels"], saved["predictions"]
    assert np.bincount(labels, minlength=num_classes).tolist() == result["test_class_counts"]
    hits = np.bincount(labels[predictions == labels], minlength=num_classes)
    assert (100 * hits / np.maximum(np.bincount(labels, minlength=num_classes), 1)).tolist() == pytest.approx(
        result["last"]["per_class_acc"])


# on 100 classes: the methods whose code depends on the class counts (margins, weights, samplers, priors,
# deferral) and those with their own network, on the small CNN (the class counts do not meet the backbone); the
# rest (mixing, SAM, weight decay) add nothing there. On 10 classes every method trains on the small CNN (the same
# code paths in a fraction of the time), and the ones below on the recipe's ResNet-32 too (a normed head, mixing,
# SAM's two passes and class-balanced weights through its BN layers)
ON_RESNET = ["erm", "ldam_drw", "erm_mixup", "erm_sam", "cb"]
PER_CLASS = ["erm", "drw", "drs", "ldam", "ldam_drw", "cb", "reweight", "resample", "focal", "cb_focal", "vs",
             "logit_adjust", "balanced_softmax", *OWN_NETWORK]


# proco's recipes drop the last partial batch of 256, and the 10-class fixture has 242 images: it trains on 100 classes;
# ccsam_stage1's radius divides by n_c - 1, and the fixture's last class has 1 image (refused: tests/test_ccsam.py
# trains it at ratio 10)
@pytest.mark.parametrize("dataset,num_classes,extra,methods", [
    ("cifar10_lt", 10, [], [m for m in TRAINED if m not in ("proco", "ccsam_stage1")]),
    ("cifar100_lt", 100, ["dataset.imbalance_ratio=10", "model.name=small_cnn"], PER_CLASS),
])
def test_every_method_end_to_end(cifar_root, tmp_path, dataset, num_classes, extra, methods):
    out = tmp_path / "results"
    assert run_cli(cifar_root, out, ",".join(methods), dataset, extra=[*extra, "model.name=small_cnn"]) == 0
    found = results_by_method(out)
    assert set(found) == set(methods)
    for method, (result, run_dir) in found.items():
        check_result(result, run_dir, 2, num_classes)
        normed = ("ride", "sade", "bcl", "balpoe", "gcl_stage1", "dirmixe")
        assert result["head"] == ("normed" if method.startswith("ldam") or method in normed else "linear")
    erm = metrics(found["erm"][1])
    # deferred methods train exactly like their base until the switch (epoch 1 of 2), then differ
    for deferred, base in (("drw", "erm"), ("drs", "erm"), ("ldam_drw", "ldam")):
        d, b = metrics(found[deferred][1]), metrics(found[base][1])
        assert [m["rebalancing"] for m in d] == [False, True]
        assert d[0] == {**b[0], "rebalancing": False}
        assert d[1]["train_loss"] != b[1]["train_loss"]
    for method in ("cb", "reweight", "resample", "focal", "cb_focal", "ldam"):
        assert metrics(found[method][1])[0]["train_loss"] != erm[0]["train_loss"], method
    if dataset == "cifar10_lt":  # 100..1 images per class: no class has more than 100
        assert found["erm"][0]["last"]["many"] is None
        assert found["erm"][0]["shot_rule"]["group_sizes"] == {"many": 0, "medium": 4, "few": 6}
        assert run_cli(cifar_root, tmp_path / "resnet", ",".join(ON_RESNET), dataset) == 0
        on_resnet = results_by_method(tmp_path / "resnet")
        assert set(on_resnet) == set(ON_RESNET)
        for result, run_dir in on_resnet.values():
            check_result(result, run_dir, 2, num_classes)
            assert result["config"]["model"]["name"] == "resnet32"


def test_result_provenance(cifar_root, tmp_path):
    out = tmp_path / "r"
    assert run_cli(cifar_root, out, "erm", epochs=1, seeds="0,1") == 0
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))]
    assert [r["seed"] for r in results] == [0, 1]
    # same split for both training seeds; the hash is over the sorted original indices
    from bench.datasets.registry import DATASETS
    from bench.plan.config import resolve

    cfg = resolve("erm", "cifar10_lt", 0, flags={"dataset.root": str(cifar_root)}, sets=FIXTURE_SETS)
    data = DATASETS["cifar10_lt"].load(cfg)
    assert results[0]["data"]["train_indices_sha256"] == indices_sha256(data.train_indices)
    assert results[1]["data"]["train_indices_sha256"] == results[0]["data"]["train_indices_sha256"]
    assert results[0]["last"] != results[1]["last"] or results[0]["best"] != results[1]["best"]


def test_skip_finished_and_force(cifar_root, tmp_path, capsys):
    out = tmp_path / "r"
    assert run_cli(cifar_root, out, "erm", epochs=1) == 0
    (result_path,) = out.glob("*/result.json")
    before = result_path.stat().st_mtime_ns
    capsys.readouterr()
    assert run_cli(cifar_root, out, "erm", epochs=1) == 0
    assert "skip" in capsys.readouterr().out
    assert result_path.stat().st_mtime_ns == before
    assert run_cli(cifar_root, out, "erm", epochs=1, extra=["--force"]) == 0
    assert result_path.stat().st_mtime_ns != before


@pytest.mark.parametrize("method", ["ldam_drw", "ldam_drw_mixup"])  # mixing draws from the epoch generator too
def test_same_seed_same_numbers_and_resume_after_interrupt(cifar_root, tmp_path, monkeypatch, method):
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert run_cli(cifar_root, full, method, epochs=4) == 0

    real_lr = trainer.learning_rate

    def interrupt_at_epoch_2(epoch, cfg):
        if epoch == 2:
            raise KeyboardInterrupt
        return real_lr(epoch, cfg)

    monkeypatch.setattr(trainer, "learning_rate", interrupt_at_epoch_2)
    assert run_cli(cifar_root, cut, method, epochs=4) == 130
    (run_dir,) = cut.iterdir()
    assert not (run_dir / "result.json").exists()
    assert [m["epoch"] for m in metrics(run_dir)] == [0, 1]
    monkeypatch.setattr(trainer, "learning_rate", real_lr)
    assert run_cli(cifar_root, cut, method, epochs=4) == 0

    (a, a_dir), (b, b_dir) = results_by_method(full)[method], results_by_method(cut)[method]
    assert a_dir.name == b_dir.name
    assert a["last"] == b["last"] and a["best"] == b["best"]
    assert metrics(a_dir) == metrics(b_dir)
    from bench.store.checkpoint import decode

    sa = decode((a_dir / "checkpoint.pt").read_bytes(), "cpu")["model"]
    sb = decode((b_dir / "checkpoint.pt").read_bytes(), "cpu")["model"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def _bench(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=300,
                          **kwargs)


def test_kill_9_then_rerun_completes_with_same_numbers(cifar_root, tmp_path):
    args = ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "6", "--data-root", str(cifar_root),
            "--no-progress", "--set", *FIXTURE_SETS]
    assert _bench(*args, "--out", str(tmp_path / "full")).returncode == 0
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("*/checkpoint.pt")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not list(out.glob("*/result.json"))
    assert _bench(*args, "--out", str(out)).returncode == 0
    a, b = results_by_method(tmp_path / "full")["erm"], results_by_method(out)["erm"]
    assert a[0]["last"] == b[0]["last"] and metrics(a[1]) == metrics(b[1])


def test_fashion_mnist_quick_end_to_end(fmnist_root, tmp_path):
    out = tmp_path / "r"
    assert run_cli(fmnist_root, out, "erm,ldam_drw", "fashion_mnist_lt", epochs=2,
                   extra=["--preset", "quick"]) == 0
    found = results_by_method(out)
    for result, run_dir in found.values():
        check_result(result, run_dir, 2, 10)
        assert result["config"]["model"]["name"] == "small_cnn"


@pytest.mark.parametrize("args,message", [
    (["--methods", "ldam_dr", "--datasets", "cifar10_lt"], "did you mean 'ldam_drw'"),
    (["--methods", "erm", "--datasets", "cifar_10_lt"], "did you mean 'cifar10_lt'"),
    (["--methods", "erm", "--datasets", "cifar10_lt", "--set", "train.lr"], "KEY=VALUE"),
    (["--methods", "erm", "--datasets", "cifar10_lt", "--set", "model.name=resnet23"], "did you mean 'resnet32'"),
    (["--methods", "erm", "--datasets", "cifar10_lt", "--seeds", "0,x"], "--seeds"),
    (["--methods", "erm", "--datasets", "cifar10_lt", "--preset", "quik"], "did you mean 'quick'"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, args, message):
    out = tmp_path / "out"
    proc = _bench("run", *args, "--out", str(out), "--data-root", str(tmp_path / "nodata"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("bench: error: ")
    assert not out.exists()


def test_missing_data_and_md5_errors_write_nothing(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(out), "--no-progress"]
    assert main([*argv, "--data-root", str(tmp_path / "nodata"), "--set", "dataset.download=false"]) == 2
    assert "put the python-version files there" in capsys.readouterr().err
    assert main([*argv, "--data-root", str(cifar_root)]) == 2  # generated files fail the md5 check
    assert "md5" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_requested_without_gpu(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(cifar_root, out, "erm", extra=["--device", "cuda"]) == 2
    assert "no CUDA GPU is available" in capsys.readouterr().err
    assert not out.exists()


def test_model_name_model_registry_error_before_output(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(cifar_root, out, "erm", extra=["model.name=resnet_32"]) == 2
    assert "did you mean 'resnet32'" in capsys.readouterr().err
    assert not out.exists()


def test_perf_runs_and_reports_ratios(capsys):
    from bench.perf.training import run_perf

    rows = run_perf("cpu", images=300, workers=0, model="small_cnn")
    assert set(rows) == {"a", "b", "c", "d", "e"} and all(v > 0 for v in rows.values())
    out = capsys.readouterr().out
    assert "b/a = " in out and "b/c = " in out and "bf16/fp32" in out


def test_image_perf_runs_and_reports_ratios(capsys):
    """`bench perf --pipeline imagelist` end to end on 24 JPEGs, one worker: four figures and the ratios."""
    from bench.cli import main

    assert main(["perf", "--pipeline", "imagelist", "--device", "cpu", "--images", "24", "--batch-size", "8",
                 "--workers", "1"]) == 0
    out = capsys.readouterr().out
    rates = [float(line.split()[-2]) for line in out.splitlines() if line.startswith("(")]
    assert len(rates) == 4 and all(rate > 0 for rate in rates)
    assert "24 JPEGs (500x375, quality 90" in out and "a/b = " in out and "c/d = " in out


def test_help_is_fast_and_torch_free():
    code = ("import sys, io, contextlib\nfrom bench.cli import main\n"
            "try:\n    with contextlib.redirect_stdout(io.StringIO()): main(['--help'])\nexcept SystemExit: pass\n"
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False"


def test_list_and_help_do_not_import_torch():
    torch_loaded, rest = cli_without_torch(["list", "methods"])
    assert not torch_loaded
    assert [line.split()[0] for line in rest if line.strip() and not line[0].isspace()] == ALL_METHODS
    assert "    parts: loss ldam, weights cb, sampler instance, schedule deferred, head auto (normed), mix none" \
        in "\n".join(rest)


def test_diverged_run_is_failed_with_reason_and_others_go_on(cifar_root, tmp_path, capsys):
    out = tmp_path / "r"
    rc = run_cli(cifar_root, out, "erm", epochs=2, seeds="0,1", extra=["train.lr=1e12", "train.warmup_epochs=0"])
    assert rc == 1
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))]
    assert [r["seed"] for r in results] == [0, 1]  # the second run still ran
    for r in results:
        assert r["status"] == "failed"
        assert re.fullmatch(r"training loss became (nan|inf|-inf) in epoch [01]", r["error"]), r["error"]
    assert "FAILED" in capsys.readouterr().out


def test_bf16_autocast_run(cifar_root, tmp_path):
    out = tmp_path / "r"
    assert run_cli(cifar_root, out, "ldam_drw", epochs=1, extra=["train.precision=bf16"]) == 0
    (result, run_dir), = results_by_method(out).values()
    check_result(result, run_dir, 1, 10)
    assert result["config"]["train"]["precision"] == "bf16"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_fp16_without_cuda_is_an_error(cifar_root, tmp_path, capsys):
    out = tmp_path / "r"
    assert run_cli(cifar_root, out, "erm", epochs=1, extra=["train.precision=fp16"]) == 2
    assert "fp16 needs a CUDA GPU; use bf16 on the CPU" in capsys.readouterr().err
    assert not out.exists()
