"""Data-parallel training of one run (DistributedDataParallel), launched by torchrun or a SLURM multi-task job.

Every process draws the same epoch order from the epoch's generator and trains on its
share (order[rank::world], batch_size // world images per step, so the global batch is
unchanged); gradients are averaged by DDP; rank 0 evaluates and writes every file.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world_size():
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank():
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))  # torchrun sets it before the group exists


def is_main():
    return rank() == 0


def setup(device):
    """Join the process group when launched with WORLD_SIZE > 1; returns this process's device."""
    if world_size() == 1:
        return device
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return device


def shard(order, batch_size):
    """This process's part of the epoch order and its per-process batch size."""
    world = world_size()
    if world == 1:
        return order, batch_size
    if batch_size % world:
        from bench.errors import BenchError

        raise BenchError(f"train.batch_size {batch_size} must be divisible by the {world} processes")
    pad = (-len(order)) % world  # equal shares, as DistributedSampler: repeat the first indices
    if pad:
        order = torch.cat([order, order[:pad]])
    return order[rank()::world], batch_size // world


def sum_all(*values, device):
    """Sum floats over all processes (for logging the whole epoch's loss and accuracy)."""
    if world_size() == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)  # nccl reduces on the run's GPU
    dist.all_reduce(tensor)
    return tuple(tensor.cpu().tolist())


def barrier():
    if world_size() > 1 and dist.is_initialized():
        dist.barrier()


def wrap(model, device):
    """DDP around the model of a run on several processes (a model with nothing to train, zero-shot: as it is)."""
    if world_size() == 1 or not any(p.requires_grad for p in model.parameters()):
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def finish():
    """Leave the process group: wait for every process, then destroy it (once; safe to call again)."""
    if dist.is_available() and dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()


def exit_now(code):
    """End a DDP process without interpreter finalisation.

    Gloo keeps C++ threads whose objects can be torn down after the interpreter, which aborts
    the process ("terminate called without an active exception", exit -6) now and then under
    load after a run has finished. Everything is written and flushed by then, so skipping
    Python's teardown loses nothing."""
    import sys

    finish()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
