"""Results as data: one tidy table of every run under some folders (`bench export`, `bench.load_results`).

One row per run x reported epoch (last, best) x metric, with the run's setting, method, variant and seed;
plus one row per class (metric `class_acc`, its training images in `train_images`); a failed or unfinished run
is one row with its status and error. Metrics: the schema's, the validation top-1 where recorded, and the
shifted-prior accuracies the report derives (bench/metrics/priors.py). `tuning` says what a run is in `bench tune`'s
studies ("trial", "default", "tuned (8 trials)", separated by "; "; empty outside them); `reported` whether
`bench report` shows the run in its tables (False for trials not chosen and the parents drawn for them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import BenchError

FORMATS = ("csv", "parquet")
BLOCKS = ("last", "best")


def _base(run: Any) -> dict:
    selection = ((run.result or {}).get("selection") or {}).get("rule") or run.config.get("eval", {}).get("selection")
    return {"run_id": run.run_dir.name, "run_dir": str(run.run_dir), "status": run.status, "error": run.error,
            "method": run.method, "variant": run.variant, "recipe": run.config.get("run", {}).get("recipe", "authors"),
            "dataset": run.dataset, "profile": run.profile, "imbalance_ratio": run.imbalance_ratio,
            "data_seed": run.data_seed, "eval_split": run.eval_split, "seed": run.seed, "selection": selection}


def run_rows(run: Any) -> list[dict]:
    """The rows of one run (see the module docstring)."""
    from bench.metrics.evaluate import REPORT_METRIC_NAMES

    base = _base(run)
    if run.status != "done":
        return [{**base, "block": None, "selected_on": None, "epoch": None, "metric": None, "class": None,
                 "train_images": None, "value": None}]
    counts = run.result.get("train_class_counts") or []
    rows = []
    for name in BLOCKS:
        block = run.result.get(name) or {}
        # what chose the best epoch ("test" or "val"); the last block is the last epoch, chosen by nothing
        head = {**base, "block": name, "selected_on": block.get("selected_on", "test") if name == "best" else None,
                "epoch": block.get("epoch")}
        for metric in (*REPORT_METRIC_NAMES, "val_top1"):
            if metric in block:
                rows.append({**head, "metric": metric, "class": None, "train_images": None, "value": block[metric]})
        for c, acc in enumerate(block.get("per_class_acc") or []):
            rows.append({**head, "metric": "class_acc", "class": c,
                         "train_images": counts[c] if c < len(counts) else None, "value": acc})
    return rows


def load_results(*folders: str | Path) -> Any:
    """Every run under `folders` (as `bench report` finds them) as one tidy pandas DataFrame."""
    import pandas as pd

    from bench.report.collect import collect

    if not folders:
        raise BenchError("load_results needs at least one results folder (the one given to bench run --out)")
    for folder in folders:
        if not Path(folder).is_dir():
            raise BenchError(f"results folder {folder} does not exist; pass the folder given to `bench run --out`")
    from bench.report.studies import reported
    from bench.run.tuning.records import read_studies, run_roles

    runs = collect(list(folders))
    roles = run_roles(read_studies(list(folders)))  # bench tune's studies: which runs are trials, defaults, tuned
    shown = reported(runs, list(folders))
    rows = [{**row, "tuning": roles.get(row["run_id"]), "reported": run.run_dir in shown}
            for run in runs for row in run_rows(run)]
    frame = pd.DataFrame(rows, columns=list(_COLUMNS))
    for column in ("data_seed", "seed", "epoch", "class", "train_images"):
        frame[column] = frame[column].astype("Int64")
    frame["value"] = frame["value"].astype("float64")
    return frame


_COLUMNS = ("run_id", "run_dir", "status", "error", "method", "variant", "recipe", "dataset", "profile",
            "imbalance_ratio", "data_seed", "eval_split", "seed", "selection", "block", "selected_on", "epoch",
            "metric", "class", "train_images", "value", "tuning", "reported")


def check_out(path: Path, fmt: str, force: bool, folders: list) -> None:
    """The export's file: in an existing folder, outside the results folders exported, any run folder and bench's
    .bench folder (a run's own files), and new unless --force."""
    from bench.store import rundir

    if path.is_dir() or not path.parent.is_dir():
        raise BenchError(f"--out {path} must name a file in an existing folder (e.g. results.{fmt})")
    exported = {Path(f).resolve() for f in folders}
    for folder in [path.parent.resolve(), *path.parent.resolve().parents]:
        if folder in exported or folder.name == rundir.BENCH_DIR or (folder / rundir.RESULT).is_file() \
                or (folder / rundir.CONFIG).is_file():
            raise BenchError(f"--out {path} is inside the results, run or bookkeeping folder {folder}; write the "
                             f"table outside it (e.g. beside the results folder: results.{fmt})")
    if path.exists() and not force:
        raise BenchError(f"--out {path} exists; pass --force to overwrite it, or name another file")


def export(folders: list, out: str | Path | None, fmt: str, force: bool = False) -> Path:
    """Write load_results(folders) as CSV or Parquet to `out` (default: <first folder>.<fmt> beside it)."""
    from bench.store.results import atomic_write_bytes

    if fmt not in FORMATS:
        raise BenchError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    path = Path(out) if out else Path(str(Path(folders[0]).resolve()) + f".{fmt}")
    check_out(path, fmt, force, folders)
    frame = load_results(*folders)
    if frame.empty:
        raise BenchError(f"no runs found under {', '.join(map(str, folders))}; pass the folder given to "
                         "`bench run --out`")
    if fmt == "csv":
        data = frame.to_csv(index=False).encode()
    else:
        import io

        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        data = buf.getvalue()
    atomic_write_bytes(path, data)
    return path
