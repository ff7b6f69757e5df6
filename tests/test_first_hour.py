"""What a newcomer meets in the first hour: quick reports, progress they can see, consistent epoch numbers."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.engine.progress import RunProgress, SweepBar, duration, progress_text, read_progress

DATA = Path(__file__).parent / "data"
CIFAR_SMALL = ["--datasets", "cifar10_lt", "--epochs", "2", "--set", "dataset.verify=false", "dataset.download=false",
               "model.name=small_cnn", "dataset.imbalance_ratio=10", "train.warmup_epochs=1",
               "train.batch_size=64"]


def bench_to_file(args, log, every="0"):
    """`python -m bench ARGS` with stdout and stderr going to a file (not a terminal), as in a batch job."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BENCH_FAULT", "WANDB_"))}
    env["BENCH_PROGRESS_SECONDS"] = every
    with open(log, "w") as f:
        code = subprocess.run([sys.executable, "-m", "bench", *args], stdout=f, stderr=subprocess.STDOUT, env=env,
                              timeout=600).returncode
    return code, Path(log).read_text()


def current_run(tmp_path):
    """A finished run as the current bench writes it: every metric of the schema present, the medium-shot group
    empty (null), and its final logits kept beside it."""
    src = next((DATA / "golden").glob("cifar10_lt-step10-ds0__erm__seed0__*"))
    run = tmp_path / "results" / src.name
    shutil.copytree(src, run)
    result = json.loads((run / "result.json").read_text())
    assert result["shot_rule"]["group_sizes"]["medium"] == 0
    for block in ("last", "best"):
        result[block].update(medium=None, worst=1.5, ece=7.25, nll=0.75)
    (run / "result.json").write_text(json.dumps(result))
    labels = np.repeat(np.arange(10), 3)
    np.savez(run / "logits.npz", test_logits=np.eye(10, dtype=np.float32)[labels], test_labels=labels)
    return run


