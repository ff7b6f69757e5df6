"""Reliability III (issue 21): no silent wrong number in two-stage runs, reports and resumes.

Each test here failed before its fix; TESTING.md lists them by class."""

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from bench.cli import main
from bench.plan.config import resolve
from bench.plan.runs import run_name
from bench.store import rundir

FIXTURE = ["dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "dataset.imbalance_ratio=10"]


def run_args(root, out, methods="erm", epochs=2, seeds="0", sets=(), extra=()):
    return ["run", "--methods", methods, "--datasets", "cifar10_lt", "--seeds", seeds, "--epochs", str(epochs),
            "--data-root", str(root), "--out", str(out), "--no-progress", *extra, "--set", *FIXTURE, *sets]


def one_error_line(capsys, message):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error: ") and message in err[0], err
    return err[0]


def run_dirs(out, method):
    return sorted(p.parent for p in Path(out).glob(f"*__{method}__*/config.yaml"))


def result_of(run_dir):
    return json.loads((Path(run_dir) / rundir.RESULT).read_text())


def config_of(run_dir):
    return yaml.safe_load((Path(run_dir) / rundir.CONFIG).read_text())


@pytest.fixture(scope="module")
def two_stage(cifar_root, tmp_path_factory):
    """erm parent (best_val, so that tau_norm can choose tau) with la_posthoc and tau_norm children: a
    folder to copy, never written by the tests."""
    out = tmp_path_factory.mktemp("two_stage") / "out"
    assert main(run_args(cifar_root, out, "tau_norm,la_posthoc", epochs=3, sets=["eval.selection=best_val"])) == 0
    return out


def copy_of(folder, tmp_path):
    dest = tmp_path / "copy"
    shutil.copytree(folder, dest)
    return dest


# ---------------------------------------------------------------- parents built from user input


def test_a_damaged_parent_checkpoint_fails_the_child_instead_of_using_the_previous_epoch(
        cifar_root, two_stage, tmp_path, capsys):
    out = copy_of(two_stage, tmp_path)
    (parent,) = run_dirs(out, "erm")
    ckpt = parent / rundir.CHECKPOINT
    ckpt.write_bytes(ckpt.read_bytes()[:-100])  # truncated: checkpoint.prev.pt (epoch 1) is still there
    (parent / rundir.RESULT).write_text((parent / rundir.RESULT).read_text() + "\n")  # the children are stale
    capsys.readouterr()
    code = main(run_args(cifar_root, out, "tau_norm", epochs=3, sets=["eval.selection=best_val"]))
    assert code == 1
    (child,) = run_dirs(out, "tau_norm")
    result = result_of(child)
    assert result["status"] == "failed"
    assert f"parent run {parent.name}'s checkpoint.pt is unusable" in result["error"]
    assert "bench run --methods erm" in result["error"] and "--force" in result["error"]


def test_a_parent_checkpoint_of_another_epoch_is_refused(two_stage, tmp_path):
    from bench.errors import BenchError
    from bench.store.checkpoint import load_final

    out = copy_of(two_stage, tmp_path)
    (parent,) = run_dirs(out, "erm")
    shutil.copy(parent / rundir.PREVIOUS_CHECKPOINT, parent / rundir.CHECKPOINT)  # epoch 1, result says 2
    with pytest.raises(BenchError, match="is of epoch 1, not of the final epoch 2"):
        load_final(parent, 2, "cpu", "erm")
    assert load_final(parent, 1, "cpu", "erm")["state"]["epoch"] == 1


def test_a_corrupt_parent_logits_file_is_named_with_its_fix(cifar_root, two_stage, tmp_path, capsys):
    out = copy_of(two_stage, tmp_path)
    (parent,) = run_dirs(out, "erm")
    (parent / rundir.LOGITS).write_bytes(b"PK\x03\x04 not a zip")
    (parent / rundir.RESULT).write_text((parent / rundir.RESULT).read_text() + "\n")
    assert main(run_args(cifar_root, out, "la_posthoc", epochs=3, sets=["eval.selection=best_val"])) == 1
    error = result_of(run_dirs(out, "la_posthoc")[0])["error"]
    assert error.startswith(f"parent run {parent.name}'s logits.npz is unreadable (BadZipFile")
    assert "--force" in error


def test_config_file_method_keys_stay_with_the_child(cifar_root, tmp_path):
    config = tmp_path / "child.yaml"
    config.write_text("method:\n  sampler: class_balanced\nstage:\n  epochs: 1\ntrain:\n  lr: 0.05\n")
    runs = __import__("bench.plan.runs", fromlist=["plan"]).plan(
        ["crt"], ["cifar10_lt"], [0], tmp_path / "out", config_files=[config], sets=FIXTURE)
    parent, child = runs
    assert parent.cfg["method"]["name"] == "erm" and parent.cfg["method"]["sampler"] == "instance"
    assert parent.cfg["stage"]["epochs"] == 10 and parent.cfg["train"]["lr"] == 0.05  # other sections apply
    assert child.cfg["method"]["sampler"] == "class_balanced" and child.cfg["stage"]["epochs"] == 1
    # the same parent as planned with --set: one run id
    alone = resolve("erm", "cifar10_lt", 0, sets=[*FIXTURE, "train.lr=0.05"])
    assert parent.run_dir.name == run_name(alone)


def test_force_on_a_child_keeps_its_finished_parent(cifar_root, two_stage, tmp_path, capsys):
    out = copy_of(two_stage, tmp_path)
    (parent,) = run_dirs(out, "erm")
    before = (parent / rundir.RESULT).read_bytes()
    capsys.readouterr()
    assert main(run_args(cifar_root, out, "la_posthoc", epochs=3, sets=["eval.selection=best_val"],
                         extra=["--force"])) == 0
    assert (parent / rundir.RESULT).read_bytes() == before  # not retrained: tau_norm stays current
    printed = capsys.readouterr().out
    assert f"keep   {parent.name}" in printed and "add erm to --methods" in printed
    from bench.algorithms.posthoc import is_current

    assert is_current(run_dirs(out, "tau_norm")[0], parent)
    # naming the parent forces it too
    assert main(run_args(cifar_root, out, "erm,la_posthoc", epochs=3, sets=["eval.selection=best_val"],
                         extra=["--force"])) == 0
    assert (parent / rundir.RESULT).read_bytes() != before


@pytest.mark.parametrize("method,sets,message", [
    ("la_posthoc", ["method.loss=focal"], "la_posthoc is computed from its erm parent's logits without training, "
                                          "so method.loss"),
    ("la_posthoc", ["method.mix=mixup"], "so method.mix would change nothing"),
    ("tau_norm", ["method.sampler=class_balanced", "eval.selection=best_val"], "method.sampler"),
    ("la_posthoc", ["stage.epochs=3"], "stage.epochs would change nothing in la_posthoc"),
    ("la_posthoc", ["stage.bn=update"], "stage.bn would change nothing"),
    ("lws", ["stage.classifier_lr_factor=0.5"], "stage.classifier_lr_factor would change nothing in lws"),
    ("crt", ["stage.max_norm_at=epoch"], "stage.max_norm_at=epoch would change nothing in crt on cifar10_lt "
                                         "(stage.max_norm=null: no MaxNorm projection)"),
    ("la_posthoc", ["eval.save_logits=never"], "la_posthoc is computed from its parent's saved logits, and "
                                               "eval.save_logits=never keeps none"),
])
def test_two_stage_methods_refuse_keys_they_never_use(tmp_path, capsys, method, sets, message):
    assert main(run_args(tmp_path, tmp_path / "out", method, sets=sets)) == 2
    one_error_line(capsys, message)
    assert not (tmp_path / "out").exists()


def test_keys_a_two_stage_method_uses_are_accepted():
    resolve("wb", "cifar10_lt", 0, sets=[*FIXTURE, "stage.max_norm_at=epoch"])  # wb has a cap
    resolve("crt", "cifar10_lt", 0, sets=[*FIXTURE, "stage.classifier_lr_factor=0.5", "method.sampler=instance"])


def test_a_post_hoc_childs_parent_keeps_its_logits_whatever_their_size(tmp_path):
    from bench.plan.runs import plan

    parent, child = plan(["la_posthoc"], ["cifar10_lt"], [0], tmp_path, sets=FIXTURE)
    assert parent.cfg["eval"]["save_logits"] == "always" and not parent.named
    erm, _ = plan(["erm", "la_posthoc"], ["cifar10_lt"], [0], tmp_path, sets=FIXTURE)  # the parent named too
    assert erm.run_dir == parent.run_dir and erm.named and erm.cfg["eval"]["save_logits"] == "always"
    assert run_name(parent.cfg) == run_name(resolve("erm", "cifar10_lt", 0, sets=FIXTURE))  # a runtime key


# ---------------------------------------------------------------- identity of a run's world


def test_world_size_enters_the_run_id_and_is_checked(tmp_path):
    from bench.engine.trainer import train_run
    from bench.errors import BenchError

    one = resolve("erm", "cifar10_lt", 0, sets=FIXTURE)
    two = resolve("erm", "cifar10_lt", 0, flags={"train.world_size": 2}, sets=FIXTURE)
    assert run_name(one) != run_name(two) and run_name(one) == run_name(resolve("erm", "cifar10_lt", 0,
                                                                                   sets=FIXTURE))
    with pytest.raises(BenchError, match="planned for 2 process"):
        train_run(two, None, tmp_path / run_name(two))
    with pytest.raises(BenchError, match="train.world_size"):
        resolve("erm", "cifar10_lt", 0, sets=[*FIXTURE, "train.world_size=2"])


def test_the_executor_sets_the_world_size(tmp_path, monkeypatch):
    from bench.run.executors import make_executor

    monkeypatch.setenv("WORLD_SIZE", "2")
    assert make_executor("inline").world_size == 2
    assert make_executor("local").world_size == 1


def test_every_registered_executor_is_made_from_the_command_line_options_under_its_own_name():
    import importlib
    import pkgutil

    import bench.run.executors as package
    from bench.errors import BenchError
    from bench.run.executors import EXECUTORS, Executor, Options, make_executor
    from bench.run.executors.base import ExecutorInfo

    modules = [importlib.import_module(f"{package.__name__}.{m.name}") for m in pkgutil.iter_modules(package.__path__)]
    declared = [m.EXECUTOR for m in modules if isinstance(getattr(m, "EXECUTOR", None), ExecutorInfo)]
    assert list(EXECUTORS.values()) == declared and list(EXECUTORS) == ["inline", "local", "slurm"]
    for name, info in EXECUTORS.items():
        executor = info.make(Options())
        assert isinstance(executor, Executor) and executor.name == name
    assert make_executor("local", jobs=3).jobs == 3
    assert make_executor("slurm", slurm_profile="local").profile["name"] == "local"
    with pytest.raises(BenchError, match="--jobs must be at least 1"):
        make_executor("local", jobs=0)
    with pytest.raises(BenchError, match="unknown executor"):
        make_executor("ssh")


# ---------------------------------------------------------------- path and number parsing


@pytest.mark.parametrize("argv,message", [
    (["--seeds", "1_0"], "--seeds takes comma-separated non-negative integers (e.g. 0,1,2), got '1_0'"),
    (["--seeds", "+1"], "got '+1'"),
    (["--seeds", "-1"], "--seeds takes non-negative integers, got -1"),
    (["--grid", "run.threads=1,2"], "--grid run.threads: run.threads=1 and run.threads=2 plan the same runs"),
    (["--grid", "run.device=cpu,auto"], "--grid run.device"),
    (["--grid", "eval.selection=last,best_test"], "--grid eval.selection"),
    (["--methods", "ldam_drw", "--set", "train.milestones=[]"], "switches re-balancing on at the first LR "
                                                                 "milestone, and train.milestones is empty"),
])
def test_careless_numbers_and_grids(tmp_path, capsys, argv, message):
    argv = ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(tmp_path / "out"), "--dry-run", *argv]
    if argv.count("--methods") == 2:
        argv[1:3] = []
    assert main(argv) == 2
    one_error_line(capsys, message)


