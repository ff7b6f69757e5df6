"""The run folder and the results folder: every file name bench keeps there, and who may touch them.

<out>/<dataset>-<profile><ratio>-ds<data seed>__<method>__seed<seed>__<config hash>/
    config.yaml         the resolved config
    metrics.jsonl       one line per evaluated epoch
    checkpoint.pt       resumable state (model, optimizer, epoch, best, history, threads), sha256-checked
    checkpoint.prev.pt  the checkpoint before it
    predictions.npz     last-epoch test predictions and labels
    run.lock            flock held by the process training the run ("pid N on HOST")
    job.json            SLURM runs: job id and log paths
    result.json         written last; status "done" or "failed"
<out>/.bench/sweeps/<time>.json   the run names of every submitted sweep (for `bench status`)
<out>/.bench/slurm/<job id>/      submitit's logs

The executors (bench.run.launch), `bench status` and `bench report` all read the folder through
this module. A run's files are deleted only by the process that holds its lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULT, METRICS, CONFIG, CHECKPOINT = "result.json", "metrics.jsonl", "config.yaml", "checkpoint.pt"
PREDICTIONS, PREVIOUS_CHECKPOINT, LOCK, JOB = "predictions.npz", "checkpoint.prev.pt", "run.lock", "job.json"
BEST = "best.pt"  # the weights of the epoch best on the validation split (eval.selection=best_val)
LOGITS = "logits.npz"  # final test (and val) logits (float32; float16 above 16M numbers), for post-hoc methods
RECOMPUTED = "recomputed.json"  # `bench report`'s cache of metrics an old result lacks, computed from LOGITS
BENCH_DIR = ".bench"  # bench's own bookkeeping inside a results folder, never a run


def sweeps_dir(out):
    return Path(out) / BENCH_DIR / "sweeps"


def slurm_log_dir(out):
    return Path(out) / BENCH_DIR / "slurm"


def _read_json_dict(path):
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def read_result(run_dir):
    """The run's result.json as a dict, or None if absent, unreadable or not a JSON object."""
    return _read_json_dict(Path(run_dir) / RESULT)


def is_done(run_dir):
    result = read_result(run_dir)
    return bool(result) and result.get("status") == "done"


def read_job(run_dir):
    """job.json (executor, job id, logs) as a dict with a string job_id, or None."""
    job = _read_json_dict(Path(run_dir) / JOB)
    if not job or not isinstance(job.get("job_id"), str):
        return None
    job.setdefault("stderr", "")
    job.setdefault("stdout", "")
    return job


def write_job(run_dir, job):
    from bench.store.atomic import write_json

    write_json(Path(run_dir) / JOB, job)


