"""Where runs execute: `inline` (this process, default), `local` (N subprocesses), `slurm` (submitit).

Every executor is an object with the same interface, used by the launch layer (bench.launch):

    name            "inline" | "local" | "slurm"
    trains_here     True when runs train on this machine (their device must exist here)
    gpus_per_run    for the dry-run cost
    world_size      processes one run trains on (inline: torchrun's WORLD_SIZE; SLURM: tasks_per_job)
    queued(runs)    {run_dir: job id} of runs already queued (SLURM), else {}
    check(runs)     executor-specific checks before anything starts (cluster reachable, ...)
    submit(runs, force, all_runs, wait) -> exit status

Executors are chosen explicitly with --executor, never detected.
"""

EXECUTORS = ("inline", "local", "slurm")


class Executor:
    """What every executor shares; subclasses implement start() (and override the rest as needed)."""

    name = ""
    trains_here = True
    gpus_per_run = 0
    world_size = 1  # processes one run trains on (data-parallel); it enters the run id when above 1

    def queued(self, runs):
        return {}

    def check(self, runs):
        pass

    submitted = None  # what a second level waits for (SLURM: the job ids of the first)

    def submit(self, runs, force=False, all_runs=(), wait=False, out="results", preloaded=None, after=None):
        if not runs:
            print(f"nothing to start; results in {out}/")
            return 0
        return self.start(runs, force, out, preloaded)

    def start(self, runs, force, out, preloaded):
        raise NotImplementedError


def summarise(done, out):
    """The closing line of a command that trained runs here; exit status 1 if any failed."""
    failed = [r for r in done if r.get("status") not in ("done", "skipped")]
    elsewhere = sum(r.get("status") == "skipped" for r in done)
    print(f"{len(done) - len(failed) - elsewhere} of {len(done)} runs done"
          + (f", {elsewhere} being trained by another process" if elsewhere else "") + f"; results in {out}/",
          flush=True)
    return 1 if failed else 0


def make_executor(name, jobs=2, slurm_profile="local", progress=True):
    from bench.errors import BenchError

    if name == "inline":
        from bench.executors.inline import InlineExecutor

        return InlineExecutor(progress=progress)
    if name == "local":
        from bench.executors.local import LocalExecutor

        if jobs < 1:
            raise BenchError(f"--jobs must be at least 1, got {jobs}")
        return LocalExecutor(jobs, progress=progress)
    if name == "slurm":
        from bench.executors.profiles import load_profile
        from bench.executors.slurm import SlurmExecutor

        return SlurmExecutor(load_profile(slurm_profile), progress=progress)
    raise BenchError(f"unknown executor {name!r}; use {', '.join(EXECUTORS)}")