def test_tau_lists_read_exponents_as_numbers():
    cfg = resolve("la_posthoc", "cifar10_lt", 0, sets=[*FIXTURE, "stage.taus=[0, 1e-1, 1]", "eval.selection=best_val"])
    assert cfg["stage"]["taus"] == [0, 0.1, 1]


# ---------------------------------------------------------------- identity of a run's data


IMAGES = ["run", "--methods", "erm", "--datasets", "imagenet_lt", "--epochs", "3", "--no-progress", "--set",
          "model.name=small_cnn", "augment.image_size=32", "augment.resize=36", "train.batch_size=4",
          "eval.batch_size=8", "loader.workers=0", "dataset.check_split=false"]


def test_a_split_list_edited_between_kill_and_resume_is_refused(tmp_path):
    from conftest import bench_process, write_imagenet_lt

    root, out = write_imagenet_lt(tmp_path / "data"), tmp_path / "out"
    argv = [*IMAGES, "--data-root", str(root), "--out", str(out)]
    assert bench_process(argv, "epoch-start:2").returncode != 0  # killed after epoch 0's checkpoint
    train_list = root / "ImageNet_LT" / "ImageNet_LT_train.txt"
    original = train_list.read_text()
    lines = original.splitlines()
    train_list.write_text("\n".join(lines[:3] + lines[4:]) + "\n")  # one image of class 0 taken out
    edited = bench_process(argv)
    assert edited.returncode == 1
    (run_dir,) = [p for p in out.iterdir() if p.name.startswith("imagenet_lt")]
    result = result_of(run_dir)
    assert result["status"] == "failed"
    assert "was started on other data: the training split (its list or indices), the training class counts " \
           "changed since its checkpoint" in result["error"] and "--force" in result["error"]
    train_list.write_text(original)  # restored: the run resumes where it stopped
    resumed = bench_process(argv)
    assert resumed.returncode == 0 and "resuming" in resumed.stdout
    assert result_of(run_dir)["status"] == "done"


