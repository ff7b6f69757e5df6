"""Reliability IV (issue 36): tuning studies, statistics and exports that never miscount, and every key that changes
a run id changes the run. Each test here failed before its fix; TESTING.md lists them by class."""

import json
import re
import shutil
from pathlib import Path

import pytest

from bench.cli import main
from bench.plan.config import resolve
from bench.plan.runs import run_name
from bench.run.tuning.study import tune_dir
from bench.store import rundir

GOLDEN = next((Path(__file__).parent / "data" / "golden").glob("*exp100*__erm__seed0__*"))


def one_error_line(capsys, message):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error: ") and message in err[0], err
    return err[0]


def scored(out, method, seed, sets, top1):
    """A finished best_val run with a known top-1 (the rest from a golden run); its run id."""
    from conftest import write_scored_run

    return write_scored_run(out, method, seed, top1, ["eval.selection=best_val", *sets])


def study(out, seeds=(0, 1), chosen=1, budget=2, trial_status=("done", "done"), name=None, top=50.0):
    """A study of erm as bench tune writes it: trial 0 the defaults, trial 1 train.lr=0.05, both at the first
    seed; the default and the chosen configuration at every seed. Returns the record."""
    first = seeds[0]
    default = [scored(out, "erm", s, [], top + s) for s in seeds]
    drawn = [scored(out, "erm", s, ["train.lr=0.05"], top + 2 + s) for s in (seeds if chosen else seeds[:1])]
    trials = [{"index": i, "values": v, "run_id": runs[0], "status": status,
               "val_top1": 40.0 + i if status == "done" else None, "train_seconds": 60}
              for i, (v, runs, status) in enumerate((({}, default, trial_status[0]),
                                                     ({"train.lr": 0.05}, drawn, trial_status[1])))]
    record = {"method": "erm", "dataset": "cifar10_lt", "budget": budget, "search_seed": 0, "trial_seed": first,
              "seeds": list(seeds), "trials": trials, "chosen": chosen, "chosen_values": trials[chosen]["values"],
              "default_runs": default, "tuned_runs": drawn if chosen else default, "space": {"train.lr": "log"},
              "trial_train_seconds": 120.0, "written": "2026-12-01T00:00:00+00:00"}
    tune_dir(out).mkdir(parents=True, exist_ok=True)
    (tune_dir(out) / (name or f"{default[0]}-n{budget}-s0-{'-'.join(map(str, seeds))}.json")).write_text(
        json.dumps(record))
    return record


def main_rows(text):
    """{row label: cell text} of the report's main table (one setting)."""
    table = text.split("**Equal")[0]
    return {k: v.strip("*") for k, v in re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", table, re.M)
            if k not in ("method", "---")}


def tuning_rows(text):
    return re.findall(r"^\| (erm[^|]*) \| cifar10_lt", text.split("**Equal")[1].split("**cifar10")[0], re.M)


# ---------------------------------------------------------------- 1. a tuning study's identity


def test_a_folder_given_twice_or_with_its_backup_counts_each_study_once(tmp_path, capsys):
    out = tmp_path / "r"
    study(out)
    shutil.copytree(out, tmp_path / "backup")
    for folders in ([out, out], [out, tmp_path / "backup"], [tmp_path]):  # the last: both inside the one reported
        assert main(["report", *map(str, folders)]) == 0
        text = capsys.readouterr().out
        assert main_rows(text) == {"erm": "50.50 ± 0.71", "erm (tuned, 2 trials)": "52.50 ± 0.71"}, folders
        assert tuning_rows(text) == ["erm (tuned, 2 trials)"]


def test_studies_that_differ_in_their_seeds_never_share_a_row_or_count_a_seed_twice(tmp_path, capsys):
    out = tmp_path / "r"
    study(out, seeds=(0, 1))
    study(out, seeds=(1, 2))  # trials at seed 1: another study
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    rows = main_rows(text)
    assert rows["erm (tuned, 2 trials, trials at seed 0)"].startswith("52.50 ± 0.71 (2 of 3 seeds)")  # 0 and 1
    assert rows["erm (tuned, 2 trials, trials at seed 1)"].startswith("53.50 ± 0.71 (2 of 3 seeds)")  # 1 and 2
    assert rows["erm"] == "51.00 ± 1.00"  # seeds 0, 1, 2, each once
    assert len(tuning_rows(text)) == 2


