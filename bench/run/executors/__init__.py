"""Where runs execute: `inline` (this process, default), `local` (N subprocesses), `slurm` (submitit).

Every executor is an object with the same interface (bench.run.executors.base.Executor), used by the launch layer
(bench.run.launch):

    name            "inline" | "local" | "slurm"
    trains_here     True when runs train on this machine (their device must exist here)
    gpus_per_run    for the dry-run cost
    world_size      processes one run trains on (inline: torchrun's WORLD_SIZE; SLURM: tasks_per_job)
    queued(runs)    {run_dir: job id} of runs already queued (SLURM), else {}
    check(runs)     executor-specific checks before anything starts (cluster reachable, ...)
    submit(runs, force, all_runs, wait) -> exit status

Executors are chosen explicitly with --executor, never detected. Adding one: its module here with a
`from_options(options: Options) -> Executor` function, and its line in EXECUTORS (the modules are imported when a
command runs, not for --help: submitit alone takes half a second).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from bench.registry import Registry
from bench.run.executors.base import Executor, summarise  # noqa: F401 - the interface, re-exported


@dataclass(frozen=True)
class Options:
    """What the command line says of the executor: each executor reads its own."""

    jobs: int = 2  # the local executor's concurrent runs
    slurm_profile: str = "local"  # the SLURM executor's profile
    progress: bool = True


@dataclass(frozen=True)
class ExecutorInfo:
    name: str
    doc: str
    module: str  # the module whose from_options(Options) makes it, imported on use

    def make(self, options: Options) -> Executor:
        return importlib.import_module(self.module).from_options(options)


EXECUTORS = Registry("executor")
for _info in (
    ExecutorInfo("inline", "every run in this process, one after another", "bench.run.executors.inline"),
    ExecutorInfo("local", "up to --jobs worker subprocesses on this machine", "bench.run.executors.local"),
    ExecutorInfo("slurm", "one SLURM job array per submission, through submitit", "bench.run.executors.slurm"),
):
    EXECUTORS.register(_info.name, _info)


def make_executor(name: str, jobs: int = 2, slurm_profile: str = "local", progress: bool = True) -> Executor:
    return EXECUTORS.get_or_fail(name).make(Options(jobs, slurm_profile, progress))
