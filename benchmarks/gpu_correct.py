"""The GPU check's correctness checks: the device path against the CPU path (benchmarks/gpu_check.py)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import torch
from gpu_common import Context, Skip, bench_main, bench_process, finite_run, levels, results

# combinations bench refuses by design, with a one-line reason (the check fails on any other refusal)
REFUSED_BY_DESIGN = {("erm_sam", "fp16")}  # SAM's two backward passes and fp16's gradient scaler
# one method of every family; la_posthoc and crt run on the erm parent of the first list
ONE_STAGE = ("erm", "ldam_drw", "erm_mixup", "erm_sam", "ride", "sade", "paco", "bcl")
TWO_STAGE = (("la_posthoc", ()), ("crt", ("stage.epochs=2", "stage.batch_size=64")))
FOUNDATION = (("lift", ("model.name=clip_tiny", "model.weights=null")),)  # offline: a random toy CLIP


def augment(ctx: Context) -> dict:
    """Every on-device augmentation, with the same generator seed on the CPU and on the device."""
    from bench.datasets.cifar import MEAN, STD
    from bench.images.augment import BatchAugment
    from bench.images.policies import BatchPolicy
    from bench.images.views import build_view

    n = 64 if ctx.quick else 512
    x = torch.randint(0, 256, (n, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    setups = {"crop+flip": {}, "rotation 15": {"rotation": 15},
              "autoaugment_cifar+cutout 16": {"policy": lambda: BatchPolicy("autoaugment_cifar"), "cutout": 16},
              "randaugment n2 m9": {"policy": lambda: BatchPolicy("randaugment", 2, 9)}}
    rows = {}
    for name, kw in setups.items():
        outs = []
        for device in (torch.device("cpu"), ctx.device):
            args = {k: (v() if k == "policy" else v) for k, v in kw.items()}
            aug = BatchAugment(MEAN, STD, 4, True, device, **args)
            outs.append(aug.train(x.to(device), torch.Generator().manual_seed(1)).cpu())
        rows[name] = levels(*outs, STD)
    for kind in ("simclr", "simclr_blur"):
        view = build_view(kind, 32)
        a, b = (view(x.to(d), torch.Generator().manual_seed(2)).cpu() for d in (torch.device("cpu"), ctx.device))
        rows[kind] = levels(a.float() / 255, b.float() / 255, (1.0, 1.0, 1.0))
    # integer kernels must match exactly; the views' float kernels (resize, blends truncated to uint8, hue) may
    # round differently on another device: the same draws, pixels off by rounding only
    identical = [k for k, r in rows.items() if r["max_levels"] < 1e-3]
    exact = all(k in identical for k in setups)
    close = all(r["mean_levels"] <= 0.25 and r["share_over_1"] <= 0.05 for r in rows.values())
    others = "; ".join(f"{k}: mean {r['mean_levels']} levels, {100 * r['share_over_1']:.2f}% off by > 1, max "
                       f"{r['max_levels']}" for k, r in rows.items() if k not in identical)
    return {"status": "pass" if exact and close else "fail", "rows": rows,
            "summary": f"identical to the CPU's (same generator): {', '.join(identical) or 'none'}; "
                       f"{others or 'no other'} (tolerance for float kernels: mean <= 0.25 levels, <= 5% off by "
                       "> 1)"}


def jpeg(ctx: Context) -> dict:
    """bench.images.jpeg.decode_jpeg on the device (nvJPEG on CUDA) against the CPU decoder, on photo-like JPEGs."""
    import io

    from PIL import Image

    from bench.images import jpeg as bj
    from bench.perf.decoding import natural_image

    rows, n = {}, 6 if ctx.quick else 24
    for name, subsampling, (mean_tol, share_tol) in (("4:2:0", 2, (2.5, 0.02)), ("4:4:4", 0, (1.0, 1e-3))):
        rng, diffs = np.random.default_rng(0), []
        for i in range(n):
            w, h = (500, 375) if i % 3 else (375, 500)
            w, h = (w // 4, h // 4) if ctx.quick else (w, h)
            buf = io.BytesIO()
            Image.fromarray(natural_image(w, h, rng)).save(buf, format="JPEG", quality=90, subsampling=subsampling)
            cpu = bj.decode_full(bj.Encoded(buf.getvalue()))
            dev = bj.decode_jpeg(torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8), ctx.device).cpu()
            if cpu.shape != dev.shape:
                raise RuntimeError(f"the device decoder gave shape {tuple(dev.shape)}, the CPU's {tuple(cpu.shape)}")
            diffs.append((cpu.int() - dev.int()).abs().flatten())
        d = torch.cat(diffs).float()
        mean, share8 = float(d.mean()), float((d > 8).float().mean())
        rows[name] = {"mean_levels": round(mean, 4), "max_levels": int(d.max()), "share_over_8": share8,
                      "ok": mean <= mean_tol and share8 <= share_tol, "tolerance": [mean_tol, share_tol]}
    text = "; ".join(f"{k} (PIL quality 90): mean |diff| {r['mean_levels']:.3f} levels, max {r['max_levels']}, "
                     f"{100 * r['share_over_8']:.3f}% over 8 (tolerance: mean <= {r['tolerance'][0]}, <= "
                     f"{100 * r['tolerance'][1]:g}% over 8)" for k, r in rows.items())
    return {"status": "pass" if all(r["ok"] for r in rows.values()) else "fail", "decoder": bj._DECODER[0],
            "rows": rows, "summary": f"{bj._DECODER[0]} on {ctx.device} vs the CPU decoder, {n} JPEGs each: {text}"}


def with_sets(ctx: Context) -> tuple:
    """The families run with their own settings: the two-stage ones, and lift on a toy CLIP (not in --quick on a
    CPU, where tests/test_foundation.py runs it)."""
    return TWO_STAGE + (FOUNDATION if not (ctx.quick and not ctx.cuda) else ())


def _family_runs(ctx: Context, precision: str) -> dict:
    """Each family's method, 2 epochs under `precision`: {method: finite, or the refusal/failure text}."""
    out = ctx.tmp / f"families-{precision}"
    outcome = {}
    for method, extra in [(m, ()) for m in ONE_STAGE] + list(with_sets(ctx)):
        code, text = bench_main(ctx.run_argv(method, out, sets=(f"train.precision={precision}", *extra)))
        if code == 2:  # refused before anything ran
            outcome[method] = "refused: " + text.strip().splitlines()[-1][:200]
    for method, (result, run_dir) in results(out).items():
        outcome.setdefault(method, finite_run(result, run_dir) or f"FAILED {str(result.get('error'))[:200]}")
        outcome[f"{method} top1"] = result.get("last", {}).get("top1")
    return outcome


