"""Kill -9 at many points, corrupt checkpoints, concurrent launches: nothing is lost or trained twice."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import bench_process

from bench.store.checkpoint import decode

ARGS = ["run", "--methods", "ldam_drw", "--datasets", "cifar10_lt", "--epochs", "4", "--no-progress", "--set",
        "dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "train.batch_size=32",
        "eval.batch_size=40"]

# (fault point, n-th pass) -- 13 places: a config, an epoch, a batch, an evaluation, and every file write
POINTS = [
    ("config-written", 1), ("epoch-start", 2), ("mid-epoch", 12), ("before-eval", 2), ("mid-eval", 4),
    ("metrics-tmp-written", 3), ("checkpoint-half-written", 2), ("checkpoint-tmp-written", 2),
    ("checkpoint-rotated", 2), ("after-checkpoint", 3), ("predictions-tmp-written", 1),
    ("result-tmp-written", 1), ("after-result", 1),
]


def test_every_fault_point_is_exercised():
    from bench.store import faults

    assert {p for p, _ in POINTS} | {"mid-epoch-checkpoint"} == set(faults.POINTS)  # that one: test_preempt


def bench(root, out, fault=None, timeout=180):
    return bench_process([*ARGS, "--data-root", str(root), "--out", str(out)], fault, timeout)


def snapshot(out):
    (run_dir,) = [p for p in Path(out).iterdir() if p.name.startswith("cifar10_lt")]
    result = json.loads((run_dir / "result.json").read_text())
    with np.load(run_dir / "predictions.npz", allow_pickle=False) as saved:
        predictions = saved["predictions"].tolist()
    model = decode((run_dir / "checkpoint.pt").read_bytes(), "cpu")["model"]
    return {"last": result["last"], "best": result["best"], "status": result["status"],
            "metrics": (run_dir / "metrics.jsonl").read_text(), "predictions": predictions,
            "model": {k: v.tolist() for k, v in model.items()}}


@pytest.fixture(scope="module")
def reference(cifar_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    proc = bench(cifar_root, out)
    assert proc.returncode == 0, proc.stderr
    return snapshot(out)


@pytest.mark.parametrize("point,nth", POINTS)
def test_kill_at_point_then_rerun_matches(cifar_root, tmp_path, reference, point, nth):
    out = tmp_path / "out"
    killed = bench(cifar_root, out, f"{point}:{nth}")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    for path in out.glob("*/result.json"):  # never torn: absent or complete
        assert json.loads(path.read_text())["status"] == "done"
    from bench.run.status import run_states

    (state,) = [row[0] for row in run_states(out)]
    assert state == ("done" if point == "after-result" else "incomplete")  # the dead trainer holds nothing
    rerun = bench(cifar_root, out)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    if point == "after-result":
        assert "already done" in rerun.stdout
    assert snapshot(out) == reference
    assert not list(out.glob("*/.*.tmp"))  # a killed write's temporary file is removed by the next run


def test_corrupt_checkpoint_falls_back_to_the_previous_one(cifar_root, tmp_path, reference):
    out = tmp_path / "out"
    assert bench(cifar_root, out, "epoch-start:3").returncode == -signal.SIGKILL
    (run_dir,) = [p for p in out.iterdir() if p.name.startswith("cifar10_lt")]
    ckpt = run_dir / "checkpoint.pt"
    raw = bytearray(ckpt.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte
    ckpt.write_bytes(bytes(raw))
    rerun = bench(cifar_root, out)
    assert rerun.returncode == 0
    warnings = [line for line in rerun.stdout.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {ckpt} is unusable (checksum mismatch (truncated or corrupt)); "
                        "trying the previous checkpoint"]
    assert "resuming" in rerun.stdout and "after epoch 0 of 0-3" in rerun.stdout
    assert snapshot(out) == reference


def test_truncated_checkpoints_start_over(cifar_root, tmp_path, reference):
    out = tmp_path / "out"
    assert bench(cifar_root, out, "epoch-start:3").returncode == -signal.SIGKILL
    (run_dir,) = [p for p in out.iterdir() if p.name.startswith("cifar10_lt")]
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        path = run_dir / name
        path.write_bytes(path.read_bytes()[:100])
    rerun = bench(cifar_root, out)
    assert rerun.returncode == 0
    assert "starting this run over" in rerun.stdout and "resuming" not in rerun.stdout
    assert snapshot(out) == reference


def test_a_pickle_disguised_as_checkpoint_is_not_loaded(cifar_root, tmp_path, reference):
    import pickle

    out = tmp_path / "out"
    assert bench(cifar_root, out, "epoch-start:2").returncode == -signal.SIGKILL
    (run_dir,) = [p for p in out.iterdir() if p.name.startswith("cifar10_lt")]
    marker = tmp_path / "pwned"

    class Boom:
        def __reduce__(self):
            return (Path.touch, (marker,))

    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (run_dir / name).write_bytes(pickle.dumps(Boom()))
    rerun = bench(cifar_root, out)
    assert rerun.returncode == 0 and not marker.exists()
    assert snapshot(out) == reference


def test_two_processes_never_train_the_same_run(cifar_root, tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "BENCH_FAULT"}
    cmd = [sys.executable, "-m", "bench", *ARGS, "--data-root", str(cifar_root), "--out", str(out),
           "--epochs", "400"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("*/checkpoint.pt")):
        time.sleep(0.05)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    status = subprocess.run([sys.executable, "-m", "bench", "status", str(out)], capture_output=True, text=True,
                            env=env, timeout=60)
    assert first.poll() is None, "the first process ended too early for this test"
    assert status.stdout.splitlines()[0] == f"1 running (1 runs in {out})"
    assert f"trained by pid {first.pid} on" in status.stdout
    assert second.returncode == 0, second.stderr
    assert "being trained by pid" in second.stdout and "not training it twice" in second.stdout
    assert "0 of 1 runs done, 1 being trained by another process" in second.stdout
    first.kill()
    first.wait(timeout=60)
    (run_dir,) = [p for p in out.iterdir() if p.name.startswith("cifar10_lt")]
    lines = [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert lines == list(range(len(lines)))  # one trainer: every epoch written once, in order
    assert not (run_dir / "result.json").exists()


def test_a_run_being_restarted_never_looks_not_started(tmp_path):
    """Re-running a run clears its old files; `bench status` (and `bench run --wait`) must still see the run
    folder in that instant, not fall back to the sweep record's "not started" (a SLURM child once ended a
    --wait that way)."""
    from types import SimpleNamespace

    from bench.run.status import run_states
    from bench.store import rundir

    out = tmp_path / "out"
    run_dir = out / "cifar10_lt-exp100-ds0__erm__seed0__00000000"
    run_dir.mkdir(parents=True)
    for name, text in ((rundir.CONFIG, "method: {name: erm}\n"), (rundir.RESULT, '{"status": "failed"}'),
                       (rundir.METRICS, "{}\n")):
        (run_dir / name).write_text(text)
    rundir.record_sweep(out, [SimpleNamespace(run_dir=run_dir)], "local")
    with rundir.run_lock(run_dir) as holder:
        assert holder is None
        rundir.clear_run(run_dir)
        assert sorted(p.name for p in run_dir.iterdir()) == sorted([rundir.CONFIG, rundir.LOCK])
        assert [(state, name) for state, name, *_ in run_states(out)] == [("running", run_dir.name)]
