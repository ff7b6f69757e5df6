"""The `bench` command line. Imports torch only when a run starts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.errors import BenchError, Stopped
from bench.metrics.evaluate import REPORT_METRIC_NAMES
from bench.plan.inputs import run_inputs
from bench.run.executors import EXECUTORS

EPILOG = """examples:
  bench run --methods ldam_drw,focal --datasets cifar10_lt
  bench run --methods erm,ldam_drw --datasets fashion_mnist_lt --preset quick
  bench run --methods ldam_drw --datasets cifar100_lt --seeds 0,1,2 --set dataset.imbalance_ratio=10
  bench run --methods erm,focal --datasets cifar10_lt --seeds 0,1,2 --executor slurm --slurm-profile mycluster
  bench status results/
  bench list methods
  bench report results/ --out paper/ --latex --csv --plots --compare paper
"""
TUNE_EPILOG = """examples:
  bench tune --methods erm,focal,ldam_drw --datasets fashion_mnist_lt --preset quick --trials 8 --seeds 0,1,2
  bench tune --methods erm,ldam_drw --datasets cifar10_lt --seeds 0,1,2 --executor slurm --slurm-profile mycluster
  bench tune ... --dry-run     (the trials' drawn values and run ids; nothing starts)

--set and --grid keys are fixed, never searched (bench list parts shows each hyper-parameter's search).
"""


def _integer(text):
    """An argparse type: a whole number as written in decimal digits (int() would also read '1_0' as 10)."""
    import re

    if not re.fullmatch(r"-?[0-9]+", text.strip()):
        raise argparse.ArgumentTypeError(f"expected a whole number such as 10, got {text!r}")
    return int(text)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="bench", description="Benchmark harness for class-imbalanced, long-tailed learning.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_run, _add_tune, _add_reproduce, _add_config, _add_report, _add_export, _add_status_and_cancel,
                _add_perf, _add_list, _add_data):
        add(sub)
    return parser


def _add_run(sub):
    run = sub.add_parser("run", help="train and evaluate methods on datasets",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    _run_arguments(run)


def _add_tune(sub):
    tune = sub.add_parser("tune", help="the same random-search budget for every method: N configurations each, "
                                       "chosen on validation, then re-run with every seed",
                          formatter_class=argparse.RawDescriptionHelpFormatter, epilog=TUNE_EPILOG)
    _run_arguments(tune)
    tune.add_argument("--trials", type=_integer, default=8,
                      help="configurations per method and setting: the defaults, then random draws from each "
                           "searched hyper-parameter's distribution (default 8)")
    tune.add_argument("--search-seed", type=_integer, default=0,
                      help="seed of the draws (default 0); the trials train with the first of --seeds")
    tune.add_argument("--select-only", action="store_true", help=argparse.SUPPRESS)  # the SLURM selection job


def _add_reproduce(sub):
    rep = sub.add_parser("reproduce", help="plan and run a published table (its methods x settings x seeds, on the "
                                           "authors' recipes); then bench report --compare paper")
    rep.add_argument("paper", help="ldam_drw (the LDAM-DRW paper's tables), or a paper of the published numbers: "
                                   "sam, ride, sade, paco, bcl, la, bsoftmax, decoupling, mislas, wb")
    rep.add_argument("--table", choices=["cifar", "imagenet", "inat", "places"], help="one table (default: all)")
    _run_arguments(rep)  # --methods, --datasets, --sweep and --grid are refused (the paper gives them)
    for action in rep._actions:
        if action.dest == "seeds":
            action.help = "comma-separated training seeds (default: 0,1,2)"
        elif action.dest in ("methods", "datasets", "sweep", "grid"):
            action.help = argparse.SUPPRESS


def cmd_reproduce(args):
    from bench.plan.inputs import run_inputs
    from bench.report.reproduce import cells, plan_runs, reproduce_line
    from bench.run.executors import make_executor
    from bench.run.launch import launch

    if args.methods or args.datasets or args.sweep or args.grid:
        raise BenchError("bench reproduce plans the paper's own methods and settings; drop --methods, --datasets, "
                         "--sweep and --grid (use bench run for another table)")
    chosen, left_out = cells(args.paper, args.table)
    for line in left_out:
        print(line, flush=True)
    executor = make_executor(args.executor, jobs=args.jobs, slurm_profile=args.slurm_profile,
                             progress=not args.no_progress)
    args.methods, args.datasets, args.seeds = "-", "-", args.seeds or "0,1,2"
    inputs = run_inputs(args, executor.world_size)
    runs = plan_runs(chosen, inputs["seeds"], args.out, inputs["flags"], inputs["sets"], inputs["presets"],
                     inputs["config_files"])
    print(reproduce_line(args.paper, chosen, inputs["seeds"], runs, args.out), flush=True)
    return launch(runs, executor, args.out, force=args.force, dry_run=args.dry_run, wait=args.wait)


def _add_config(sub):
    cfg = sub.add_parser("config", help="print one run's resolved config as YAML, each value with the layer it came "
                                        "from (a config file: --config on it plans the same run)")
    cfg.add_argument("--method", "--methods", dest="method", required=True, help="the method (bench list methods)")
    cfg.add_argument("--dataset", "--datasets", dest="dataset", required=True,
                     help="the dataset (bench list datasets)")
    cfg.add_argument("--seed", type=_integer, default=0, help="the training seed (default 0)")
    cfg.add_argument("--preset", action="append", default=[], metavar="NAME", help="as bench run's; repeatable")
    cfg.add_argument("--config", action="append", default=[], metavar="FILE", help="as bench run's; repeatable")
    cfg.add_argument("--set", action="append", default=[], nargs="+", metavar="KEY=VALUE", help="as bench run's")
    cfg.add_argument("--epochs", type=_integer, help="as bench run's (LR milestones scale with it)")
    cfg.add_argument("--data-root", help="as bench run's")
    cfg.add_argument("--device", help="as bench run's")
    cfg.add_argument("--precision", choices=["fp32", "bf16", "fp16"], help="as bench run's")


def cmd_config(args):
    from bench.plan.show import show_config

    flags = {"train.epochs": args.epochs, "dataset.root": args.data_root, "run.device": args.device,
             "train.precision": args.precision}
    sets = [item for group in args.set for item in group]
    print(show_config(args.method, args.dataset, args.seed, args.preset, args.config, flags, sets), end="")
    return 0


def _run_arguments(run):
    run.add_argument("--methods", help="comma-separated method names (bench list methods)")
    run.add_argument("--datasets", help="comma-separated dataset names (bench list datasets)")
    run.add_argument("--seeds", help="comma-separated training seeds (default: 0)")
    run.add_argument("--sweep", metavar="FILE", help="YAML sweep file (methods, datasets, seeds, grid, set)")
    run.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                     help="run every value of a config key, e.g. --grid dataset.imbalance_ratio=100,10; repeatable")
    run.add_argument("--executor", choices=EXECUTORS, default="inline",
                     help="; ".join(f"{info.name}: {info.doc}" for info in EXECUTORS.values()) + " (default inline)")
    run.add_argument("--jobs", type=_integer, default=2, help="concurrent runs of the local executor (default 2)")
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
    run.add_argument("--epochs", type=_integer, help="number of epochs (LR milestones scale with it)")
    run.add_argument("--data-root", help="folder holding the datasets (default: $BENCH_DATA, else ./data)")
    run.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    run.add_argument("--precision", choices=["fp32", "bf16", "fp16"],
                     help="fp32 (default, as the papers), bf16 autocast, or fp16 autocast + scaler (CUDA)")
    run.add_argument("--compile", action="store_true", help="torch.compile the model (slow start, faster steps)")
    run.add_argument("--out", default="results", help="results folder (default: results)")
    run.add_argument("--force", action="store_true", help="re-run runs that are already done")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--logger", metavar="NAMES", help="experiment trackers, comma-separated: tensorboard, wandb")


def _add_report(sub):
    rep = sub.add_parser("report", help="tables, LaTeX, CSV and plots from result folders")
    rep.add_argument("folders", nargs="+", help="result folders (several are merged)")
    rep.add_argument("--out", help="write tables.md (and the files asked for below) into this folder")
    rep.add_argument("--latex", action="store_true", help="booktabs LaTeX tables, one .tex per table")
    rep.add_argument("--csv", action="store_true", help="tidy CSV: one row per method x setting x metric")
    rep.add_argument("--plots", action="store_true", help="per-class, shot-group and learning-curve plots")
    rep.add_argument("--html", action="store_true",
                     help="report.html: one self-contained page with sortable tables, figures and every run")
    rep.add_argument("--confusion", action="append", default=[], metavar="RUN_DIR",
                     help="confusion-matrix heatmap of one finished run; repeatable")
    rep.add_argument("--compare", choices=["paper"], help="published LDAM-DRW paper numbers beside ours")
    rep.add_argument("--baseline", metavar="METHOD",
                     help="a table of every method's paired difference from METHOD per setting: mean, 95%% interval, "
                          "Holm-adjusted p-value")
    rep.add_argument("--priors", action="store_true",
                     help="a table per setting (and a plot with --plots) of accuracy under shifted test label "
                          "distributions: SADE's backward- and forward-long-tailed priors, imbalance 2 to 50")
    rep.add_argument("--select", choices=["last", "best"], default="last",
                     help="last epoch (default) or best epoch, which is selected on the test set")
    rep.add_argument("--metric", choices=["accuracy", "error", *REPORT_METRIC_NAMES], default="accuracy",
                     help="the main table's metric: accuracy (top-1, default), error = 100 - accuracy (the paper's "
                          f"convention), or one of {', '.join(REPORT_METRIC_NAMES)} (forwardR / backwardR: "
                          "accuracy under SADE's long-tailed test priors of imbalance R)")


def _add_export(sub):
    exp = sub.add_parser("export", help="every run as one tidy table (CSV or Parquet) for notebooks")
    exp.add_argument("folders", nargs="+", help="result folders (several are merged)")
    exp.add_argument("--format", choices=["csv", "parquet"], default="csv", help="the file format (default csv)")
    exp.add_argument("--out", help="the file to write; default: <first folder>.<format> beside it")
    exp.add_argument("--force", action="store_true", help="overwrite an existing file (never one inside a run "
                                                           "folder or bench's own .bench folder)")


def _add_status_and_cancel(sub):
    st = sub.add_parser("status", help="runs of a results folder by state, with SLURM job ids")
    st.add_argument("folder", nargs="?", default="results")
    cn = sub.add_parser("cancel", help="cancel the pending and running SLURM jobs of a results folder")
    cn.add_argument("folder", nargs="?", default="results")


def _add_perf(sub):
    perf = sub.add_parser("perf", help="training images/s: bench vs the bare model step and the reference pipeline")
    perf.add_argument("--device", default="auto", help="auto (default), cpu, cuda")
    perf.add_argument("--images", type=_integer, default=12406, help="training images (default: CIFAR-10-LT size)")
    perf.add_argument("--workers", type=_integer, default=None,
                      help="DataLoader workers (tensor: of the reference pipeline, default 4; imagelist: of both, "
                           "default: the CPUs available)")
    perf.add_argument("--model", default="resnet32", help="a model of bench list models (default resnet32)")
    perf.add_argument("--batch-size", type=_integer, default=128, help="training batch size (default 128)")
    perf.add_argument("--pipeline", choices=["tensor", "imagelist", "policies"], default="tensor",
                      help="tensor: CIFAR-size in-memory training (default); imagelist: the JPEG loader of "
                           "ImageNet-LT / iNaturalist against the reference PIL pipeline, on 2,000 generated JPEGs; "
                           "policies: AutoAugment / RandAugment / Cutout on batches against torchvision per image")


def _add_list(sub):
    lst = sub.add_parser("list", help="list methods, datasets, models, presets, recipes or config keys")
    lst.add_argument("what", choices=["methods", "parts", "datasets", "models", "presets", "recipes", "keys"])


def _add_data(sub):
    data = sub.add_parser("data", help="your own datasets: add a dataset YAML file by name, describe any dataset")
    verbs = data.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="check a dataset YAML file and record its name (name: in it, else the file "
                                       "name) for --datasets")
    add.add_argument("file", help="the dataset YAML file (docs/own-data.md)")
    add.add_argument("--replace", action="store_true", help="point a name recorded for another file at this one")
    describe = verbs.add_parser("describe", help="classes, images per split, imbalance ratio, Gini coefficient, shot "
                                                 "groups, per-class counts, bad and duplicate images, fingerprint")
    describe.add_argument("dataset", help="a dataset name (bench list datasets) or a dataset YAML file")
    describe.add_argument("--plot", metavar="PNG", help="also draw the per-class counts into this PNG file")
    describe.add_argument("--set", action="append", default=[], nargs="+", metavar="KEY=VALUE",
                          help="as bench run's (e.g. dataset.imbalance_ratio=10)")


def cmd_data(args):
    from bench.plan.data import add_dataset, describe_dataset

    if args.verb == "add":
        print(add_dataset(args.file, args.replace))
    else:
        print(describe_dataset(args.dataset, [item for group in args.set for item in group], args.plot), end="")
    return 0


def cmd_list(what):
    if what in ("methods", "parts", "recipes"):
        from bench.methods import describe

        print({"methods": describe.describe_methods, "parts": describe.describe_parts,
               "recipes": describe.describe_recipes}[what]())
        return 0
    if what == "datasets":
        from bench.datasets.custom.added import added
        from bench.datasets.registry import DATASETS

        rows = [(d.name, f"{d.description} (recipe preset: {d.recipe})") for d in DATASETS.values()]
        rows += [(name, f"your dataset file {file} (bench data add)") for name, file in added().items()]
    elif what == "models":
        from bench.models.registry import MODELS

        rows = [(m.name, m.description) for m in MODELS.values()]
    elif what == "presets":
        from bench.plan.config import preset_description, preset_names

        rows = [(n, preset_description(n)) for n in preset_names()]
    else:
        from bench.methods.registry import PARTS
        from bench.plan.config import DEFAULTS, flatten
        from bench.plan.schema import BY_NAME

        def doc(key):
            leaf = key.split(".", 1)[1]
            if key.startswith("method.") and leaf in PARTS.kinds:
                return f"  the method's {leaf} part (bench list parts)"
            declared = BY_NAME.get(key) or (PARTS.params.get(leaf) if key.startswith("method.") else None)
            if declared is None:
                return ""
            runtime = " [runtime: not in the run id]" if getattr(declared, "runtime", False) else ""
            search = f" [bench tune: {declared.search.describe()}]" if declared.search else ""
            return (f"  {declared.doc}{runtime}" + (f" [default from {declared.source}]" if declared.source else "")
                    + search)

        rows = [(k, repr(v) + doc(k)) for k, v in flatten(DEFAULTS).items()]
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        print(f"{name:<{width}}  {text}")
    return 0


def plan_from_args(args, world_size=1):
    """The runs of `bench run`; world_size: the processes each run trains on, as the executor launches it."""
    from bench.plan.sweep import plan_sweep

    return plan_sweep(out=args.out, **run_inputs(args, world_size))


def cmd_run(args):
    from bench.run.executors import make_executor
    from bench.run.launch import launch

    executor = make_executor(args.executor, jobs=args.jobs, slurm_profile=args.slurm_profile,
                             progress=not args.no_progress)
    runs = plan_from_args(args, executor.world_size)
    return launch(runs, executor, args.out, force=args.force, dry_run=args.dry_run, wait=args.wait)


def cmd_status(args):
    from bench.run.status import print_status

    if not Path(args.folder).is_dir():
        raise BenchError(f"results folder {args.folder} does not exist; pass the folder given to `bench run --out`")
    print_status(args.folder)
    return 0


def cmd_cancel(args):
    from bench.run.status import cancel

    if not Path(args.folder).is_dir():
        raise BenchError(f"results folder {args.folder} does not exist; pass the folder given to `bench run --out`")
    cancel(args.folder)
    return 0


def main(argv=None):
    import os

    code = _main(argv)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "torch.distributed" in sys.modules:
        from bench.engine.distributed import exit_now

        exit_now(code)  # a DDP process: no interpreter teardown racing gloo's threads
    return code


def cmd_perf(args):
    """`bench perf`: the in-memory training path (default), the image-list loader or the augmentation policies."""
    if not 1 <= args.batch_size <= 1048576:
        raise BenchError(f"--batch-size must be between 1 and 1048576, got {args.batch_size}")
    if args.pipeline == "imagelist":
        from bench.perf.decoding import run_image_perf

        images = 2000 if args.images == 12406 else args.images  # the default is the CIFAR size
        run_image_perf(args.device, images, "auto" if args.workers is None else args.workers, args.batch_size)
    elif args.pipeline == "policies":
        from bench.perf.augmenting import run_policy_perf

        run_policy_perf(args.device, 1024 if args.images == 12406 else args.images, args.batch_size)
    else:
        from bench.perf.training import run_perf

        run_perf(args.device, args.images, 4 if args.workers is None else args.workers, args.model, args.batch_size)
    return 0


def cmd_export(args):
    from bench.report.export import export

    path = export(args.folders, args.out, args.format, force=args.force)
    print(f"wrote {path}: one row per run x reported epoch x metric, and one per class (bench.load_results gives "
          "the same table in Python)")
    return 0


def cmd_tune(args):
    from bench.run.tuning.command import cmd_tune as tune

    return tune(args)


def cmd_report(args):
    from bench.report.build import report

    report(args.folders, args.out, args.latex, args.csv, args.plots, args.compare, args.select, args.metric,
           args.confusion, args.html, args.priors, args.baseline)
    return 0


COMMANDS = {"run": cmd_run, "tune": cmd_tune, "reproduce": cmd_reproduce, "config": cmd_config,
            "report": cmd_report, "export": cmd_export, "status": cmd_status, "cancel": cmd_cancel, "perf": cmd_perf,
            "list": lambda args: cmd_list(args.what), "data": cmd_data}


def _main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]  # what a SLURM selection job runs again
    try:
        return COMMANDS[args.command](args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bench report R | head`: the reader has what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except OSError as exc:
        import errno

        if exc.errno == errno.ENAMETOOLONG:
            print(f"bench: error: {exc.filename or 'a path'} has a file or folder name longer than the file system "
                  "allows (usually 255 bytes); use a shorter name", file=sys.stderr)
            return 2
        from bench.errors import write_problem

        problem = write_problem(exc)
        if problem is None:
            raise
        print(f"bench: error: {problem}", file=sys.stderr)
        return 2
    except Stopped as stop:  # the executor said what stopped and how to resume
        return 128 + stop.signum
    except KeyboardInterrupt:
        print("bench: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