def test_report_over_an_empty_shot_group_reads_no_logits_and_imports_no_torch(tmp_path):
    run = current_run(tmp_path)
    code = ("import sys; from bench.cli import main; rc = main(['report', sys.argv[1]]); "
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', rc)")
    out = subprocess.run([sys.executable, "-c", code, str(run.parent)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "NO-TORCH 0"
    assert "| erm | " in out.stdout
    from bench.report.collect import collect

    (collected,) = collect([run.parent])
    assert collected.result["last"]["medium"] is None and "recomputed" not in collected.result
    assert collected.result["last"]["ece"] == 7.25  # the recorded value, not one from the (fake) logits


def test_a_metric_absent_from_an_old_result_is_still_recomputed(tmp_path):
    run = current_run(tmp_path)
    result = json.loads((run / "result.json").read_text())
    for block in ("last", "best"):
        del result[block]["ece"]
    (run / "result.json").write_text(json.dumps(result))
    from bench.report.collect import collect

    (collected,) = collect([run.parent])
    assert collected.result["recomputed"] == ["ece"]
    confidence = np.e / (np.e + 9)  # softmax of a one-hot logit row over 10 classes; every prediction right
    assert collected.result["last"]["ece"] == pytest.approx(100 * (1 - confidence), rel=1e-5)
    # cached beside the logits: the next report reads no logits and imports no torch
    assert json.loads((run / "recomputed.json").read_text())["values"] == {"ece": collected.result["last"]["ece"]}
    code = ("import sys; from bench.report.collect import collect; (r,) = collect([sys.argv[1]]); "
            "print(r.result['last']['ece'], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(run.parent)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [repr(collected.result["last"]["ece"]), "False"]
    np.savez(run / "logits.npz", test_logits=np.zeros((30, 10), dtype=np.float32), test_labels=np.arange(30) % 10)
    (collected,) = collect([run.parent])  # other logits (a re-run): the cache is not used
    assert collected.result["last"]["ece"] == pytest.approx(0.0, abs=1e-4)  # 10% right at confidence 0.1


def test_a_run_writing_to_a_file_prints_progress_lines_per_epoch_and_inside_it(cifar_root, tmp_path):
    out = tmp_path / "out"
    code, text = bench_to_file(["run", "--methods", "erm,la_posthoc", *CIFAR_SMALL, "--data-root", str(cifar_root),
                                "--out", str(out)], tmp_path / "log.txt")
    assert code == 0, text
    for epoch in (0, 1):  # one line per epoch, with the figures a bar shows, 0-based as result.json
        assert re.search(rf"^erm/cifar10_lt/s0 epoch {epoch} of 0-1 done: loss \d+\.\d{{4}}, train acc \d+\.\d\d, "
                         rf"test top-1 \d+\.\d\d, [\d,]+ img/s, epoch \d+s, run ETA \d+s$", text, re.M), text
    # BENCH_PROGRESS_SECONDS=0: a line inside the epoch after every batch (the default is every 5 minutes)
    inside = re.findall(r"^erm/cifar10_lt/s0 epoch 0 of 0-1: batch (\d+)/(\d+), loss [\d.]+, [\d,]+ img/s, run ETA",
                        text, re.M)
    batches = -(-sum(json.loads(next(out.glob("*__erm__*/result.json")).read_text())["train_class_counts"]) // 64)
    assert [int(b) for b, _ in inside] == list(range(1, batches + 1)) and {int(n) for _, n in inside} == {batches}
    erm = json.loads(next(out.glob("*__erm__*/result.json")).read_text())
    assert erm["last"]["epoch"] == 1 and "at epoch 1 (0-based, the last)" in text  # the console says what the file says
    assert re.search(r"la_posthoc__seed0__\w+: top-1 .* at tau 1 \(chosen: fixed \(the paper's value\)\), parent's "
                     r"epoch 1 \(0-based, the last\)", text), text
    assert not list(out.glob("*/progress.json"))  # removed when a run ends


def test_run_progress_eta_speed_and_file(tmp_path):
    now = [100.0]
    shown = RunProgress(tmp_path, "erm/x/s0", 3, 0, None, clock=lambda: now[0])
    shown.epoch_start(0, 10)
    assert read_progress(tmp_path) == {**read_progress(tmp_path), "epoch": 0, "epochs": 3, "batch": 0, "batches": 10,
                                       "eta_seconds": None}
    for _ in range(4):  # 4 batches of 32 images, 2 s each
        now[0] += 2.0
        shown.step(32, lambda: 0.5)
    assert shown.eta(now[0]) == pytest.approx((2 * 10 + 6) * 2.0)  # 26 batches left at 2 s a batch
    shown._write_file(now[0])
    state = read_progress(tmp_path)
    assert state["images_per_second"] == 16.0 and state["batch"] == 4 and state["eta_seconds"] == 52.0
    assert progress_text(tmp_path) == "epoch 0 of 0-2 (13%), ETA 52s"
    now[0] += 12.0  # 6 more batches, then the evaluation (5 s) is counted in the pace, not in the speed
    for _ in range(6):
        shown.step(32, lambda: 0.5)
    now[0] += 5.0
    shown.epoch_end({"train_loss": 0.5, "train_acc": 80.0, "top1": 70.0})
    state = read_progress(tmp_path)
    assert state["epoch"] == 1 and state["batch"] == 0 and state["eta_seconds"] == pytest.approx(20 * 25.0 / 10)
    shown.close()
    assert read_progress(tmp_path) is None and progress_text(tmp_path) is None


def test_durations_read_as_a_person_writes_them():
    assert [duration(s) for s in (None, 0.4, 59, 61, 3599, 3600, 7384)] == ["?", "0s", "59s", "1m01s", "59m59s",
                                                                           "1h00m", "2h03m"]


def test_the_sweep_lines_in_a_log_name_each_running_run_with_its_epoch(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCH_PROGRESS_SECONDS", "0.05")
    run = tmp_path / "cifar10_lt-exp100-ds0__erm__seed3__0123abcd"
    run.mkdir()
    shown = RunProgress(run, "erm", 15, 0, None)
    shown.epoch_start(4, 100, done=50)
    bar = SweepBar(1, enabled=True)  # stderr is not a terminal here: lines, no bar
    bar.started(run)
    try:
        for _ in range(200):  # the bar's thread prints every 0.05 s; wait for its first line, however slow the CPU
            if "running: erm/seed3 epoch 4 of 0-14" in capsys.readouterr().err:
                break
            import time

            time.sleep(0.05)
        else:
            pytest.fail("no line naming the running run")
    finally:
        bar.ended("done", run)
        bar.close()
    assert not bar._thread.is_alive()
