"""The `bench` command line. Imports torch only when a run starts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.errors import BenchError
from bench.executors import EXECUTORS

EPILOG = """examples:
  bench run --methods ldam_drw,focal --datasets cifar10_lt
  bench run --methods erm,ldam_drw --datasets fashion_mnist_lt --preset quick
  bench run --methods ldam_drw --datasets cifar100_lt --seeds 0,1,2 --set dataset.imbalance_ratio=10
  bench run --methods erm,focal --datasets cifar10_lt --seeds 0,1,2 --executor slurm --slurm-profile mycluster
  bench status results/
  bench list methods
  bench report results/ --out paper/ --latex --csv --plots --compare paper
"""


def _names(text, what):
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise BenchError(f"--{what} needs at least one name")
    return list(dict.fromkeys(names))


def _seeds(text):
    seeds = []
    for part in _names(text, "seeds"):
        try:
            seed = int(part)
        except ValueError:
            raise BenchError(f"--seeds takes comma-separated non-negative integers (e.g. 0,1,2), got {part!r}") from None
        if seed < 0:
            raise BenchError(f"--seeds takes non-negative integers, got {seed}")
        seeds.append(seed)
    return seeds


def build_parser():
    parser = argparse.ArgumentParser(
        prog="bench", description="Benchmark harness for class-imbalanced, long-tailed learning.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train and evaluate methods on datasets",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    run.add_argument("--methods", help="comma-separated method names (bench list methods)")
    run.add_argument("--datasets", help="comma-separated dataset names (bench list datasets)")
    run.add_argument("--seeds", help="comma-separated training seeds (default: 0)")
    run.add_argument("--sweep", metavar="FILE", help="YAML sweep file (methods, datasets, seeds, grid, set)")
    run.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                     help="run every value of a config key, e.g. --grid dataset.imbalance_ratio=100,10; repeatable")
    run.add_argument("--executor", choices=EXECUTORS, default="inline",
                     help="inline: one after another in this process (default); local: --jobs subprocesses; "
                          "slurm: a job array through submitit")
    run.add_argument("--jobs", type=int, default=2, help="concurrent runs of the local executor (default 2)")
    run.add_argument("--slurm-profile", default="local", metavar="NAME",
                     help="SLURM profile: slurm/NAME.yaml or a path (default: local, the test cluster)")
    run.add_argument("--wait", action="store_true", help="with slurm: block until every run has ended")
    run.add_argument("--dry-run", action="store_true", help="list the runs and their cost; start nothing")
    run.add_argument("--preset", action="append", default=[], metavar="NAME",
                     help="apply a preset on top of the dataset's recipe (bench list presets); repeatable")
    run.add_argument("--config", action="append", default=[], metavar="FILE",
                     help="YAML file of config overrides; repeatable")
    run.add_argument("--set", action="append", default=[], nargs="+", metavar="KEY=VALUE",
                     help="override one config key, e.g. --set method.beta=0.999 (bench list keys)")
    run.add_argument("--epochs", type=int, help="number of epochs (LR milestones scale with it)")
    run.add_argument("--data-root", help="folder holding the datasets (default: $BENCH_DATA, else ./data)")
    run.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    run.add_argument("--precision", choices=["fp32", "bf16", "fp16"],
                     help="fp32 (default, as the papers), bf16 autocast, or fp16 autocast + scaler (CUDA)")
    run.add_argument("--compile", action="store_true", help="torch.compile the model (slow start, faster steps)")
    run.add_argument("--out", default="results", help="results folder (default: results)")
    run.add_argument("--force", action="store_true", help="re-run runs that are already done")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    rep = sub.add_parser("report", help="tables, LaTeX, CSV and plots from result folders")
    rep.add_argument("folders", nargs="+", help="result folders (several are merged)")
    rep.add_argument("--out", help="write tables.md (and the files asked for below) into this folder")
    rep.add_argument("--latex", action="store_true", help="booktabs LaTeX tables, one .tex per table")
    rep.add_argument("--csv", action="store_true", help="tidy CSV: one row per method x setting x metric")
    rep.add_argument("--plots", action="store_true", help="per-class, shot-group and learning-curve plots")
    rep.add_argument("--confusion", action="append", default=[], metavar="RUN_DIR",
                     help="confusion-matrix heatmap of one finished run; repeatable")
    rep.add_argument("--compare", choices=["paper"], help="published LDAM-DRW paper numbers beside ours")
    rep.add_argument("--select", choices=["last", "best"], default="last",
                     help="last epoch (default) or best epoch, which is selected on the test set")
    rep.add_argument("--metric", choices=["accuracy", "error"], default="accuracy",
                     help="accuracy (default) or error = 100 - accuracy, the paper's convention")

    st = sub.add_parser("status", help="runs of a results folder by state, with SLURM job ids")
    st.add_argument("folder", nargs="?", default="results")
    cn = sub.add_parser("cancel", help="cancel the pending and running SLURM jobs of a results folder")
    cn.add_argument("folder", nargs="?", default="results")

    perf = sub.add_parser("perf", help="training images/s: bench vs the bare model step and the reference pipeline")
    perf.add_argument("--device", default="auto", help="auto (default), cpu, cuda")
    perf.add_argument("--images", type=int, default=12406, help="training images (default: CIFAR-10-LT size)")
    perf.add_argument("--workers", type=int, default=4, help="DataLoader workers of the reference pipeline")
    perf.add_argument("--model", default="resnet32")

    lst = sub.add_parser("list", help="list methods, datasets, models, presets or config keys")
    lst.add_argument("what", choices=["methods", "datasets", "models", "presets", "keys"])
    return parser


def cmd_list(what):
    if what == "methods":
        from bench.methods.registry import METHODS

        rows = [(m.name, m.description + (f" [paper row: {m.paper_row}]" if m.paper_row else ""))
                for m in METHODS.values()]
    elif what == "datasets":
        from bench.datasets.registry import DATASETS

        rows = [(d.name, f"{d.description} (recipe preset: {d.recipe})") for d in DATASETS.values()]
    elif what == "models":
        from bench.models.registry import MODELS

        rows = [(m.name, m.description) for m in MODELS.values()]
    elif what == "presets":
        from bench.config import preset_description, preset_names

        rows = [(n, preset_description(n)) for n in preset_names()]
    else:
        from bench.config import DEFAULTS, flatten

        rows = [(k, repr(v)) for k, v in flatten(DEFAULTS).items()]
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        print(f"{name:<{width}}  {text}")
    return 0


def plan_from_args(args):
    from bench.sweep import load_sweep, parse_grid_flags, plan_sweep

    flags = {"train.epochs": args.epochs, "dataset.root": args.data_root, "run.device": args.device,
             "train.precision": args.precision, "run.compile": args.compile or None}
    if args.no_progress:
        flags["run.progress"] = False
    sets = [item for group in args.set for item in group]
    grid = parse_grid_flags(args.grid)
    if args.sweep:
        if args.methods or args.datasets or args.seeds:
            raise BenchError("give the runs either with --sweep FILE or with --methods/--datasets/--seeds, not both")
        sweep = load_sweep(args.sweep)
        return plan_sweep(sweep["methods"], sweep["datasets"], sweep["seeds"], args.out,
                          sweep["presets"] + args.preset, sweep["configs"] + args.config, flags,
                          sweep["sets"] + sets, {**sweep["grid"], **grid})
    if not args.methods or not args.datasets:
        raise BenchError("bench run needs --methods and --datasets (or --sweep FILE); see bench list methods")
    return plan_sweep(_names(args.methods, "methods"), _names(args.datasets, "datasets"),
                      _seeds(args.seeds or "0"), args.out, args.preset, args.config, flags, sets, grid)


def cmd_run(args):
    from bench import results
    from bench.runner import check_output_dir, execute

    runs = plan_from_args(args)
    profile = None
    if args.executor == "slurm":
        from bench.executors.profiles import load_profile

        profile = load_profile(args.slurm_profile)
    if args.jobs < 1:
        raise BenchError(f"--jobs must be at least 1, got {args.jobs}")
    skipped = [] if args.force else [r for r in runs if results.is_done(r.run_dir)]
    queued = {}
    if args.executor == "slurm" and not args.force:
        from bench.status import ACTIVE, job_states
        from bench.executors.slurm import read_job

        jobs = {r.run_dir: read_job(r.run_dir) for r in runs if r not in skipped}
        states = job_states([j["job_id"] for j in jobs.values() if j])
        queued = {d: j["job_id"] for d, j in jobs.items() if j and states.get(j["job_id"]) in ACTIVE}
    start = [r for r in runs if r not in skipped and r.run_dir not in queued]
    if args.dry_run:
        return dry_run(runs, start, skipped, queued, args, profile)
    for run in skipped:
        print(f"skip   {run.run_dir.name}: already done (--force re-runs it)")
    for run in runs:
        if run.run_dir in queued:
            print(f"skip   {run.run_dir.name}: already queued as SLURM job {queued[run.run_dir]}")
    check_output_dir(args.out)
    from bench.status import record_sweep

    if args.executor == "slurm":
        from bench.executors.slurm import check_cluster, submit

        if start:
            check_cluster(profile)
            record_sweep(args.out, runs, "slurm")
            submit(start, profile, args.out, force=args.force)
        if args.wait:  # also waits for runs an earlier command queued
            return wait_for(runs, args.out)
        print(f"watch with: bench status {args.out}" if start else f"nothing to start; results in {args.out}/")
        return 0
    if not start:
        print(f"nothing to start; results in {args.out}/")
        return 0
    if args.executor == "local":
        from bench.executors.local import run_local

        record_sweep(args.out, runs, "local")
        done = run_local(start, args.jobs, force=args.force)
    else:
        from bench import distributed

        progress = start[0].cfg["run"]["progress"] and sys.stderr.isatty()
        done = execute(start, force=args.force, progress=progress)
        distributed.finish()
        if not distributed.is_main():
            return 0
    failed = [r for r in done if r.get("status") not in ("done", "skipped")]
    elsewhere = sum(r.get("status") == "skipped" for r in done)
    print(f"{len(done) - len(failed) - elsewhere} of {len(done)} runs done"
          + (f", {elsewhere} being trained by another process" if elsewhere else "") + f"; results in {args.out}/")
    return 1 if failed else 0


def wait_for(runs, out, poll=3.0):
    """Block until none of `runs` is pending or running; non-zero exit if any failed."""
    import time

    from bench.status import run_states

    names = {r.run_dir.name for r in runs}
    last = None
    while True:
        rows = [row for row in run_states(out) if row[1] in names]
        counts = {}
        for state, *_ in rows:
            counts[state] = counts.get(state, 0) + 1
        line = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        if line != last:
            print(f"waiting: {line}", flush=True)
            last = line
        if not counts.get("pending") and not counts.get("running"):
            break
        time.sleep(poll)
    bad = [row for row in rows if row[0] != "done"]
    for state, name, job, detail in bad:
        print(f"{state.upper()} {name} (job {job}): {detail}")
    print(f"{len(rows) - len(bad)} of {len(rows)} runs done; results in {out}/")
    return 1 if bad else 0


def dry_run(runs, start, skipped, queued, args, profile):
    from bench.cost import estimate, measured_speeds

    speeds = measured_speeds(args.out)
    total = 0.0
    for run in runs:
        if run in skipped:
            print(f"skip   {run.run_dir.name}: already done")
        elif run.run_dir in queued:
            print(f"skip   {run.run_dir.name}: already queued as SLURM job {queued[run.run_dir]}")
        else:
            seconds, how = estimate(run, speeds)
            total += seconds
            print(f"start  {run.run_dir.name}: ~{seconds / 3600:.2f} h at {how}")
    gpus = profile["gpus"] if profile else 0
    unit = f"{gpus} GPU(s) per run: ~{total * gpus / 3600:.1f} GPU-hours" if gpus else \
        f"~{total / 3600:.1f} device-hours"
    print(f"dry run: {len(start)} to start, {len(runs) - len(start)} skipped; {unit} "
          f"({args.executor} executor); nothing was started")
    return 0


def cmd_status(args):
    from bench.status import print_status

    if not Path(args.folder).is_dir():
        raise BenchError(f"results folder {args.folder} does not exist; pass the folder given to `bench run --out`")
    print_status(args.folder)
    return 0


def cmd_cancel(args):
    from bench.status import cancel

    if not Path(args.folder).is_dir():
        raise BenchError(f"results folder {args.folder} does not exist; pass the folder given to `bench run --out`")
    cancel(args.folder)
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args.what)
        if args.command == "perf":
            from bench.perf import run_perf

            run_perf(args.device, args.images, args.workers, args.model)
            return 0
        if args.command == "status":
            return cmd_status(args)
        if args.command == "cancel":
            return cmd_cancel(args)
        if args.command == "report":
            from bench.report.build import report

            report(args.folders, args.out, args.latex, args.csv, args.plots, args.compare, args.select,
                   args.metric, args.confusion)
            return 0
        return cmd_run(args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