def test_the_data_identity_sees_evaluation_labels(cifar_root):
    from bench.datasets.identity import data_identity
    from bench.datasets.registry import DATASETS

    cfg = resolve("erm", "cifar10_lt", 0, flags={"dataset.root": str(cifar_root)}, sets=FIXTURE)
    data = DATASETS["cifar10_lt"].load(cfg)
    before = data_identity(data)
    data.test_y = data.test_y.flip(0)
    after = data_identity(data)
    assert before["eval_sha256"] != after["eval_sha256"] and before["test_counts"] == after["test_counts"]


# ---------------------------------------------------------------- signal timing


def test_a_signal_during_the_last_evaluation_ends_the_command(cifar_root, tmp_path):
    from conftest import bench_process

    out = tmp_path / "out"
    argv = run_args(cifar_root, out, "erm,focal,balanced_softmax", epochs=2)[1:]
    stopped = bench_process(["run", *argv], "before-eval:2:SIGTERM")  # the first run's last evaluation
    assert stopped.returncode == 143, stopped.stdout + stopped.stderr
    assert [p.parent.name.split("__")[1] for p in out.glob("*/result.json")] == ["erm"]  # finished, then stopped
    assert result_of(run_dirs(out, "erm")[0])["status"] == "done"
    assert not run_dirs(out, "focal") and not run_dirs(out, "balanced_softmax")
    again = bench_process(["run", *argv])
    assert again.returncode == 0 and "skip   cifar10_lt-exp10-ds0__erm" in again.stdout


