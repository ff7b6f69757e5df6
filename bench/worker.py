"""Runs planned runs in a child process (local executor, SLURM jobs): `python -m bench.worker < specs.json`.

Any error of a run becomes a failed result.json with its reason, so `bench status` and
`bench report` can show it; the other runs go on.
"""

from __future__ import annotations

import json
import os
import sys


def set_threads():
    threads = os.environ.get("BENCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def run_specs(specs, progress=False):
    """Train each spec (a dict with cfg and run_dir); returns the statuses."""
    from bench.runner import execute, from_spec, write_failed

    set_threads()
    statuses = []
    for spec in specs:
        run = from_spec(spec)
        try:
            (result,) = execute([run], progress=progress)
        except Exception as exc:  # noqa: BLE001 - recorded in result.json, the sweep goes on
            result = write_failed(run, exc)
            print(f"FAILED {run.run_dir.name}: {result['error']}", flush=True)
        statuses.append(result.get("status", "failed"))
    return statuses


def main():
    specs = json.load(sys.stdin)
    statuses = run_specs(specs)
    return 0 if all(s == "done" for s in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
