"""The GPU check's measurements: ratios measured in one process (benchmarks/gpu_check.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from gpu_common import FIXTURE_SETS, Context, Skip


def cpu_name() -> str:
    from bench.perf.training import cpu_description

    return cpu_description().removeprefix("CPU ").split(", flags")[0]


def _epoch_vs_step(ctx: Context, model: str, side: int, images: int, precision: str) -> dict:
    from bench.engine.runtime import precision_tools
    from bench.perf.training import bare_step, bench_epoch, make_data
    from bench.plan.config import resolve

    epochs = 3 if ctx.cuda else 1  # bench's figure includes its first steps (cuDNN's choices, allocations)
    cfg = resolve("erm", "cifar10_lt", 0, flags={"train.epochs": epochs, "run.device": str(ctx.device)},
                  sets=[f"model.name={model}", "eval.batch_size=256", "run.progress=false",
                        "train.batch_size=128", f"train.precision={precision}"])
    data = make_data(images, side=side)
    steps = max(5, len(data.train_y) // 128)
    bare = bare_step(cfg, data, ctx.device, steps, 128, True, precision_tools(precision, ctx.device)[0])
    epoch = bench_epoch(cfg, data, str(ctx.device))
    return {"bare_img_s": round(bare), "bench_img_s": round(epoch), "ratio": round(epoch / bare, 3)}


def step(ctx: Context) -> dict:
    """bench's training epoch against the bare model step (forward, backward, SGD on preloaded tensors)."""
    cases = [("resnet32", 32, 12406, "fp32"), ("resnet32", 32, 12406, "bf16"), ("resnet50", 224, 3072, "bf16")]
    if ctx.quick:
        cases = [("small_cnn", 32, 512, "fp32")]
    rows = {f"{m} {s}px {p}": _epoch_vs_step(ctx, m, s, n, p) for m, s, n, p in cases}
    ctx.shared["step"] = rows
    return {"rows": rows, "summary": "; ".join(f"{k}: bench {v['bench_img_s']} img/s = {v['ratio']:.2f} x bare "
                                               f"{v['bare_img_s']}" for k, v in rows.items())}


def _loader_rate(ctx: Context, items, decode: str, workers: int, batch: int) -> float:
    from bench.datasets.imagelist import IMAGENET_MEAN, IMAGENET_STD, ImageListData
    from bench.engine.runtime import epoch_generator
    from bench.images.pipelines import ImagePipeline
    from bench.perf.decoding import _pass
    from bench.plan.config import resolve

    cfg = resolve("erm", "imagenet_lt", 0, presets=["imagenet_lt_resnext50"],
                  sets=[f"loader.workers={workers}", f"loader.decode={decode}"])
    data = ImageListData("perf", 100, items, items, "test", IMAGENET_MEAN, IMAGENET_STD, "")
    pipe = ImagePipeline(data, cfg, ctx.device)
    order = torch.randperm(len(items), generator=torch.Generator().manual_seed(0))
    seen, seconds = 0, 0.0
    for r in range(3):  # pass 0 starts the workers and fills the page cache
        n, s = _pass(pipe.train_batches(order, batch, epoch_generator(0, r)))
        if ctx.cuda:
            torch.cuda.synchronize()
        if r:
            seen, seconds = seen + n, seconds + s
    return seen / seconds


