"""The local executor: up to --jobs worker subprocesses on this machine, the CPU cores split between them.

Each run gets cores // jobs threads (jobs as asked, whatever the number of runs left), and a
run keeps the thread count it started with when it resumes (bench.engine.runtime.run_threads), so
a killed sweep re-run with another --jobs ends with the same numbers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from bench.engine.preempt import SIGNALS
from bench.errors import BenchError, Stopped
from bench.run.executors.base import Executor, ExecutorInfo, summarise

if TYPE_CHECKING:
    from bench.run.executors.base import Options


def available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def forwarded(signum: int) -> int:
    """The signal a worker gets for one its command got: SIGTERM for Ctrl-C (SIGINT), else the same."""
    return signal.SIGTERM if signum == signal.SIGINT else signum


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, jobs, progress=True):
        self.jobs, self.progress = jobs, progress

    def start(self, runs, force, out, preloaded):
        threads = max(1, available_cores() // self.jobs)
        env = {**{k: v for k, v in os.environ.items() if k != "BENCH_PROGRESS"},  # workers: quiet (progress.json)
               "BENCH_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
        print(f"local executor: {len(runs)} runs, {min(self.jobs, len(runs))} at a time, {threads} CPU thread(s) "
              "each (a resumed run keeps the count it started with)", flush=True)
        from bench.engine.progress import SweepBar

        bar = SweepBar(len(runs), enabled=self.progress and runs[0].cfg["run"]["progress"])
        self.live, self.stopping, self.fatal = set(), None, None
        previous = self._forward_signals()
        try:
            with ThreadPoolExecutor(self.jobs) as pool:
                done = list(pool.map(lambda run: self.tracked(run, force, env, bar), runs))
        finally:
            bar.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if self.stopping is not None:
            name = signal.Signals(self.stopping).name
            print(f"stopped by {name}: the runs in progress saved their position; run the same command again to "
                  "resume", flush=True)
            raise Stopped(self.stopping)  # nothing after this step of the command starts
        if self.fatal is not None:  # a full disk, a read-only folder: no run can write, the command stops here
            raise BenchError(self.fatal)
        return summarise(done, out)

    def _forward_signals(self):
        """SIGTERM / SIGUSR2 / SIGINT (Ctrl-C) to this process stop every worker (each checkpoints and exits, as a
        run of the inline executor would; SIGINT reaches them as SIGTERM: they ignore a terminal's Ctrl-C), and no
        further run starts: nothing is left running without its command."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def forward(signum, frame):
            self.stopping = signum
            for proc in list(self.live):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(forwarded(signum))

        return {signum: signal.signal(signum, forward) for signum in (*SIGNALS, signal.SIGINT)}

    def tracked(self, run, force, env, bar):
        if self.stopping is not None or self.fatal is not None:
            return {"run_id": run.run_dir.name, "status": "stopped"}
        bar.started(run.run_dir)
        result = {"status": "failed"}
        try:
            result = self.one(run, force, env, bar.write)
        finally:
            bar.ended(result.get("status"), run.run_dir)
        if result.get("fatal"):
            self.fatal = result.get("error")
        return result

    def one(self, run, force, env, say=print):
        """Train one run in a worker subprocess; the worker deletes a forced run under the run's lock."""
        from bench.plan.runs import to_spec
        from bench.run.runner import write_failed_if_free
        from bench.run.worker import STATUS_PREFIX

        proc = subprocess.Popen([sys.executable, "-m", "bench.run.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.live.add(proc)
        try:
            stdout, stderr = proc.communicate(json.dumps([to_spec(run, force)]))
        finally:
            self.live.discard(proc)
        records = None
        for line in stdout.splitlines():
            if line.startswith(STATUS_PREFIX):
                records = json.loads(line[len(STATUS_PREFIX):])
            elif line.startswith(("done ", "FAILED", "resuming", "skip ", "warning", "caught")):
                say(line)
        if records:
            return records[0]
        sent = forwarded(self.stopping) if self.stopping is not None else None
        if sent is not None and abs(proc.returncode) in (sent, 128 + sent):
            return {"run_id": run.run_dir.name, "status": "stopped"}  # checkpointed (or not started): resumable
        # the worker died before reporting (killed, out of memory): a failed result, unless another
        # process holds the run (then it is that process's run, untouched)
        lines = stderr.strip().splitlines()
        reason = lines[-1] if lines else f"worker exited with status {proc.returncode}"
        if proc.returncode < 0:
            reason = f"worker killed by signal {-proc.returncode}" + (f" ({reason})" if lines else "")
        result = write_failed_if_free(run, RuntimeError(reason))
        if result.get("status") == "failed":
            say(f"FAILED {run.run_dir.name}: {result['error']}")
        return result


def from_options(options: Options) -> LocalExecutor:
    if options.jobs < 1:
        raise BenchError(f"--jobs must be at least 1, got {options.jobs}")
    return LocalExecutor(options.jobs, progress=options.progress)


EXECUTOR = ExecutorInfo("local", "up to --jobs worker subprocesses on this machine", from_options)
