"""`bench tune`'s studies in the report: the chosen trial's runs as a "tuned" row beside the default row, the other
trials (one seed each) out of the tables, and a table of what each study searched, chose and spent."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from bench.report.collect import setting_label
from bench.report.tables import Entry, Notes, Table


@dataclass
class Study:
    record: dict
    setting: tuple
    label: str  # the tuned row's label


def tuned_label(record: dict) -> str:
    return f"{record['method']} (tuned, {record['budget']} trials)"


def _key(run) -> tuple:
    return run.method, run.variant, run.setting


def _parents(runs, by_name) -> list:
    """The parent runs (of two-stage runs) that are among the report's runs."""
    names = (((run.result or {}).get("parent") or {}).get("run_id") for run in runs)
    return [by_name[name] for name in names if name in by_name]


def _read(record: dict, by_name: dict) -> tuple:
    """(study, the default's key, the chosen trial's key, the keys of the trials not chosen and of the parents of
    every run but the default's) of one record; study None when none of its trials is among the report's runs."""
    trials = [by_name.get(t.get("run_id")) for t in record["trials"]]
    known = [run for run in trials if run is not None]
    if not known:
        return None, None, None, set()
    chosen = record.get("chosen")
    winner = trials[chosen] if isinstance(chosen, int) and 0 <= chosen < len(trials) else None
    tuned_runs = [by_name[n] for n in record.get("tuned_runs") or [] if n in by_name]
    default = None if trials[0] is None else _key(trials[0])
    first, others = [r for r in trials[:1] if r is not None], [r for r in trials[1:] if r is not None]
    drawn = {_key(r) for r in _parents(others + tuned_runs, by_name)} - {_key(r) for r in _parents(first, by_name)}
    hidden = {_key(run) for run in known} | drawn  # a default trial's parent stays a row
    return Study(record, known[0].setting, tuned_label(record)), default, winner and _key(winner), hidden


def apply(runs: list, folders, notes: list | None = None) -> tuple[list, list]:
    """(runs for the tables, studies): runs of the chosen trials' configuration carry the tuned label (a copy
    when the default was chosen: both rows show it); runs of the other trials, and the parents drawn for a
    two-stage method's trials and tuned runs, are left out (unless another study shows them)."""
    from bench.tuning.study import read_records

    by_name = {run.run_dir.name: run for run in runs}
    studies, tuned, defaults, hidden = [], {}, set(), set()
    for record in (r for folder in folders for r in read_records(folder)):
        study, default, winner, drawn = _read(record, by_name)
        if study is None:
            continue  # the study's runs are not among the report's folders
        studies.append(study)
        defaults |= {default} - {None}
        hidden |= drawn
        if winner is not None:
            tuned[winner] = study.label
    hidden -= defaults | set(tuned)
    out = []
    for run in runs:
        key = _key(run)
        if key in hidden:
            continue
        out.append(run)
        if key in tuned:
            shown = copy.copy(run) if key in defaults else run  # the default chosen: it is both rows
            shown.label = tuned[key]
            out += [shown] if shown is not run else []
    left_out = sum(_key(run) in hidden for run in runs)
    if notes is not None and left_out:
        notes.append(f"{left_out} run(s) of tuning trials that were not chosen (and parents drawn for trials) left "
                     "out of the tables (the tuning table sums them up)")
    return out, studies


def tuning_table(studies: list) -> Table:
    """One row per study: the setting, the trials, the validation top-1 of the default and the chosen trial, what
    was chosen, the training time the trials took."""
    from bench.methods.registry import METHODS

    order = {name: i for i, name in enumerate(METHODS)}
    notes = Notes()
    rows = []
    for study in sorted(studies, key=lambda s: (order.get(s.record["method"], len(order)), s.record["method"],
                                                setting_label(s.setting), s.record["budget"])):
        r = study.record
        trials = r["trials"]
        done = sum(t.get("status") == "done" for t in trials)
        chosen = r.get("chosen")
        best = trials[chosen] if isinstance(chosen, int) and 0 <= chosen < len(trials) else None
        values = ", ".join(f"{k}={v}" for k, v in (r.get("chosen_values") or {}).items()) or (
            "the defaults" if best is not None else "none " + notes.add("no trial finished with a validation score"))
        space = "; ".join(f"{k}: {v}" for k, v in r.get("space", {}).items()) or "nothing to search"
        rows.append((r["method"], [
            Entry(setting_label(study.setting)), Entry(f"{done} of {len(trials)}", detail=space),
            _val(trials[0]), _val(best), Entry(values), _duration(r.get("trial_train_seconds") or 0.0)]))
    if any(t.get("val_of") == "parent" for study in studies for t in study.record["trials"]):
        notes.add("a child without a validation score of its own (SADE's test-time aggregation) is chosen by its "
                  "parent's, the run its trials vary")
    notes.add("each method gets the same number of trials at the first seed: its defaults (trial 0), then random "
              "draws from each searched hyper-parameter's distribution (bench list parts); the trial best on the "
              "validation split is re-run with every seed as the tuned row; trial training sums the "
              "trials' training time, a parent they share once")
    return Table("tuning", "Equal tuning budgets: validation top-1 of each study's default and chosen trial",
                 ["method", "setting", "trials done", "val default", "val chosen", "chosen", "trial training"], rows,
                 notes.items)


def _val(trial: dict | None) -> Entry:
    value = None if trial is None else trial.get("val_top1")
    return Entry("n/a") if value is None else Entry(f"{value:.2f}")  # no mean: no column's best is bold


def _duration(seconds: float) -> Entry:
    return Entry(f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h")