def test_a_signal_during_an_evaluation_stops_after_the_epochs_checkpoint(cifar_root, tmp_path):
    from conftest import bench_process

    out = tmp_path / "out"
    argv = run_args(cifar_root, out, "erm", epochs=3)[1:]
    stopped = bench_process(["run", *argv], "before-eval:1:SIGUSR2")
    assert stopped.returncode == 128 + 12, stopped.stdout + stopped.stderr
    (run_dir,) = run_dirs(out, "erm")
    assert not (run_dir / rundir.RESULT).exists()
    assert [json.loads(x)["epoch"] for x in (run_dir / rundir.METRICS).read_text().splitlines()] == [0]


def test_sigterm_to_the_local_executor_stops_its_workers(cifar_root, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    argv = run_args(cifar_root, out, "erm,focal", epochs=400)[1:]
    env = {k: v for k, v in os.environ.items() if k != "BENCH_FAULT"}
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", *argv, "--executor", "local", "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # both workers have trained an epoch
            if len(list(out.glob("*/checkpoint.pt"))) == 2:
                break
            time.sleep(0.2)
        holders = [(d / rundir.LOCK).read_text().split()[1] for d in out.iterdir() if (d / rundir.LOCK).exists()]
        assert len(holders) == 2
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=240)
    finally:
        proc.kill()
    assert proc.returncode == 143, output
    assert "stopped by SIGTERM" in output
    for pid in holders:  # no orphan: every worker ended with its command
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)
    assert not list(out.glob("*/result.json"))  # nothing written as failed
    for run_dir in out.iterdir():
        if run_dir.name.startswith("cifar10_lt"):
            from bench.store.checkpoint import decode

            assert decode((run_dir / rundir.CHECKPOINT).read_bytes(), "cpu")["state"]["epoch"] >= 0


