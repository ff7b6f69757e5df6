"""One study per method and setting: its trials as planned runs, the trial best on validation, and the record
`bench report` reads (<out>/.bench/tune/<study>.json)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.plan.runs import PlannedRun
from bench.run.tuning.space import DEFAULT_TRIAL, as_sets, describe, draw, scale_config, search_space
from bench.store import rundir

SELECTION = "eval.selection=best_val"  # trials are compared on the validation split, never on the test images


def tune_dir(out: str | Path) -> Path:
    return Path(out) / rundir.BENCH_DIR / "tune"


@dataclass
class Trial:
    index: int
    values: dict  # {dotted key: value} drawn; {} for the default trial
    runs: list  # PlannedRun at the study's first seed: a two-stage method's parent first, then the trial's run

    @property
    def run(self) -> PlannedRun:
        return self.runs[-1]


@dataclass
class Study:
    method: str
    dataset: str
    sets: list  # the --set items every run of the study shares (the user's, the grid point's, the selection)
    space: dict  # {dotted key: Search}
    trials: list
    budget: int  # trials asked for (the same for every method)
    search_seed: int



def pinned_keys(inputs: dict) -> set:
    """Keys the user sets (--set, --grid, --config files): fixed, never searched."""
    from bench.plan.config import flatten, load_yaml

    keys = {item.split("=", 1)[0].strip() for item in inputs["sets"]} | set(inputs["grid"])
    for path in inputs["config_files"]:
        data = load_yaml(path, "config file")
        keys |= set(flatten(data)) if isinstance(data, dict) else set()
    return keys


def plan_studies(inputs: dict, out: str, budget: int, search_seed: int) -> list[Study]:
    """Every study of the methods x datasets x grid points, its trials planned at the first seed."""
    from bench.plan.sweep import grid_sets

    if not 1 <= budget <= MAX_TRIALS:
        raise BenchError(f"--trials must be from 1 to {MAX_TRIALS}, got {budget}")
    check_selection_not_set(inputs)
    check_size(inputs, budget)
    pinned = pinned_keys(inputs)
    studies = []
    for combo in grid_sets(inputs["grid"]):
        sets = [*inputs["sets"], *combo, SELECTION]
        for dataset in inputs["datasets"]:
            for method in inputs["methods"]:
                study = Study(method, dataset, sets, {}, [], budget, search_seed)
                studies.append(plan_trials(study, inputs, out, pinned))
    return studies


MAX_TRIALS = 1_000  # far beyond any study (DomainBed draws 20): --trials 1000000 is a typo, refused at once


def check_selection_not_set(inputs: dict) -> None:
    """bench tune sets eval.selection=best_val itself; another value from --set, --grid or a --config file would
    be silently replaced, so it is refused wherever it comes from."""
    from bench.plan.config import flatten, load_yaml, parse_set

    given = [parse_set(item)[1] for item in inputs["sets"] if item.split("=", 1)[0].strip() == "eval.selection"]
    given += [inputs["grid"]["eval.selection"]] if "eval.selection" in inputs["grid"] else []
    for path in inputs["config_files"]:
        data = load_yaml(path, "config file")
        if isinstance(data, dict) and "eval.selection" in flatten(data):
            given.append(flatten(data)["eval.selection"])
    if any(value != "best_val" for value in given):
        raise BenchError("bench tune compares trials on the validation split (eval.selection=best_val) and reports "
                         "the chosen one the same way; remove eval.selection from --set, --grid and --config files")


def check_size(inputs: dict, budget: int) -> None:
    """The trials of every study, at most what `bench run` plans at once (bench.plan.sweep.MAX_RUNS)."""
    import math

    from bench.plan.sweep import MAX_RUNS

    studies = len(inputs["methods"]) * len(inputs["datasets"]) * math.prod(len(v) for v in inputs["grid"].values())
    if studies * budget > MAX_RUNS:
        raise BenchError(f"{studies} studies x {budget} trials are {studies * budget:,} trial runs, more than bench "
                         f"plans at once ({MAX_RUNS:,}); tune fewer methods, datasets or grid points at a time")


def _plan(inputs: dict, out: str, method: str, dataset: str, seeds: list, sets: list) -> list:
    from bench.plan.runs import plan

    return plan([method], [dataset], seeds, out, inputs["presets"], inputs["config_files"], inputs["flags"], sets)


REDRAWS = 20  # a trial that repeats an earlier one draws again, up to this many times (a space of few choices)


def plan_trials(study: Study, inputs: dict, out: str, pinned: set) -> Study:
    """The study's space and trials: the default, then a draw per trial; a draw that repeats an earlier trial's run
    draws again, and is left out when the space has no new configuration (the record says how many were run)."""
    first = inputs["seeds"][:1]
    default = _plan(inputs, out, study.method, study.dataset, first, study.sets)
    scale = scale_config(default)
    study.space = search_space(default[-1].cfg, pinned, scale)
    study.trials = [Trial(DEFAULT_TRIAL, {}, default)]
    seen = {default[-1].run_dir}
    for index in range(1, study.budget if study.space else 1):  # nothing to search: the default is the only trial
        for redraw in range(REDRAWS):
            values = draw(study.space, scale, index, study.search_seed, redraw)
            runs = _plan(inputs, out, study.method, study.dataset, first, [*study.sets, *as_sets(values)])
            if runs[-1].run_dir not in seen:
                seen.add(runs[-1].run_dir)
                study.trials.append(Trial(index, values, runs))
                break
    return study


def unique_runs(groups: Iterable[list]) -> list:
    """The runs of several plans, each run folder once (a parent several trials share; named if any plan names it)."""
    seen: dict = {}
    for runs in groups:
        for run in runs:
            first = seen.setdefault(run.run_dir, run)
            first.named = first.named or run.named
    return list(seen.values())


# ------------------------------------------------------------------------------------------------- the choice


def val_score(result: dict | None) -> float | None:
    """The validation top-1 a finished run was selected with: its best epoch's (trained runs), or the best tau's
    (post-hoc rules choose tau on the validation logits); None when the run has none."""
    from bench.metrics.runresult import number_problem

    if not result or result.get("status") != "done" or number_problem(result.get("last"), result.get("best"),
                                                                       result.get("selection")):
        return None  # not finished, or numbers bench never writes (a NaN by hand): never chosen
    value = (result.get("best") or {}).get("val_top1")
    if value is None:
        per_tau = [v for v in (result.get("selection") or {}).get("val_top1_per_tau") or [] if v is not None]
        value = max(per_tau) if per_tau else None
    return value


def train_seconds(runs: Iterable[PlannedRun]) -> float:
    """The training seconds the runs' results record (a run without a result: 0)."""
    timings = ((rundir.read_result(run.run_dir) or {}).get("timing") or {} for run in runs)
    return round(sum(float(t.get("train_seconds") or 0.0) for t in timings), 3)