def _jpegs(folder, images: int, processes: int) -> list:
    """bench.perf.decoding' photo-like JPEG fixture (500x375 and 375x500, quality 90), written in parallel."""
    from multiprocessing import get_context

    from bench.perf.decoding import write_fixture

    chunks = [(folder / f"part{i}", images // processes + (i < images % processes), 100, 90, i)
              for i in range(processes)]
    with get_context("spawn").Pool(processes) as pool:
        return [item for part in pool.starmap(write_fixture, chunks) for item in part]


def _decode_rates(ctx: Context, items) -> dict:
    """JPEG decoding alone (images/s, one process): libjpeg-turbo on one CPU thread, the device decoder image
    by image (what loader.decode=device does), and torchvision's batched device decode of a list."""
    from bench.images import jpeg as bj

    datas = [torch.frombuffer(bytearray(Path(path).read_bytes()), dtype=torch.uint8) for path, _ in items[:256]]
    ways = {"cpu, 1 thread": lambda: [bj.decode_jpeg(d) for d in datas]}
    if ctx.cuda:
        from torchvision.io import ImageReadMode, decode_jpeg

        ways["device, image by image"] = lambda: [bj.decode_jpeg(d, ctx.device) for d in datas]
        ways["device, batched list"] = lambda: decode_jpeg(datas, mode=ImageReadMode.RGB, device=ctx.device)
    rates = {}
    for name, way in ways.items():
        way()  # warm-up: the decoder's handles and buffers
        start = time.perf_counter()
        way()
        if ctx.cuda:
            torch.cuda.synchronize()
        rates[name] = round(len(datas) / (time.perf_counter() - start))
    return rates


def loader(ctx: Context) -> dict:
    """The image-list training loader (RandomResizedCrop 224, flip, jitter) against ResNet-50's bf16 step."""
    workers = min(16, os.cpu_count() or 1) if not ctx.quick else 2
    items = _jpegs(ctx.tmp / "jpegs", 48 if ctx.quick else 1536, workers)
    rows = {"workers (CPU decode)": _loader_rate(ctx, items, "workers", workers, 32 if ctx.quick else 128)}
    if ctx.cuda:
        rows["device decode (nvJPEG)"] = _loader_rate(ctx, items, "device", workers, 128)
    rows = {k: round(v) for k, v in rows.items()}
    decode = _decode_rates(ctx, items)
    need = ctx.shared.get("step", {}).get("resnet50 224px bf16", {}).get("bare_img_s")
    text = "; ".join(f"{k}: {v} img/s" for k, v in rows.items())
    if need:
        text += f"; ResNet-50 bf16 step consumes {need} img/s: best loader / step = {max(rows.values()) / need:.2f}"
    text += "; decoding alone: " + ", ".join(f"{k} {v} img/s" for k, v in decode.items())
    return {"rows": rows, "decode": decode, "workers": workers, "model_img_s": need,
            "summary": f"{workers} workers; {text}"}


def _packed(ctx: Context, k: int, epochs: int) -> dict:
    """k runs (seeds 0..k-1) started at once as `python -m bench.run.worker` processes, as a packed SLURM task."""
    from bench.plan.runs import plan, to_spec

    out = ctx.tmp / f"packing-{k}"
    runs = plan(["erm"], ["cifar10_lt"], list(range(k)), out,
                flags={"train.epochs": epochs, "run.device": str(ctx.device), "dataset.root": str(ctx.shared["big"])},
                sets=[*FIXTURE_SETS, "run.progress=false", *ctx.model_sets()])
    env = {**os.environ, "BENCH_THREADS": str(max(1, (os.cpu_count() or 1) // k))}
    env["OMP_NUM_THREADS"] = env["BENCH_THREADS"]
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "bench.run.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env) for _ in runs]
    for proc, run in zip(procs, runs):
        proc.stdin.write(json.dumps([to_spec(run)]))
        proc.stdin.close()
    logs = [proc.stdout.read() for proc in procs]
    codes = [proc.wait() for proc in procs]
    wall = time.perf_counter() - start
    if any(codes):
        raise RuntimeError(f"a packed run failed: {logs[codes.index(next(c for c in codes if c))][-400:]}")
    timings = [json.loads((run.run_dir / "result.json").read_text())["timing"] for run in runs]
    images = sum(t["train_images_per_second"] * t["train_seconds"] for t in timings)
    return {"wall_s": round(wall, 1), "training_img_s": round(sum(t["train_images_per_second"] for t in timings)),
            "overall_img_s": round(images / wall)}


def packing(ctx: Context) -> dict:
    """Throughput of 1, 2, 4, 8 ResNet-32 CIFAR-10-LT runs sharing the device (quick: 1, 2 small CNN runs)."""
    from conftest import write_cifar

    if "big" not in ctx.shared:
        ctx.shared["big"] = ctx.tmp / "cifar-full"
        write_cifar(ctx.shared["big"], "cifar10", per_class_train=200 if ctx.quick else 5000, per_class_test=20)
    ks = (1, 2) if ctx.quick else (1, 2, 4, 8)
    rows = {k: _packed(ctx, k, 2) for k in ks}
    base = rows[1]["training_img_s"]
    return {"rows": rows, "summary": "; ".join(f"{k} run(s): {v['training_img_s']} img/s while training "
                                               f"({v['training_img_s'] / base:.2f} x one), {v['overall_img_s']} "
                                               f"img/s start to end" for k, v in rows.items())}


def ddp(ctx: Context) -> dict:
    """One run data-parallel over 2 GPUs (torchrun, NCCL) against the same run on one."""
    if not ctx.cuda or torch.cuda.device_count() < 2:
        raise Skip(f"needs 2 GPUs; {torch.cuda.device_count() if ctx.cuda else 0} present")
    out = ctx.tmp / "ddp"
    argv = ctx.run_argv("erm", out, sets=("train.world_size=2",))
    argv[argv.index("--device") + 1] = "cuda"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "bench",
                           *argv], capture_output=True, text=True, timeout=600)
    if proc.returncode:
        raise RuntimeError((proc.stdout + proc.stderr)[-400:])
    (path,) = out.glob("*/result.json")
    result = json.loads(path.read_text())
    return {"top1": result["last"]["top1"], "summary": f"2 processes: {result['status']}, top-1 "
                                                       f"{result['last']['top1']:.2f}, "
                                                       f"{result['timing']['train_images_per_second']:.0f} img/s"}


def _foundation_run(ctx: Context, method: str, model: str, precision: str, batch: int) -> dict:
    """One epoch of `method` on CIFAR-10-LT-format images upsampled to 224 px: its train images/s and the peak
    device memory of the run (evaluation, with lift's five crops, included)."""
    from gpu_common import bench_main, finite_run, results

    out = ctx.tmp / f"foundation-{method}-{precision}"
    if ctx.cuda:
        torch.cuda.reset_peak_memory_stats(ctx.device)
    code, text = bench_main(ctx.run_argv(method, out, epochs=1, root=ctx.shared["big"], sets=(
        f"model.name={model}", "model.weights=null", f"train.precision={precision}", f"train.batch_size={batch}")))
    found = results(out)
    if code or method not in found or not finite_run(*found[method]):
        raise RuntimeError(f"{method} {precision}: exit {code}: {text[-400:]}")
    timing = found[method][0]["timing"]
    peak = round(torch.cuda.max_memory_allocated(ctx.device) / 2**30, 1) if ctx.cuda else None  # none on a CPU
    return {"train_img_s": round(timing["train_images_per_second"]), "peak_gib": peak,
            "train_s": round(timing["train_seconds"], 1)}


def _foundation_bare(ctx: Context, method: str, model: str, precision: str, batch: int) -> float:
    """The bare step of the same network (bench's own build of it): forward, LA loss, backward and SGD on one
    preloaded batch of 224 px images, as img/s."""
    from bench.algorithms.foundation import FoundationAlgorithm
    from bench.datasets.registry import DATASETS
    from bench.engine.runtime import precision_tools
    from bench.plan.config import resolve

    cfg = resolve(method, "cifar10_lt", 0, sets=[*FIXTURE_SETS, f"dataset.root={ctx.shared['big']}",
                                                  f"model.name={model}", "model.weights=null"])
    algorithm = FoundationAlgorithm(cfg, DATASETS["cifar10_lt"].load(cfg), ctx.device, str(ctx.tmp))
    net, trained = algorithm.build_model()
    net.to(ctx.device).train()
    autocast, scaler = precision_tools(precision, ctx.device)
    opt = torch.optim.SGD(trained, lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 3, algorithm.side, algorithm.side, device=ctx.device)
    y = torch.arange(batch, device=ctx.device) % 10

    def one():
        with autocast():
            loss = torch.nn.functional.cross_entropy(net(x).float(), y)
        opt.zero_grad(set_to_none=True)
        (scaler.scale(loss) if scaler else loss).backward()
        scaler.step(opt) if scaler else opt.step()
        scaler.update() if scaler else None

    steps = 3 if ctx.quick else 20
    for _ in range(3):
        one()
    torch.cuda.synchronize() if ctx.cuda else None
    start = time.perf_counter()
    for _ in range(steps):
        one()
    torch.cuda.synchronize() if ctx.cuda else None
    return steps * batch / (time.perf_counter() - start)


def foundation(ctx: Context) -> dict:
    """The foundation-model methods on CLIP ViT-B/16 (built without weights: the same arithmetic), batch 128 as
    LIFT's recipe: lift (AdaptFormer) and full_finetune under fp16 (LIFT's AMP) and bf16 (quick: the toy CLIP)."""
    from conftest import write_cifar

    if "big" not in ctx.shared:
        ctx.shared["big"] = ctx.tmp / "cifar-full"
        write_cifar(ctx.shared["big"], "cifar10", per_class_train=200 if ctx.quick else 5000, per_class_test=20)
    model, batch = ("clip_tiny", 32) if ctx.quick else ("clip_vit_b16", 128)
    cases = [("lift", "fp32")] if ctx.quick else [("lift", "fp16"), ("lift", "bf16"), ("full_finetune", "bf16")]
    rows = {f"{m} {p}": _foundation_run(ctx, m, model, p, batch) for m, p in cases}
    for (m, p), row in zip(cases, rows.values()):
        row["bare_img_s"] = round(_foundation_bare(ctx, m, model, p, batch))
    return {"rows": rows, "model": model, "batch": batch,
            "summary": f"{model}, batch {batch}, 1 epoch of 224 px images: " + "; ".join(
                f"{k}: {v['train_img_s']} img/s (bare step {v['bare_img_s']}), peak {v['peak_gib']} GiB"
                for k, v in rows.items())}
