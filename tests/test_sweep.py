"""Sweeps from flags and YAML, the local executor, dry runs and SLURM errors that need no cluster."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.plan.config import resolve
from bench.plan.runs import run_name
from bench.plan.sweep import grid_sets, load_sweep

FIXTURE = ["--set", "dataset.verify=false", "dataset.download=false", "model.name=small_cnn"]
PROFILE_DIR = Path(__file__).resolve().parents[1] / "slurm"


def test_grid_is_a_cartesian_product():
    assert grid_sets({"a": [1, 2], "b": ["x", "y"]}) == [["a=1", "b=x"], ["a=1", "b=y"], ["a=2", "b=x"],
                                                         ["a=2", "b=y"]]
    assert grid_sets({}) == [[]]


def test_sweep_file_plans_the_same_runs_as_single_commands(tmp_path, capsys):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("methods: [erm, ldam_drw]\ndatasets: [cifar10_lt]\nseeds: [0, 1]\n"
                     "set: {train.epochs: 3}\ngrid:\n  dataset.imbalance_ratio: [100, 10]\n"
                     "  dataset.profile: [exp, step]\n")
    out = tmp_path / "out"
    assert main(["run", "--sweep", str(sweep), "--out", str(out), "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("start")]
    assert len(lines) == 2 * 2 * 2 * 2
    alone = resolve("ldam_drw", "cifar10_lt", 1, sets=["train.epochs=3", "dataset.imbalance_ratio=10",
                                                       "dataset.profile=step"])
    assert any(line.startswith(f"start  {run_name(alone)}:") for line in lines)
    assert not out.exists()  # a dry run writes nothing


@pytest.mark.parametrize("text,message", [
    ("methods: [erm]\n", "needs a 'datasets' list"),
    ("methods: [erm]\ndatasets: [cifar10_lt]\ngrids: {}\n", "unknown keys grids"),
    ("methods: [erm]\ndatasets: [cifar10_lt]\nseeds: [a]\n", "seeds must be non-negative integers"),
    ("- erm\n", "must be a YAML mapping"),
])
def test_bad_sweep_files(tmp_path, text, message):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(BenchError, match=message):
        load_sweep(path)


def test_grid_flag(tmp_path, capsys):
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--grid", "dataset.imbalance_ratio=100,10,50",
                 "--out", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "start  cifar10_lt-exp100-" in out and "exp10-" in out and "exp50-" in out
    assert "dry run: 3 to start, 0 skipped" in out


def test_dry_run_cost_measured_and_skips(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "1", "--data-root", str(cifar_root),
            "--out", str(out), "--no-progress", *FIXTURE]
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base[:-len(FIXTURE)], "--seeds", "0,1", "--dry-run", *FIXTURE]) == 0
    text = capsys.readouterr().out
    assert "skip   cifar10_lt-exp100-ds0__erm__seed0" in text
    assert "img/s measured (1 runs)" in text
    assert "dry run: 1 to start, 1 skipped" in text
    assert len([p for p in out.iterdir() if p.name.startswith("cifar")]) == 1


def test_local_executor_runs_subprocesses(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "--methods", "erm,focal", "--datasets", "cifar10_lt", "--epochs", "1", "--data-root",
            str(cifar_root), "--out", str(out), "--executor", "local", "--jobs", "2", *FIXTURE]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "local executor: 2 runs, 2 at a time" in text
    results = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    assert sorted(r["method"] for r in results) == ["erm", "focal"]
    assert all(r["status"] == "done" for r in results)
    # the same runs inline have the same ids: a relaunch skips them
    assert main(argv[:-len(FIXTURE) - 4] + FIXTURE) == 0
    assert capsys.readouterr().out.count("already done") == 2


def test_local_executor_bad_input_is_exit_2_and_nothing_written(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--data-root", str(tmp_path / "none"),
            "--out", str(out), "--executor", "local", "--set", "dataset.download=false"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "put the python-version files there" in err[0]
    assert not out.exists()


def test_local_executor_records_failures(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "2", "--data-root", str(cifar_root),
            "--out", str(out), "--executor", "local", *FIXTURE[:-1], "train.lr=1e12", "train.warmup_epochs=0"]
    assert main(argv) == 1
    (result,) = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    assert result["status"] == "failed" and "training loss became" in result["error"]
    assert main(["status", str(out)]) == 0
    assert "failed" in capsys.readouterr().out


def test_status_lists_states(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "1", "--data-root",
                 str(cifar_root), "--out", str(out), "--no-progress", *FIXTURE]) == 0
    stopped = out / "cifar10_lt-exp100-ds0__drw__seed0__00000000"
    stopped.mkdir()
    (stopped / "config.yaml").write_text((next(out.glob("*erm*")) / "config.yaml").read_text())
    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"1 done, 1 incomplete (2 runs in {out})"
    assert lines[2].startswith("done ") and lines[3].startswith("incomplete ")


@pytest.mark.parametrize("profile,message", [
    ("nosuch", "unknown SLURM profile 'nosuch'"),
    ("locl", "did you mean 'local'"),
])
def test_unknown_profile(tmp_path, capsys, profile, message):
    out = tmp_path / "out"
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(out), "--executor", "slurm",
                 "--slurm-profile", profile]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_bad_profile_keys(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text("partition: debug\ncpus_per_tsk: 4\n")
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(tmp_path / "o"),
                 "--executor", "slurm", "--slurm-profile", str(path)]) == 2
    assert "did you mean 'cpus_per_task'" in capsys.readouterr().err


def test_missing_sbatch_is_a_clear_error(tmp_path):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # python, but no SLURM tools
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--methods", "erm", "--datasets", "cifar10_lt",
                           "--out", str(out), "--executor", "slurm", "--slurm-profile", "local"],
                          capture_output=True, text=True, env=env, cwd=PROFILE_DIR.parent, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "bench: error: sbatch is not on PATH: run on a SLURM login node (or start the test cluster with "
        "slurm/cluster.sh start), or use --executor local"]
    assert not out.exists()
