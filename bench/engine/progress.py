"""Progress a user can see: one run's progress inside its epochs, and a bar over a sweep's runs.

RunProgress (the trainer): on a terminal a bar over the epoch's batches with images/s, the running loss
and the run's ETA; in a log file (stderr not a terminal) one line per epoch, and one every
LOG_EVERY_S seconds inside a long epoch, with the same figures; and always, for the local executor and
`bench run --wait`, the same figures in the run folder's progress.json (rewritten at most every
FILE_EVERY_S seconds, removed when the run ends).

SweepBar (the local executor, `--wait`): done / running / failed runs, and each running run's epoch and
ETA read from its progress.json. Written to stderr by tqdm when stderr is a terminal, off with
--no-progress. Lines a sweep prints (a run's summary) go through write(), so they appear above the bar.

Epochs are named 0-based, as result.json and metrics.jsonl name them: "epoch 3 of 0-14".
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

PROGRESS = "progress.json"  # in a run folder while the run trains
LOG_EVERY_S = 300.0  # a progress line inside an epoch this often, when the output is a log file
FILE_EVERY_S = 10.0
BAR_EVERY_S = 0.5


def epoch_text(epoch, epochs):
    """How every progress display names an epoch: 0-based, as result.json does, with the range."""
    return f"epoch {epoch} of 0-{epochs - 1}"


def duration(seconds):
    """A short human duration: 45s, 12m05s, 3h20m."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_mode(progress):
    """The trainer's `progress` argument as a RunProgress mode: True: a bar on a terminal, else lines; "lines":
    lines (SLURM job logs); False: neither (the local executor's workers: their parent shows progress.json)."""
    if not progress:
        return None
    return "bar" if progress is True and interactive() else "lines"


class RunProgress:
    """One run's progress. mode: "bar" (a terminal), "lines" (a log file) or None (progress.json only);
    inactive (a DDP rank other than 0): nothing at all."""

    def __init__(self, run_dir, label, epochs, first_epoch, mode, active=True, clock=time.monotonic):
        self.path = Path(run_dir) / PROGRESS
        self.label, self.epochs, self.mode, self.clock, self.active = label, epochs, mode, clock, active
        self.batches = 0
        self.started, self.first_epoch = clock(), first_epoch
        self.batches_done = 0  # in this attempt (a resumed run measures its own speed)
        self.epoch, self.done, self.images, self.epoch_start_time = first_epoch, 0, 0, self.started
        self.last_step = self.started
        self.last_line = self.last_file = self.last_bar = self.started
        self.log_every = every_seconds(LOG_EVERY_S)
        self.bar = None

    def epoch_start(self, epoch, batches, done=0):
        """A new epoch of `batches` batches starts (or a resumed one, after `done` batches)."""
        if not self.active:
            return
        self.epoch, self.batches, self.done, self.images = epoch, batches, done, 0
        self.epoch_start_time = self.last_step = self.clock()
        if self.mode == "bar":
            from tqdm import tqdm

            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=self.batches, initial=done, desc=f"{self.label} {epoch_text(epoch, self.epochs)}",
                            unit="batch", leave=False, dynamic_ncols=True, file=sys.stderr, mininterval=BAR_EVERY_S)
        self._write_file(self.epoch_start_time)

    def step(self, images, running_loss):
        """A batch of `images` has trained; running_loss() gives the epoch's mean loss so far (a device sync:
        called only when a figure is shown)."""
        if not self.active:
            return
        self.done += 1
        self.batches_done += 1
        self.images += images
        self.last_step = now = self.clock()
        if self.bar is not None:
            self.bar.update(1)
            if now - self.last_bar >= BAR_EVERY_S:
                self.bar.set_postfix_str(self._figures(now, running_loss()), refresh=False)
                self.last_bar = now
        if self.mode == "lines" and now - self.last_line >= self.log_every:
            self._say(f"{self.label} {epoch_text(self.epoch, self.epochs)}: batch {self.done}/{self.batches}, "
                      f"{self._figures(now, running_loss())}")
            self.last_line = now
        if now - self.last_file >= FILE_EVERY_S:
            self._write_file(now)

    def epoch_end(self, line):
        """The epoch's metrics.jsonl line (train_loss, train_acc, top1 when evaluated)."""
        if not self.active:
            return
        now = self.clock()
        if self.mode == "lines":
            test = f", test top-1 {line['top1']:.2f}" if line.get("top1") is not None else ""
            self._say(f"{self.label} {epoch_text(self.epoch, self.epochs)} done: loss {line['train_loss']:.4f}, "
                      f"train acc {line['train_acc']:.2f}{test}, {self._speed(now):,.0f} img/s, "
                      f"epoch {duration(now - self.epoch_start_time)}, run ETA {duration(self.eta(now))}")
            self.last_line = now
        elif self.bar is not None:
            test = f", test {line['top1']:.1f}" if line.get("top1") is not None else ""
            self.bar.set_postfix_str(f"loss {line['train_loss']:.3f}{test}, ETA {duration(self.eta(now))}")
        self.epoch += 1
        self.done = 0
        self._write_file(now)

    def eta(self, now):
        """Seconds left: the batches left at this attempt's pace so far (evaluations and checkpoints included)."""
        if self.batches_done == 0:
            return None
        left = (self.epochs - self.epoch - 1) * self.batches + (self.batches - self.done)
        return left * (now - self.started) / self.batches_done

    def _speed(self, now):
        elapsed = min(now, self.last_step) - self.epoch_start_time  # training only, not the evaluation after it
        return self.images / elapsed if elapsed > 0 else 0.0

    def _figures(self, now, loss):
        return f"loss {loss:.4f}, {self._speed(now):,.0f} img/s, run ETA {duration(self.eta(now))}"

    def _say(self, text):
        print(text, file=sys.stderr, flush=True)

    def _write_file(self, now):
        state = {"epoch": self.epoch, "epochs": self.epochs, "batch": self.done, "batches": self.batches,
                 "images_per_second": round(self._speed(now), 1), "eta_seconds": self.eta(now),
                 "updated": time.time()}
        tmp = self.path.with_name(f".{PROGRESS}.{os.getpid()}.tmp")  # removed with the run's stale temporaries
        try:
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.path)
        except OSError:  # progress is a courtesy: a full disk or a removed folder must not stop the run
            tmp.unlink(missing_ok=True)
        self.last_file = now

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.active:
            self.path.unlink(missing_ok=True)