def test_the_same_trials_run_with_more_seeds_are_one_study(tmp_path, capsys):
    out = tmp_path / "r"
    study(out, seeds=(0, 1))
    study(out, seeds=(0, 1, 2))  # the same command with a third seed: the same trials, one more seed run
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert main_rows(text) == {"erm": "51.00 ± 1.00", "erm (tuned, 2 trials)": "53.00 ± 1.00"}
    assert tuning_rows(text) == ["erm (tuned, 2 trials)"]


def test_record_files_of_two_studies_never_share_a_name(tmp_path):
    from bench.run.tuning.records import study_hash

    a, b = study(tmp_path / "a", seeds=(0, 1)), study(tmp_path / "b", seeds=(0, 1, 2))
    c = study(tmp_path / "c", seeds=(0, 1), budget=3)
    assert len({study_hash(a), study_hash(b), study_hash(c)}) == 3
    assert study_hash(a) == study_hash(json.loads(json.dumps(a)))  # the same study: the same name


def test_runs_of_an_unchosen_trials_configuration_run_by_the_user_are_shown(tmp_path, capsys):
    out = tmp_path / "r"
    study(out, chosen=0)  # trial 1 (train.lr=0.05) was not chosen
    for seed in (1, 2):  # the user's own bench run of that configuration, at other seeds
        scored(out, "erm", seed, ["train.lr=0.05"], 60.0 + seed)
    assert main(["report", str(out)]) == 0
    rows = main_rows(capsys.readouterr().out)
    assert rows["erm [train.lr=0.05]"] == "58.33 ± 5.51"  # its three seeds (52, 61, 62), the trial among them


def test_labels_count_the_trials_that_ran(tmp_path, capsys):
    out = tmp_path / "r"
    study(out, budget=8, trial_status=("done", "done"))  # a space of 2 configurations for a budget of 8
    study(tmp_path / "f", trial_status=("done", "failed"), chosen=0)
    assert main(["report", str(out), str(tmp_path / "f")]) == 0
    rows = main_rows(capsys.readouterr().out)
    assert "erm (tuned, 2 of 8 trials)" in rows and "erm (tuned, 1 of 2 trials)" in rows


def test_the_export_marks_what_the_report_shows(tmp_path):
    from bench import load_results

    out = tmp_path / "r"
    record = study(out, chosen=0)
    frame = load_results(out).groupby("run_id")[["reported", "tuning"]].first()
    assert not frame.loc[record["trials"][1]["run_id"], "reported"]  # the unchosen trial: not in the tables
    assert frame.drop(index=record["trials"][1]["run_id"])["reported"].all()
    assert frame.loc[record["default_runs"][1], "tuning"] == "default; tuned (2 trials)"


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.update(trials=[1, 2]), "trial 1 is not a trial"),
    (lambda r: r.update(chosen=7), "its chosen trial 7 is not among its trials"),
    (lambda r: r.update(budget="8"), "its 'budget' is '8'"),
    (lambda r: r["trials"][0].update(val_top1=float("nan")), "val_top1 is nan, not a finite number"),
    (lambda r: r.pop("method"), "it has no 'method'"),
])
def test_a_malformed_record_is_one_line_in_report_and_export(tmp_path, capsys, edit, message):
    out = tmp_path / "r"
    record = study(out, name="study.json")
    edit(record)
    (tune_dir(out) / "study.json").write_text(json.dumps(record))
    for command in (["report", str(out)], ["export", str(out), "--out", str(tmp_path / "x.csv")]):
        assert main(command) == 2
        one_error_line(capsys, message)
    (tune_dir(out) / "study.json").write_text("{not json")
    assert main(["report", str(out)]) == 2
    one_error_line(capsys, "cannot be read as JSON")
    assert not (tmp_path / "x.csv").exists()


# ---------------------------------------------------------------- 3. ties in the significance marks


def test_a_row_equal_to_the_best_at_every_seed_is_tied_and_bold(tmp_path, capsys):
    from conftest import write_scored_runs

    write_scored_runs(tmp_path, {"erm": {100: [50.0, 52.0, 51.0]}, "focal": {100: [50.0, 52.0, 51.0]},
                                 "cb": {100: [40.0, 41.0, 43.0]}})
    assert main(["report", str(tmp_path), "--baseline", "erm"]) == 0
    text = capsys.readouterr().out
    assert "| erm | **51.00 ± 1.00** |" in text and "| focal | **51.00 ± 1.00** |" in text
    assert "| cb | 41.33 ± 1.53 |" in text and "not tested" not in text
    assert "| focal | +0.00 [+0.00, +0.00] p 1.000 |" in text