# ---------------------------------------------------------------- de-duplication and what a report shows

GOLDEN = Path(__file__).parent / "data" / "golden"


def golden_copy(tmp_path):
    shutil.copytree(GOLDEN, tmp_path / "g")
    return tmp_path / "g"


def main_rows(folders, notes=None):
    from bench.report.build import report

    return {label: [e.text for e in entries] for label, entries in report(folders)[0].rows}


def test_a_copied_run_folder_counts_once(tmp_path, capsys):
    from bench.report.aggregate import aggregate
    from bench.report.collect import collect

    g = golden_copy(tmp_path)
    (run,) = g.glob("*exp100*__erm__seed0__*")
    shutil.copytree(run, g / f"{run.name}_backup")
    notes = []
    cells = aggregate(collect([g], notes))
    erm = next(c for (setting, label), c in cells.items() if label == "erm" and setting[2] == 100.0)
    assert sorted(erm.seeds_done) == [0, 1, 2]
    assert notes == ["1 further copy of runs already counted (same method, configuration, setting and seed) left out"]
    assert {r.run_dir.name for r in erm.runs} == {p.name for p in g.glob("*exp100*__erm__seed*")} - {
        f"{run.name}_backup"}  # the copy named by its run id counts


def test_children_of_a_parent_run_again_are_left_out_of_reports(two_stage, tmp_path, capsys):
    out = copy_of(two_stage, tmp_path)
    before = main_rows([out])
    assert {"erm", "la_posthoc", "tau_norm"} <= {label.split(" ")[0] for label in before}
    (parent,) = run_dirs(out, "erm")
    (parent / rundir.RESULT).write_text((parent / rundir.RESULT).read_text() + "\n")  # re-run since
    capsys.readouterr()
    after = main_rows([out])
    assert [label.split(" ")[0] for label in after] == ["erm"]
    printed = capsys.readouterr().out
    assert "2 two-stage run(s) computed from an older result of their parent left out" in printed
    main(["status", str(out)])
    assert "out of date: parent" in capsys.readouterr().out


def test_a_config_yaml_in_the_results_root_hides_nothing(tmp_path, capsys):
    g = golden_copy(tmp_path)
    (g / "config.yaml").write_text("method:\n  sampler: class_balanced\n")  # the user's --config file
    rows = main_rows([g])
    assert {"erm", "cb", "ldam_drw", "reweight", "drw"} <= set(rows)
    capsys.readouterr()
    main(["status", str(g)])
    assert "14 done" in capsys.readouterr().out


def test_a_setting_that_differs_between_rows_is_in_their_labels(tmp_path):
    g = golden_copy(tmp_path)
    for path in g.glob("*__cb__*/result.json"):  # cb trained for 3 epochs, the others for 8
        result = json.loads(path.read_text())
        result["config"]["train"]["epochs"] = 3
        path.write_text(json.dumps(result))
    rows = main_rows([g])
    assert {"erm [train.epochs=8]", "cb [train.epochs=3]", "ldam_drw [train.epochs=8]"} <= set(rows)


def fake_run(out, method, dataset, sets=()):
    """A finished run of `method` on `dataset` with the recipe bench gives it, numbers from a golden run."""
    cfg = resolve(method, dataset, 0, sets=list(sets))
    (golden,) = GOLDEN.glob("*exp100*__erm__seed0__*")
    result = json.loads((golden / rundir.RESULT).read_text())
    run_dir = Path(out) / run_name(cfg)
    run_dir.mkdir(parents=True)
    result.update(config=cfg, run_id=run_dir.name, method=method, dataset=dataset)
    (run_dir / rundir.RESULT).write_text(json.dumps(result))
    return run_dir


def test_each_datasets_own_recipe_is_one_row(tmp_path):
    for dataset in ("inat2018", "places_lt"):
        for method in ("erm", "ldam_drw"):
            fake_run(tmp_path / "out", method, dataset)
    rows = main_rows([tmp_path / "out"])
    assert set(rows) == {"erm", "ldam_drw"}  # not one row per recipe, each "not run" on the other dataset
    assert not any("not run" in text for texts in rows.values() for text in texts)


# ---------------------------------------------------------------- tracebacks that became one line

