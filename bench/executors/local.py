"""The local executor: up to --jobs worker subprocesses on this machine, the CPU cores split between them.

Each run gets cores // jobs threads (jobs as asked, whatever the number of runs left), and a
run keeps the thread count it started with when it resumes (bench.trainer.run_threads), so
a killed sweep re-run with another --jobs ends with the same numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from bench.executors import Executor, summarise
from bench.progress import SweepBar
from bench.runner import to_spec
from bench.worker import STATUS_PREFIX


def available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, jobs, progress=True):
        self.jobs, self.progress = jobs, progress

    def start(self, runs, force, out, preloaded):
        threads = max(1, available_cores() // self.jobs)
        env = {**os.environ, "BENCH_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
        print(f"local executor: {len(runs)} runs, {min(self.jobs, len(runs))} at a time, {threads} CPU thread(s) "
              "each (a resumed run keeps the count it started with)", flush=True)
        bar = SweepBar(len(runs), enabled=self.progress and runs[0].cfg["run"]["progress"])
        try:
            with ThreadPoolExecutor(self.jobs) as pool:
                done = list(pool.map(lambda run: self.tracked(run, force, env, bar), runs))
        finally:
            bar.close()
        return summarise(done, out)

    def tracked(self, run, force, env, bar):
        bar.started()
        result = {"status": "failed"}
        try:
            result = self.one(run, force, env, bar.write)
        finally:
            bar.ended(result.get("status"))
        return result

    @staticmethod
    def one(run, force, env, say=print):
        """Train one run in a worker subprocess; the worker deletes a forced run under the run's lock."""
        from bench.runner import write_failed_if_free

        proc = subprocess.run([sys.executable, "-m", "bench.worker"], input=json.dumps([to_spec(run, force)]),
                              capture_output=True, text=True, env=env)
        records = None
        for line in proc.stdout.splitlines():
            if line.startswith(STATUS_PREFIX):
                records = json.loads(line[len(STATUS_PREFIX):])
            elif line.startswith(("done ", "FAILED", "resuming", "skip ", "warning")):
                say(line)
        if records:
            return records[0]
        # the worker died before reporting (killed, out of memory): a failed result, unless another
        # process holds the run (then it is that process's run, untouched)
        lines = proc.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"worker exited with status {proc.returncode}"
        if proc.returncode < 0:
            reason = f"worker killed by signal {-proc.returncode}" + (f" ({reason})" if lines else "")
        result = write_failed_if_free(run, RuntimeError(reason))
        if result.get("status") == "failed":
            say(f"FAILED {run.run_dir.name}: {result['error']}")
        return result
