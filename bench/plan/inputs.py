"""What `bench run` and `bench tune` plan from, read from their command-line arguments or a sweep file."""

from __future__ import annotations

import argparse

from bench.errors import BenchError


def _names(text, what):
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise BenchError(f"--{what} needs at least one name")
    return list(dict.fromkeys(names))


def _seeds(text):
    seeds = []
    for part in _names(text, "seeds"):
        if part.startswith("-") and part[1:].isdecimal() and part[1:].isascii():
            raise BenchError(f"--seeds takes non-negative integers, got {part}")
        if not (part.isdecimal() and part.isascii()):  # int() would also read '1_0' as 10 and '+1', ' 1'
            raise BenchError(f"--seeds takes comma-separated non-negative integers (e.g. 0,1,2), got {part!r}")
        seeds.append(int(part))
    return list(dict.fromkeys(seeds))  # '0,00' is one seed


def run_inputs(args: argparse.Namespace, world_size: int = 1) -> dict:
    """What `bench run` (and `bench tune`) plan from: methods, datasets, seeds, presets, config files, flags,
    --set items and the grid, from the flags or the sweep file. world_size: the processes each run trains on,
    as the executor launches it."""
    from bench.plan.sweep import load_sweep, parse_grid_flags

    if not args.out.strip():
        raise BenchError("--out needs a folder name (default: results)")
    flags = {"train.epochs": args.epochs, "dataset.root": args.data_root, "run.device": args.device,
             "train.precision": args.precision, "run.compile": args.compile or None,
             "train.world_size": world_size if world_size > 1 else None}
    if args.no_progress:
        flags["run.progress"] = False
    if args.logger is not None:
        flags["run.loggers"] = [name.strip() for name in args.logger.split(",") if name.strip()]
    sets = [item for group in args.set for item in group]
    grid = parse_grid_flags(args.grid)
    if args.sweep:
        if args.methods or args.datasets or args.seeds:
            raise BenchError("give the runs either with --sweep FILE or with --methods/--datasets/--seeds, not both")
        sweep = load_sweep(args.sweep)
        return dict(methods=sweep["methods"], datasets=sweep["datasets"], seeds=sweep["seeds"],
                    presets=sweep["presets"] + args.preset, config_files=sweep["configs"] + args.config,
                    flags=flags, sets=sweep["sets"] + sets, grid={**sweep["grid"], **grid})
    if not args.methods or not args.datasets:
        raise BenchError(f"bench {args.command} needs --methods and --datasets (or --sweep FILE); see bench list "
                         "methods")
    return dict(methods=_names(args.methods, "methods"), datasets=_names(args.datasets, "datasets"),
                seeds=_seeds("0" if args.seeds is None else args.seeds), presets=args.preset,
                config_files=args.config, flags=flags, sets=sets, grid=grid)
