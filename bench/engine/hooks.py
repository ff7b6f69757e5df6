"""The hooks every run has (fault points, preemption, progress, loggers) and the dispatcher that calls a run's hooks.

The events and the Hook base class are the algorithm protocol's (bench.algorithms.protocol: before_/after_ pairs
around the run, each epoch's training steps and each evaluation). The names of an earlier version (run_start,
epoch_start, after_step, after_epoch for the end of the steps, checkpoint, epoch_end, run_end, finished) are refused,
never silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.algorithms.protocol import EVENTS, Hook
from bench.store import faults


class Hooks:
    """Calls one event on every hook that handles it, in order: `hooks.after_train_step(t)`. The callers are built
    once (a hook's inherited no-ops are left out), so an event costs nothing for the hooks that ignore it."""

    before_run: Callable[..., None]
    before_train_epoch: Callable[..., None]
    after_train_step: Callable[..., None]
    after_train_epoch: Callable[..., None]
    before_evaluation: Callable[..., None]
    after_evaluation: Callable[..., None]
    after_checkpoint: Callable[..., None]
    after_epoch: Callable[..., None]
    after_run: Callable[..., None]
    after_result: Callable[..., None]

    def __init__(self, hooks: list[Any]):
        self.hooks = list(hooks)
        for hook in self.hooks:
            _check_names(hook)
        for event in EVENTS:
            setattr(self, event, _caller([getattr(h, event) for h in self.hooks if _handles(h, event)]))


RENAMED = {"run_start": "before_run", "epoch_start": "before_train_epoch", "after_step": "after_train_step",
           "checkpoint": "after_checkpoint", "epoch_end": "after_epoch", "run_end": "after_run",
           "finished": "after_result"}  # an earlier version's event names


def _check_names(hook: Any) -> None:
    """A hook written for an earlier version's event names would never be called: refused, naming the new ones."""
    old = [name for name in RENAMED if callable(getattr(type(hook), name, None))]
    if old:
        renames = ", ".join(f"{name} -> {RENAMED[name]}" for name in old)
        raise TypeError(f"hook {type(hook).__name__} defines {', '.join(old)}, events the trainer no longer has; "
                        f"rename them ({renames}; the end of an epoch's steps is after_train_epoch)")


def _handles(hook: Any, event: str) -> bool:
    method = getattr(type(hook), event, None)
    return method is not None and method is not getattr(Hook, event)


def _caller(methods: list):
    def call(*args: Any) -> None:
        for method in methods:
            method(*args)

    return call


class FaultPoints(Hook):
    """The named points where a test may kill the run (bench.store.faults, BENCH_FAULT=<point>:<n>)."""

    def before_train_epoch(self, t, epoch):
        faults.point("epoch-start")

    def after_train_step(self, t):
        faults.point("mid-epoch")

    def before_evaluation(self, t, epoch):
        faults.point("before-eval")

    def after_checkpoint(self, t, mid_epoch):
        faults.point("mid-epoch-checkpoint" if mid_epoch else "after-checkpoint")


class Preemption(Hook):
    """The preemption watch (bench.engine.preempt): a caught signal is honoured at the next safe point, after a
    checkpoint (not the final epoch's: the result comes first) or after the result."""

    def __init__(self, watch):
        self.watch = watch

    def after_checkpoint(self, t, mid_epoch):
        if mid_epoch or t.epoch < t.epochs - 1:
            self.watch.finish()

    def after_run(self, t):
        self.watch.restore()

    def after_result(self, t, result):
        self.watch.finish()


class Progress(Hook):
    """The run's progress display (bench.engine.progress.RunProgress): bar, log lines and progress.json."""

    def __init__(self, shown):
        self.shown = shown

    def before_train_epoch(self, t, epoch):
        self.shown.epoch_start(epoch, t.n_batches, t.batches_done)

    def after_train_step(self, t):
        self.shown.step(t.last_batch_size, lambda: t.loss_sum.item() / max(1, t.images_done))

    def after_epoch(self, t, line):
        self.shown.epoch_end(line)

    def after_run(self, t):
        self.shown.close()


class Tracking(Hook):
    """The experiment trackers (bench.engine.loggers.Loggers): every epoch's line, before its checkpoint."""

    def __init__(self, trackers):
        self.trackers = trackers

    def after_evaluation(self, t, line):
        self.trackers.epoch(line["epoch"], line)

    def after_run(self, t):
        self.trackers.close()
