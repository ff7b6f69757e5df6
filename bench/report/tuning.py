"""`bench tune`'s studies in the report: the chosen trial's runs as a "tuned" row beside the default row, the other
trials (one seed each) out of the tables, and a table of what each study searched, chose and spent."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from bench.report.collect import setting_label
from bench.report.tables import Entry, Notes, Table


@dataclass
class ReportedStudy:
    record: dict  # the study's record (bench/tuning/study.py write_record)
    setting: tuple
    default: tuple | None  # (method, variant, setting) of its default trial, None when that run is not here
    chosen: tuple | None  # the same of its chosen trial


def tuned_suffix(record: dict) -> str:
    seed = record.get("search_seed") or 0
    return f"tuned, {record['budget']} trials" + (f", search seed {seed}" if seed else "")


def _key(run) -> tuple:
    return run.method, run.variant, run.setting


def _parents(runs, by_name) -> list:
    """The parent runs (of two-stage runs) that are among the report's runs."""
    names = (((run.result or {}).get("parent") or {}).get("run_id") for run in runs)
    return [by_name[name] for name in names if name in by_name]


def _trial(record: dict, index) -> dict | None:
    return next((t for t in record["trials"] if t.get("index") == index), None) if isinstance(index, int) else None


def _read(record: dict, by_name: dict) -> tuple:
    """(the study as the report places it, the keys its runs not to show: its trials' and the parents drawn for
    its trials and tuned runs, a default trial's parent excepted); (None, set()) when none of its trials is here."""
    trials = [by_name.get(t.get("run_id")) for t in record["trials"]]
    known = [run for run in trials if run is not None]
    if not known:
        return None, set()
    chosen = by_name.get((_trial(record, record.get("chosen")) or {}).get("run_id"))
    tuned_runs = [by_name[n] for n in record.get("tuned_runs") or [] if n in by_name]
    first, others = [r for r in trials[:1] if r is not None], [r for r in trials[1:] if r is not None]
    drawn = {_key(r) for r in _parents(others + tuned_runs, by_name)} - {_key(r) for r in _parents(first, by_name)}
    study = ReportedStudy(record, known[0].setting, _key(first[0]) if first else None, chosen and _key(chosen))
    return study, {_key(run) for run in known} | drawn


def apply(runs: list, folders: list, notes: list | None = None) -> tuple[list, list]:
    """(runs for the tables, studies): each study's chosen configuration as a row of its own, labelled after its
    default's row (a copy of each run per study that chose it; the default's runs stay its own row too); runs of
    the other trials, and the parents drawn for a two-stage method's trials and tuned runs, are left out (unless a
    study shows them)."""
    from bench.tuning.study import read_records

    by_name = {run.run_dir.name: run for run in runs}
    studies, hidden = [], set()
    for record in (r for folder in folders for r in read_records(folder)):
        study, drawn = _read(record, by_name)
        if study is not None:
            studies.append(study)
            hidden |= drawn
    defaults, chosen = {s.default for s in studies}, {s.chosen for s in studies}
    hidden -= defaults | chosen
    out = []
    for run in runs:
        key = _key(run)
        if key not in hidden and (key not in chosen or key in defaults):
            out.append(run)  # a chosen configuration that is no study's default shows as tuned rows only
        for study in (s for s in studies if s.chosen == key):
            tuned = copy.copy(run)
            tuned.tuned_of = (study.default[1] if study.default else None, tuned_suffix(study.record))
            out.append(tuned)
    left_out = sum(_key(run) in hidden for run in runs)
    if notes is not None and left_out:
        notes.append(f"{left_out} run(s) of tuning trials that were not chosen (and parents drawn for trials) left "
                     "out of the tables (the tuning table sums them up)")
    return out, studies


def tuning_table(studies: list, cells: dict) -> Table:
    """One row per study: where, the trials, the validation top-1 of the default and the chosen trial, what was
    chosen, the training time the trials took."""
    from bench.methods.registry import METHODS

    order = {name: i for i, name in enumerate(METHODS)}
    notes = Notes()
    rows = [_row(s, notes, _label(s, cells)) for s in sorted(studies, key=lambda s: (
        order.get(s.record["method"], len(order)), s.record["method"], setting_label(s.setting),
        str(s.default), s.record["budget"], s.record.get("search_seed") or 0))]
    if any(t.get("val_of") == "parent" for study in studies for t in study.record["trials"]):
        notes.add("a child without a validation score of its own (SADE's test-time aggregation) is chosen by its "
                  "parent's, the run its trials vary")
    notes.add("each method gets the same number of trials at the first seed: its defaults (trial 0), then random "
              "draws from each searched hyper-parameter's distribution (bench list parts, bench list keys); the "
              "trial best on the validation split is re-run with every seed as the tuned row; trial training sums "
              "the trials' training time, a parent they share once")
    return Table("tuning", "Equal tuning budgets: validation top-1 of each study's default and chosen trial",
                 ["study", "setting", "trials done", "val default", "val chosen", "chosen", "trial training"], rows,
                 notes.items)


def _label(study: ReportedStudy, cells: dict) -> str:
    """The study's tuned row's label in the tables (its default's label, then "(tuned, N trials)")."""
    mark = (study.default[1] if study.default else None, tuned_suffix(study.record))
    return next((c.label for c in cells.values() if c.setting == study.setting and c.method == study.record["method"]
                 and any(run.tuned_of == mark for run in c.runs)), f"{study.record['method']} ({mark[1]})")


def _row(study: ReportedStudy, notes: Notes, label: str) -> tuple:
    from bench.tuning.space import values_text

    r = study.record
    trials, best = r["trials"], _trial(r, r.get("chosen"))
    done = sum(t.get("status") == "done" for t in trials)
    values = values_text(r.get("chosen_values") or {}) if best is not None else "none " + notes.add(
        "no trial finished with a validation score")
    if len(trials) < r["budget"]:
        done = f"{done} of {len(trials)} " + notes.add("the space has fewer distinct configurations than the budget: "
                                                       "every configuration was tried once")
    else:
        done = f"{done} of {len(trials)}"
    space = "; ".join(f"{k}: {v}" for k, v in r.get("space", {}).items()) or "nothing to search"
    return (label, [
        Entry(setting_label(study.setting)), Entry(done, detail=space), _val(_trial(r, 0)), _val(best), Entry(values),
        _duration(r.get("trial_train_seconds") or 0.0)])


def _val(trial: dict | None) -> Entry:
    value = None if trial is None else trial.get("val_top1")
    return Entry("n/a") if value is None else Entry(f"{value:.2f}")  # no mean: no column's best is bold


def _duration(seconds: float) -> Entry:
    return Entry(f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h")
