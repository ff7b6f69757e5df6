"""The launch layer: from planned runs to started runs, the same way in every executor.

    runs = plan(...)                         # configs resolved and validated (bench.plan.sweep)
    launch(runs, executor, out, force=...)   # this module

1. sort: a finished run is skipped (unless --force), a run queued on SLURM is skipped;
2. preflight: every run still to start is checked before the first one starts -- output
   folder writable, data present and readable, the model takes the data's images, the device
   exists, the precision is possible. Any problem is one BenchError (exit 2), nothing written;
3. the executor (inline, local, slurm; bench.run.executors) starts the rest through one
   interface, `submit(runs, force) -> exit status`. A forced run's old files are deleted
   only by the process that trains it again, under that run's lock (bench.store.rundir).
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import Any

from bench.errors import BenchError
from bench.plan.external import check_unchanged
from bench.runconfig import RunConfig
from bench.store import rundir


def launch(runs, executor, out, force=False, dry_run=False, wait=False):
    """Start the planned runs with `executor`; returns the command's exit status."""
    from bench.plan.runs import forced
    from bench.run.runner import is_current

    skipped = [r for r in runs if not forced(r, force) and is_current(r)]
    for run in skipped:  # a finished run stands only for the files it read: the same content now
        check_unchanged(run.run_dir, rundir.read_result(run.run_dir) or {})
    rest = [r for r in runs if r not in skipped]
    queued = executor.queued([r for r in rest if not forced(r, force)])
    start = [r for r in rest if r.run_dir not in queued]
    starting = {r.run_dir for r in start}  # a child of a parent that (re-)trains is recomputed after it
    late = [r for r in skipped if r.parent in starting]
    skipped = [r for r in skipped if r not in late]
    start += late
    from bench.engine.loggers import check as check_loggers

    check_loggers(start, out)  # asked-for trackers installed, their folder writable
    if dry_run:
        return dry_run_report(runs, start, skipped, queued, executor, out)
    check_output_dir(out)
    preloaded = {}
    if start:
        executor.check(start)  # cheap first: the cluster answers
        preloaded = preflight(start, local_device=executor.trains_here)
    for run in skipped:
        if force:  # a parent planned for a named child
            print(f"keep   {run.run_dir.name}: a finished {run.cfg['method']['name']} parent; --force re-runs the "
                  f"runs you named: add {run.cfg['method']['name']} to --methods to re-run it too")
        else:
            print(f"skip   {run.run_dir.name}: already done (--force re-runs it)")
    for run in start:
        if run.parent is not None and rundir.is_done(run.run_dir):
            print(f"redo   {run.run_dir.name}: its parent {run.parent.name} changed or re-runs")
    for run in rest:
        if run.run_dir in queued:
            print(f"skip   {run.run_dir.name}: already queued as SLURM job {queued[run.run_dir]}")
    if start and executor.name != "inline":  # status lists a sweep's runs not started yet
        rundir.record_sweep(out, runs, executor.name)
    # a child waits for a parent that starts now or that an earlier command queued on SLURM
    waiting_on = starting | set(queued)
    levels = [[r for r in start if r.parent not in waiting_on], [r for r in start if r.parent in waiting_on]]
    if not levels[1]:
        return executor.submit(start, force=force, all_runs=runs, wait=wait, out=out, preloaded=preloaded)
    # two levels: children start after their parents (inline and local: the first level has finished when
    # submit returns; SLURM: the second job array waits for the first, and for the queued parents' jobs,
    # with an afterany dependency)
    code = 0
    if levels[0]:
        code = executor.submit(levels[0], force=force, all_runs=levels[0], wait=False, out=out, preloaded=preloaded)
    after = list(executor.submitted or []) + sorted({queued[r.parent] for r in levels[1] if r.parent in queued})
    return max(code, executor.submit(levels[1], force=force, all_runs=runs, wait=wait, out=out, preloaded={},
                                     after=after))


# ---------------------------------------------------------------- checks before anything starts