@contextmanager
def run_lock(run_dir):
    """Yields None when this process holds the run, else the holder's description (and holds nothing).

    An exclusive flock on <run>/run.lock, released by the OS even after kill -9."""
    path = Path(run_dir) / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            yield holder
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        try:
            yield None
        finally:
            os.ftruncate(fd, 0)  # the file names a holder only while it is held (status reads it)
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def reading_lock(run_dir):
    """Yields None while this process reads a finished run (a child computed from its parent), else the
    description of the process training it. A shared flock on <run>/run.lock: several children read one
    parent at once, and nobody re-trains (or deletes) it meanwhile, as run_lock is exclusive."""
    path = Path(run_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:  # no parent folder: nothing holds it, and the child fails with the reason
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            return
        yield None
    finally:
        os.close(fd)


def lock_holder(run_dir):
    """Who is training the run, from run.lock, without touching the lock (a trainer must never
    find it held by a status query); None when that process is gone."""
    try:
        text = (Path(run_dir) / LOCK).read_text(errors="replace").strip()
    except OSError:
        return None
    parts = text.split()  # "pid <pid> on <host>"
    if len(parts) != 4 or parts[0] != "pid" or not parts[1].isdigit():
        return None
    if parts[3] != socket.gethostname():
        return f"{text} (another host: not checked)"
    try:
        os.kill(int(parts[1]), 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return text


def clear_run(run_dir):
    """Delete every file of a run but its lock, its job record (the submission that is re-running it) and its
    config.yaml, which the caller rewrites atomically: the folder never looks like no run to `bench status`.
    Call only while holding run_lock(run_dir)."""
    import shutil

    for child in Path(run_dir).iterdir():
        if child.name not in (LOCK, JOB, CONFIG):
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def remove_stale_temporaries(run_dir):
    """Temporary files of a killed atomic write. Call only while holding run_lock(run_dir)."""
    for stale in Path(run_dir).glob(".*.tmp"):
        stale.unlink(missing_ok=True)


def record_sweep(out, runs, executor):
    """Remember the run names of a submitted sweep, so `bench status` lists runs not started yet."""
    from datetime import datetime, timezone

    from bench.store.atomic import write_json

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    path = sweeps_dir(out) / f"{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"executor": executor, "runs": [r.run_dir.name for r in runs]})


def planned_runs(out):
    """Run folder names of every sweep submitted into this results folder (not started included)."""
    names: set[str] = set()
    for path in sweeps_dir(out).glob("*.json"):
        data = _read_json_dict(path)
        runs = data.get("runs") if data else None
        if isinstance(runs, list):
            names.update(r for r in runs if isinstance(r, str))
    return names


def parent_dir(run_dir, cfg: Mapping[str, Any]):
    """A two-stage run's parent folder: beside the run, named by its config's stage.parent; None for a
    one-stage run (or a config without a stage section)."""
    parent = (cfg.get("stage") or {}).get("parent") if isinstance(cfg, dict) else None
    return Path(run_dir).parent / parent if parent else None


def load_yaml(path):
    import yaml

    with open(path) as f:
        return yaml.safe_load(f)


def config_ok(cfg: Mapping[str, Any]):
    """A config bench wrote: the sections and keys the report reads, of the right types."""
    try:
        d, m, t = cfg["dataset"], cfg["method"], cfg["train"]
        ratio = d["imbalance_ratio"]
        return (isinstance(m["name"], str) and isinstance(d["name"], str) and isinstance(d["profile"], str)
                and (ratio is None or (isinstance(ratio, (int, float)) and not isinstance(ratio, bool)))
                and isinstance(t["seed"], int) and isinstance(d.get("data_seed", 0), int)
                and isinstance(m, dict) and isinstance(cfg.get("model", {}), dict))
    except (KeyError, TypeError):
        return False


def find_run_dirs(folders):
    """Folders holding a result.json or config.yaml, searched recursively (not inside runs). A folder with such
    a file that also holds run folders (a results folder with the user's own config.yaml) is searched on."""
    found = []
    stack = [Path(f) for f in folders]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        names = {e.name for e in entries}
        subdirs = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        if (RESULT in names or CONFIG in names) and not any(_holds_run_files(d) for d in subdirs):
            found.append(folder)
            continue
        stack.extend(subdirs)
    return sorted(found)


def is_run_dir(folder):
    """A folder bench made for a run, as the report reads it: a result.json whose config bench wrote, or a
    config.yaml bench wrote (a run in progress, or one whose result is damaged). A user's own config.yaml or
    result.json is not one."""
    folder = Path(folder)
    try:
        result = json.loads((folder / RESULT).read_text())
        if isinstance(result, dict) and isinstance(result.get("config"), dict) and config_ok(result["config"]):
            return True
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    try:
        cfg = load_yaml(folder / CONFIG)
    except Exception:  # noqa: BLE001 - absent, unreadable or not YAML: not a run's config
        return False
    return isinstance(cfg, dict) and config_ok(cfg)


def _holds_run_files(folder):
    return (folder / RESULT).is_file() or (folder / CONFIG).is_file()