def trial_record(trial: Trial) -> dict:
    """What a trial gave: status, validation top-1 and the training seconds of its runs (a parent included). A
    finished child without a validation score of its own (SADE's test-time aggregation, which adapts on the
    unlabelled test images) is scored by its parent's, the only run its trials vary."""
    from bench.metrics.runresult import number_problem

    result = rundir.read_result(trial.run.run_dir)
    status = "incomplete" if result is None else "done" if result.get("status") == "done" else "failed"
    if status == "done" and number_problem(result.get("last"), result.get("best"), result.get("selection")):
        status = "failed"  # numbers bench never writes (a NaN by hand): not a trial that finished
    record = {"index": trial.index, "values": trial.values, "run_id": trial.run.run_dir.name, "status": status,
              "val_top1": val_score(result), "train_seconds": train_seconds(trial.runs)}
    if record["val_top1"] is None and status == "done" and len(trial.runs) > 1:
        record.update(val_top1=val_score(rundir.read_result(trial.runs[0].run_dir)), val_of="parent")
    return record


def choose(records: list[dict]) -> dict | None:
    """The trial with the highest validation top-1 (the lower index of equal ones, so the default wins ties);
    None when no trial finished with a validation score."""
    scored = [r for r in records if r["val_top1"] is not None]
    return max(scored, key=lambda r: (r["val_top1"], -r["index"])) if scored else None


def final_plans(study: Study, inputs: dict, out: str, chosen: dict | None) -> tuple[list, list]:
    """(default runs, tuned runs) at every requested seed; no tuned runs without a chosen trial."""
    default = _plan(inputs, out, study.method, study.dataset, inputs["seeds"], study.sets)
    if chosen is None:
        return default, []
    tuned = _plan(inputs, out, study.method, study.dataset, inputs["seeds"], [*study.sets, *as_sets(chosen["values"])])
    return default, tuned


def write_record(study: Study, out: str, records: list, chosen: dict | None, default: list, tuned: list,
                 seeds: list) -> Path:
    """The study's record, atomically: what `bench report` labels its default and tuned rows from. Its file is
    named after the default trial's run id, the budget, the search seed and a hash of the study's identity
    (bench/run/tuning/records.py): the same command rewrites its own record, no other study can."""
    from datetime import datetime, timezone

    from bench.run.tuning.records import study_hash
    from bench.store.atomic import write_json

    own = [r for r in default if r.cfg["method"]["name"] == study.method]
    record = {
        "method": study.method, "dataset": study.dataset, "budget": study.budget, "search_seed": study.search_seed,
        "trial_seed": seeds[0], "seeds": seeds, "sets": study.sets,
        "space": describe(study.space, scale_config(study.trials[0].runs)), "trials": records,
        "chosen": None if chosen is None else chosen["index"],
        "chosen_values": None if chosen is None else chosen["values"],
        "default_runs": [r.run_dir.name for r in own],
        "tuned_runs": [r.run_dir.name for r in tuned if r.cfg["method"]["name"] == study.method],
        # every run the trials trained, once (a parent the trials share counts once)
        "trial_train_seconds": train_seconds({r.run_dir: r for t in study.trials for r in t.runs}.values()),
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    stem = f"{study.trials[0].run.run_dir.name}-n{study.budget}-s{study.search_seed}"
    path = tune_dir(out) / f"{stem}-{study_hash(record)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, record)
    return path


def read_records(folder: str | Path) -> list[dict]:
    """The study records of one results folder and the results folders below it, checked (a file bench tune did
    not write there is a BenchError naming it)."""
    from bench.run.tuning.records import read_record, record_files

    return [read_record(path) for path in record_files([folder])]


SELECTION_JOBS = "selection_jobs.json"  # in tune_dir: SLURM jobs that will make a choice (bench status, bench cancel)


def record_selection_job(out: str | Path, job_id: str) -> None:
    from bench.store.atomic import write_json

    path = tune_dir(out) / SELECTION_JOBS
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, sorted(set(selection_jobs(out)) | {str(job_id)}))


def selection_jobs(out: str | Path) -> list[str]:
    """The selection jobs `bench tune` submitted into this results folder (ended ones included)."""
    try:
        jobs = json.loads((tune_dir(out) / SELECTION_JOBS).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return []
    return [str(j) for j in jobs] if isinstance(jobs, list) else []