LONG = "a" * 300


@pytest.mark.parametrize("argv", [
    ["status", "{tmp}/" + LONG],
    ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", "{tmp}/" + LONG, "--dry-run"],
    ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--config", "{tmp}/" + LONG + ".yaml", "--dry-run"],
    ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--data-root", "{tmp}/" + LONG, "--out", "{tmp}/o"],
    ["report", str(Path(__file__).parent / "data" / "golden"), "--out", "{tmp}/" + LONG],
])
def test_a_name_longer_than_the_file_system_allows(tmp_path, capsys, argv):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    one_error_line(capsys, "has a file or folder name longer than the file system allows")


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_negative_label_in_a_split_list(tmp_path, capsys, split):
    from conftest import write_imagenet_lt

    root = write_imagenet_lt(tmp_path / "data")
    path = root / "ImageNet_LT" / f"ImageNet_LT_{split}.txt"
    lines = path.read_text().splitlines()
    lines[1] = lines[1].rsplit(" ", 1)[0] + " -1"
    path.write_text("\n".join(lines) + "\n")
    assert main([*IMAGES, "--data-root", str(root), "--out", str(tmp_path / "out")]) == 2
    one_error_line(capsys, f"ImageNet_LT_{split}.txt:2: label -1 is negative; labels are class indices from 0")
    assert not (tmp_path / "out").exists()


def test_a_duplicated_split_list_line(tmp_path, capsys):
    from conftest import write_imagenet_lt

    root = write_imagenet_lt(tmp_path / "data")
    path = root / "ImageNet_LT" / "ImageNet_LT_train.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [lines[0]]) + "\n")
    assert main([*IMAGES, "--data-root", str(root), "--out", str(tmp_path / "out")]) == 2
    one_error_line(capsys, f"ImageNet_LT_train.txt:{len(lines) + 1}: {lines[0].split()[0]} is listed again (first on "
                           "line 1), so it would count twice; remove the duplicate line")


def test_cancel_leaves_runs_trained_without_slurm_alone(tmp_path, capsys, monkeypatch):
    import bench.run.status

    run_dir = tmp_path / "out" / "cifar10_lt-exp10-ds0__erm__seed0__00000000"
    run_dir.mkdir(parents=True)
    (run_dir / rundir.CONFIG).write_text(yaml.safe_dump(resolve("erm", "cifar10_lt", 0, sets=FIXTURE)))
    monkeypatch.setattr(bench.run.status.subprocess, "run", lambda *a, **k: pytest.fail(f"ran {a}"))
    with rundir.run_lock(run_dir):
        assert main(["cancel", str(tmp_path / "out")]) == 0
    assert "nothing to cancel" in capsys.readouterr().out


def test_perf_image_list_batch_size_zero(capsys):
    assert main(["perf", "--pipeline", "imagelist", "--batch-size", "0"]) == 2
    one_error_line(capsys, "--batch-size must be between 1 and 1048576, got 0")