# ---------------------------------------------------------------- 2. non-finite and hand-edited results


def edit_result(run_dir, old, new):
    path = Path(run_dir) / rundir.RESULT
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("old, new, why", [
    ('"top1": 52.0', '"top1": NaN', "its last.top1 is nan, not a finite number"),
    ('"top1": 52.0', '"top1": Infinity', "its last.top1 is inf, not a finite number"),
    ('"top1": 52.0', '"top1": 152.0', "its last.top1 is 152.0, outside 0..100 %"),
    ('"epoch": ', '"epoch": "x", "was": ', "its last.epoch is 'x', not an epoch number"),
])
def test_a_hand_edited_number_is_a_failed_seed_in_report_status_and_export(tmp_path, capsys, old, new, why):
    from conftest import write_scored_runs

    from bench import load_results

    write_scored_runs(tmp_path / "r", {"erm": {100: [50.0, 52.0, 54.0]}, "focal": {100: [40.0, 41.0, 42.0]}})
    (edited,) = (tmp_path / "r").glob("*__erm__seed1__*")
    edit_result(edited, old, new)
    assert main(["report", str(tmp_path / "r")]) == 0
    text = capsys.readouterr().out
    assert "| erm | **52.00 ± 2.83 (2 of 3 seeds) [1]** |" in text and why in text and "inf" not in text.split(
        "[1]")[0]
    assert main(["status", str(tmp_path / "r")]) == 0
    assert re.search(rf"^failed +{edited.name} .*{re.escape(why)}", capsys.readouterr().out, re.M)
    frame = load_results(tmp_path / "r")
    row = frame[frame.run_id == edited.name]
    assert list(row.status) == ["failed"] and why in row.error.iloc[0]
    assert main(["export", str(tmp_path / "r"), "--out", str(tmp_path / "x.csv")]) == 0


def test_tune_never_chooses_a_trial_with_a_non_finite_score(tmp_path):
    from bench.plan.runs import PlannedRun
    from bench.run.tuning.study import Trial, choose, trial_record

    trials = []
    for index, val in enumerate(("60.0", "NaN", "Infinity", "101.0")):
        folder = tmp_path / str(index)
        folder.mkdir()
        (folder / rundir.RESULT).write_text(f'{{"status": "done", "best": {{"val_top1": {val}}}}}')
        trials.append(trial_record(Trial(index, {}, [PlannedRun({}, folder)])))
    assert [t["status"] for t in trials] == ["done", "failed", "failed", "failed"]
    assert choose(trials)["index"] == 0


# ---------------------------------------------------------------- 8. one line, exit 2, never a traceback


def test_export_never_overwrites_a_runs_files_or_an_existing_file_without_force(tmp_path, capsys):
    from conftest import write_scored_runs

    write_scored_runs(tmp_path / "r", {"erm": {100: [50.0, 52.0]}})
    run_dir = next((tmp_path / "r").glob("*__erm__seed0__*"))
    before = (run_dir / rundir.RESULT).read_bytes()
    for target in (run_dir / rundir.RESULT, run_dir / "table.csv", tmp_path / "r" / "all.csv",
                   tmp_path / "r" / ".bench" / "x.csv"):
        (tmp_path / "r" / ".bench").mkdir(exist_ok=True)
        assert main(["export", str(tmp_path / "r"), "--out", str(target), "--force"]) == 2
        one_error_line(capsys, "write the table outside it")
    assert (run_dir / rundir.RESULT).read_bytes() == before and not (run_dir / "table.csv").exists()
    (tmp_path / "mine.csv").write_text("my own notes\n")
    assert main(["export", str(tmp_path / "r"), "--out", str(tmp_path / "mine.csv")]) == 2
    one_error_line(capsys, "exists; pass --force to overwrite it")
    assert (tmp_path / "mine.csv").read_text() == "my own notes\n"
    assert main(["export", str(tmp_path / "r"), "--out", str(tmp_path / "mine.csv"), "--force"]) == 0
    assert (tmp_path / "mine.csv").read_text().startswith("run_id,")
    assert main(["export", str(tmp_path / "r"), "--out", str(tmp_path / "no" / "x.csv")]) == 2
    one_error_line(capsys, "must name a file in an existing folder")


