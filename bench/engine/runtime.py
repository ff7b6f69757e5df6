"""Where and how a run computes: its device, CPU threads, precision and each epoch's random generator.

These choices are fixed for a run's whole life (a resumed run keeps its thread count and kind of device),
because CPU reductions and kernels change the numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bench.engine import distributed
from bench.errors import BenchError
from bench.runconfig import RunConfig

DEVICE_TYPES = ("cpu", "cuda", "mps")


def parse_device(name):
    """torch.device for a name bench supports (no availability check); BenchError otherwise."""
    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise BenchError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type not in DEVICE_TYPES:
        raise BenchError(f"device {name!r} is not supported by bench; use auto, cpu, cuda or cuda:N")
    return device


def resolve_device(name):
    """The device a run trains on; BenchError when this machine does not have it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = parse_device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise BenchError(f"device {name!r} was asked for but no CUDA GPU is available; use --device cpu (or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise BenchError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} CUDA "
                             f"GPU(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}; use one of them")
    if device.type == "mps" and not (torch.backends.mps.is_available()):
        raise BenchError(f"device {name!r} (Apple GPU) is not available on this machine; use --device cpu (or auto)")
    return device


def run_threads(cfg: RunConfig, ckpt):
    """CPU threads of this run: the count it started with (from its checkpoint), else run.threads,
    else $BENCH_THREADS (the executor's share of the cores), else this process's count.

    CPU reductions depend on the thread count, so a run keeps its count for its whole life."""
    import os

    if ckpt is not None and ckpt["state"].get("threads"):
        return int(ckpt["state"]["threads"])
    if cfg["run"].get("threads"):
        return int(cfg["run"]["threads"])
    if os.environ.get("BENCH_THREADS", "").isdigit() and int(os.environ["BENCH_THREADS"]) > 0:
        return int(os.environ["BENCH_THREADS"])
    return torch.get_num_threads()


def cpu_flags():
    """The CPU feature flags of this machine (Linux /proc/cpuinfo), or None when unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


NATIVE_BF16_FLAGS = {"amx_bf16", "avx512_bf16", "bf16"}  # x86 AMX / AVX512-BF16; "bf16" on Arm (Features)
_warned_bf16: list[bool] = []


def warn_slow_bf16(device):
    """Once per process: bf16 on a CPU without native bf16 arithmetic is slower than fp32, not faster."""
    if device.type != "cpu" or _warned_bf16:
        return
    flags = cpu_flags()
    if flags is None or flags & NATIVE_BF16_FLAGS:
        return
    _warned_bf16.append(True)
    print("warning: train.precision=bf16 on a CPU without native bf16 (no AMX or AVX512-BF16): bf16 runs "
          "slower than fp32 here (about 3x slower measured on an AVX512F-only Xeon); use fp32 on this machine",
          flush=True)


def check_world_size(cfg: RunConfig, run_dir):
    """The run trains in as many processes as it was planned for (train.world_size, part of its run id)."""
    planned = cfg["train"].get("world_size", 1)
    if distributed.world_size() != planned:
        raise BenchError(f"run {Path(run_dir).name} was planned for {planned} process(es) and started in "
                         f"{distributed.world_size()}; the world size changes the numbers, so plan it as it is "
                         "launched (torchrun or the SLURM profile's tasks_per_job)")


def check_same_device(run_name, started_on, now):
    """A run resumes on the kind of device it started on: CPU and CUDA kernels give other numbers, and the
    device is a runtime setting outside the run id (None: a checkpoint from before this was recorded)."""
    if started_on is not None and started_on != now:
        raise BenchError(f"run {run_name} started on {started_on} and would resume on {now}, which gives other "
                         f"numbers; resume it with --device {started_on}, or re-run it with --force to start over")


def epoch_generator(seed, epoch):
    state = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))


def precision_tools(precision, device):
    """(autocast context factory, GradScaler or None) for fp32 / bf16 / fp16."""
    import contextlib
    import functools

    if precision == "fp32":
        return contextlib.nullcontext, None
    if precision == "bf16":
        return functools.partial(torch.autocast, device_type=device.type, dtype=torch.bfloat16), None
    if device.type != "cuda":
        raise BenchError("train.precision=fp16 needs a CUDA GPU; use bf16 on the CPU")
    return (functools.partial(torch.autocast, device_type="cuda", dtype=torch.float16),
            torch.amp.GradScaler("cuda"))
