"""Where runs execute: `inline` (this process, default), `local` (N subprocesses), `slurm` (submitit).

Every executor is an object with the same interface, used by the launch layer (bench.run.launch):

    name            "inline" | "local" | "slurm"
    trains_here     True when runs train on this machine (their device must exist here)
    gpus_per_run    for the dry-run cost
    world_size      processes one run trains on (inline: torchrun's WORLD_SIZE; SLURM: tasks_per_job)
    queued(runs)    {run_dir: job id} of runs already queued (SLURM), else {}
    check(runs)     executor-specific checks before anything starts (cluster reachable, ...)
    submit(runs, force, all_runs, wait) -> exit status

Executors are chosen explicitly with --executor, never detected.
"""

from bench.run.executors.base import Executor, summarise  # noqa: F401 - the interface, re-exported

EXECUTORS = ("inline", "local", "slurm")


def make_executor(name, jobs=2, slurm_profile="local", progress=True):
    from bench.errors import BenchError

    if name == "inline":
        from bench.run.executors.inline import InlineExecutor

        return InlineExecutor(progress=progress)
    if name == "local":
        from bench.run.executors.local import LocalExecutor

        if jobs < 1:
            raise BenchError(f"--jobs must be at least 1, got {jobs}")
        return LocalExecutor(jobs, progress=progress)
    if name == "slurm":
        from bench.run.executors.profiles import load_profile
        from bench.run.executors.slurm import SlurmExecutor

        return SlurmExecutor(load_profile(slurm_profile), progress=progress)
    raise BenchError(f"unknown executor {name!r}; use {', '.join(EXECUTORS)}")