# ---------------------------------------------------------------- 4. every value converted before it is read


def test_a_number_typed_as_text_plans_the_same_run_as_the_number():
    """Walks every key that takes a number (its default, typed in quotes) over every method with per-dataset or
    per-ratio recipes: the recipe lookup reads the ratio after it became a number."""
    from bench.errors import BenchError
    from bench.methods.registry import METHODS
    from bench.plan.config import TYPES, default_keys

    keys = {k: v for k, v in default_keys().items() if float in TYPES.get(k, (type(v),)) and
            isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert "dataset.imbalance_ratio" in keys and "train.lr" in keys
    with_recipes = [name for name, m in METHODS.items() if any("@" in k or k == "cifar10_lt" for k in m.recipes)]
    assert "logit_adjust" in with_recipes
    for method in with_recipes:
        for key, value in keys.items():
            try:
                as_number = resolve(method, "cifar10_lt", 0, sets=[f"{key}={value}"])
            except BenchError:
                continue  # a key this method refuses (refused the same way as text, below)
            assert resolve(method, "cifar10_lt", 0, sets=[f'{key}="{value}"']) == as_number, (method, key)
    authors = resolve("logit_adjust", "cifar10_lt", 0, sets=['dataset.imbalance_ratio="100"'])
    assert authors["train"]["epochs"] == 1241  # LA's own CIFAR schedule at ratio 100, not the shared 200


# ---------------------------------------------------------------- 9. late or unclear errors


def test_tune_refuses_a_selection_from_a_config_file_and_an_unbounded_budget(tmp_path, capsys):
    base = ["tune", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(tmp_path / "o"), "--dry-run"]
    (tmp_path / "c.yaml").write_text("eval:\n  selection: last\n")
    assert main([*base, "--trials", "2", "--config", str(tmp_path / "c.yaml")]) == 2
    one_error_line(capsys, "remove eval.selection from --set, --grid and --config files")
    assert main([*base, "--trials", "1000000"]) == 2
    one_error_line(capsys, "--trials must be from 1 to 1000")
    assert main([*base, "--trials", "1000", "--methods", "erm,focal,cb,ldam"] + ["--grid", "train.lr=0.1,0.2,0.3,0.4,"
                                                                              "0.5,0.6,0.7,0.8,0.9,1.0,1.1,1.2,1.3,"
                                                                              "1.4,1.5,1.6,1.7,1.8,1.9,2.0,2.1,2.2,2.3,"
                                                                              "2.4,2.5,2.6"]) == 2
    one_error_line(capsys, "more than bench plans at once")
    assert main([*base, "--trials", "2", "--set", 'eval.selection="best_val"']) == 0  # what tune sets anyway


# ---------------------------------------------------------------- 7. a stop ends the whole command


FIXTURE = ["dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "dataset.imbalance_ratio=10"]


@pytest.mark.parametrize("command, signame", [
    (["tune", "--methods", "erm", "--trials", "2", "--seeds", "0,1"], "SIGTERM"),  # then choose, seed runs
    (["run", "--methods", "crt"], "SIGINT"),  # Ctrl-C to the terminal's process group; then the child level
])
def test_a_stopped_local_command_starts_nothing_after_its_stop(cifar_root, tmp_path, command, signame):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    argv = [*command, "--datasets", "cifar10_lt", "--epochs", "400", "--data-root", str(cifar_root), "--out",
            str(out), "--no-progress", "--executor", "local", "--jobs", "1", "--set", *FIXTURE]
    env = {k: v for k, v in os.environ.items() if k != "BENCH_FAULT"}
    proc = subprocess.Popen([sys.executable, "-m", "bench", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not list(out.glob("*/checkpoint.pt")):  # an epoch trained
            time.sleep(0.2)
        os.killpg(proc.pid, getattr(signal, signame))
        output, _ = proc.communicate(timeout=240)
    finally:
        proc.kill()
    signum = getattr(signal, signame)
    assert proc.returncode == 128 + signum, output
    assert f"stopped by {signame}" in output and "chose" not in output
    assert not list(out.glob("*/result.json"))  # nothing failed, nothing chosen or started after the stop
    assert not list(out.glob(".bench/tune/*.json")) and not list(out.glob("*__crt__*"))
    assert main(["status", str(out)]) == 0


# ---------------------------------------------------------------- the earlier pass's cases, by class


def test_status_counts_only_folders_bench_made_for_runs(tmp_path, capsys):
    from conftest import write_scored_runs

    write_scored_runs(tmp_path, {"erm": {100: [50.0, 52.0]}})
    (tmp_path / "my_configs").mkdir()
    (tmp_path / "my_configs" / "config.yaml").write_text("train:\n  lr: 0.05\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "result.json").write_text('{"accuracy": 1}')
    assert main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 done (2 runs in") and "my_configs" not in out and "notes" not in out


def test_an_unreachable_slurm_controller_is_not_a_missing_partition(cifar_root, tmp_path, capsys, monkeypatch):
    import os

    fake = tmp_path / "bin"
    fake.mkdir()
    down = "#!/bin/sh\necho 'slurm_load_partitions: Unable to contact slurm controller (connect failure)' >&2\nexit 1\n"
    for name, body in (("sbatch", "#!/bin/sh\nexit 0\n"), ("sinfo", down), ("squeue", down), ("sacct", down)):
        (fake / name).write_text(body)
        (fake / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "1", "--data-root",
                 str(cifar_root), "--out", str(out), "--executor", "slurm", "--set", *FIXTURE]) == 2
    one_error_line(capsys, "cannot reach the SLURM controller (sinfo: slurm_load_partitions: Unable to contact")
    run_dir = out / run_name(resolve("erm", "cifar10_lt", 0, sets=FIXTURE))
    run_dir.mkdir(parents=True)
    (run_dir / rundir.CONFIG).write_text((GOLDEN / rundir.CONFIG).read_text())
    (run_dir / rundir.JOB).write_text('{"job_id": "123_0", "stderr": "/nonexistent.err"}')
    assert main(["status", str(out)]) == 2  # a job SLURM cannot be asked about is not a failed one
    one_error_line(capsys, "cannot ask SLURM for the jobs' states (squeue: slurm_load_partitions")


def test_text_files_with_a_byte_order_mark_or_not_in_utf8(tmp_path, capsys):
    from bench.datasets.classnames import read_names_file
    from bench.datasets.imagelist import read_list
    from bench.errors import BenchError

    (tmp_path / "train.txt").write_bytes("\ufeffdata_256/a/abbey/1.jpg 0\ndata_256/c/café/2.jpg 1\n".encode())
    assert read_list(tmp_path / "train.txt")[0] == [("data_256/a/abbey/1.jpg", 0), ("data_256/c/café/2.jpg", 1)]
    (tmp_path / "classnames.txt").write_bytes("\ufeffgreat white shark\nabbey\n".encode())
    assert read_names_file(tmp_path / "classnames.txt", 2) == ["great white shark", "abbey"]
    (tmp_path / "latin1.txt").write_bytes("abbey 0\ncaf\xe9/x.jpg 1\n".encode("latin-1"))
    with pytest.raises(BenchError, match=r"split list .*latin1.txt is not UTF-8 text \(byte 0xe9 on line 2\)"):
        read_list(tmp_path / "latin1.txt")
    with pytest.raises(BenchError, match="class-name file .* is not UTF-8 text"):
        read_names_file(tmp_path / "latin1.txt", 2)
    (tmp_path / "c.yaml").write_bytes("train:\n  lr: 0.05  # \xe9\n".encode("latin-1"))
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--config", str(tmp_path / "c.yaml"),
                 "--dry-run", "--out", str(tmp_path / "o")]) == 2
    one_error_line(capsys, "is not UTF-8 text (byte 0xe9 on line 2); save it as UTF-8")


def test_a_recipes_schedule_rescaled_by_epochs_never_splits_a_row(tmp_path, capsys):
    """inat2018's milestones [30, 60] are [0, 0] at --epochs 1, places_lt has none: still one erm row; the same for
    ldam_drw's defer epoch and ride's own large-dataset schedule."""
    for dataset in ("inat2018", "places_lt", "imagenet_lt"):
        for method in ("erm", "ldam_drw", "ride"):
            cfg = resolve(method, dataset, 0, flags={"train.epochs": 1})
            result = json.loads((GOLDEN / rundir.RESULT).read_text())
            run_dir = tmp_path / run_name(cfg)
            run_dir.mkdir()
            result.update(config=cfg, run_id=run_dir.name, method=method, dataset=dataset)
            (run_dir / rundir.RESULT).write_text(json.dumps(result))
    assert main(["report", str(tmp_path)]) == 0
    table = capsys.readouterr().out.split("\n\n")[2]
    rows = re.findall(r"^\| ([^|]+?) \|", table, re.M)[1:]
    assert rows == ["erm", "ldam_drw", "ride"], table  # ride's defer epoch 160 -> 0 is its recipe's, too
    assert "not run" not in table


def test_a_report_where_every_method_ties_prints_no_library_warning(tmp_path):
    import subprocess
    import sys

    from conftest import write_scored_runs

    write_scored_runs(tmp_path / "r", {m: {100: [40.0, 40.0, 40.0], 10: [40.0, 40.0, 40.0]}
                                       for m in ("erm", "focal", "cb")})
    proc = subprocess.run([sys.executable, "-W", "error", "-m", "bench", "report", str(tmp_path / "r"), "--plots",
                           "--baseline", "erm", "--out", str(tmp_path / "rep")], capture_output=True, text=True)
    assert proc.returncode == 0 and "Warning" not in proc.stderr, proc.stderr[-2000:]
    assert "Friedman's test: n/a (every method ties in every setting)" in proc.stdout
    assert "plot_cd_diagram" not in proc.stdout  # nothing to draw


# ---------------------------------------------------------------- 10. what a table says, its CSV says too


def test_the_csv_carries_the_marks_and_paired_differences_the_tables_show(tmp_path, capsys):
    import pandas as pd
    from conftest import write_scored_runs

    write_scored_runs(tmp_path / "r", {"erm": {100: [50.0, 52.0, 51.0]}, "focal": {100: [50.5, 52.0, 51.2]},
                                       "cb": {100: [40.0, 41.0, 43.0]}})
    assert main(["report", str(tmp_path / "r"), "--csv", "--baseline", "cb", "--out", str(tmp_path / "rep")]) == 0
    text = capsys.readouterr().out
    frame = pd.read_csv(tmp_path / "rep" / "results.csv")
    top1 = frame[frame.metric == "top1"].set_index("method")
    for method in ("erm", "focal", "cb"):  # bold in the CSV exactly where the Markdown table bolds
        assert top1.loc[method, "bold"] == bool(re.search(rf"^\| {method} \| \*\*", text, re.M)), method
    assert top1.loc["focal", "vs_best"] == "itself" and top1.loc["erm", "vs_best"] == "focal"
    assert top1.loc["erm", "vs_best_diff"] == pytest.approx((50 + 52 + 51 - 50.5 - 52 - 51.2) / 3)
    baseline = re.search(r"^\| erm \| ([+-][\d.]+) \[([+-][\d.]+), ([+-][\d.]+)\] p ([\d.]+)", text, re.M).groups()
    erm = top1.loc["erm"]
    assert [f"{erm.vs_baseline_diff:+.2f}", f"{erm.vs_baseline_low:+.2f}", f"{erm.vs_baseline_high:+.2f}",
            f"{erm.vs_baseline_p_holm:.3f}"] == list(baseline)
    assert frame[frame.metric != "top1"]["bold"].isna().all()  # the marks belong to the table's metric


# ---------------------------------------------------------------- 9. a child's keys that would not fit its parent


@pytest.mark.parametrize("method, key, refused", [
    ("ride_ea", "method.experts=2", "method.experts=2 where the parent's is 3"),
    ("ride_ea", "method.reduce_experts=false", "remove method.reduce_experts"),
    ("ride_ea", "method.head=linear", "method.head=linear where the parent's is normed"),
    ("crt", "method.loss=ldam", "(method.loss=ldam asks for it) where the parent's is linear would not fit it; "
                                "remove method.loss"),
    ("mislas", "method.head=normed", "remove method.head"),
])
def test_a_childs_key_that_shapes_its_parents_network_is_refused_when_planned(tmp_path, capsys, method, key,
                                                                               refused):
    assert main(["run", "--methods", method, "--datasets", "cifar10_lt", "--out", str(tmp_path / "o"), "--dry-run",
                 "--set", key]) == 2
    one_error_line(capsys, refused)
    assert not (tmp_path / "o").exists()


def test_every_two_stage_method_plans_on_every_dataset():
    from bench.datasets.registry import DATASETS
    from bench.methods.registry import METHODS
    from bench.plan.runs import plan

    for method in (m for m, spec in METHODS.items() if spec.parent):
        for dataset in DATASETS:
            plan([method], [dataset], [0], "unused", sets=["eval.selection=best_val"])


def test_an_error_about_a_rescaled_schedule_shows_what_was_written(tmp_path, capsys):
    (tmp_path / "ms.yaml").write_text("train:\n  milestones: [250]\n")
    base = ["run", "--datasets", "cifar10_lt", "--dry-run", "--out", str(tmp_path / "o"), "--config",
            str(tmp_path / "ms.yaml")]
    assert main([*base, "--methods", "erm", "--epochs", "100"]) == 2
    one_error_line(capsys, "train.milestones [125] include epoch(s) [125] at or past the last of 100 epochs, so "
                           "that LR decay never happens; set train.milestones below it (or give the length with "
                           "--epochs, which scales a recipe's milestones) (--epochs 100 rescaled train.milestones "
                           "[250], written for 200 epochs, to [125])")
    (tmp_path / "ms.yaml").write_text("method:\n  sam_rho_schedule: [[0, 0.05], [5, 0.1]]\n")
    assert main([*base, "--methods", "erm_sam", "--epochs", "10"]) == 2
    one_error_line(capsys, "got [[0, 0.05], [0, 0.1]] (--epochs 10 rescaled method.sam_rho_schedule [[0, 0.05], "
                           "[5, 0.1]], written for 200 epochs, to [[0, 0.05], [0, 0.1]])")


# ---------------------------------------------------------------- 5. files a run reads are part of what it stands for


def test_a_weights_file_replaced_at_the_same_path_is_noticed(cifar_root, tmp_path, capsys):
    import torch
    from safetensors.torch import save_file

    from bench.models import clip

    def write_weights(seed):
        torch.manual_seed(seed)
        model, _ = clip.build_clip("clip_tiny", None)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w.safetensors"))

    write_weights(1)
    argv = ["run", "--methods", "clip_zeroshot", "--datasets", "cifar10_lt", "--data-root", str(cifar_root), "--out",
            str(tmp_path / "o"), "--no-progress", "--set", "dataset.verify=false", "model.name=clip_tiny",
            f"model.weights={tmp_path / 'w.safetensors'}", "eval.batch_size=64"]
    assert main(argv) == 0
    assert main(argv) == 0 and "already done" in capsys.readouterr().out  # the same file: kept
    write_weights(2)  # another checkpoint saved over the same path
    assert main(argv) == 2
    one_error_line(capsys, f"was computed from the weights file {tmp_path / 'w.safetensors'}, which has changed since")
    at = argv.index("--set")
    assert main([*argv[:at], "--force", *argv[at:]]) == 0  # computed again from the new file
    (run,) = (tmp_path / "o").glob("*/result.json")
    assert json.loads(run.read_text())["weights"]["sha256"] == __import__("hashlib").sha256(
        (tmp_path / "w.safetensors").read_bytes()).hexdigest()


def test_a_class_name_file_is_recorded_and_checked(tmp_path):
    from bench.errors import BenchError
    from bench.plan.external import check_unchanged

    names = tmp_path / "classnames.txt"
    names.write_text("abbey\nairfield\n")
    from bench.datasets.imagelist import _names_input

    result = {"inputs": _names_input(names)}
    check_unchanged(tmp_path, result)
    names.write_text("\ufeffabbey\nairfield\n")  # re-saved by an editor that adds a byte-order mark
    with pytest.raises(BenchError, match="computed from the class names file .*classnames.txt, which has changed"):
        check_unchanged(tmp_path, result)


def test_an_augmentation_size_larger_than_the_images_is_refused(cifar_root, tmp_path, capsys):
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--data-root", str(cifar_root), "--out",
                 str(tmp_path / "o"), "--set", *FIXTURE, "augment.cutout=40"]) == 2
    one_error_line(capsys, "augment.cutout 40 is larger than the cifar10_lt training images (32x32); use at most 32")
    assert not (tmp_path / "o").exists()
    assert main(["run", "--methods", "erm", "--datasets", "imagenet_lt", "--out", str(tmp_path / "o"), "--dry-run",
                 "--set", "augment.image_size=300"]) == 2  # on image lists both act: the combination is refused
    one_error_line(capsys, "augment.image_size 300 is larger than augment.resize 256")
