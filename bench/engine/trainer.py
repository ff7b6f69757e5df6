"""One run: train a model with a method on a long-tailed dataset, evaluate, checkpoint, resume.

Every epoch draws its randomness (order, crops, flips) from a generator seeded by
(seed, epoch), and a checkpoint is written after every epoch, so a run killed at any
point and started again ends with the same numbers as an uninterrupted run. Inside an
epoch (bench.engine.preempt: SIGUSR2, SIGTERM, run.checkpoint_minutes) a checkpoint also keeps
the position: batches done, the epoch generator's and the algorithm's random states, the running
sums; a resumed run rebuilds the epoch's order from (seed, epoch) and goes on from there.

The method owns its model, step, views and prediction (an Algorithm, bench.algorithms.protocol); what
happens around the loop (progress, loggers, preemption, fault points, stage-2 rules) are hooks
(bench.engine.hooks). The Trainer's steps: set_up (device, algorithm, model, optimizer, resume, hooks),
train_epoch (order, steps, metrics, evaluation, checkpoint), finish (result.json).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from bench.algorithms.protocol import Algorithm, check_views
from bench.algorithms.step import Step
from bench.datasets.identity import check_same_data, data_identity
from bench.engine import distributed, preempt
from bench.engine.choose import algorithm_class
from bench.engine.hooks import FaultPoints, Hooks, Preemption, Progress, Tracking
from bench.engine.loggers import Loggers
from bench.engine.progress import RunProgress, epoch_text, progress_mode
from bench.engine.result import build_result, write_final_logits
from bench.engine.runtime import (
    check_same_device,
    check_world_size,
    epoch_generator,
    precision_tools,
    resolve_device,
    run_threads,
)
from bench.engine.state import Position, RunState
from bench.errors import BenchError
from bench.metrics.evaluate import evaluate_metrics
from bench.parts.schedules import learning_rate
from bench.runconfig import RunConfig
from bench.store import checkpoint, results


def make_algorithm(cfg: RunConfig, data: Any, device: torch.device, run_dir: Path) -> Algorithm:
    """The run's algorithm (bench.engine.choose.algorithm_class), built for this run."""
    return algorithm_class(cfg)(cfg, data, device, run_dir)



