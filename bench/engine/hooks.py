"""The trainer's hook protocol, and the hooks every run has: fault points, preemption, progress, loggers.

A hook is an object with any of these methods (all optional; Hook gives each a no-op), called by
bench.trainer.Trainer in this order, with the trainer as first argument:

    run_start(t)                       the model, optimizer and state are ready (resumed or fresh)
    epoch_start(t, epoch)              the epoch's order is drawn, the model is in train mode
    after_step(t)                      a batch has trained (t.batches_done, t.loss_sum, t.images_done)
    after_epoch(t, epoch)              the epoch's last step is done, before its metrics
    before_evaluation(t, epoch)
    after_evaluation(t, line)          every epoch on rank 0: its metrics.jsonl line (test metrics if evaluated)
    checkpoint(t, mid_epoch)           a checkpoint was written (mid_epoch: inside an epoch)
    epoch_end(t, line)                 the epoch is saved and every rank is past it
    run_end(t)                         always, also after an error (a finally block)
    finished(t, result)                result.json is written

Hooks are called in list order; a method's own hooks (Algorithm.hooks) come before the standard ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from bench import faults

if TYPE_CHECKING:
    from bench.trainer import Trainer

EVENTS = ("run_start", "epoch_start", "after_step", "after_epoch", "before_evaluation", "after_evaluation",
          "checkpoint", "epoch_end", "run_end", "finished")


class Hook:
    def run_start(self, t: Trainer) -> None: ...

    def epoch_start(self, t: Trainer, epoch: int) -> None: ...

    def after_step(self, t: Trainer) -> None: ...

    def after_epoch(self, t: Trainer, epoch: int) -> None: ...

    def before_evaluation(self, t: Trainer, epoch: int) -> None: ...

    def after_evaluation(self, t: Trainer, line: dict) -> None: ...

    def checkpoint(self, t: Trainer, mid_epoch: bool) -> None: ...

    def epoch_end(self, t: Trainer, line: dict) -> None: ...

    def run_end(self, t: Trainer) -> None: ...

    def finished(self, t: Trainer, result: dict) -> None: ...


class Hooks:
    """Calls one event on every hook that handles it, in order: `hooks.after_step(t)`. The callers are built once
    (a hook's inherited no-ops are left out), so an event costs nothing for the hooks that ignore it."""

    run_start: Callable[..., None]
    epoch_start: Callable[..., None]
    after_step: Callable[..., None]
    after_epoch: Callable[..., None]
    before_evaluation: Callable[..., None]
    after_evaluation: Callable[..., None]
    checkpoint: Callable[..., None]
    epoch_end: Callable[..., None]
    run_end: Callable[..., None]
    finished: Callable[..., None]

    def __init__(self, hooks: list[Any]):
        self.hooks = list(hooks)
        for event in EVENTS:
            setattr(self, event, _caller([getattr(h, event) for h in self.hooks if _handles(h, event)]))


def _handles(hook: Any, event: str) -> bool:
    method = getattr(type(hook), event, None)
    return method is not None and method is not getattr(Hook, event)


def _caller(methods: list):
    def call(*args: Any) -> None:
        for method in methods:
            method(*args)

    return call


class FaultPoints(Hook):
    """The named points where a test may kill the run (bench.faults, BENCH_FAULT=<point>:<n>)."""

    def epoch_start(self, t, epoch):
        faults.point("epoch-start")

    def after_step(self, t):
        faults.point("mid-epoch")

    def before_evaluation(self, t, epoch):
        faults.point("before-eval")

    def checkpoint(self, t, mid_epoch):
        faults.point("mid-epoch-checkpoint" if mid_epoch else "after-checkpoint")


class Preemption(Hook):
    """The preemption watch (bench.preempt): a caught signal is honoured at the next safe point, after a
    checkpoint (not the final epoch's: the result comes first) or after the result."""

    def __init__(self, watch):
        self.watch = watch

    def checkpoint(self, t, mid_epoch):
        if mid_epoch or t.epoch < t.epochs - 1:
            self.watch.finish()

    def run_end(self, t):
        self.watch.restore()

    def finished(self, t, result):
        self.watch.finish()


class Progress(Hook):
    """The run's progress display (bench.progress.RunProgress): bar, log lines and progress.json."""

    def __init__(self, shown):
        self.shown = shown

    def epoch_start(self, t, epoch):
        self.shown.epoch_start(epoch, t.n_batches, t.batches_done)

    def after_step(self, t):
        self.shown.step(t.last_batch_size, lambda: t.loss_sum.item() / max(1, t.images_done))

    def epoch_end(self, t, line):
        self.shown.epoch_end(line)

    def run_end(self, t):
        self.shown.close()


class Tracking(Hook):
    """The experiment trackers (bench.loggers.Loggers): every epoch's line, before its checkpoint."""

    def __init__(self, trackers):
        self.trackers = trackers

    def after_evaluation(self, t, line):
        self.trackers.epoch(line["epoch"], line)

    def run_end(self, t):
        self.trackers.close()