def check_output_dir(out):
    from pathlib import Path

    out = Path(out)
    probe = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not probe.is_dir() or (out.exists() and not out.is_dir()):
        raise BenchError(f"output path {out} is not a folder; pass --out a folder")
    import tempfile

    try:  # the real test: can a file be created there (permissions, read-only file systems)?
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError:
        raise BenchError(f"output folder {probe} is not writable; pass --out a folder you can write to") from None


def preflight(runs, local_device=True):
    """Check every run before the first starts; returns {dataset key: data} of the last dataset loaded
    (an inline executor trains from it without loading it again).

    local_device: the runs train on this machine (inline, local), so their device must exist here;
    SLURM runs train on other nodes: their device name is only checked for spelling."""
    from bench.run.runner import dataset_key

    for run in runs:
        check_run_dir(run.run_dir)
    check_devices(runs, local_device)
    by_data: dict[Any, Any] = {}
    last = {}
    from bench.engine.choose import algorithm_class

    for run in runs:
        # a child uses its parent's data and model (checked with it) or only its files; views of the data
        # (SADE's test-time aggregation) are checked as a one-stage method's
        if run.parent is not None and algorithm_class(run.cfg).views == 1:
            continue
        by_data.setdefault(dataset_key(run.cfg), []).append(run)
    for key, group in by_data.items():
        last = {key: load_data(group[0])}
        data, checked_models = last[key], set()
        for run in group:
            m, a = run.cfg["method"], run.cfg["augment"]
            model_key = (run.cfg["model"]["name"], run.cfg["model"]["weights"], m["head"], m["loss"],
                         a["crop_padding"], a["image_size"], m.get("algorithm"), algorithm_class(run.cfg).views)
            if model_key not in checked_models:
                check_model(run, data)
                checked_models.add(model_key)
    return last


def check_run_dir(run_dir):
    """A run's folder and bench's files in it, where they exist, are a folder and plain files."""
    if run_dir.exists() and not run_dir.is_dir():
        raise BenchError(f"{run_dir} is a file, but bench keeps that run's folder there; move the file away")
    for name in (rundir.RESULT, rundir.CONFIG, rundir.CHECKPOINT, rundir.PREVIOUS_CHECKPOINT, rundir.METRICS,
                 rundir.PREDICTIONS, rundir.LOGITS, rundir.LOCK, rundir.JOB, rundir.BEST):
        path = run_dir / name
        if path.exists() and not path.is_file():
            raise BenchError(f"{path} is not a file (bench writes its {name} there); move it away")


def check_devices(runs, local_device):
    from bench.engine.runtime import parse_device, precision_tools, resolve_device, warn_slow_bf16

    seen = set()
    for run in runs:
        key = (run.cfg["run"]["device"], run.cfg["train"]["precision"])
        if key in seen:
            continue
        seen.add(key)
        name, precision = key
        if local_device:
            device = resolve_device(name)
            precision_tools(precision, device)
            if precision == "bf16":
                warn_slow_bf16(device)
        else:
            device = parse_device(name)
            if precision == "fp16" and (device is None or device.type != "cuda"):
                raise BenchError("train.precision=fp16 needs a CUDA GPU: set --device cuda (and GPUs in the "
                                 "SLURM profile), or use bf16")


def load_data(run):
    """The run's dataset, loaded as the run will load it (files present, checksums, split lists)."""
    from bench.datasets.registry import for_config

    return for_config(run.cfg).load(run.cfg)


def check_sizes(cfg: RunConfig, dataset, shape):
    """An augmentation size larger than the images the run trains on changes nothing more than the image's own
    size would (a Cutout hole past every border blacks the whole image at any larger size): refused."""
    from bench.plan.usage import unused_keys

    side = min(shape[1:])
    cutout = cfg["augment"]["cutout"]
    if cutout > side and "augment.cutout" not in unused_keys(cfg):
        raise BenchError(f"augment.cutout {cutout} is larger than the {dataset} training images ({shape[1]}x"
                         f"{shape[2]}); use at most {side} (Cutout's CIFAR setting is 16)")


