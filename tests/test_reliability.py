"""Reliability II (issue 10): nothing lost, nothing counted twice, every bad input caught before any run starts.

Each test here failed before its fix; TESTING.md lists them by class."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.plan.config import resolve
from bench.plan.runs import run_name
from bench.store import rundir

FIXTURE = ["--set", "dataset.verify=false", "dataset.download=false", "model.name=small_cnn"]
GOLDEN = Path(__file__).parent / "data" / "golden"


def run_args(root, out, methods="erm", epochs=1, seeds="0", extra=()):
    return ["run", "--methods", methods, "--datasets", "cifar10_lt", "--seeds", seeds, "--epochs", str(epochs),
            "--data-root", str(root), "--out", str(out), "--no-progress", *FIXTURE, *extra]


def files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in Path(folder).rglob("*") if p.is_file()}


def one_error_line(capsys, message):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error: ") and message in err[0], err
    return err[0]


@pytest.fixture
def finished(cifar_root, tmp_path, capsys):
    """A results folder with one finished run, and its files."""
    out = tmp_path / "out"
    assert main(run_args(cifar_root, out)) == 0
    capsys.readouterr()
    return out, files(out)


# ---------------------------------------------------------------- 1. nothing lost


@pytest.mark.parametrize("bad", [["--device", "mps"], ["--device", "cuda:7"], ["--data-root", "/typo"]])
@pytest.mark.parametrize("executor", ["inline", "local"])
def test_force_with_bad_input_keeps_the_finished_run(cifar_root, finished, capsys, executor, bad):
    out, before = finished
    argv = run_args(cifar_root, out, extra=["--force", "--executor", executor])
    argv[argv.index("--data-root"):argv.index("--data-root") + 2] = []  # the bad flag decides the data root
    if "--data-root" not in bad:
        argv += ["--data-root", str(cifar_root)]
    assert main([*argv, *bad]) == 2
    one_error_line(capsys, "")
    assert files(out) == before


def test_local_force_leaves_a_run_another_process_trains(cifar_root, finished, capsys):
    out, before = finished
    (run_dir,) = [p for p in out.iterdir() if p.name.startswith("cifar10_lt")]
    with rundir.run_lock(run_dir) as holder:  # this process "trains" it: the worker must not touch it
        assert holder is None
        code = main(run_args(cifar_root, out, extra=["--force", "--executor", "local"]))
    assert code == 0
    assert "0 of 1 runs done, 1 being trained by another process" in capsys.readouterr().out
    assert {k: v for k, v in files(out).items() if k.name != "run.lock" and ".bench" not in k.parts} == \
        {k: v for k, v in before.items() if k.name != "run.lock" and ".bench" not in k.parts}


def test_local_never_writes_failed_into_a_run_another_process_trains(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    cfg = resolve("erm", "cifar10_lt", 0, flags={"train.epochs": 1}, sets=FIXTURE[1:])
    run_dir = out / run_name(cfg)
    run_dir.mkdir(parents=True)
    with rundir.run_lock(run_dir):
        assert main(run_args(cifar_root, out, extra=["--executor", "local"])) == 0
    assert not (run_dir / "result.json").exists()


# ---------------------------------------------------------------- 2. a run keeps its thread count


def metrics_and_result(out):
    found = {}
    for path in Path(out).glob("*/result.json"):
        result = json.loads(path.read_text())
        found[path.parent.name] = ((path.parent / "metrics.jsonl").read_text(), result["last"],
                                   result["env"]["threads"])
    return found


def test_kill_then_rerun_under_local_executor_matches(cifar_root, tmp_path):
    args = run_args(cifar_root, None, "erm,focal", epochs=6, extra=["--executor", "local", "--jobs", "2"])
    out_at = args.index("--out") + 1
    reference = tmp_path / "reference"
    args[out_at] = str(reference)
    env = {k: v for k, v in os.environ.items() if k != "BENCH_FAULT"}
    proc = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    killed = tmp_path / "killed"
    args[out_at] = str(killed)
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(killed.glob("*/checkpoint.prev.pt"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the executor and both workers
    proc.wait()
    assert len(list(killed.glob("*/result.json"))) < 2
    # the re-run asks for one job (2 threads each), but each run resumes with the 1 thread it started with
    args[args.index("--jobs") + 1] = "1"
    proc = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    started_with = max(1, len(os.sched_getaffinity(0)) // 2)
    assert f"with {started_with} CPU thread(s), as it started" in proc.stdout
    a, b = metrics_and_result(reference), metrics_and_result(killed)
    assert a == b and len(a) == 2
    assert {threads for _, _, threads in a.values()} == {started_with}


def test_run_threads_makes_inline_and_local_agree(cifar_root, tmp_path, capsys):
    inline, local = tmp_path / "inline", tmp_path / "local"
    assert main(run_args(cifar_root, inline, epochs=2, extra=["run.threads=1"])) == 0
    assert main(run_args(cifar_root, local, epochs=2, extra=["run.threads=1", "--executor", "local",
                                                              "--jobs", "1"])) == 0
    assert metrics_and_result(inline) == metrics_and_result(local)
    assert [t for _, _, t in metrics_and_result(local).values()] == [1]


# ---------------------------------------------------------------- 3. counted once, settings kept apart


def golden_copy(tmp_path, name="g"):
    shutil.copytree(GOLDEN, tmp_path / name)
    return tmp_path / name


def erm_cell(cells):
    return next(c for (setting, label), c in cells.items() if label == "erm" and setting[2] == 100.0)


def test_the_same_run_twice_counts_once(tmp_path):
    from bench.report.aggregate import aggregate
    from bench.report.collect import collect

    g = golden_copy(tmp_path)
    copy = tmp_path / "copy"
    copy.mkdir()
    for run in g.glob("*__erm__seed0__*"):
        shutil.copytree(run, copy / run.name)
    notes = []
    once = erm_cell(aggregate(collect([g])))
    for folders in ([g, g], [g, copy], [copy, g]):
        cell = erm_cell(aggregate(collect(folders, notes)))
        assert cell.seeds_done == once.seeds_done == [0, 1, 2]
        assert cell.stats["top1"].std == once.stats["top1"].std
    assert notes == ["2 further copies of runs already counted (same method, configuration, setting and seed) left "
                     "out"] * 2  # [g, g]: none


def test_eval_split_is_a_setting_and_check_split_is_not_in_the_run_id(tmp_path):
    from bench.report.aggregate import aggregate
    from bench.report.collect import collect, setting_label

    base = resolve("erm", "imagenet_lt", 0)
    assert run_name(resolve("erm", "imagenet_lt", 0, sets=["dataset.check_split=false"])) == run_name(base)
    assert run_name(resolve("erm", "imagenet_lt", 0, sets=["dataset.eval_split=val"])) != run_name(base)
    template = next(GOLDEN.glob("*__erm__seed0__*"))
    out = tmp_path / "r"
    for split in ("test", "val"):
        run = out / f"imagenet_lt-natural__erm__seed0__{split}"
        shutil.copytree(template, run)
        result = json.loads((run / "result.json").read_text())
        result["config"]["dataset"].update(name="imagenet_lt", profile="natural", imbalance_ratio=None,
                                           eval_split=split)
        (run / "result.json").write_text(json.dumps(result))
    cells = aggregate(collect([out]))
    assert sorted(setting_label(s) for s, _ in cells) == ["imagenet_lt natural", "imagenet_lt natural (val split)"]
    assert all(c.n_done == 1 for c in cells.values())


def test_eval_split_on_cifar_is_refused():
    from bench.errors import BenchError

    with pytest.raises(BenchError, match="eval_split applies to imagenet_lt"):
        resolve("erm", "cifar10_lt", 0, sets=["dataset.eval_split=val"])


# ---------------------------------------------------------------- 4. --epochs scales a recipe's milestones


def test_epochs_scales_explicit_milestones_and_the_defer_epoch():
    from bench.errors import BenchError
    from bench.parts.schedules import defer_epoch, learning_rate

    cfg = resolve("ldam_drw", "inat2018", 0, flags={"train.epochs": 4})
    assert cfg["train"]["milestones"] == [1, 2] and cfg["method"]["defer_epoch"] == 2
    assert [learning_rate(e, cfg["train"]) for e in range(4)] == pytest.approx([0.1, 0.01, 0.001, 0.001])
    assert defer_epoch(cfg) == 2
    full = resolve("ldam_drw", "inat2018", 0)
    assert full["train"]["milestones"] == [30, 60] and full["method"]["defer_epoch"] == 60
    with pytest.raises(BenchError, match="at or past the last of 4 epochs"):
        resolve("ldam_drw", "inat2018", 0, sets=["train.epochs=4"])
    with pytest.raises(BenchError, match="switches re-balancing on at epoch 9"):
        resolve("ldam_drw", "cifar10_lt", 0, sets=["train.epochs=5", "method.defer_epoch=9"])


# ---------------------------------------------------------------- 5. labels never collide


def test_ratios_that_print_alike_get_their_own_column_and_files(tmp_path, capsys):
    from bench.report.build import report

    out = tmp_path / "r"
    template = next(GOLDEN.glob("cifar10_lt-exp100-ds0__erm__seed0__*"))
    for ratio in (50.0, 50.0000001):
        run = out / f"cifar10_lt-exp{ratio!r}__erm__seed0"
        shutil.copytree(template, run)
        result = json.loads((run / "result.json").read_text())
        result["config"]["dataset"]["imbalance_ratio"] = ratio
        (run / "result.json").write_text(json.dumps(result))
    tables = report([out], out=tmp_path / "rep", plots=True)
    assert tables[0].columns == ["method", "cifar10_lt exp-50.0000001 ds0", "cifar10_lt exp-50 ds0"]
    said = capsys.readouterr().out.splitlines()[-1]
    written = int(said.split()[1])
    # tables.md + 3 plots x 2 settings x png/pdf
    assert written == len(list((tmp_path / "rep").iterdir())) == 1 + 2 * 3 * 2


# ---------------------------------------------------------------- 6. everything checked before the first run


def test_a_bad_grid_point_stops_everything_before_training(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "--methods", "erm", "--datasets", "cifar100_lt", "--grid", "dataset.imbalance_ratio=10,1000",
            "--epochs", "1", "--data-root", str(cifar_root), "--out", str(out), "--no-progress", *FIXTURE]
    for executor in ("inline", "local"):
        assert main([*argv, "--executor", executor]) == 2
        one_error_line(capsys, "leaves class")
        assert not out.exists()


def test_a_missing_second_dataset_stops_everything_before_training(cifar_root, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(cifar_root / "cifar-10-batches-py", data / "cifar-10-batches-py")
    out = tmp_path / "out"
    argv = ["run", "--methods", "erm", "--datasets", "cifar10_lt,cifar100_lt", "--epochs", "1", "--data-root",
            str(data), "--out", str(out), "--no-progress", *FIXTURE]
    for executor in ("inline", "local"):
        assert main([*argv, "--executor", executor]) == 2
        one_error_line(capsys, "CIFAR-100")
        assert not out.exists()


def test_a_model_that_cannot_take_the_images_is_refused_before_training(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    argv = run_args(cifar_root, out, extra=["model.name=timm:vit_tiny_patch16_224"])
    assert main(argv) == 2
    one_error_line(capsys, "model timm:vit_tiny_patch16_224 cannot take cifar10_lt images of shape 3x32x32")
    assert not out.exists()


# ---------------------------------------------------------------- 7. bf16 on a CPU without native bf16


def test_bf16_warns_once_on_a_cpu_without_native_bf16(monkeypatch, capsys):
    import torch

    from bench.engine import runtime

    monkeypatch.setattr(runtime, "_warned_bf16", [])
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2", "avx512f"})
    runtime.warn_slow_bf16(torch.device("cpu"))
    runtime.warn_slow_bf16(torch.device("cpu"))
    out = capsys.readouterr().out
    assert out.count("warning: train.precision=bf16 on a CPU without native bf16") == 1
    monkeypatch.setattr(runtime, "_warned_bf16", [])
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    runtime.warn_slow_bf16(torch.device("cpu"))
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------- 8. the iNaturalist LDAM recipe is the paper's


def test_inat_ldam_recipe_is_resize_then_random_crop():
    from bench.images.jpeg import Recipe, draw

    cfg = resolve("ldam_drw", "inat2018", 0)
    recipe = Recipe.from_cfg(cfg)
    assert (recipe.crop, recipe.resize, recipe.size) == ("resize_random", 256, 224)
    # a 400x300 (h x w) image becomes 341x256, and the 224 crop's offsets cover 0..117 and 0..32
    tops, lefts = zip(*[draw(400, 300, seed, recipe).box[:2] for seed in range(3000)])
    assert (min(tops), max(tops), min(lefts), max(lefts)) == (0, 341 - 224, 0, 256 - 224)
    assert {draw(400, 300, seed, recipe).box[2:] for seed in range(50)} == {(224, 224)}
    decoupling = resolve("erm", "inat2018", 0, presets=["inat2018_decoupling"])
    assert Recipe.from_cfg(decoupling).crop == "random_resized"


def test_paper_comparison_flags_an_inat_recipe_mismatch(tmp_path):
    from bench.report.build import report

    template = next(GOLDEN.glob("*__ldam_drw__seed0__*"))
    run = tmp_path / "r" / "inat2018-natural__ldam_drw__seed0"
    shutil.copytree(template, run)
    result = json.loads((run / "result.json").read_text())
    cfg = resolve("ldam_drw", "inat2018", 0, sets=["augment.train_crop=random_resized"])
    result["config"] = cfg
    (run / "result.json").write_text(json.dumps(result))
    paper = report([tmp_path / "r"], compare="paper")[-1]
    assert any("augment.train_crop=random_resized" in text and "not comparable" in text for text, _ in paper.notes)


# ---------------------------------------------------------------- 9. dry runs, perf arguments, huge sweeps


def test_dry_run_with_a_timm_model(tmp_path, capsys):
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(tmp_path / "o"), "--dry-run",
                 "--set", "model.name=timm:resnet18"]) == 0
    out = capsys.readouterr().out
    assert "cost unknown (no measured or assumed speed for timm:resnet18" in out and "(1 unknown)" in out


@pytest.mark.parametrize("args,message", [
    (["--images", "100"], "--images must be between the batch size (128"),
    (["--images", "0"], "--images must be between"),
    (["--workers", "-1", "--images", "300"], "--workers must be between 0 and 256"),
    (["--model", "resnet-32", "--images", "300"], "did you mean 'resnet32'"),
    (["--device", "mps", "--images", "300"], "is not available on this machine"),
    (["--batch-size", "0"], "--batch-size must be between 1"),
])
def test_perf_arguments(capsys, args, message):
    assert main(["perf", *args]) == 2
    one_error_line(capsys, message)


def test_a_sweep_too_large_to_plan_is_refused(tmp_path, capsys):
    seeds = ",".join(str(s) for s in range(1000))
    assert main(["run", "--methods", "erm,focal", "--datasets", "cifar10_lt", "--seeds", seeds,
                 "--grid", "train.lr=" + ",".join(f"0.{i + 1}" for i in range(60)), "--dry-run",
                 "--out", str(tmp_path / "o")]) == 2
    one_error_line(capsys, "this sweep has 120,000 runs, more than bench plans at once (100,000)")


# ---------------------------------------------------------------- the classes beyond (TESTING.md)


@pytest.mark.parametrize("extra,message", [
    (["train.nesterov=true", "train.momentum=0"], "train.nesterov=true needs train.momentum > 0"),
    (["augment.image_size=300"], "augment.image_size=300 would change nothing in erm on cifar10_lt (cifar10_lt is "
                                 "held in memory"),  # the image-list check (larger than resize) comes second
    (["augment.crop_padding=40"], "augment.crop_padding 40 is larger than the cifar10_lt images"),
    (["--device", "xpu"], "device 'xpu' is not supported by bench"),
    (["--device", "meta"], "device 'meta' is not supported by bench"),
    (["--device", "gpu"], "unknown device 'gpu'"),
    (["train.lr_decay=1e300", "train.warmup_epochs=0"], "gives a learning rate that overflows"),
    (["train.batch_size=1000000000000"], "train.batch_size must be at least 1 (and at most 1048576)"),
    (["train.epochs=100000000"], "train.epochs must be at least 1 (and at most 1000000)"),
    (["--grid", "train.lr={a: 1}"], "--grid train.lr: cannot read the values"),
    (["--grid", "train.milestones=[1"], "--grid train.milestones: cannot read the values"),
])
def test_bad_input_classes(cifar_root, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    assert main(run_args(cifar_root, out, extra=extra)) == 2
    one_error_line(capsys, message)
    assert not out.exists()


@pytest.mark.parametrize("case", ["run folder is a file", "result.json is a folder", "run.lock is a folder"])
def test_odd_things_where_a_run_writes(cifar_root, tmp_path, capsys, case):
    out = tmp_path / "out"
    cfg = resolve("erm", "cifar10_lt", 0, flags={"train.epochs": 1}, sets=FIXTURE[1:])
    run_dir = out / run_name(cfg)
    out.mkdir()
    if case == "run folder is a file":
        run_dir.write_text("mine")
    else:
        (run_dir / case.split()[0]).mkdir(parents=True)
    before = files(out)
    assert main(run_args(cifar_root, out)) == 2
    one_error_line(capsys, "move the file away" if case == "run folder is a file" else "move it away")
    assert files(out) == before


@pytest.mark.parametrize("argv,message", [
    (["--seeds", ""], "--seeds needs at least one"),
    (["--seeds", "0,99999999999999999999"], "seed 99999999999999999999 must be a non-negative integer below 2**63"),
    (["--out", ""], "--out needs a folder name"),
    (["--data-root", "/etc/passwd"], "data root /etc/passwd is a file, not a folder"),
    (["--set", "model.name=timm:nosuchmodl"], "unknown timm model 'nosuchmodl'; timm.list_models() lists the names"),
])
def test_more_careless_flags(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--dry-run", *argv]) == 2 if "--data-root" \
        not in argv else main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", "o", *argv]) == 2
    one_error_line(capsys, message)
    assert list(tmp_path.iterdir()) == []


def test_grid_values_may_be_lists(tmp_path, capsys):
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--grid", "train.milestones=[100,150],[160]",
                 "--out", str(tmp_path), "--dry-run"]) == 0
    assert "dry run: 2 to start" in capsys.readouterr().out


def odd_results_tree(tmp_path):
    g = golden_copy(tmp_path)
    runs = sorted(g.glob("*__erm__*"))
    (runs[0] / "result.json").write_text("[1, 2, 3]")  # JSON, not an object
    result = json.loads((runs[1] / "result.json").read_text())
    result["last"]["top1"] = "high"  # a number of the wrong type
    (runs[1] / "result.json").write_text(json.dumps(result))
    (g / "my_notes").mkdir()
    (g / "my_notes" / "config.yaml").write_text("method: mine\nlr: 0.1\n")  # a user's own files
    (g / "other").mkdir()
    (g / "other" / "result.json").write_text('"just a string"')
    np.savez(runs[2] / "predictions.npz", predictions=np.array([[1.5]]), labels=np.array(["a"]))
    return g, runs


def test_odd_files_in_a_results_tree(tmp_path, capsys):
    g, runs = odd_results_tree(tmp_path)
    assert main(["report", str(g), "--out", str(tmp_path / "rep"), "--csv", "--plots"]) == 0
    out = capsys.readouterr().out
    assert "2 folder(s) with a config.yaml or result.json that bench did not write left out" in out
    assert main(["status", str(g)]) == 0
    capsys.readouterr()
    assert main(["report", str(g), "--out", str(tmp_path / "rep2"), "--confusion", str(runs[2])]) == 2
    one_error_line(capsys, "is not a predictions file bench wrote")
    assert not (tmp_path / "rep2").exists()
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(g), "--dry-run"]) == 0


@pytest.mark.parametrize("where,message", [("file", "is not a folder"), ("proc", "is not writable")])
def test_report_output_that_cannot_be_written(tmp_path, capsys, where, message):
    target = tmp_path / "a_file" if where == "file" else Path("/proc/bench-report")
    if where == "file":
        target.write_text("keep me")
    assert main(["report", str(GOLDEN), "--out", str(target), "--csv"]) == 2
    one_error_line(capsys, message)
    assert where != "file" or target.read_text() == "keep me"


def test_disk_full_is_one_line_and_the_run_resumes(cifar_root, tmp_path, capsys, monkeypatch):
    from bench.store import atomic

    out = tmp_path / "out"
    real = atomic.os.fsync
    calls = []

    def full(fd):
        calls.append(fd)
        if len(calls) == 4:  # the first checkpoint, after config and metrics
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(atomic.os, "fsync", full)
    assert main(run_args(cifar_root, out, epochs=2)) == 2
    one_error_line(capsys, "No space left on device")
    assert not list(out.glob("*/.*.tmp")) and not list(out.glob("*/result.json"))
    monkeypatch.setattr(atomic.os, "fsync", real)
    assert main(run_args(cifar_root, out, epochs=2)) == 0
    assert json.loads(next(out.glob("*/result.json")).read_text())["status"] == "done"


# ids computed by bench at 9efc41f, before issue 10
@pytest.mark.parametrize("method,dataset,seed,presets,sets,run_id", [
    ("ldam_drw", "cifar10_lt", 1, [], [], "cifar10_lt-exp100-ds0__ldam_drw__seed1__145b202c"),
    ("erm", "fashion_mnist_lt", 0, ["quick"], [], "fashion_mnist_lt-exp100-ds0__erm__seed0__88c82596"),
    ("cb", "cifar100_lt", 2, [], ["dataset.imbalance_ratio=10", "dataset.profile=step", "method.beta=0.999"],
     "cifar100_lt-step10-ds0__cb__seed2__2bbf6fdc"),
    # image-list runs got new ids in issue 14 (were 54aa576c, cecf9a2a, 749feb1b): their pipeline draws new
    # augmentations (bench.images.jpeg), so they are new runs; and loader.workers left the hash (runtime only: every
    # image carries its own seed), so the worker count no longer splits a run in two
    ("erm", "imagenet_lt", 0, [], [], "imagenet_lt-natural__erm__seed0__3732f1a6"),
    # issue 36: the decoupling preset's milestones and decay, which its cosine schedule never reads, left the id
    # (was 3fb87d0e): keys a run does not use are not part of it (bench/plan/usage.py)
    ("ldam_drw", "inat2018", 0, ["inat2018_decoupling"], [], "inat2018-natural__ldam_drw__seed0__2ed7fe0d"),
    ("focal", "places_lt", 0, [], ["loader.workers=2"], "places_lt-natural__focal__seed0__09d4ca0b"),
    ("focal", "places_lt", 0, [], ["loader.workers=0"], "places_lt-natural__focal__seed0__09d4ca0b"),
])
def test_existing_run_ids_are_unchanged(method, dataset, seed, presets, sets, run_id):
    """Keys added since (run.threads, augment.train_crop) and keys made runtime-only (check_split,
    pin_memory) leave the ids of existing runs as they were."""
    assert run_name(resolve(method, dataset, seed, presets=presets, sets=sets)) == run_id
    assert run_name(resolve(method, dataset, seed, presets=presets,
                            sets=[*sets, "dataset.check_split=false", "loader.pin_memory=false"])) == run_id


def test_disk_full_during_a_report_is_one_line_and_leaves_no_torn_file(tmp_path, capsys, monkeypatch):
    from bench.store import atomic

    calls = []
    real = atomic.os.fsync

    def full(fd):
        calls.append(fd)
        if len(calls) == 3:  # tables.md and one figure are written, the next one finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(atomic.os, "fsync", full)
    out = tmp_path / "rep"
    assert main(["report", str(GOLDEN), "--out", str(out), "--plots"]) == 2
    one_error_line(capsys, "No space left on device")
    assert not list(out.glob(".*.tmp"))
    for path in out.glob("*.png"):  # what is there is whole
        assert path.read_bytes().endswith(b"IEND\xaeB`\x82")


def test_a_released_lock_names_no_holder(tmp_path):
    """The SLURM launcher takes each run's lock briefly to write its config; if its pid stayed in run.lock,
    `bench status` (and `--wait`) would show a cancelled, never-started job as running while it waits."""
    with rundir.run_lock(tmp_path) as holder:
        assert holder is None
        assert rundir.lock_holder(tmp_path).startswith(f"pid {os.getpid()} on ")
    assert rundir.lock_holder(tmp_path) is None
