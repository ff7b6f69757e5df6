"""What the SLURM executor needs of submitit (imported when a command submits, not to list the executors): the job
array's task and submitit's executor for a profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import submitit

from bench.store import rundir


class SlurmTask(submitit.helpers.Checkpointable):
    """One array task: its runs (K > 1 when packed, as K processes sharing the allocation).

    On preemption or time-out submitit calls checkpoint(), which resubmits the call; each run
    then resumes from its own epoch checkpoint, so the numbers are unchanged. A --force
    submission deletes a run's old files (in the job, under the run's lock) on the first
    attempt only: the resubmitted call has force off, so a requeued run resumes.
    """

    def checkpoint(self, specs):
        return submitit.helpers.DelayedSubmission(self, [{**spec, "force": False} for spec in specs])

    def __call__(self, specs):
        if int(os.environ.get("SLURM_NTASKS", "1")) > 1:  # one run, data-parallel over the job's tasks
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        cpus = int(os.environ.get("SLURM_CPUS_PER_TASK", os.cpu_count() or 1))
        threads = max(1, cpus // len(specs))
        os.environ["BENCH_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(threads)
        os.environ["BENCH_PROGRESS"] = "lines"  # the job's log gets a progress line per epoch (bench.engine.progress)
        if len(specs) == 1:
            from bench.run.worker import run_specs

            if int(os.environ.get("SLURM_NTASKS", "1")) > 1:
                from bench.engine import distributed

                try:
                    return run_specs(specs)
                finally:
                    distributed.finish()
            return run_specs(specs)
        procs = [subprocess.Popen([sys.executable, "-m", "bench.run.worker"], stdin=subprocess.PIPE, text=True)
                 for _ in specs]
        for proc, spec in zip(procs, specs):
            assert proc.stdin is not None  # stdin=PIPE
            proc.stdin.write(json.dumps([spec]))
            proc.stdin.close()
        codes = [proc.wait() for proc in procs]
        return ["done" if code == 0 else "failed" for code in codes]


def submitit_executor(profile: dict, out: str) -> submitit.AutoExecutor:
    """submitit's executor for a SLURM profile (bench/run/executors/profiles.py), its logs under `out`."""
    executor = submitit.AutoExecutor(folder=str(rundir.slurm_log_dir(out) / "%j"), cluster="slurm",
                                     slurm_max_num_timeout=profile["max_requeues"])
    extra = {str(k): v for k, v in profile["sbatch"].items()}
    params = dict(
        name="bench", timeout_min=profile["time_min"], cpus_per_task=profile["cpus_per_task"],
        mem_gb=profile["mem_gb"], slurm_array_parallelism=profile["array_parallelism"],
        slurm_setup=list(profile["setup"]),
    )
    if profile["gpus"]:
        params["gpus_per_node"] = profile["gpus"]
    if profile["tasks_per_job"] > 1:  # DDP: one process per task (per GPU), one node
        params["tasks_per_node"] = profile["tasks_per_job"]
    for key in ("partition", "account", "qos", "constraint"):
        if profile[key]:
            params[f"slurm_{key}"] = profile[key]
    if extra:
        params["slurm_additional_parameters"] = extra
    executor.update_parameters(**params)
    return executor
