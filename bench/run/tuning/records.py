"""`bench tune`'s study records as the report and the export read them: found anywhere under the folders given,
checked (a record bench tune did not write is one clear error), and each study counted once.

A study is what its trials are: method, dataset, budget, search seed, the seed the trials trained at and the run
id of every trial. Two records of one study (the same folder given twice, a backup copy, or the same trials with
more requested seeds) are one study whose default and tuned runs are the union of theirs, each run once; records
of different studies never share a row (bench/report/studies.py names their rows apart).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

from bench.errors import BenchError
from bench.store import rundir

TUNE = "tune"  # <results folder>/.bench/tune/
NOT_RECORDS = ("selection_jobs.json",)  # bench tune's other bookkeeping there
STATUSES = ("done", "failed", "incomplete")


def record_files(folders: list) -> list[Path]:
    """Every study record under the folders (a tuned folder inside a reported one included), each file once."""
    found, seen = [], set()
    for folder in folders:
        for tune in _tune_dirs(Path(folder)):
            for path in sorted(tune.glob("*.json")):
                real = os.path.realpath(path)
                if path.name not in NOT_RECORDS and real not in seen:
                    seen.add(real)
                    found.append(path)
    return found


def _tune_dirs(folder: Path) -> list[Path]:
    """<results folder>/.bench/tune of the folder and of every results folder below it."""
    out = []
    for root, dirs, _ in os.walk(folder):
        if rundir.BENCH_DIR in dirs:
            dirs.remove(rundir.BENCH_DIR)  # bench's bookkeeping: no results folder inside
            if (Path(root) / rundir.BENCH_DIR / TUNE).is_dir():
                out.append(Path(root) / rundir.BENCH_DIR / TUNE)
    return sorted(out)


# ------------------------------------------------------------------------------------------------- checking


def _problem(data) -> str | None:
    """What makes `data` not a record bench tune wrote, or None."""
    if not isinstance(data, dict):
        return "it is not a JSON object"
    for key, kinds, required in (("method", (str,), True), ("trials", (list,), True), ("dataset", (str,), False),
                                 ("budget", (int,), True), ("search_seed", (int,), False),
                                 ("trial_seed", (int,), False), ("seeds", (list,), False),
                                 ("chosen", (int, type(None)), False), ("chosen_values", (dict, type(None)), False),
                                 ("default_runs", (list,), False), ("tuned_runs", (list,), False),
                                 ("space", (dict,), False), ("trial_train_seconds", (int, float), False)):
        if key not in data:
            if required:
                return f"it has no {key!r}"
            continue
        if not isinstance(data[key], kinds) or isinstance(data[key], bool):
            return f"its {key!r} is {data[key]!r}"
    if data["budget"] < 1 or not data["trials"]:
        return "it has no trials"
    for name in ("default_runs", "tuned_runs", "seeds"):
        kind = int if name == "seeds" else str
        if not all(isinstance(v, kind) and not isinstance(v, bool) for v in data.get(name, [])):
            return f"its {name!r} is not a list of {'seeds' if kind is int else 'run ids'}"
    return _trials_problem(data)


def _trials_problem(data: dict) -> str | None:
    indices = []
    for trial in data["trials"]:
        if not isinstance(trial, dict) or not isinstance(trial.get("run_id"), str) \
                or type(trial.get("index")) is not int or not isinstance(trial.get("values", {}), dict):
            return f"trial {trial!r} is not a trial (index, values, run_id)"
        value = trial.get("val_top1")
        if value is not None and (type(value) not in (int, float) or not math.isfinite(value)):
            return f"trial {trial['index']}'s val_top1 is {value!r}, not a finite number"
        if trial.get("status", "done") not in STATUSES:
            return f"trial {trial['index']}'s status is {trial.get('status')!r}"
        indices.append(trial["index"])
    if len(set(indices)) != len(indices):
        return "two trials have the same index"
    if data.get("chosen") is not None and data["chosen"] not in indices:
        return f"its chosen trial {data['chosen']} is not among its trials"
    return None


def read_record(path: Path) -> dict:
    """A record, checked; BenchError naming the file and the fix when bench tune did not write it."""
    problem: str | None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        problem = f"it cannot be read as JSON ({type(exc).__name__})"
    else:
        problem = _problem(data)
    if problem is not None:
        raise BenchError(f"{path} is not a study record bench tune wrote ({problem}); run the bench tune command "
                         "again to rewrite it, or delete it to report its runs as plain rows")
    return data


# ------------------------------------------------------------------------------------------------- identity


def trial_seed(record: dict):
    """The seed the trials trained at (records of earlier versions: the first requested seed, or unknown)."""
    if "trial_seed" in record:
        return record["trial_seed"]
    return (record.get("seeds") or [None])[0]


def study_key(record: dict) -> tuple:
    """What a study is, whatever seeds it then ran: its method, dataset, budget, search seed, trial seed, trials."""
    return (record["method"], record.get("dataset"), record["budget"], record.get("search_seed") or 0,
            trial_seed(record), tuple(t["run_id"] for t in sorted(record["trials"], key=lambda t: t["index"])))


def study_hash(record: dict) -> str:
    """8 hex digits of the study's identity (study_key) and the seeds it ran: a record file's name part."""
    text = json.dumps([list(study_key(record)), sorted(record.get("seeds") or [])], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _merged(records: list[dict]) -> dict:
    """One study from its records: the newest record's trials and choice; default and tuned runs of every record
    that made the same choice, each once, and their seeds."""
    newest = max(records, key=lambda r: str(r.get("written", "")))
    same = [r for r in records if r.get("chosen") == newest.get("chosen")]
    out = dict(newest)
    for key in ("default_runs", "tuned_runs"):
        out[key] = list(dict.fromkeys(name for r in records if key == "default_runs" or r in same
                                      for name in r.get(key) or []))
    out["seeds"] = sorted({s for r in records for s in r.get("seeds") or []})
    out["records"] = len(records)
    return out


def read_studies(folders: list) -> list[dict]:
    """Every study under the folders, once (see the module docstring)."""
    by_key: dict = {}
    for path in record_files(folders):
        record = read_record(path)
        by_key.setdefault(study_key(record), []).append(record)
    return [_merged(records) for records in by_key.values()]


def trials_done(record: dict) -> int:
    """Trials that finished with a validation score: the ones the choice compared."""
    return sum(t.get("status", "done") == "done" and t.get("val_top1") is not None for t in record["trials"])


def tuned_suffix(record: dict) -> str:
    """'tuned, 8 trials' (every trial of the budget compared), 'tuned, 5 of 8 trials' (fewer finished, or a space
    with fewer configurations than the budget), with the search seed where it is not 0."""
    done, budget = trials_done(record), record["budget"]
    seed = record.get("search_seed") or 0
    trials = f"{done} trials" if done == budget else f"{done} of {budget} trials"
    return f"tuned, {trials}" + (f", search seed {seed}" if seed else "")


def run_roles(studies: list[dict]) -> dict[str, str]:
    """{run id: its roles in the studies, e.g. 'default; trial'}: 'trial' (one of a study's trials), 'default'
    (the default configuration at a requested seed), 'tuned (8 trials)' (the chosen one; the row's suffix)."""
    roles: dict = {}
    for record in studies:
        tuned = "tuned (" + tuned_suffix(record).removeprefix("tuned, ") + ")"
        for role, names in (("trial", [t["run_id"] for t in record["trials"]]),
                            ("default", record.get("default_runs") or []), (tuned, record.get("tuned_runs") or [])):
            for name in names:
                roles.setdefault(name, set()).add(role)
    return {name: "; ".join(sorted(found)) for name, found in roles.items()}