def families(ctx: Context) -> dict:
    precisions = ("fp32", "bf16", "fp16") if ctx.cuda else ("fp32",)
    table, bad = {}, []
    for precision in precisions:
        table[precision] = _family_runs(ctx, precision)
        for method in ONE_STAGE + tuple(m for m, _ in with_sets(ctx)):
            value = table[precision].get(method, "no result")
            designed = (method, precision) in REFUSED_BY_DESIGN and str(value).startswith("refused")
            if value is not True and not designed:
                bad.append(f"{method}/{precision}: {value}")
    n = len(precisions) * (len(ONE_STAGE) + len(with_sets(ctx)))
    return {"status": "fail" if bad else "pass", "runs": table, "problems": bad,
            "summary": f"{n - len(bad)} of {n} runs finished with finite numbers or were refused by design "
                       f"({', '.join(precisions)}; refused by design: "
                       f"{', '.join('/'.join(c) for c in sorted(REFUSED_BY_DESIGN))}); not: {'; '.join(bad) or 'none'}"}


def write_image_lists(root: Path, counts: list[int], per_class_eval: int, side: int) -> Path:
    """An ImageNet-LT folder (lists in ImageNet_LT/, images under imagenet/) of photo-like JPEGs."""
    from PIL import Image

    from bench.perf.decoding import natural_image

    rng = np.random.default_rng(1)
    lists: dict = {"train": [], "val": [], "test": []}
    for label, n in enumerate(counts):
        wnid = f"n0{1440764 + label}"
        for split, count in (("train", n), ("val", per_class_eval), ("test", per_class_eval)):
            for i in range(count):
                rel = f"{'val' if split == 'test' else 'train'}/{wnid}/{wnid}_{split}{i}.JPEG"
                path = root / "imagenet" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                tint = np.array([label * 53 % 256, label * 97 % 256, label * 31 % 256], np.int16) // 3
                pixels = np.clip(natural_image(side * 4 // 3, side, rng) // 2 + tint, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(path, quality=90)
                lists[split].append(f"{rel} {label}")
    (root / "ImageNet_LT").mkdir(parents=True, exist_ok=True)
    for split, lines in lists.items():
        (root / "ImageNet_LT" / f"ImageNet_LT_{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def imagelist(ctx: Context) -> dict:
    """A 2-epoch ImageNet-LT-format run with the image-list loader: decoded in workers, and on the device."""
    counts = [12, 8, 6, 4, 3, 2] if ctx.quick else [60, 40, 25, 15, 10, 6, 4, 3, 2, 2]
    root = write_image_lists(ctx.tmp / "imagelist", counts, 2 if ctx.quick else 5, 64 if ctx.quick else 256)
    size = ["augment.image_size=32", "augment.resize=36"] if ctx.quick else ["model.name=resnet10"]
    outcome = {}
    for decode in ("workers", "device"):
        out = ctx.tmp / f"imagelist-{decode}"
        sets = [*size, "loader.workers=2", "eval.batch_size=32", "augment.color_jitter=0.4",
                f"loader.decode={decode}"]
        code, text = bench_main(ctx.run_argv("erm", out, dataset="imagenet_lt", root=root, sets=sets))
        ((result, run_dir),) = results(out).values() or [({"status": f"exit {code}: {text[-300:]}"}, out)]
        outcome[decode] = {"finite": result.get("status") == "done" and finite_run(result, run_dir),
                           "top1": result.get("last", {}).get("top1"), "status": result.get("status")}
    ok = all(v["finite"] for v in outcome.values())
    return {"status": "pass" if ok else "fail", "runs": outcome,
            "summary": "; ".join(f"decode in {k}: {v['status']}, top-1 {v['top1']}" for k, v in outcome.items())}


def _snapshot(out: Path) -> dict:
    from bench.store.checkpoint import decode

    (run_dir,) = [p for p in out.iterdir() if (p / "result.json").exists()]
    result = json.loads((run_dir / "result.json").read_text())
    with np.load(run_dir / "predictions.npz", allow_pickle=False) as saved:
        predictions = saved["predictions"]
    model = decode((run_dir / "checkpoint.pt").read_bytes(), "cpu")["model"]
    return {"last": result["last"], "metrics": (run_dir / "metrics.jsonl").read_text(), "predictions": predictions,
            "model": model}


def _same(a: dict, b: dict) -> dict:
    weights = max(float((a["model"][k].double() - b["model"][k].double()).abs().max()) if a["model"][k].numel()
                  else 0.0 for k in a["model"])
    return {"metrics_equal": a["metrics"] == b["metrics"], "predictions_equal": bool(
        np.array_equal(a["predictions"], b["predictions"])), "max_weight_diff": weights}


def resume(ctx: Context) -> dict:
    """Stopped by SIGTERM in the 3rd step of epoch 0 and run again, against an uninterrupted run and a second
    uninterrupted run (is the device deterministic at all?)."""
    runs = {}
    plan = (("plain", None), ("again", None), ("cut", "mid-epoch:3:SIGTERM"))
    for name, fault in plan[::2] if ctx.quick else plan:  # the CPU's determinism is the tests' (quick: no repeat)
        argv = ctx.run_argv("erm_mixup", ctx.tmp / f"resume-{name}")
        proc = bench_process(argv, fault)
        if fault:
            if proc.returncode != 128 + signal.SIGTERM:
                raise RuntimeError(f"the stopped run ended with {proc.returncode}: {proc.stdout[-300:]}")
            proc = bench_process(argv)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} run failed: {(proc.stdout + proc.stderr)[-400:]}")
        runs[name] = _snapshot(ctx.tmp / f"resume-{name}")
    resumed = _same(runs["plain"], runs["cut"])
    exact = resumed["metrics_equal"] and resumed["predictions_equal"] and resumed["max_weight_diff"] == 0
    summary = (f"resumed vs uninterrupted: metrics {'equal' if resumed['metrics_equal'] else 'DIFFER'}, weights max "
               f"diff {resumed['max_weight_diff']:.3g}")
    out = {"status": "pass" if exact else "fail", "resumed_vs_plain": resumed}
    if "again" in runs:
        repeat = out["repeat_vs_plain"] = _same(runs["plain"], runs["again"])
        summary += (f"; two uninterrupted runs: metrics {'equal' if repeat['metrics_equal'] else 'differ'}, weights "
                    f"max diff {repeat['max_weight_diff']:.3g}")
    return {**out, "summary": summary}


def compile_check(ctx: Context) -> dict:
    """run.compile=true: a 2-epoch run with torch.compile trains and gives finite numbers."""
    if not ctx.cuda:
        raise Skip("on the CPU torch.compile spends minutes compiling C++; run it on a GPU")
    out = ctx.tmp / "compile"
    code, text = bench_main(ctx.run_argv("erm", out, sets=("run.compile=true",)))
    found = results(out)
    if "erm" not in found:
        raise RuntimeError(f"exit {code}: {text[-400:]}")
    result, run_dir = found["erm"]
    ok = finite_run(result, run_dir)
    return {"status": "pass" if ok else "fail", "top1": result["last"]["top1"],
            "summary": f"2 epochs with torch.compile: {result['status']}, top-1 {result['last']['top1']:.2f}, "
                       f"{result['timing']['train_images_per_second']:.0f} img/s (compilation included)"}


def fashion(ctx: Context) -> dict:
    """The README's demo (erm, ldam_drw on Fashion-MNIST-LT, --preset quick) on real data, when its files are
    here: Debian's dataset-fashion-mnist, $BENCH_DATA, or a folder `gpu-data/` carried along to the GPU machine."""
    from bench.datasets.fashion_mnist import find_files

    root = Path(os.environ.get("BENCH_DATA") or Path(__file__).resolve().parent.parent / "gpu-data")
    if find_files(root) is None:
        raise Skip(f"no Fashion-MNIST files (Debian's dataset-fashion-mnist, $BENCH_DATA or {root})")
    out = ctx.tmp / "fashion"
    methods, epochs = ("erm", ["--epochs", "1"]) if ctx.quick else ("erm,ldam_drw", [])
    code, text = bench_main(["run", "--methods", methods, "--datasets", "fashion_mnist_lt", "--preset", "quick",
                             "--data-root", str(root), "--out", str(out), "--no-progress", "--device",
                             str(ctx.device), *epochs])
    found = results(out)
    ok = code == 0 and all(finite_run(r, d) for r, d in found.values()) and len(found) == len(methods.split(","))
    return {"status": "pass" if ok else "fail",
            "runs": {m: {"top1": r["last"]["top1"], "img_s": round(r["timing"]["train_images_per_second"]),
                         "per_class_acc": r["last"]["per_class_acc"], "train_class_counts": r["train_class_counts"],
                         "test_class_counts": r["test_class_counts"]}
                     for m, (r, _) in found.items()},
            "summary": "; ".join(f"{m}: top-1 {r['last']['top1']:.2f}, {r['timing']['train_seconds']:.1f} s of "
                                 f"training ({r['timing']['train_images_per_second']:.0f} img/s)"
                                 for m, (r, _) in found.items()) or f"exit {code}: {text[-300:]}"}
