"""`bench perf`: training throughput of bench against the bare model step and the reference pipeline.

In one process, on the same CIFAR-10-LT-sized data (12,406 generated 32x32 images, ResNet-32,
batch 128), it measures images/second of
  (a) the bare model step on preloaded, normalised tensors (no data pipeline at all),
  (b) bench's own training epoch (the trainer, sampler and on-device augmentation),
  (c) the reference code's pipeline: PIL RandomCrop(32, 4) + flip + ToTensor + Normalize in a
      DataLoader with 4 workers, feeding the same model step,
and (d) bench's epoch under bf16 autocast, then prints b/a, b/c and d/b.
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.datasets.base import LongTailData
from bench.datasets.cifar import MEAN, STD
from bench.datasets.longtail import long_tail_counts
from bench.plan.config import resolve
from bench.runconfig import RunConfig


def make_data(images, seed=0, side=32):
    """A CIFAR-10-LT-shaped dataset of `images` random side x side training images (1,000 test images)."""
    rng = np.random.RandomState(seed)
    counts = long_tail_counts(5000, 10, 100)
    scale = images / sum(counts)
    labels = np.concatenate([np.full(max(1, round(n * scale)), c) for c, n in enumerate(counts)])
    labels = np.concatenate([np.zeros(max(0, images - len(labels)), dtype=labels.dtype), labels])[-images:]
    x = torch.from_numpy(rng.randint(0, 256, size=(len(labels), 3, side, side), dtype=np.uint8))
    test = torch.from_numpy(rng.randint(0, 256, size=(1000, 3, side, side), dtype=np.uint8))
    return LongTailData("cifar10_lt", 10, x, torch.from_numpy(labels), test, torch.arange(1000) % 10, MEAN, STD,
                        np.arange(len(labels)))


def _model(cfg: RunConfig, device, channels_last):
    from bench.algorithms.network import build_model

    torch.manual_seed(0)
    model = build_model(cfg, 3, 10).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=2e-4)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_step(cfg: RunConfig, data, device, steps, batch, channels_last, autocast):
    """(a) forward + backward + SGD step on preloaded normalised tensors."""
    model, opt = _model(cfg, device, channels_last)
    x = ((data.train_x[:batch].float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1))
         / torch.tensor(STD).view(1, 3, 1, 1)).to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = data.train_y[:batch].to(device)
    model.train()

    def step():
        with autocast():
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps * batch / (time.perf_counter() - start)


def bench_epoch(cfg: RunConfig, data, device_name):
    """(b)/(d) bench's trainer for one epoch; its own train images/second (evaluation excluded)."""
    from bench.engine.trainer import train_run

    with tempfile.TemporaryDirectory() as tmp:
        result = train_run(cfg, data, Path(tmp), progress=False)
    return result["timing"]["train_images_per_second"]


def reference_pipeline(cfg: RunConfig, data, device, steps, batch, workers):
    """(c) kaidic/LDAM-DRW style: per-image PIL transforms in DataLoader workers, then the model step."""
    import torchvision.transforms as T
    from PIL import Image

    class Cifar(torch.utils.data.Dataset):
        def __init__(self, x, y):
            self.x, self.y = x.permute(0, 2, 3, 1).numpy(), y.numpy()
            self.tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                                 T.Normalize(MEAN, STD)])

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return self.tf(Image.fromarray(self.x[i])), int(self.y[i])

    import warnings

    warnings.filterwarnings("ignore", message="This DataLoader will create")  # 4 workers: as the reference
    loader = torch.utils.data.DataLoader(Cifar(data.train_x, data.train_y), batch_size=batch, shuffle=True,
                                         num_workers=workers, pin_memory=device.type == "cuda", drop_last=True)
    if len(loader) == 0:  # with drop_last, fewer images than a batch would loop forever
        from bench.errors import BenchError

        raise BenchError(f"--images {len(data.train_y)} is smaller than one batch of {batch}; pass more images")
    model, opt = _model(cfg, device, channels_last=False)
    model.train()
    seen, start, i = 0, time.perf_counter(), 0  # start: set again after the warm-up steps
    while i < 3 + steps:  # several passes over small data; the first 3 steps are warm-up
        for x, y in loader:
            if i == 3:
                _sync(device)
                start, seen = time.perf_counter(), 0
            if i >= 3 + steps:
                break
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(y)
            i += 1
    _sync(device)
    return seen / (time.perf_counter() - start)


