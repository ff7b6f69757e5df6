"""`bench tune`'s studies in the report: the chosen trial's runs as a "tuned" row beside the default row, the other
trials (one seed each) out of the tables, and a table of what each study searched, chose and spent."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from bench.report.collect import setting_label
from bench.report.tables import Entry, Notes, Table


@dataclass
class ReportedStudy:
    record: dict  # the study (bench/run/tuning/records.py read_studies: its records merged)
    setting: tuple
    default: tuple | None  # (method, variant, setting) of its default configuration, None when no run of it is here
    tuned: list  # the runs of its chosen configuration that the study started (its record's tuned runs), here
    suffix: str = ""  # what its tuned row adds to the default's label: "tuned, 8 trials" (made unique in a setting)


def _key(run) -> tuple:
    return run.method, run.variant, run.setting


def _parent(run, by_name):
    return by_name.get(((run.result or {}).get("parent") or {}).get("run_id"))


def _place(record: dict, by_name: dict) -> ReportedStudy | None:
    """The study as the report places it; None when none of its runs is here."""
    trials = sorted(record["trials"], key=lambda t: t["index"])
    own = [by_name.get(t["run_id"]) for t in trials[:1]] + [by_name.get(n) for n in record.get("default_runs", [])]
    tuned = [by_name[n] for n in record.get("tuned_runs", []) if n in by_name]
    known = [run for run in own + tuned + [by_name.get(t["run_id"]) for t in trials] if run is not None]
    if not known:
        return None
    default = next((_key(run) for run in own if run is not None), None)
    return ReportedStudy(record, known[0].setting, default, tuned)


def _claims(studies: list, by_name: dict) -> tuple[set, set]:
    """(run ids the studies started for their search: trials, tuned runs, the parents drawn for them; run ids of
    their default configurations and those runs' parents)."""
    claimed: set = set()
    defaults: set = set()
    for study in studies:
        r = study.record
        trials = [t["run_id"] for t in sorted(r["trials"], key=lambda t: t["index"])]
        for names, into in ((trials + r.get("tuned_runs", []), claimed), (trials[:1] + r.get("default_runs", []),
                                                                          defaults)):
            runs = [by_name[n] for n in names if n in by_name]
            into.update(names)
            into.update(p.run_dir.name for p in (_parent(run, by_name) for run in runs) if p is not None)
    return claimed - defaults, defaults


def _name_rows(studies: list) -> None:
    """Each study's suffix: 'tuned, N trials' (and its search seed); where two studies of one default row in one
    setting would share it, the seed their trials trained at, then the study's own id, tell them apart."""
    from bench.run.tuning.records import study_hash, trial_seed, tuned_suffix

    for study in studies:
        study.suffix = tuned_suffix(study.record)
    for extra in (lambda s: f", trials at seed {trial_seed(s.record)}", lambda s: f", study {study_hash(s.record)}"):
        groups: dict = {}
        for study in studies:
            groups.setdefault((study.setting, study.default, study.record["method"], study.suffix), []).append(study)
        for group in (g for g in groups.values() if len(g) > 1):
            for study in group:
                study.suffix += extra(study)


def apply(runs: list, folders: list, notes: list | None = None) -> tuple[list, list]:
    """(runs for the tables, studies). A study's tuned row holds exactly the runs its records name as tuned, each
    once, labelled after its default's row. A configuration's own row shows all its runs when one of them is a
    default run or was not started by a study's search; a configuration whose runs are all the search's (trials
    not chosen, the parents drawn for trials, the chosen configuration's seed runs) has no row of its own."""
    from bench.run.tuning.records import read_studies

    by_name = {run.run_dir.name: run for run in runs}
    studies = [s for s in (_place(r, by_name) for r in read_studies(folders)) if s is not None]
    _name_rows(studies)
    claimed, defaults = _claims(studies, by_name)
    shown = {_key(run) for run in runs if run.run_dir.name in defaults or run.run_dir.name not in claimed}
    out = [run for run in runs if _key(run) in shown]
    for study in studies:
        for run in study.tuned:
            tuned = copy.copy(run)
            tuned.tuned_of = (study.default[1] if study.default else None, study.suffix)
            out.append(tuned)
    in_tuned_rows = {run.run_dir for study in studies for run in study.tuned}
    left_out = sum(_key(run) not in shown and run.run_dir not in in_tuned_rows for run in runs)
    if notes is not None and left_out:
        notes.append(f"{left_out} run(s) of tuning trials that were not chosen (and parents drawn for trials) left "
                     "out of the tables (the tuning table sums them up)")
    return out, studies


def reported(runs: list, folders: list) -> set:
    """The run folders the report's tables show (bench export's `reported` column)."""
    shown, _ = apply(runs, folders)
    return {run.run_dir for run in shown}


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
    mark = (study.default[1] if study.default else None, study.suffix)
    return next((c.label for c in cells.values() if c.setting == study.setting and c.method == study.record["method"]
                 and any(run.tuned_of == mark for run in c.runs)), f"{study.record['method']} ({mark[1]})")


def _row(study: ReportedStudy, notes: Notes, label: str) -> tuple:
    from bench.run.tuning.space import values_text

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


def _trial(record: dict, index) -> dict | None:
    return next((t for t in record["trials"] if t["index"] == index), None) if isinstance(index, int) else None


def _val(trial: dict | None) -> Entry:
    value = None if trial is None else trial.get("val_top1")
    return Entry("n/a") if value is None else Entry(f"{value:.2f}")  # no mean: no column's best is bold


def _duration(seconds: float) -> Entry:
    return Entry(f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h")
