"""Fault injection for the crash tests: `BENCH_FAULT=<point>:<n>` kills this process with SIGKILL
the n-th time (1-based) the code passes <point>; `<point>:<n>:<SIGNAL>` sends it that signal instead
(a preemption's SIGTERM or SIGUSR2, which bench handles). With `BENCH_FAULT_ONCE=<file>` it fires only
in the process that creates that file (a requeued SLURM job is not stopped again). Unset (always,
outside tests), it does nothing."""

from __future__ import annotations

import os
import signal

# the points the crash tests (tests/test_faults.py) kill at; atomic writes also offer
# "<file stem>-half-written" and "<file stem>-tmp-written" for every file
POINTS = (
    "config-written", "epoch-start", "mid-epoch", "before-eval", "mid-eval", "metrics-tmp-written",
    "checkpoint-half-written", "checkpoint-tmp-written", "checkpoint-rotated", "after-checkpoint",
    "mid-epoch-checkpoint",
    "predictions-tmp-written", "result-tmp-written", "after-result",
)
_TARGET, _, _REST = os.environ.get("BENCH_FAULT", "").partition(":")
_NTH, _, _SIGNAL = _REST.partition(":")
_counts: dict[str, int] = {}


def point(name):
    if name != _TARGET:  # the usual case: one string comparison
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == int(_NTH or 1):
        once = os.environ.get("BENCH_FAULT_ONCE")
        if once:
            try:
                os.close(os.open(once, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
        os.kill(os.getpid(), getattr(signal, _SIGNAL) if _SIGNAL else signal.SIGKILL)
