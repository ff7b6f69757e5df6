"""`bench tune`: trials through any executor, the choice on validation, then the default and the chosen config at
every requested seed. On SLURM without --wait, a one-CPU job that starts when the trials' jobs end (afterany)
runs the same command with --select-only: it makes the choice and submits the seed runs, so the whole study is
one command."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from bench.run.tuning.space import values_text

if TYPE_CHECKING:
    from bench.run.executors.base import Executor
from bench.run.tuning.study import (
    Study,
    choose,
    final_plans,
    plan_studies,
    record_selection_job,
    trial_record,
    unique_runs,
    write_record,
)


def cmd_tune(args: argparse.Namespace) -> int:
    from bench.plan.inputs import run_inputs
    from bench.run.executors import make_executor
    from bench.run.launch import launch

    executor = make_executor(args.executor, jobs=args.jobs, slurm_profile=args.slurm_profile,
                             progress=not args.no_progress)
    inputs = run_inputs(args, executor.world_size)
    studies = plan_studies(inputs, args.out, args.trials, args.search_seed)
    trials = unique_runs(t.runs for s in studies for t in s.trials)
    print_plan(studies, verbose=args.dry_run)
    if args.dry_run:
        code = launch(trials, executor, args.out, force=args.force, dry_run=True)
        print(f"after the choice: up to {len(later_runs(studies, inputs, args.out, trials))} more runs (each study's "
              "default and chosen configuration at the other seeds, with their parents), not in the cost above")
        return code
    code = 0
    if not args.select_only:
        code = launch(trials, executor, args.out, force=args.force, wait=args.wait)
        if executor.name == "slurm" and not args.wait:
            from bench.run.executors.slurm import SlurmExecutor

            assert isinstance(executor, SlurmExecutor)
            after = active_arrays(trials)
            if after:
                job = submit_selection(args, executor.profile, after)
                record_selection_job(args.out, job)
                print(f"submitted job {job}: when the trials' jobs {', '.join(after)} end, it chooses each "
                      f"method's best trial on validation and submits the seed runs; watch with: bench status "
                      f"{args.out}", flush=True)
                return code
    return max(code, finish(studies, inputs, args, executor, trials))


def print_plan(studies: list[Study], verbose: bool = False) -> None:
    for study in studies:
        run = study.trials[0].run
        space = ", ".join(study.space) or "nothing to search"
        print(f"tune   {study.method} on {run.run_dir.name.split('__')[0]}: {len(study.trials)} trial(s) at seed "
              f"{run.cfg['train']['seed']} over {space}")
        for trial in study.trials if verbose else ():
            print(f"  trial {trial.index}: {values_text(trial.values)} -> {trial.run.run_dir.name}")


def finish(studies: list[Study], inputs: dict, args: argparse.Namespace, executor: Executor,
           trials: list) -> int:
    """Choose each study's trial, write its record, start the default and tuned runs at every seed."""
    from bench.run.launch import launch
    from bench.run.tuning.study import tune_dir

    plans = []
    for study in studies:
        records = [trial_record(t) for t in study.trials]
        chosen = choose(records)
        default, tuned = final_plans(study, inputs, args.out, chosen)
        write_record(study, args.out, records, chosen, default, tuned, inputs["seeds"])
        print(choice_line(study, records, chosen), flush=True)
        plans += [default, tuned]
    print(f"records in {tune_dir(args.out)}/; bench report {args.out} --select best shows the default and tuned "
          "rows at the epochs the validation split chose")
    trained = {run.run_dir for run in trials}
    runs = unique_runs(plans)
    for run in runs:  # a trial's run is a seed run too: --force re-ran it as a trial already
        run.named = run.named and run.run_dir not in trained
    return launch(runs, executor, args.out, force=args.force, wait=args.wait)


def later_runs(studies: list[Study], inputs: dict, out: str, trials: list) -> list:
    """The seed runs the choice will start at most (a trial other than the default chosen everywhere)."""
    plans: list = []
    for study in studies:
        chosen = {"values": study.trials[1].values} if len(study.trials) > 1 else None
        plans += final_plans(study, inputs, out, chosen)
    done = {run.run_dir for run in trials}
    return [run for run in unique_runs(plans) if run.run_dir not in done]


def choice_line(study: Study, records: list[dict], chosen: dict | None) -> str:
    done = sum(r["status"] == "done" for r in records)
    head = f"chose  {study.method} on {study.trials[0].run.run_dir.name.split('__')[0]}: "
    if chosen is None:
        return head + f"no trial finished with a validation score ({done} of {len(records)} done); no tuned row"
    default = records[0]["val_top1"]
    return (head + f"trial {chosen['index']} of {len(records)} ({done} done), val top-1 {chosen['val_top1']:.2f} "
            f"(default {'n/a' if default is None else f'{default:.2f}'}): {values_text(chosen['values'])}")


def active_arrays(trials: list) -> list[str]:
    """The SLURM job arrays of the trials still pending or running."""
    from bench.run.status import ACTIVE, job_states
    from bench.store import rundir

    jobs = {j["job_id"] for j in (rundir.read_job(r.run_dir) for r in trials) if j and j.get("job_id")}
    states = job_states(sorted(jobs))
    return sorted({str(j).split("_")[0] for j in jobs if states.get(j) in ACTIVE})


class SelectionTask:
    """The SLURM job that finishes a study: the same `bench tune` command, with --select-only, in its folder."""

    def __call__(self, argv: list, cwd: str) -> int:
        import subprocess

        return subprocess.run([sys.executable, "-m", "bench", *argv], cwd=cwd).returncode


def submit_selection(args: argparse.Namespace, profile: dict, after: list[str]) -> str:
    """Submit SelectionTask with one CPU, after the trials' arrays end (whatever their outcome)."""
    from bench.run.executors._submitit import submitit_executor

    executor = submitit_executor({**profile, "gpus": 0, "cpus_per_task": 1, "tasks_per_job": 1}, args.out)
    extra = {str(k): v for k, v in profile["sbatch"].items()}
    executor.update_parameters(name="bench-tune", slurm_additional_parameters={
        **extra, "dependency": "afterany:" + ":".join(after)})
    job = executor.submit(SelectionTask(), [*args.argv, "--select-only"], os.getcwd())  # argv: set by bench.cli
    return str(job.job_id)
