"""SLURM through submitit: one job array per submission, checkpointable (requeued on preemption). What imports
submitit (the array task, the submitit executor) is in _submitit.py, imported when a command submits."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from bench.errors import BenchError
from bench.run.executors.base import Executor, ExecutorInfo
from bench.store import rundir

if TYPE_CHECKING:
    from bench.run.executors.base import Options


def check_cluster(profile):
    """Fail before submitting anything when sbatch is missing or the profile asks the impossible."""
    if shutil.which("sbatch") is None:
        raise BenchError("sbatch is not on PATH: run on a SLURM login node (or start the test cluster with "
                         "slurm/cluster.sh start), or use --executor local")
    cmd = ["sinfo", "-h", "-o", "%P %c %m %G"]
    if profile["partition"]:
        cmd[2:2] = ["-p", str(profile["partition"])]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"cannot reach the SLURM controller ({exc}); check SLURM_CONF / the cluster") from None
    if out.returncode != 0 and "invalid partition" not in out.stderr.lower():  # the controller, not the partition
        reason = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        raise BenchError(f"cannot reach the SLURM controller (sinfo: {reason}); check SLURM_CONF, slurmctld and "
                         "munge")
    lines = [line.split() for line in out.stdout.splitlines() if line.strip()]
    if not lines:
        where = f"partition {profile['partition']!r}" if profile["partition"] else "any partition with nodes"
        known = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=30).stdout.split()
        raise BenchError(f"SLURM has no {where} (partitions: {', '.join(known) or 'none'}); fix `partition` in "
                         f"{profile['path']}")
    max_cpus = max(int(fields[1].rstrip("+")) for fields in lines)
    max_mem_mb = max(int(fields[2].rstrip("+")) for fields in lines)
    has_gpus = any("gpu" in (fields[3] if len(fields) > 3 else "") for fields in lines)
    if profile["cpus_per_task"] > max_cpus:
        raise BenchError(f"profile {profile['name']} asks {profile['cpus_per_task']} CPUs per task but the largest "
                         f"node has {max_cpus}; lower cpus_per_task in {profile['path']}")
    if profile["mem_gb"] * 1024 > max_mem_mb:
        raise BenchError(f"profile {profile['name']} asks {profile['mem_gb']} GB but the largest node has "
                         f"{max_mem_mb / 1024:.1f} GB; lower mem_gb in {profile['path']}")
    if profile["gpus"] and not has_gpus:
        raise BenchError(f"profile {profile['name']} asks {profile['gpus']} GPU(s) but the partition has none; "
                         f"set gpus: 0 or another partition in {profile['path']}")


class SlurmExecutor(Executor):
    """Runs as one SLURM job array per submission, through submitit."""

    name = "slurm"
    trains_here = False  # the device is checked on the compute node

    def __init__(self, profile, progress=True):
        self.profile, self.progress = profile, progress
        self.gpus_per_run = profile["gpus"]
        self.world_size = profile["tasks_per_job"]  # > 1: one run data-parallel over the job's tasks

    def queued(self, runs):
        """{run_dir: job id} of runs whose earlier job is still pending or running."""
        from bench.run.status import ACTIVE, job_states

        jobs = {r.run_dir: rundir.read_job(r.run_dir) for r in runs}
        states = job_states([j["job_id"] for j in jobs.values() if j])
        return {d: j["job_id"] for d, j in jobs.items() if j and states.get(j["job_id"]) in ACTIVE}

    def check(self, runs):
        check_cluster(self.profile)

    def submit(self, runs, force=False, all_runs=(), wait=False, out="results", preloaded=None, after=None):
        if runs:
            self.submitted = submit(runs, self.profile, out, force=force, after=after)
        if wait:  # also waits for runs an earlier command queued
            from bench.run.status import wait_for

            return wait_for(all_runs, out, progress=self.progress and all(r.cfg["run"]["progress"] for r in all_runs))
        print(f"watch with: bench status {out}" if runs else f"nothing to start; results in {out}/")
        return 0


def submit(runs, profile, out, force=False, after=None):
    """Submit runs as one job array (K runs per task); writes job.json into every run folder.

    With force, each job deletes its run's old files under the run's lock before training. `after`: jobs
    (of parent runs: submitit jobs of this command, or job ids an earlier command queued) this array starts
    after, whatever their outcome (afterany: a child of a failed parent runs and records the parent's
    failure as its own reason)."""
    from bench.plan.runs import to_spec
    from bench.run.executors._submitit import SlurmTask, submitit_executor
    from bench.store import results

    k = profile["runs_per_job"]
    chunks = [runs[i:i + k] for i in range(0, len(runs), k)]
    try:
        executor = submitit_executor(profile, out)
        if after:
            arrays = sorted({job if isinstance(job, str) else job.job_id.split("_")[0] for job in after})
            extra = {str(k): v for k, v in profile["sbatch"].items()}
            executor.update_parameters(
                slurm_additional_parameters={**extra, "dependency": "afterany:" + ":".join(arrays)})
    except Exception as exc:  # submitit rejects a parameter: nothing is written
        raise BenchError(f"profile {profile['path']} is not accepted by submitit: "
                         f"{str(exc).splitlines()[0]}") from None
    created = [run.run_dir for run in runs if not run.run_dir.exists()]
    for run in runs:
        run.run_dir.mkdir(parents=True, exist_ok=True)
        with rundir.run_lock(run.run_dir) as holder:
            if holder is None:  # a run being trained elsewhere keeps its files; its job will skip it
                results.write_config(run.run_dir, run.cfg)
                if not rundir.is_done(run.run_dir):
                    (run.run_dir / rundir.RESULT).unlink(missing_ok=True)  # a failed attempt is retried
    start = time.perf_counter()
    try:
        jobs = executor.map_array(SlurmTask(), [[to_spec(r, force) for r in chunk] for chunk in chunks])
    except Exception as exc:  # sbatch refused the array: leave no run folders behind
        for folder in created:
            shutil.rmtree(folder, ignore_errors=True)
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise BenchError(f"sbatch refused the job array ({reason}); check the profile {profile['path']}") from None
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for job, chunk in zip(jobs, chunks):
        for run in chunk:
            rundir.write_job(run.run_dir, {
                "executor": "slurm", "job_id": job.job_id, "profile": profile["name"], "submitted": now,
                "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr), "packed_with": len(chunk)})
    array = jobs[0].job_id.split("_")[0] if jobs else "-"
    print(f"submitted {len(runs)} runs as job array {array} ({len(jobs)} tasks, at most "
          f"{profile['array_parallelism']} at once) with profile {profile['name']} in "
          f"{time.perf_counter() - start:.2f} s; logs in {rundir.slurm_log_dir(out)}", flush=True)
    return jobs


def from_options(options: Options) -> SlurmExecutor:
    from bench.run.executors.profiles import load_profile

    return SlurmExecutor(load_profile(options.slurm_profile), progress=options.progress)


EXECUTOR = ExecutorInfo("slurm", "one SLURM job array per submission, through submitit", from_options)
