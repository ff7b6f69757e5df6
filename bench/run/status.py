"""`bench status`: every run of a results folder by state, with SLURM job ids; `bench cancel`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bench.metrics.runresult import damage, read
from bench.store import rundir

ACTIVE = {"PENDING": "pending", "CONFIGURING": "pending", "REQUEUE_HOLD": "pending", "REQUEUE_FED": "pending",
          "REQUEUED": "pending", "RESV_DEL_HOLD": "pending", "RUNNING": "running", "COMPLETING": "running",
          "SUSPENDED": "running", "STAGE_OUT": "running", "SIGNALING": "running", "RESIZING": "running"}
ORDER = ("done", "running", "pending", "failed", "cancelled", "incomplete", "not started")


def _run(cmd):
    """The command's output; None where SLURM is not installed; BenchError where it is and cannot answer (the
    controller unreachable): a job it cannot see is not a job that failed."""
    from bench.errors import BenchError

    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = str(exc)
    else:
        if out.returncode == 0:
            return out.stdout
        reason = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
    raise BenchError(f"cannot ask SLURM for the jobs' states ({cmd[0]}: {reason}); check SLURM_CONF, slurmctld and "
                     "munge, then run the command again")


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






def _parent_of(run_dir):
    """The parent run's name of a two-stage run (from its config.yaml), or None."""
    import yaml

    try:
        parent = rundir.parent_dir(run_dir, yaml.safe_load((Path(run_dir) / rundir.CONFIG).read_text()))
    except (OSError, yaml.YAMLError):
        return None
    return parent.name if parent else None


def run_states(folder):
    """[(state, run name, job id, detail)] for every run folder and planned run under `folder`."""
    folder = Path(folder)
    found = rundir.find_run_dirs([folder])
    dirs = [d for d in found if rundir.BENCH_DIR not in d.relative_to(folder).parts]
    planned = rundir.planned_runs(folder)  # a sweep's runs, also while one is being restarted (files cleared)
    dirs = [d for d in dirs if d.name in planned or rundir.is_run_dir(d)]  # a user's own config.yaml: no run
    jobs = {d: rundir.read_job(d) for d in dirs}
    live = job_states([j["job_id"] for j in jobs.values() if j])
    rows = []
    for d in dirs:
        result, job = read(d), jobs[d]
        job_id = job["job_id"] if job else "-"
        state = live.get(job_id, "UNKNOWN") if job else None
        if state in ACTIVE:  # queued or running again (e.g. --force): the job's state, not the old result
            parent = _parent_of(d)
            waiting = parent and state == "PENDING" and not rundir.is_done(folder / parent)
            rows.append((ACTIVE[state], d.name, job_id, f"pending: waiting for parent {parent}" if waiting
                         else state.lower()))
            continue
        if result and result.status == "done":
            parent = (result.parent or {}).get("run_id")
            stale = None
            if parent:
                from bench.algorithms.posthoc import describe_parent_change

                stale = describe_parent_change(d, folder / parent)
            rows.append(("done", d.name, job_id, f"{stale}; the next bench run recomputes it" if stale else ""))
            continue
        if result and result.status == "failed":
            where = job["stderr"] if job else str(d / rundir.RESULT)
            error = (str(result.error or "?").splitlines() or ["?"])[0]
            rows.append(("failed", d.name, job_id, f"{error} (log: {where})"))
            continue
        holder = rundir.lock_holder(d)
        damaged = damage(d)
        if damaged and not holder:
            rows.append(("failed", d.name, job_id, damaged))
            continue
        if job is None or holder:
            if holder:
                rows.append(("running", d.name, "-", f"trained by {holder}"))
            else:
                rows.append(("incomplete", d.name, "-", "no result and nobody training it: stopped "
                                                       "(run the same command again to resume)"))
            continue
        state = str(state)  # a job was found: its state is the scheduler's (or UNKNOWN)
        if state.startswith("CANCELLED"):
            rows.append(("cancelled", d.name, job_id, f"cancelled (log: {job['stderr']})"))
        else:
            line = first_error_line(job["stderr"]) or "no error message"
            rows.append(("failed", d.name, job_id, f"job {state.lower()} without a result: {line} "
                                                   f"(log: {job['stderr']})"))
    seen = {d.name for d in dirs}
    rows += [("not started", name, "-", "") for name in sorted(rundir.planned_runs(folder) - seen)]
    rows.sort(key=lambda r: (ORDER.index(r[0]), r[1]))
    return rows


def active_selection_jobs(folder):
    """{job id: state} of `bench tune`'s selection jobs still pending or running in this results folder."""
    from bench.run.tuning.study import selection_jobs

    jobs = selection_jobs(folder)
    states = job_states(jobs)
    return {job: states[job] for job in jobs if states.get(job) in ACTIVE}


def print_status(folder):
    rows = run_states(folder)
    for job, state in active_selection_jobs(folder).items():
        print(f"bench tune's selection job {job}: {state.lower()} (it chooses when the trials end, then submits the "
              "seed runs)")
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
    ids = sorted({job for state, _, job, _ in run_states(folder) if state in ("pending", "running") and job != "-"}
                 | set(active_selection_jobs(folder)))  # a cancelled study must not go on to its seed runs
    if not ids:
        print(f"nothing to cancel in {folder}" + (" (runs trained here by bench run without SLURM stop with it: "
                                                  "Ctrl-C or kill its process)" if any(
            state == "running" for state, *_ in run_states(folder)) else ""))
        return []
    subprocess.run(["scancel", *ids], check=False)
    print(f"cancelled {len(ids)} job(s): {' '.join(ids)}")
    return ids


def wait_for(runs, out, poll=3.0, progress=False):
    """Block until none of `runs` is pending or running; non-zero exit if any failed. A line per change of
    the counts, and with `progress` a bar over the runs (done / running / failed)."""
    import time

    from bench.engine.progress import SweepBar

    names = {r.run_dir.name for r in runs}
    last = None
    bar = SweepBar(len(names), enabled=progress, desc="runs")
    try:
        while True:
            rows = [row for row in run_states(out) if row[1] in names]
            counts: dict[str, int] = {}
            for state, *_ in rows:
                counts[state] = counts.get(state, 0) + 1
            line = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            if line != last:
                bar.write(f"waiting: {line}")
                last = line
            ended = sum(n for s, n in counts.items() if s not in ("pending", "running"))
            live = [Path(out) / name for state, name, *_ in rows if state == "running"]
            bar.states(counts.get("done", 0), counts.get("running", 0), ended - counts.get("done", 0), live)
            if not counts.get("pending") and not counts.get("running"):
                break
            time.sleep(poll)
    finally:
        bar.close()
    bad = [row for row in rows if row[0] != "done"]
    for state, name, job, detail in bad:
        print(f"{state.upper()} {name} (job {job}): {detail}")
    print(f"{len(rows) - len(bad)} of {len(rows)} runs done; results in {out}/")
    return 1 if bad else 0
