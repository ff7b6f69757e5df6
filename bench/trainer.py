"""One run: train a model with a method on a long-tailed dataset, evaluate, checkpoint, resume.

Every epoch draws its randomness (order, crops, flips) from a generator seeded by
(seed, epoch), and a checkpoint is written after every epoch, so a run killed at any
point and started again ends with the same numbers as an uninterrupted run. Inside an
epoch (bench.preempt: SIGUSR2, SIGTERM, run.checkpoint_minutes) a checkpoint also keeps
the position: batches done, the epoch generator's and the mixer's states, the running
sums; a resumed run rebuilds the epoch's order from (seed, epoch) and goes on from there.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from bench import checkpoint, distributed, faults, preempt, results, rundir
from bench.config import stage_kind
from bench.datasets.identity import check_same_data, data_identity
from bench.errors import BenchError
from bench.evaluate import RESULT_KEYS, evaluate_metrics, predict, shot_groups
from bench.loggers import Loggers
from bench.methods.compose import Composition
from bench.models import build_model, resolve_head
from bench.progress import RunProgress, epoch_text, progress_mode
from bench.schedule import learning_rate
from bench.stage2 import Stage2, train_section


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


def run_threads(cfg, ckpt):
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
_warned_bf16 = []


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


def check_world_size(cfg, run_dir):
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


def train_run(cfg, data, run_dir, progress=True):
    """Train and evaluate one run in `run_dir`; returns the result dict (also written to result.json)."""
    run_dir = Path(run_dir)
    check_world_size(cfg, run_dir)
    device = distributed.setup(resolve_device(cfg["run"]["device"]))
    main = distributed.is_main()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    stage = Stage2(cfg, run_dir.parent / cfg["stage"]["parent"]) if stage_kind(cfg) == "train" else None
    t_cfg = train_section(cfg) if stage else cfg["train"]  # stage 2: its own epochs, LR, weight decay, batch
    m_cfg, e_cfg = cfg["method"], cfg["eval"]
    best_val = e_cfg["selection"] == "best_val"
    score = "val_top1" if best_val else "top1"  # what "best" maximises
    seed, epochs = t_cfg["seed"], t_cfg["epochs"]
    counts = data.train_counts

    torch.manual_seed(seed)
    model = build_model(cfg, data.in_channels, data.num_classes)
    params = model.parameters()
    if stage is not None:  # the parent's weights; only the classifier and/or per-class scales train
        model, params = stage.model(model, data.num_classes)
    model = model.to(device)
    memory_format = torch.channels_last if cfg["run"]["channels_last"] else torch.contiguous_format
    model = model.to(memory_format=memory_format)  # NHWC convolutions: faster on CPUs and tensor cores
    method = Composition(cfg, counts, data.train_labels, device)  # loss, sampler, re-balancing, mixing
    optimizer = torch.optim.SGD(params, lr=t_cfg["lr"], momentum=t_cfg["momentum"],
                                weight_decay=t_cfg["weight_decay"], nesterov=t_cfg["nesterov"])
    net = distributed.wrap(model, device)  # DDP when launched with several processes
    if cfg["run"]["compile"]:
        net = torch.compile(net)
    pipe = data.pipeline(cfg, device)
    autocast, scaler = precision_tools(t_cfg["precision"], device)

    identity = data_identity(data)
    state = {"epoch": -1, "best": None, "history": [], "train_seconds": 0.0, "images_seen": 0, "data": identity,
             "device_type": device.type}
    if stage is not None:
        state["parent"] = stage.record()
    ckpt = checkpoint.load(run_dir, device)
    if ckpt is not None:  # the data and the kind of device it started on, or a clear refusal
        check_same_data(run_dir.name, ckpt["state"].get("data"), identity)
        check_same_device(run_dir.name, ckpt["state"].get("device_type"), device.type)
    if ckpt is not None and stage is not None and ckpt["state"]["parent"]["result_sha256"] != stage.parent_sha256:
        print(f"starting {run_dir.name} over: its checkpoint was trained on an older result of parent "
              f"{stage.parent_dir.name}", flush=True)
        ckpt = None
    threads = run_threads(cfg, ckpt)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scaler is not None and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        state = ckpt["state"]
        if main:
            where = f"after {epoch_text(state['epoch'], epochs)}" if state["epoch"] >= 0 else "in its first epoch"
            print(f"resuming {run_dir.name} {where} with {threads} CPU thread(s), as it started")
    if main:
        results.write_metrics(run_dir, state["history"])  # drops lines written after the checkpoint

    state["threads"] = threads
    trackers = Loggers(cfg, run_dir, state["epoch"] + 1, data.class_names, state["history"]) if main else None
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    shown = RunProgress(run_dir, f"{m_cfg['name']}/{cfg['dataset']['name']}/s{seed}", epochs, state["epoch"] + 1,
                        progress_mode(progress if cfg["run"]["progress"] else False), active=main)
    last_eval = None
    watch = preempt.Watch(cfg["run"]["checkpoint_minutes"], enabled=distributed.world_size() == 1)
    position = state.pop("position", None)  # inside the epoch after state["epoch"], when the run stopped there

    def save(position=None):
        checkpoint.save(run_dir, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                  "state": {**state, "position": position},
                                  "scaler": scaler.state_dict() if scaler is not None else None})
        watch.saved()

    try:
        for epoch in range(state["epoch"] + 1, epochs):
            faults.point("epoch-start")
            lr = learning_rate(epoch, t_cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)  # stage 2 may train the classifier slower
            gen = epoch_generator(seed, epoch)
            order, rebalance = method.start_epoch(epoch, gen)

            order, batch_size = distributed.shard(order, t_cfg["batch_size"])
            net.train()
            if stage is not None:
                stage.train_mode(model)  # the frozen backbone: BN statistics frozen or updated
            start = time.perf_counter()
            n_batches = -(-len(order) // batch_size)
            loss_sum = torch.zeros((), device=device, dtype=torch.float64)
            correct = torch.zeros((), device=device, dtype=torch.int64)
            done, gen_state = 0, None
            if position is not None:  # resume inside this epoch
                done, gen_state = position["batches"], position["generator"]
                loss_sum += position["loss_sum"]
                correct += position["correct"]
                method.restore_mixer(position["mixer"])
                start -= position["seconds"]  # the epoch's time before the stop counts too
                position = None
                if main:
                    print(f"resuming {epoch_text(epoch, epochs)} after batch {done}", flush=True)
            shown.epoch_start(epoch, n_batches, done)
            images_done = 0

            def here():
                return {"batches": done, "generator": gen.get_state(), "mixer": method.mixer_state(),
                        "loss_sum": loss_sum.item(), "correct": int(correct.item()),
                        "seconds": time.perf_counter() - start}

            batches = pipe.train_batches(order, batch_size, gen, start=done, state=gen_state)

            def next_batch():
                try:
                    return next(batches, (None, None))
                except BenchError:  # an unreadable image: keep the position, so that a fixed file resumes here
                    if watch.enabled:
                        save(here())
                    raise

            images, labels = next_batch()
            while images is not None:
                images, targets = method.mix_batch(images, labels)
                images = images.contiguous(memory_format=memory_format)
                with autocast():
                    logits = net(images)
                loss = method.loss_value(logits.float(), targets)  # losses in fp32 whatever the precision
                optimizer.zero_grad(set_to_none=True)
                if scaler is None:
                    loss.backward()
                    optimizer.step()
                else:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                if stage is not None:
                    stage.after_step(model)  # MaxNorm projection
                loss_sum += loss.detach().double() * len(labels)
                faults.point("mid-epoch")
                correct += (logits.detach().argmax(1) == labels).sum()
                done += 1
                images_done += len(labels)
                shown.step(len(labels), lambda: loss_sum.item() / max(1, images_done))
                if watch.due():
                    save(here())
                    faults.point("mid-epoch-checkpoint")
                    watch.finish()  # a caught signal: requeue (submitit) or exit, as it would have
                images, labels = next_batch()
            if stage is not None:
                stage.after_epoch(model)
            loss_total, hits, seen = distributed.sum_all(
                loss_sum.item(), float(correct.item()), float(len(order)), device=device)
            train_loss = loss_total / seen
            state["train_seconds"] += time.perf_counter() - start
            state["images_seen"] += int(seen)
            if not math.isfinite(train_loss):
                reason = f"training loss became {train_loss} in epoch {epoch}"
                return build_result(cfg, data, device, state, last_eval, run_dir, status="failed", error=reason)

            line = {"epoch": epoch, "lr": lr, "rebalancing": rebalance, "train_loss": train_loss,
                    "train_acc": 100.0 * hits / seen}
            state["epoch"] = epoch
            if not main:  # rank 0 evaluates and writes; the others wait for it
                distributed.barrier()
                continue
            if (epoch + 1) % e_cfg["every"] == 0 or epoch == epochs - 1:
                faults.point("before-eval")
                logits = predict(model, pipe, e_cfg["batch_size"], autocast)  # the unwrapped model: rank 0 only
                last_eval = {"epoch": epoch, **evaluate_metrics(logits, pipe.test_labels, counts,
                                                                 e_cfg["many_above"], e_cfg["few_below"],
                                                                 method.probability_scale())}
                val_logits = None
                if best_val:  # the selection images: only their top-1 is kept, to choose the epoch
                    val_logits = predict(model, pipe, e_cfg["batch_size"], autocast, split="val")
                    last_eval["val_top1"] = evaluate_metrics(val_logits, pipe.val_labels, counts)["top1"]
                line.update({k: v for k, v in last_eval.items() if k != "epoch"})
                if epoch == epochs - 1:  # final predictions (confusion matrices) and logits (post-hoc methods)
                    results.write_predictions(run_dir, logits.argmax(1), pipe.test_labels)
                    write_final_logits(run_dir, e_cfg["save_logits"], logits, pipe, val_logits)
                if state["best"] is None or last_eval[score] > state["best"][score]:
                    state["best"] = last_eval
                state["history"].append(line)
            trackers.epoch(epoch, line)  # every epoch, before the checkpoint: a resumed run logs from its epoch on
            results.write_metrics(run_dir, state["history"])
            save()
            faults.point("after-checkpoint")
            if epoch < epochs - 1:
                watch.finish()  # a signal caught during the evaluation: the epoch is saved, stop here
            distributed.barrier()
            shown.epoch_end(line)
    finally:
        watch.restore()
        if trackers is not None:
            trackers.close()
        torch.set_num_threads(threads_before)
        shown.close()

    if not main:
        return {"status": "done", "run_id": run_dir.name, "rank": distributed.rank()}
    if last_eval is None:  # resumed after the final epoch was checkpointed but before result.json
        last_eval = next(h for h in reversed(state["history"]))
        last_eval = dict(last_eval)
    result = build_result(cfg, data, device, state, last_eval, run_dir)
    watch.finish()  # a signal caught during the last evaluation or the result: the run is done, now honour it
    return result


def _block(evaluation):
    """An evaluation as result.json keeps it: the metric schema (+ val_top1 under best_val)."""
    return {k: evaluation.get(k) for k in RESULT_KEYS + (("val_top1",) if "val_top1" in evaluation else ())}


def write_final_logits(run_dir, setting, logits, pipe, val_logits):
    splits = {"test": (logits, pipe.test_labels)}
    if val_logits is not None:
        splits["val"] = (val_logits, pipe.val_labels)
    if results.logits_wanted(setting, sum(v[0].numel() for v in splits.values())):
        results.write_logits(run_dir, splits)


def build_result(cfg, data, device, state, last, run_dir, status="done", error=None):
    if not distributed.is_main():  # only rank 0 writes
        return {"status": status, "run_id": Path(run_dir).name, "rank": distributed.rank()}
    e_cfg = cfg["eval"]
    best_val = e_cfg["selection"] == "best_val"
    chosen = (last or {}).get("epoch") if e_cfg["selection"] == "last" else (state["best"] or {}).get("epoch")
    groups = shot_groups(data.train_counts, e_cfg["many_above"], e_cfg["few_below"])
    seconds = state["train_seconds"]
    result = {
        "run_id": Path(run_dir).name,
        "status": status,
        "method": cfg["method"]["name"],
        "dataset": cfg["dataset"]["name"],
        "seed": cfg["train"]["seed"],
        "head": resolve_head(cfg["method"]),
        "train_class_counts": data.train_counts,
        "test_class_counts": data.test_counts,
        "class_names": data.class_names,
        "data": {
            "data_seed": cfg["dataset"]["data_seed"],
            "imbalance_ratio": cfg["dataset"]["imbalance_ratio"],
            "profile": cfg["dataset"]["profile"],
            "train_indices_sha256": data.train_indices_sha256,
        },
        "shot_rule": {"many_above": e_cfg["many_above"], "few_below": e_cfg["few_below"],
                      "group_sizes": {g: len(c) for g, c in groups.items()}},
        "last": _block(last) if last else None,
        "best": {**_block(state["best"]), "selected_on": "val" if best_val else "test"} if state["best"] else None,
        "selection": {"rule": e_cfg["selection"], "chosen_epoch": chosen, **(getattr(data, "selection", None) or {})},
        "config": cfg,
        "env": {**results.environment(device), "world_size": distributed.world_size(),
                "threads": state.get("threads")},
        "timing": {
            "train_seconds": seconds,
            "train_images_per_second": state["images_seen"] / seconds if seconds > 0 else None,
        },
    }
    if state.get("parent"):
        result["parent"] = state["parent"]  # stage 2: the parent's run id and result hash, and the recipe
    if error:
        result["error"] = error
    results.write_json(Path(run_dir) / rundir.RESULT, result)
    faults.point("after-result")
    return result
