"""When to write a checkpoint inside an epoch: on SIGUSR2 (SLURM's warning before a time limit, which
submitit asks for, or a preemption), on SIGTERM, and every run.checkpoint_minutes.

A signal only sets a flag; the training loop checks `due()` after each step, writes the position
inside the epoch (bench.engine.trainer) and then calls `finish()`, which hands the signal to whoever
handled it before (submitit: checkpoint and requeue the job, then exit) or, where nobody did,
ends the process as the signal would have. Single-process runs only: the ranks of a DDP run would
stop at different steps, so they keep their per-epoch checkpoints.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

SIGNALS = tuple(getattr(signal, name) for name in ("SIGUSR2", "SIGTERM") if hasattr(signal, name))


class Watch:
    def __init__(self, minutes, enabled=True):
        self.period = float(minutes) * 60.0 if minutes else None
        self.last = time.monotonic()
        self.caught = None  # the signal number, once one arrives
        self.previous, self.restored = {}, {}
        self.enabled = enabled
        if enabled and threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self.previous[signum] = signal.signal(signum, self._flag)

    def _flag(self, signum, frame):
        if self.caught is None:
            print(f"caught {signal.Signals(signum).name}: checkpointing after this step", flush=True)
        self.caught = signum

    def due(self):
        if not self.enabled:
            return False
        return self.caught is not None or (self.period is not None and time.monotonic() - self.last >= self.period)

    def saved(self):
        """A checkpoint was written: the period counts from now."""
        self.last = time.monotonic()

    def finish(self):
        """After the checkpoint of a caught signal: what the signal meant before bench caught it. Called at
        every safe point (after a step's checkpoint, after an epoch's, after the run's result), so a signal
        is honoured wherever it arrives: during a step, an evaluation or the writing of the result."""
        signum, self.caught = self.caught, None
        if signum is None:
            return
        before = self.before.get(signum, signal.SIG_DFL)
        self.restore()
        if callable(before):
            before(signum, None)  # submitit: SIGUSR2 checkpoints, requeues and exits; SIGTERM is logged
        elif before != signal.SIG_IGN:
            sys.exit(128 + signum)

    @property
    def before(self):
        return {**self.restored, **self.previous}

    def restore(self):
        """The handlers from before the run; a signal caught meanwhile stays for finish()."""
        for signum, handler in self.previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self.restored = {**getattr(self, "restored", {}), **self.previous}
        self.previous = {}