def read_progress(run_dir):
    """A running run's progress.json as a dict, or None (not started, ended, or unreadable)."""
    try:
        state = json.loads((Path(run_dir) / PROGRESS).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def progress_text(run_dir):
    """`erm/s0 epoch 3 of 0-14 (40%), ETA 2m10s` for a running run, or None."""
    state = read_progress(run_dir)
    try:
        epoch, epochs = int(state["epoch"]), int(state["epochs"])
        fraction = (epoch + state["batch"] / max(1, state["batches"])) / epochs
        return f"{epoch_text(epoch, epochs)} ({100 * fraction:.0f}%), ETA {duration(state.get('eta_seconds'))}"
    except (TypeError, KeyError, ValueError, ZeroDivisionError):
        return None


def interactive():
    return sys.stderr.isatty()


def every_seconds(default):
    """BENCH_PROGRESS_SECONDS overrides how often progress lines go to a log file (and the sweep's run lines)."""
    try:
        return max(0.0, float(os.environ.get("BENCH_PROGRESS_SECONDS", default)))
    except ValueError:
        return default


def short_name(run_dir):
    """`erm/seed0` from a run folder's name `<setting>__erm__seed0__<hash>`."""
    parts = Path(run_dir).name.split("__")
    return "/".join(parts[1:3]) if len(parts) >= 3 else Path(run_dir).name


class SweepBar:
    """done / running / failed over a sweep's runs, with each running run's epoch and ETA (its progress.json),
    refreshed every REFRESH_S seconds on a terminal; in a log file, a line of the running runs every
    LOG_EVERY_S seconds (BENCH_PROGRESS_SECONDS)."""

    REFRESH_S = 2.0

    def __init__(self, total, enabled=True, desc="sweep"):
        from tqdm import tqdm

        self.counts = {"done": 0, "running": 0, "failed": 0}
        self.live = []  # run folders of the runs running now
        self.logging = enabled and not interactive()
        self.enabled = enabled = enabled and interactive()
        self._lock = threading.Lock()
        self.bar = tqdm(total=total, desc=desc, unit="run", disable=not enabled, dynamic_ncols=True, leave=True,
                        mininterval=0)
        self._show()
        self._stop = threading.Event()
        self._thread = None
        if self.enabled or self.logging:
            self._thread = threading.Thread(target=self._refresh, daemon=True, name="bench-sweep-progress")
            self._thread.start()

    def _runs_text(self):
        texts = []
        for run_dir in list(self.live):
            text = progress_text(run_dir)
            texts.append(f"{short_name(run_dir)} {text}" if text else f"{short_name(run_dir)} starting")
        return "; ".join(texts)

    def _show(self):
        text = ", ".join(f"{n} {state}" for state, n in self.counts.items())
        if self.enabled and self.live:
            text += " | " + self._runs_text()
        self.bar.set_postfix_str(text, refresh=True)

    def _refresh(self):
        every = self.REFRESH_S if self.enabled else every_seconds(LOG_EVERY_S)
        while not self._stop.wait(every):
            with self._lock:
                if self.enabled:
                    self._show()
                elif self.live:
                    print(f"running: {self._runs_text()}", file=sys.stderr, flush=True)

    def started(self, run_dir=None):
        with self._lock:
            self.counts["running"] += 1
            if run_dir is not None:
                self.live.append(run_dir)
            self._show()

    def ended(self, status, run_dir=None):
        """A run has ended: done (or skipped: trained by another process), anything else is a failure."""
        with self._lock:
            self.counts["running"] -= 1
            if run_dir in self.live:
                self.live.remove(run_dir)
            self.counts["done" if status in ("done", "skipped") else "failed"] += 1
            self.bar.update(1)
            self._show()

    def states(self, done, running, failed, live=()):
        """Counts polled from elsewhere (SLURM job states); `live`: the run folders running now."""
        with self._lock:
            self.counts.update(done=done, running=running, failed=failed)
            self.live = list(live)
            self.bar.n = done + failed
            self._show()

    def write(self, line):
        if self.enabled:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.bar.close()
