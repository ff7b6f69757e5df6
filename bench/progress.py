"""One progress bar over a sweep's runs (done / running / failed), beside each run's epoch bar.

Used by the local executor (runs finishing in its worker pool) and by `bench run --wait` (SLURM job
states polled). Written to stderr by tqdm when stderr is a terminal (a log file gets the lines
only, as with the per-run epoch bar); off with --no-progress. Lines a sweep prints (a run's summary)
go through write(), so they appear above the bar instead of through it.
"""

from __future__ import annotations

import sys
import threading


def interactive():
    return sys.stderr.isatty()


class SweepBar:
    def __init__(self, total, enabled=True, desc="sweep"):
        from tqdm import tqdm

        self.counts = {"done": 0, "running": 0, "failed": 0}
        self.enabled = enabled = enabled and interactive()
        self._lock = threading.Lock()
        self.bar = tqdm(total=total, desc=desc, unit="run", disable=not enabled, dynamic_ncols=True, leave=True,
                        mininterval=0)
        self._show()

    def _show(self):
        self.bar.set_postfix_str(", ".join(f"{n} {state}" for state, n in self.counts.items()), refresh=True)

    def started(self):
        with self._lock:
            self.counts["running"] += 1
            self._show()

    def ended(self, status):
        """A run has ended: done (or skipped: trained by another process), anything else is a failure."""
        with self._lock:
            self.counts["running"] -= 1
            self.counts["done" if status in ("done", "skipped") else "failed"] += 1
            self.bar.update(1)
            self._show()

    def states(self, done, running, failed):
        """Counts polled from elsewhere (SLURM job states)."""
        with self._lock:
            self.counts.update(done=done, running=running, failed=failed)
            self.bar.n = done + failed
            self._show()

    def write(self, line):
        if self.enabled:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def close(self):
        self.bar.close()
