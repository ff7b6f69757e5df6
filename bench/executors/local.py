"""N concurrent worker subprocesses on this machine, the CPU threads split between them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from bench import results
from bench.runner import to_spec


def run_local(runs, jobs, force=False):
    """Run every planned run in up to `jobs` subprocesses; returns their result dicts."""
    import shutil

    jobs = max(1, min(jobs, len(runs)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    env = {**os.environ, "BENCH_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}

    def one(run):
        if force and run.run_dir.exists():
            shutil.rmtree(run.run_dir)
        proc = subprocess.run([sys.executable, "-m", "bench.worker"], input=json.dumps([to_spec(run)]),
                              capture_output=True, text=True, env=env)
        for line in proc.stdout.splitlines():
            if line.startswith(("done ", "FAILED", "resuming")):
                print(line, flush=True)
        result = results.read_result(run.run_dir)
        if result is None:  # the worker died before writing anything
            error = (proc.stderr.strip().splitlines() or [f"worker exited with status {proc.returncode}"])[-1]
            from bench.runner import write_failed

            result = write_failed(run, RuntimeError(error))
            print(f"FAILED {run.run_dir.name}: {result['error']}", flush=True)
        return result

    print(f"local executor: {len(runs)} runs, {jobs} at a time, {threads} CPU thread(s) each", flush=True)
    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(one, runs))
