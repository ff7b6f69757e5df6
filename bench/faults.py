"""Fault injection for the crash tests: `BENCH_FAULT=<point>:<n>` kills this process with SIGKILL
the n-th time (1-based) the code passes <point>. Unset (always, outside tests), it does nothing."""

from __future__ import annotations

import os
import signal

POINTS = (
    "config-written", "epoch-start", "mid-epoch", "before-eval", "mid-eval", "metrics-tmp-written",
    "checkpoint-half-written", "checkpoint-tmp-written", "checkpoint-rotated", "after-checkpoint",
    "predictions-tmp-written", "result-tmp-written", "after-result",
)
_counts = {}


def point(name):
    spec = os.environ.get("BENCH_FAULT")
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