def check_model(run, data):
    """Build the run's model for the data and pass two images through it (CPU, no gradients)."""
    import torch

    from bench.algorithms.network import build_model
    from bench.algorithms.protocol import check_views
    from bench.engine.choose import algorithm_class

    cfg, a = run.cfg, run.cfg["augment"]
    check_views(cfg["method"]["name"], algorithm_class(cfg).views, data, cfg["loader"]["decode"])
    if data.in_memory:  # in-memory images: the crop pads each side by crop_padding
        shape = tuple(data.train_x.shape[1:])
        if a["crop_padding"] > min(shape[1:]):
            raise BenchError(f"augment.crop_padding {a['crop_padding']} is larger than the {data.name} images "
                             f"({shape[1]}x{shape[2]}); use at most {min(shape[1:])} (the reference uses 4)")
    else:
        shape = (data.in_channels, a["image_size"], a["image_size"])
    check_sizes(cfg, data.name, shape)
    name = cfg["model"]["name"]
    from bench.models.registry import MODELS

    if not str(name).startswith("timm:") and MODELS.get_or_fail(name).clip:
        return check_clip_run(cfg, data)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the "loaded N tensors" line comes with the run
            model = build_model(cfg, data.in_channels, data.num_classes).eval()
        with torch.no_grad():
            out = model(torch.zeros(2, *shape))
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure here is a model/data mismatch
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise BenchError(f"model {name} cannot take {data.name} images of shape {'x'.join(map(str, shape))} "
                         f"({type(exc).__name__}: {first}); choose another model.name") from None
    if tuple(out.shape) != (2, data.num_classes):
        raise BenchError(f"model {name} gives outputs of shape {tuple(out.shape)} for {data.name}, not "
                         f"(batch, {data.num_classes} classes); choose another model.name")


# ---------------------------------------------------------------- dry run


def dry_run_report(runs, start, skipped, queued, executor, out):
    from bench.plan.config import stage_kind, stage_of
    from bench.plan.cost import estimate, measured_speeds

    speeds = measured_speeds(out)
    total, unknown = 0.0, 0
    lines = []
    for run in runs:
        if run in skipped:
            lines.append(f"skip   {run.run_dir.name}: already done")
        elif run.run_dir in queued:
            lines.append(f"skip   {run.run_dir.name}: already queued as SLURM job {queued[run.run_dir]}")
        elif stage_kind(run.cfg) == "posthoc":
            how = stage_of(run.cfg).work
            lines.append(f"start  {run.run_dir.name}: level 2, after its parent {run.parent.name} ({how})")
        else:
            seconds, how = estimate(run, speeds)
            level = f"level 2, after its parent {run.parent.name}, " if run.parent is not None else ""
            if seconds is None:
                unknown += 1
                lines.append(f"start  {run.run_dir.name}: {level}cost unknown ({how})")
            else:
                total += seconds
                lines.append(f"start  {run.run_dir.name}: {level}~{seconds / 3600:.2f} h at {how}")
    print("\n".join(lines))
    gpus = executor.gpus_per_run
    unit = f"{gpus} GPU(s) per run: ~{total * gpus / 3600:.1f} GPU-hours" if gpus else \
        f"~{total / 3600:.1f} device-hours"
    if unknown:
        unit += f" for the runs with a known speed ({unknown} unknown)"
    children = sum(1 for r in start if r.parent is not None)
    levels = f" in two levels ({len(start) - children} first, {children} after their parents)" if children else ""
    print(f"dry run: {len(start)} to start{levels}, {len(runs) - len(start)} skipped; {unit} "
          f"({executor.name} executor); nothing was started")
    sys.stdout.flush()
    return 0


def check_clip_run(cfg: RunConfig, data):
    """A foundation-model run before it starts: every class has a name for the prompts, the weights load into
    the architecture (a missing, corrupt or mismatched file is one error before anything is written; the model
    itself takes any image: bench.models.clip.ClipInput resizes it)."""
    from bench.datasets.classnames import prompt_names
    from bench.models.clip import build_clip
    from bench.plan.config import check_clip

    check_clip(cfg)  # a config built around resolve() (the CLIP models are only the foundation methods')
    prompt_names(data)
    with contextlib.redirect_stdout(io.StringIO()):
        build_clip(cfg["model"]["name"], cfg["model"]["weights"])