def test_output_piped_into_head(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(f"{sys.executable} -m bench list keys | head -1", shell=True, capture_output=True, text=True,
                          executable="/bin/bash", timeout=120)
    assert proc.stdout.startswith("method.name") and proc.stderr == ""


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (root only; skipped where mounting is not allowed)."""
    import subprocess

    folder = tmp_path / "small"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3M", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_under_the_local_executor_is_one_line_for_the_command(cifar_root, small_disk, capsys):
    """As under the inline executor: one line naming the file, exit 2, no further run or level started, nothing
    marked failed (issue 36: each queued run used to start, train and fail, then the children of a parent)."""
    argv = run_args(cifar_root, small_disk / "out", "la_posthoc", seeds="0,1", sets=["model.name=resnet32"],
                    extra=["--executor", "local", "--jobs", "1"])
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"bench: error: cannot write {small_disk / 'out'}/"), err
    assert "(No space left on device); free space or fix the permissions, then run the same command again" in err[0]
    assert "OSError" not in captured.out and "FAILED" not in captured.out
    assert not list((small_disk / "out").glob("*/result.json"))  # not marked failed: it resumes
    assert not list((small_disk / "out").glob("*__la_posthoc__*")) and "local executor: 2 runs" in captured.out
    assert len(list((small_disk / "out").glob("*__erm__*"))) == 1  # the second seed never started


# ---------------------------------------------------------------- concurrent commands and world sizes in reports


def test_a_child_waits_for_a_parent_another_command_trains(cifar_root, tmp_path, capsys):
    from bench.plan.runs import plan

    out = tmp_path / "out"
    parent, child = plan(["la_posthoc"], ["cifar10_lt"], [0], out, flags={"dataset.root": str(cifar_root),
                                                                          "train.epochs": 2}, sets=FIXTURE)
    parent.run_dir.mkdir(parents=True)
    with rundir.run_lock(parent.run_dir) as holder:  # another command is training the parent
        assert holder is None
        assert main(run_args(cifar_root, out, "la_posthoc")) == 0
    printed = capsys.readouterr().out
    assert f"skip   {child.run_dir.name}: its parent {parent.run_dir.name} is being trained by pid" in printed
    assert printed.count("0 of 1 runs done, 1 being trained by another process") == 2  # parent, then child
    assert not (child.run_dir / rundir.RESULT).exists()  # no failed result written into the child
    assert main(run_args(cifar_root, out, "la_posthoc")) == 0  # once the parent is free: both done
    assert result_of(child.run_dir)["status"] == "done"


def test_ddp_and_single_process_runs_are_apart_in_reports(tmp_path):
    fake_run(tmp_path / "out", "erm", "cifar10_lt", sets=FIXTURE)
    cfg = resolve("erm", "cifar10_lt", 0, flags={"train.world_size": 2}, sets=FIXTURE)
    (golden,) = GOLDEN.glob("*exp100*__erm__seed0__*")
    result = json.loads((golden / rundir.RESULT).read_text())
    run_dir = tmp_path / "out" / run_name(cfg)
    run_dir.mkdir()
    result.update(config=cfg, run_id=run_dir.name)
    (run_dir / rundir.RESULT).write_text(json.dumps(result))
    rows = main_rows([tmp_path / "out"])
    assert set(rows) == {"erm [train.world_size=1]", "erm [train.world_size=2]"}


def test_a_run_resumes_only_on_the_kind_of_device_it_started_on(cifar_root, tmp_path):
    from conftest import bench_process

    from bench.store.checkpoint import decode, encode

    out = tmp_path / "out"
    argv = run_args(cifar_root, out, "erm", epochs=3)[1:]
    assert bench_process(["run", *argv], "epoch-start:2").returncode != 0
    (run_dir,) = run_dirs(out, "erm")
    ckpt = decode((run_dir / rundir.CHECKPOINT).read_bytes(), "cpu")
    assert ckpt["state"]["device_type"] == "cpu"
    ckpt["state"]["device_type"] = "cuda"  # as if it had started on a GPU
    (run_dir / rundir.CHECKPOINT).write_bytes(encode(ckpt))
    assert bench_process(["run", *argv]).returncode == 1
    assert "started on cuda and would resume on cpu" in result_of(run_dir)["error"]


def test_the_same_seed_twice_is_one_seed():
    from bench.plan.inputs import _seeds

    assert _seeds("0,00,1") == [0, 1]


@pytest.mark.parametrize("where", ["--set", "--grid", "--config"])
@pytest.mark.parametrize("text", ["1_0", "010", "1:30", "0x10"])
def test_yaml_1_1_number_spellings_are_not_read_as_other_numbers(tmp_path, capsys, where, text):
    argv = ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(tmp_path / "out"), "--dry-run"]
    if where == "--config":
        (tmp_path / "c.yaml").write_text(f"train:\n  epochs: {text}\n")
        argv += ["--config", str(tmp_path / "c.yaml")]
    else:
        argv += [where, f"train.epochs={text}" + (",2" if where == "--grid" else "")]
    assert main(argv) == 2
    one_error_line(capsys, f"config key train.epochs must be an integer, got '{text}'")


def test_number_flags_take_decimal_digits_only(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "1_0", "--dry-run"])
    assert stop.value.code == 2
    assert "argument --epochs: expected a whole number such as 10, got '1_0'" in capsys.readouterr().err


def test_plain_yaml_numbers_read_as_before():
    from bench.store.yamltext import load

    assert load("[1, -3, 0.5, .5, 1e-4, 2.0E5, 5.0e-4]") == [1, -3, 0.5, 0.5, 1e-4, 2.0e5, 5.0e-4]
    assert load("a: true\nb: null\nc: abc") == {"a": True, "b": None, "c": "abc"}
