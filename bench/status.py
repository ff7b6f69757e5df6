"""`bench status`: every run of a results folder by state, with SLURM job ids; `bench cancel`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bench import results
from bench.executors.slurm import read_job

ACTIVE = {"PENDING": "pending", "CONFIGURING": "pending", "REQUEUE_HOLD": "pending", "REQUEUE_FED": "pending",
          "REQUEUED": "pending", "RESV_DEL_HOLD": "pending", "RUNNING": "running", "COMPLETING": "running",
          "SUSPENDED": "running", "STAGE_OUT": "running", "SIGNALING": "running", "RESIZING": "running"}
ORDER = ("done", "running", "pending", "failed", "cancelled", "incomplete", "not started")


def _run(cmd):
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def job_states(job_ids):
    """{job id: SLURM state} from squeue (active jobs) and sacct (ended ones)."""
    if not job_ids:
        return {}
    states = {}
    text = _run(["squeue", "-h", "-r", "-o", "%i %T"])
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    missing = sorted({j for j in job_ids if j not in states})
    if missing:
        text = _run(["sacct", "-n", "-P", "-X", "--format=JobID,State", "-j", ",".join(missing)])
        for line in (text or "").splitlines():
            job, _, state = line.partition("|")
            if job in missing:
                states[job] = state.split()[0] if state else "UNKNOWN"
    return states


def lock_holder(run_dir):
    """Who is training the run, from run.lock, without touching the lock (a trainer must never
    find it held by a status query); None when that process is gone."""
    import os
    import socket

    try:
        text = (Path(run_dir) / results.LOCK).read_text().strip()
    except OSError:
        return None
    parts = text.split()  # "pid <pid> on <host>"
    if len(parts) != 4 or parts[0] != "pid" or not parts[1].isdigit():
        return None
    if parts[3] != socket.gethostname():
        return f"{text} (another host: not checked)"
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return text


def first_error_line(log_path):
    """The last line of a job's stderr that looks like an exception, else its last line."""
    try:
        lines = [line.strip() for line in Path(log_path).read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return None
    for line in reversed(lines):
        if "Error" in line or "Exception" in line:
            return line
    return lines[-1] if lines else None


def planned_runs(folder):
    """Run folder names of every sweep submitted into this results folder (not started included)."""
    names = set()
    for path in (Path(folder) / ".bench" / "sweeps").glob("*.json"):
        try:
            names.update(json.loads(path.read_text())["runs"])
        except (OSError, ValueError, KeyError):
            continue
    return names


def record_sweep(folder, runs, executor):
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    path = Path(folder) / ".bench" / "sweeps" / f"{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    results.write_json(path, {"executor": executor, "runs": [r.run_dir.name for r in runs]})


def run_states(folder):
    """[(state, run name, job id, detail)] for every run folder and planned run under `folder`."""
    from bench.report.collect import find_run_dirs

    folder = Path(folder)
    dirs = [d for d in find_run_dirs([folder]) if ".bench" not in d.parts]
    jobs = {d: read_job(d) for d in dirs}
    live = job_states([j["job_id"] for j in jobs.values() if j])
    rows = []
    for d in dirs:
        result, job = results.read_result(d), jobs[d]
        job_id = job["job_id"] if job else "-"
        if result and result.get("status") == "done":
            rows.append(("done", d.name, job_id, ""))
            continue
        if result and result.get("status") == "failed":
            where = job["stderr"] if job else str(d / results.RESULT)
            rows.append(("failed", d.name, job_id, f"{result.get('error', '?').splitlines()[0]} (log: {where})"))
            continue
        if job is None:
            holder = lock_holder(d)
            if holder:
                rows.append(("running", d.name, "-", f"trained by {holder}"))
            else:
                rows.append(("incomplete", d.name, "-", "no result and nobody training it: stopped "
                                                       "(run the same command again to resume)"))
            continue
        state = live.get(job_id, "UNKNOWN")
        if state in ACTIVE:
            rows.append((ACTIVE[state], d.name, job_id, state.lower()))
        elif state.startswith("CANCELLED"):
            rows.append(("cancelled", d.name, job_id, f"cancelled (log: {job['stderr']})"))
        else:
            line = first_error_line(job["stderr"]) or "no error message"
            rows.append(("failed", d.name, job_id, f"job {state.lower()} without a result: {line} "
                                                   f"(log: {job['stderr']})"))
    seen = {d.name for d in dirs}
    rows += [("not started", name, "-", "") for name in sorted(planned_runs(folder) - seen)]
    rows.sort(key=lambda r: (ORDER.index(r[0]), r[1]))
    return rows


def print_status(folder):
    rows = run_states(folder)
    if not rows:
        print(f"no runs in {folder}")
        return rows
    counts = {s: sum(r[0] == s for r in rows) for s in ORDER}
    print(", ".join(f"{n} {s}" for s, n in counts.items() if n) + f" ({len(rows)} runs in {folder})")
    width = max(len(r[1]) for r in rows)
    print(f"{'state':<11}  {'run':<{width}}  {'job':<10}  detail")
    for state, name, job, detail in rows:
        print(f"{state:<11}  {name:<{width}}  {job:<10}  {detail}".rstrip())
    return rows


def cancel(folder):
    """scancel the pending and running jobs of the runs in `folder`."""
    ids = sorted({job for state, _, job, _ in run_states(folder) if state in ("pending", "running")})
    if not ids:
        print(f"nothing to cancel in {folder}")
        return []
    subprocess.run(["scancel", *ids], check=False)
    print(f"cancelled {len(ids)} job(s): {' '.join(ids)}")
    return ids
