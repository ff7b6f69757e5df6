"""benchmarks/gpu_check.py: its --device cpu --quick mode runs every check here, so the script cannot rot between
the rare sessions that have a GPU; a failing check is recorded and makes the exit status 1."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
ALL = ["augment", "jpeg", "families", "resume", "imagelist", "fashion", "step", "loader", "compile", "packing",
       "foundation", "ddp"]
FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists()  # CI installs it


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check")
    env = {k: v for k, v in os.environ.items() if k != "BENCH_DATA"}  # the real files, never a generated fixture
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, env=env)
    return proc, json.loads((out / "gpu_check.json").read_text()), (out / "gpu_check.md").read_text()


def test_the_quick_mode_runs_every_check_on_the_cpu(quick):
    proc, report, markdown = quick
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    checks = {c["name"]: c for c in report["checks"]}
    assert list(checks) == ALL
    skipped = {"compile", "ddp"} | (set() if FASHION else {"fashion"})
    assert {n for n, c in checks.items() if c["status"] == "skip"} == skipped
    assert all(c["status"] == "pass" for n, c in checks.items() if n not in skipped)
    assert report["environment"]["device"] == "cpu" and report["quick"] is True
    for name in ALL:
        assert f"| {name} | {checks[name]['status']} |" in markdown


def test_the_quick_checks_measure_what_they_say(quick):
    checks = {c["name"]: c for c in quick[1]["checks"]}
    assert checks["augment"]["rows"]["crop+flip"]["max_levels"] == 0  # the CPU against itself: identical
    runs = checks["families"]["runs"]["fp32"]
    methods = ("erm", "ldam_drw", "erm_mixup", "erm_sam", "ride", "sade", "paco", "bcl", "la_posthoc", "crt")
    assert all(runs[m] is True for m in methods) and all(0 <= runs[f"{m} top1"] <= 100 for m in methods)
    resumed = checks["resume"]["resumed_vs_plain"]
    assert resumed["metrics_equal"] and resumed["predictions_equal"] and resumed["max_weight_diff"] == 0
    assert set(checks["imagelist"]["runs"]) == {"workers", "device"}
    assert checks["jpeg"]["rows"]["4:4:4"]["max_levels"] == 0
    assert set(checks["packing"]["rows"]) == {"1", "2"}
    assert checks["step"]["rows"]["small_cnn 32px fp32"]["bare_img_s"] > 0
    assert checks["foundation"]["rows"]["lift fp32"]["train_img_s"] > 0 and checks["foundation"]["model"] == "clip_tiny"
    if FASHION:  # one epoch of the demo's erm on the real data learns something
        erm = checks["fashion"]["runs"]["erm"]
        assert erm["train_class_counts"] == [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]  # the real files
        assert erm["test_class_counts"] == [1000] * 10
        # the balanced test set gives any constant predictor exactly 10%; one epoch measured 38.9-44.1 over seeds,
        # thread counts and CPUs (float reductions differ), untrained runs 10.0-10.3: a margin of ~14 points each way
        assert erm["top1"] > 2.5 * 10
        assert sum(a >= 50 for a in erm["per_class_acc"]) >= 2  # a constant predictor has one such class; 4-5 seen


def _module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_failing_check_is_recorded_and_fails_the_script(tmp_path, monkeypatch):
    module = _module()

    def broken(ctx):
        raise ValueError("the device gave NaN")

    monkeypatch.setattr(module, "CHECKS", {"broken": broken, "fine": lambda ctx: {"summary": "ok"}})
    assert module.main(["--device", "cpu", "--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    broken_row, fine_row = report["checks"]
    assert broken_row["status"] == "fail" and "ValueError: the device gave NaN" in broken_row["summary"]
    assert broken_row["traceback"][-1] == "ValueError: the device gave NaN"
    assert fine_row == {"name": "fine", "status": "pass", "seconds": fine_row["seconds"], "summary": "ok"}


def test_an_unknown_check_is_refused(tmp_path, capsys):
    assert _module().main(["--device", "cpu", "--only", "augment,speed", "--out", str(tmp_path)]) == 2
    assert "unknown check(s) speed" in capsys.readouterr().err
    assert not (tmp_path / "gpu_check.json").exists()