def full_batches(order: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The epoch's order without the images past its last full batch (train.drop_last), as a DataLoader with
    drop_last=True and a shuffled sampler: the same draws, the tail left out."""
    kept = len(order) // batch_size * batch_size
    if kept == 0:
        raise BenchError(f"train.drop_last leaves no full batch of {batch_size} from the epoch's {len(order)} images; "
                         "lower train.batch_size or set train.drop_last=false")
    return order[:kept]

class Trainer:
    """Trains one run; `Trainer(cfg, data, run_dir).run()` returns the result dict (also in result.json)."""

    def __init__(self, cfg: RunConfig, data: Any, run_dir: Path, progress: bool | str = True):
        self.cfg, self.data, self.run_dir, self.progress = cfg, data, Path(run_dir), progress
        self.last_eval: dict | None = None
        self.batches_done = self.images_done = self.last_batch_size = self.n_batches = 0

    def run(self) -> dict:
        self.set_up()
        try:
            self.hooks.before_run(self)
            for epoch in range(self.state.epoch + 1, self.epochs):
                failed = self.train_epoch(epoch)
                if failed is not None:
                    return failed
            if self.epochs == 0 and self.main:  # a method that trains nothing (zero-shot): one evaluation
                self.evaluate(-1, {"epoch": -1})
                results.write_metrics(self.run_dir, self.state.history)
        finally:
            self.hooks.after_run(self)
            torch.set_num_threads(self.threads_before)
        return self.finish()

    # ------------------------------------------------------------------------------------------ set-up
    def set_up(self) -> None:
        check_world_size(self.cfg, self.run_dir)
        self.device = distributed.setup(resolve_device(self.cfg["run"]["device"]))
        self.main = distributed.is_main()
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        self.algorithm = make_algorithm(self.cfg, self.data, self.device, self.run_dir)
        self.t_cfg = self.algorithm.train_config()
        self.seed, self.epochs = self.t_cfg["seed"], self.t_cfg["epochs"]
        self.build_model()
        self.resume()
        self.attach_hooks()

    def build_model(self) -> None:
        """The algorithm's model on the device (channels_last), its parts, the optimizer, the pipeline, and the Step
        its train_step receives."""
        torch.manual_seed(self.seed)
        model, params = self.algorithm.build_model()
        model = model.to(self.device)
        self.memory_format = torch.channels_last if self.cfg["run"]["channels_last"] else torch.contiguous_format
        self.model = model.to(memory_format=self.memory_format)  # NHWC convolutions: faster on CPUs, tensor cores
        self.algorithm.setup()
        self.optimizer = self.algorithm.build_optimizer(params)
        self.net = distributed.wrap(self.model, self.device)  # DDP when launched with several processes
        if self.cfg["run"]["compile"]:
            self.net = torch.compile(self.net)
        check_views(self.cfg["method"]["name"], self.algorithm.views, self.data, self.cfg["loader"]["decode"])
        self.pipe = self.data.pipeline(self.cfg, self.device)
        self.autocast, self.scaler = precision_tools(self.t_cfg["precision"], self.device)
        self.step = Step(self.net, self.model, self.optimizer, self.autocast, self.memory_format, self.scaler)

    def resume(self) -> None:
        """The run's state: from its checkpoint when it has a usable one (same data, same kind of device)."""
        identity = data_identity(self.data)
        if self.algorithm.weights:  # the pretrained weights the model was built from: the same file to resume
            identity["weights_sha256"] = self.algorithm.weights[0].get("sha256")
        state = RunState(data=identity, device_type=self.device.type, parent=self.algorithm.parent_record())
        ckpt = checkpoint.load(self.run_dir, self.device)
        if ckpt is not None:
            check_same_data(self.run_dir.name, ckpt["state"].get("data"), identity)
            check_same_device(self.run_dir.name, ckpt["state"].get("device_type"), self.device.type)
            if not self.algorithm.resumable(ckpt["state"]):
                ckpt = None
        threads = run_threads(self.cfg, ckpt)
        if ckpt is not None:
            self.load_checkpoint(ckpt)
            state = RunState.from_dict(ckpt["state"])
            if self.main:
                where = f"after {epoch_text(state.epoch, self.epochs)}" if state.epoch >= 0 else "in its first epoch"
                print(f"resuming {self.run_dir.name} {where} with {threads} CPU thread(s), as it started")
        if self.main:
            results.write_metrics(self.run_dir, state.history)  # drops lines written after the checkpoint
        state.threads = threads
        self.state = state

    def load_checkpoint(self, ckpt: dict) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scaler is not None and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        if ckpt.get("algorithm") is not None:
            self.algorithm.load_state_dict(ckpt["algorithm"])

    def attach_hooks(self) -> None:
        """The algorithm's hooks, then fault points, preemption, trackers and progress, in that order."""
        trackers = (Loggers(self.cfg, self.run_dir, self.state.epoch + 1, self.data.class_names, self.state.history)
                    if self.main else None)
        self.threads_before = torch.get_num_threads()
        torch.set_num_threads(int(self.state.threads or self.threads_before))
        self.watch = preempt.Watch(self.cfg["run"]["checkpoint_minutes"], enabled=distributed.world_size() == 1)
        shown = RunProgress(self.run_dir, f"{self.cfg['method']['name']}/{self.cfg['dataset']['name']}/s{self.seed}",
                            self.epochs, self.state.epoch + 1,
                            progress_mode(self.progress if self.cfg["run"]["progress"] else False), active=self.main)
        self.hooks = Hooks([*self.algorithm.hooks(), FaultPoints(), Preemption(self.watch),
                            *([Tracking(trackers)] if trackers is not None else []), Progress(shown)])

    # ------------------------------------------------------------------------------------------ one epoch
    def train_epoch(self, epoch: int) -> dict | None:
        """Train, evaluate and checkpoint one epoch; a failed result (a non-finite loss) or None."""
        lr = learning_rate(epoch, self.t_cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)  # stage 2 may train the classifier slower
        self.epoch, self.gen = epoch, epoch_generator(self.seed, epoch)
        order, rebalance = self.algorithm.start_epoch(epoch, self.gen)
        order, batch_size = distributed.shard(order, self.t_cfg["batch_size"])
        if self.t_cfg["drop_last"]:
            order = full_batches(order, batch_size)
        self.net.train()
        self.n_batches = -(-len(order) // batch_size)
        gen_state = self.start_counters(epoch, batch_size)
        self.hooks.before_train_epoch(self, epoch)
        self.steps(self.pipe.train_batches(order, batch_size, self.gen, start=self.batches_done, state=gen_state,
                                           views=self.algorithm.views))
        self.hooks.after_train_epoch(self, epoch)
        return self.end_epoch(epoch, lr, rebalance, len(order))

    def start_counters(self, epoch: int, batch_size: int) -> Any:
        """Zero the epoch's sums, or restore them from a position inside this epoch; the generator state."""
        self.epoch_started = time.perf_counter()
        self.loss_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        self.correct = torch.zeros((), device=self.device, dtype=torch.int64)
        self.batches_done = self.images_done = 0
        position, self.state.position = self.state.position, None
        if position is None:
            return None
        self.batches_done = position.batches
        self.images_done = position.batches * batch_size  # for the running loss shown (the last batch is full)
        self.loss_sum += position.loss_sum
        self.correct += position.correct
        self.algorithm.restore_position(position.mixer)
        self.epoch_started -= position.seconds  # the epoch's time before the stop counts too
        if self.main:
            print(f"resuming {epoch_text(epoch, self.epochs)} after batch {self.batches_done}", flush=True)
        # the epoch's generator is a CPU one; a checkpoint loaded onto a GPU has moved its saved state there
        return position.generator.cpu()

    def steps(self, batches: Any) -> None:
        images, labels = self.next_batch(batches)
        while images is not None:
            loss, logits = self.algorithm.train_step(self.step, images, labels)
            self.loss_sum += loss.double() * len(labels)
            self.correct += (logits.argmax(1) == labels).sum()
            self.batches_done += 1
            self.images_done += len(labels)
            self.last_batch_size = len(labels)
            self.hooks.after_train_step(self)
            if self.watch.due():
                self.save(self.position())
                self.hooks.after_checkpoint(self, True)
            images, labels = self.next_batch(batches)

    def next_batch(self, batches: Any) -> tuple:
        try:
            return next(batches, (None, None))
        except BenchError:  # an unreadable image: keep the position, so that a fixed file resumes here
            if self.watch.enabled:
                self.save(self.position())
            raise

    def end_epoch(self, epoch: int, lr: float, rebalance: bool, images: int) -> dict | None:
        loss_total, hits, seen = distributed.sum_all(self.loss_sum.item(), float(self.correct.item()), float(images),
                                                     device=self.device)
        train_loss = loss_total / seen
        self.state.train_seconds += time.perf_counter() - self.epoch_started
        self.state.images_seen += int(seen)
        if not math.isfinite(train_loss):
            reason = f"training loss became {train_loss} in epoch {epoch}"
            return build_result(self.cfg, self.data, self.device, self.state, self.last_eval, self.run_dir,
                                status="failed", error=reason)
        line = {"epoch": epoch, "lr": lr, "rebalancing": rebalance, "train_loss": train_loss,
                "train_acc": 100.0 * hits / seen}
        self.state.epoch = epoch
        if not self.main:  # rank 0 evaluates and writes; the others wait for it
            distributed.barrier()
            return None
        if (epoch + 1) % self.cfg["eval"]["every"] == 0 or epoch == self.epochs - 1:
            self.evaluate(epoch, line)
        self.hooks.after_evaluation(self, line)  # every epoch, before the checkpoint: a resumed run logs from it
        results.write_metrics(self.run_dir, self.state.history)
        self.save()
        self.hooks.after_checkpoint(self, False)
        distributed.barrier()
        self.hooks.after_epoch(self, line)
        return None

    def evaluate(self, epoch: int, line: dict) -> None:
        """Test metrics (and val top-1 under best_val) into the epoch's line; the final predictions and
        logits at the last epoch; the best evaluation so far."""
        self.hooks.before_evaluation(self, epoch)
        e = self.cfg["eval"]
        score = "val_top1" if e["selection"] == "best_val" else "top1"  # what "best" maximises
        logits = self.algorithm.predict(self.model, self.pipe, e["batch_size"], self.autocast)  # rank 0 only
        last = {"epoch": epoch, **evaluate_metrics(logits, self.pipe.test_labels, self.data.train_counts,
                                                   e["many_above"], e["few_below"], self.algorithm.probability_scale()),
                **self.algorithm.evaluation_extra()}
        val_logits = None
        if score == "val_top1":  # the selection images: only their top-1 is kept, to choose the epoch
            val_logits = self.algorithm.predict(self.model, self.pipe, e["batch_size"], self.autocast, split="val")
            last["val_top1"] = evaluate_metrics(val_logits, self.pipe.val_labels, self.data.train_counts)["top1"]
        line.update({k: v for k, v in last.items() if k != "epoch"})
        if epoch == self.epochs - 1:  # final predictions (confusion matrices) and logits (post-hoc methods)
            results.write_predictions(self.run_dir, logits.argmax(1), self.pipe.test_labels)
            write_final_logits(self.run_dir, e["save_logits"], logits, self.pipe, val_logits)
        if self.state.best is None or last[score] > self.state.best[score]:
            self.state.best = last
            if score == "val_top1":  # a child may start from these weights (stage.start=best_val)
                checkpoint.save_best(self.run_dir, self.model.state_dict(), epoch)
        self.state.history.append(line)
        self.last_eval = last

    # ------------------------------------------------------------------------------------------ checkpoints
    def position(self) -> Position:
        return Position(batches=self.batches_done, generator=self.gen.get_state(),
                        mixer=self.algorithm.position_state(), loss_sum=self.loss_sum.item(),
                        correct=int(self.correct.item()), seconds=time.perf_counter() - self.epoch_started)

    def save(self, position: Position | None = None) -> None:
        self.state.position = position
        ckpt = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "state": self.state.to_dict(), "scaler": self.scaler.state_dict() if self.scaler is not None else None}
        own = self.algorithm.state_dict()
        if own is not None:
            ckpt["algorithm"] = own
        checkpoint.save(self.run_dir, ckpt)
        self.state.position = None
        self.watch.saved()

    # ------------------------------------------------------------------------------------------ the result
    def finish(self) -> dict:
        if not self.main:
            return {"status": "done", "run_id": self.run_dir.name, "rank": distributed.rank()}
        last = self.last_eval
        if last is None:  # resumed after the final epoch was checkpointed but before result.json
            last = dict(self.state.history[-1])
        extra = {**self.algorithm.result_extra(last),
                 **({"weights": self.algorithm.weights[0]} if self.algorithm.weights else {}),
                 **({"inputs": self.data.inputs} if getattr(self.data, "inputs", None) else {})}
        result = build_result(self.cfg, self.data, self.device, self.state, last, self.run_dir, extra=extra)
        self.hooks.after_result(self, result)  # a signal caught during the last evaluation or the result: honour it
        return result


def train_run(cfg: RunConfig, data: Any, run_dir: Path, progress: bool | str = True) -> dict:
    """Train and evaluate one run in `run_dir`; returns the result dict (also written to result.json)."""
    return Trainer(cfg, data, run_dir, progress).run()
