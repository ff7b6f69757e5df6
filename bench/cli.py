"""The `bench` command line. Imports torch only when a run starts."""

from __future__ import annotations

import argparse
import sys

from bench.errors import BenchError

EPILOG = """examples:
  bench run --methods ldam_drw,focal --datasets cifar10_lt
  bench run --methods erm,ldam_drw --datasets fashion_mnist_lt --preset quick
  bench run --methods ldam_drw --datasets cifar100_lt --seeds 0,1,2 --set dataset.imbalance_ratio=10
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
    run.add_argument("--methods", required=True, help="comma-separated method names (bench list methods)")
    run.add_argument("--datasets", required=True, help="comma-separated dataset names (bench list datasets)")
    run.add_argument("--seeds", default="0", help="comma-separated training seeds (default: 0)")
    run.add_argument("--preset", action="append", default=[], metavar="NAME",
                     help="apply a preset on top of the dataset's recipe (bench list presets); repeatable")
    run.add_argument("--config", action="append", default=[], metavar="FILE",
                     help="YAML file of config overrides; repeatable")
    run.add_argument("--set", action="append", default=[], nargs="+", metavar="KEY=VALUE",
                     help="override one config key, e.g. --set method.beta=0.999 (bench list keys)")
    run.add_argument("--epochs", type=int, help="number of epochs (LR milestones scale with it)")
    run.add_argument("--data-root", help="folder holding the datasets (default: $BENCH_DATA, else ./data)")
    run.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
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


def cmd_run(args):
    from bench.runner import check_output_dir, execute, plan

    flags = {"train.epochs": args.epochs, "dataset.root": args.data_root, "run.device": args.device}
    if args.no_progress:
        flags["run.progress"] = False
    sets = [item for group in args.set for item in group]
    runs = plan(_names(args.methods, "methods"), _names(args.datasets, "datasets"), _seeds(args.seeds),
                args.out, args.preset, args.config, flags, sets)
    check_output_dir(args.out)
    progress = runs[0].cfg["run"]["progress"] and sys.stderr.isatty()
    done = execute(runs, force=args.force, progress=progress)
    failed = [r for r in done if r.get("status") != "done"]
    print(f"{len(done) - len(failed)} of {len(done)} runs done; results in {args.out}/")
    return 1 if failed else 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args.what)
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
