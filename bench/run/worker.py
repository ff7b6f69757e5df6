"""Runs planned runs in a child process (local executor, SLURM jobs): `python -m bench.run.worker < specs.json`.

Any error of a run becomes a failed result.json with its reason (written under the run's
lock), so `bench status` and `bench report` can show it; the other runs go on. The last
line on stdout is `STATUS_PREFIX` + a JSON list of {run_id, status, error?}, which the
local executor reads.
"""

from __future__ import annotations

import json
import sys

STATUS_PREFIX = "bench-worker-status: "


def run_specs(specs, progress=None):
    """Train each spec (a dict with cfg, run_dir and force); returns one short record per run. progress: as
    bench.engine.trainer takes it; by default lines when BENCH_PROGRESS=lines (SLURM jobs), else none."""
    import os

    if progress is None:
        progress = "lines" if os.environ.get("BENCH_PROGRESS") == "lines" else False
    from bench.errors import write_problem
    from bench.plan.runs import from_spec
    from bench.run.runner import execute, write_failed_if_free

    records = []
    for spec in specs:
        run = from_spec(spec)
        try:
            (result,) = execute([run], force=bool(spec.get("force")), progress=progress)
        except OSError as exc:
            if write_problem(exc) is None:
                raise
            # a full disk: nothing more can be written, and the run is not at fault; it resumes next time
            result = {"run_id": run.run_dir.name, "status": "failed", "error": write_problem(exc), "fatal": True}
            print(f"stopped {run.run_dir.name}: {result['error']}", flush=True)
            records.append(result)
            break  # nothing more can be written: the command stops (bench/run/executors/local.py)
        except Exception as exc:  # noqa: BLE001 - recorded in result.json, the sweep goes on
            result = write_failed_if_free(run, exc)
            if result.get("status") == "failed":
                print(f"FAILED {run.run_dir.name}: {result.get('error')}", flush=True)
        record = {"run_id": run.run_dir.name, "status": result.get("status", "failed")}
        if result.get("status") != "done":
            record["error"] = str(result.get("error") or result.get("reason") or "")
        records.append(record)
    return records


def main():
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the command's: it forwards SIGTERM
    specs = json.load(sys.stdin)
    records = run_specs(specs)  # SLURM jobs: progress lines in their logs; local workers: quiet
    print(STATUS_PREFIX + json.dumps(records), flush=True)
    return 0 if all(r["status"] in ("done", "skipped") for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