def check_args(images, workers, batch):
    from bench.errors import BenchError

    if batch < 1 or batch > 2**20:
        raise BenchError(f"--batch-size must be between 1 and 1048576, got {batch}")
    if images < batch or images > 10**7:
        raise BenchError(f"--images must be between the batch size ({batch}: every pipeline needs one full batch) "
                         f"and 10000000, got {images}")
    if workers < 0 or workers > 256:
        raise BenchError(f"--workers must be between 0 and 256, got {workers}")


def cpu_description():
    """CPU model and its bf16-relevant flags, to record beside the figures."""
    import platform

    from bench.engine.runtime import NATIVE_BF16_FLAGS, cpu_flags

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    flags = cpu_flags() or set()
    wanted = sorted(f for f in flags if f in NATIVE_BF16_FLAGS or f in ("avx512f", "avx2", "amx_tile"))
    return f"CPU {model}, flags {' '.join(wanted) or 'none of avx2/avx512f/avx512_bf16/amx'}"


def run_perf(device_name="auto", images=12406, workers=4, model="resnet32", batch_size=128):
    from bench.engine.runtime import precision_tools, resolve_device, warn_slow_bf16
    from bench.models.registry import MODELS

    check_args(images, workers, batch_size)
    MODELS.get_or_fail(model)
    device = resolve_device(device_name)
    cfg = resolve("erm", "cifar10_lt", 0, flags={"train.epochs": 1, "run.device": device_name},
                  sets=[f"model.name={model}", "eval.batch_size=1000", "run.progress=false",
                        f"train.batch_size={batch_size}"])
    data = make_data(images)
    warn_slow_bf16(device)
    batch = cfg["train"]["batch_size"]
    steps = max(5, len(data.train_y) // batch)
    fp32, _ = precision_tools("fp32", device)
    bf16, _ = precision_tools("bf16", device)
    rows = {}
    print(f"bench perf: {model}, batch {batch}, {len(data.train_y)} training images, device {device}, "
          f"{torch.get_num_threads()} CPU threads; {cpu_description()}", flush=True)
    rows["a"] = bare_step(cfg, data, device, steps, batch, True, fp32)
    print(f"(a) bare model step, preloaded tensors, fp32     {rows['a']:9.0f} img/s", flush=True)
    rows["b"] = bench_epoch(cfg, data, device_name)
    print(f"(b) bench training epoch, fp32                   {rows['b']:9.0f} img/s", flush=True)
    rows["c"] = reference_pipeline(cfg, data, device, steps, batch, workers)
    print(f"(c) reference PIL pipeline, {workers} workers, fp32     {rows['c']:9.0f} img/s", flush=True)
    bf_cfg = copy.deepcopy(cfg)
    bf_cfg["train"]["precision"] = "bf16"
    rows["d"] = bench_epoch(bf_cfg, data, device_name)
    print(f"(d) bench training epoch, bf16 autocast          {rows['d']:9.0f} img/s", flush=True)
    rows["e"] = bare_step(cfg, data, device, steps, batch, True, bf16)
    print(f"(e) bare model step, bf16 autocast               {rows['e']:9.0f} img/s", flush=True)
    print(f"b/a = {rows['b'] / rows['a']:.2f} (target >= 0.95)   b/c = {rows['b'] / rows['c']:.2f} (target >= 1.3)"
          f"   bf16/fp32: bench d/b = {rows['d'] / rows['b']:.2f} (target >= 1.8), bare model e/a = "
          f"{rows['e'] / rows['a']:.2f}")
    return rows
