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

Executors are chosen explicitly with --executor, never detected. Adding one is one module here declaring
`EXECUTOR = ExecutorInfo(name, doc, make)` (bench.run.executors.base), found by bench.registry.discover (the
modules import what is heavy, submitit or the planner, inside their functions, since --help lists them), or a
plugin module (BENCH_PLUGINS) declaring it the same way.
"""

from __future__ import annotations

import os

from bench.registry import Registry, declared, discover
from bench.run.executors.base import Executor, ExecutorInfo, Options, summarise  # noqa: F401 - the interface

EXECUTORS = Registry("executor")
for _info in discover("bench.run.executors", ExecutorInfo, ("EXECUTOR",)):
    EXECUTORS.register(_info.name, _info)


def _register_plugins() -> None:
    """The executors the modules of BENCH_PLUGINS declare (EXECUTOR), as the built-in ones; the plugins are loaded
    only when named (their registry costs a quarter of a second, which --help does not pay otherwise)."""
    if not os.environ.get("BENCH_PLUGINS", "").strip():
        return
    from bench.methods.registry import PLUGIN_MODULES, register_entry

    for module in PLUGIN_MODULES:
        for info in declared(module, ExecutorInfo, ("EXECUTOR",)):
            register_entry(EXECUTORS, info.name, info, f"plugin module {module.__name__}")


_register_plugins()


def make_executor(name: str, jobs: int = 2, slurm_profile: str = "local", progress: bool = True) -> Executor:
    return EXECUTORS.get_or_fail(name).make(Options(jobs, slurm_profile, progress))
