"""Run a set of (method, dataset, seed) runs in this process, skipping finished ones."""

from __future__ import annotations

import json

from bench.errors import BenchError
from bench.plan.runs import forced
from bench.runconfig import RunConfig
from bench.store import faults, results, rundir


def is_current(run):
    """Finished, and (for a two-stage run) computed from its parent's present result."""
    if not rundir.is_done(run.run_dir):
        return False
    if run.parent is None:
        return True
    from bench.algorithms.posthoc import is_current as child_current

    return child_current(run.run_dir, run.parent)


def write_failed(run, error):
    """A run that could not train gets a failed result.json with the reason.

    Call only while holding the run's lock (execute does), or through write_failed_if_free."""
    import traceback

    run.run_dir.mkdir(parents=True, exist_ok=True)
    if not (run.run_dir / rundir.CONFIG).exists():
        results.write_config(run.run_dir, run.cfg)
    from bench.metrics.runresult import failed

    text = str(error).strip() or type(error).__name__
    reason = f"{type(error).__name__}: {text}" if not isinstance(error, BenchError) else text
    return failed(run.run_dir.name, run.cfg, reason, traceback.format_exc()).write(run.run_dir)


def write_failed_if_free(run, error):
    """write_failed for a worker that died: only when nobody trains the run and it has no result.

    Returns the run's result, or a "skipped" record naming the process that holds the run."""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    with rundir.run_lock(run.run_dir) as holder:
        if holder is not None:
            return {"run_id": run.run_dir.name, "status": "skipped", "reason": f"held by {holder}"}
        existing = rundir.read_result(run.run_dir)
        if existing is not None:
            return existing
        return write_failed(run, error)


def _execute_child(run, force, algorithm):
    run.run_dir.mkdir(parents=True, exist_ok=True)
    with rundir.run_lock(run.run_dir) as holder:
        if holder is not None:
            print(f"skip   {run.run_dir.name}: being computed by {holder}", flush=True)
            return {"run_id": run.run_dir.name, "status": "skipped", "reason": f"held by {holder}"}
        if is_current(run) and not forced(run, force):
            return rundir.read_result(run.run_dir)
        rundir.clear_run(run.run_dir)  # forced, failed, or computed from an older parent result
        results.write_config(run.run_dir, run.cfg)
        try:
            device = None
            if algorithm.computes_on_device:
                from bench.engine.runtime import resolve_device

                device = resolve_device(run.cfg["run"]["device"])
            result = algorithm(run.cfg, None, device, run.run_dir).compute()
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed or missing parent fails its child, with the reason
            result = write_failed(run, exc)
    print(summary_line(result), flush=True)
    return result


def dataset_key(cfg: RunConfig):
    """Runs with equal keys load the same data (best_val splits the evaluation set)."""
    return json.dumps([cfg["dataset"], cfg["eval"]["selection"] == "best_val", cfg["augment"]["normalize"]],
                      sort_keys=True)


def summary_line(result):
    last = result.get("last") or {}

    def fmt(v):
        return "n/a" if v is None else f"{v:.2f}"

    if result["status"] != "done":
        return f"FAILED {result['run_id']}: {result.get('error', 'unknown error')}"
    t = result["timing"]
    speed = t["train_images_per_second"]
    selection = result.get("selection") or {}
    where = f"epoch {last.get('epoch')} (0-based, the last)"
    if selection.get("tau") is not None:  # a post-hoc child: the tau it used, on its parent's last epoch
        where = f"tau {selection['tau']:g} (chosen: {selection.get('tau_chosen_on')}), parent's {where}"
    return (f"done   {result['run_id']}: top-1 {fmt(last.get('top1'))} (many {fmt(last.get('many'))} / "
            f"medium {fmt(last.get('medium'))} / few {fmt(last.get('few'))}) at {where}, "
            f"{t['train_seconds']:.0f} s training" + (f", {speed:.0f} img/s" if speed else ""))


def execute(runs, force=False, progress=True, cache=None):
    """Train every planned run in this process; returns the list of result dicts (skipped runs included).

    The launch layer (bench.run.launch) has checked every run before this is called. A forced
    run's old files are deleted here, under the run's lock, right before it trains again.
    A child is computed while it holds a shared lock on its parent, and is skipped while another
    process trains that parent. `cache` may hold one already loaded dataset ({dataset key: data}).
    """
    cache, out = dict(cache or {}), []
    for run in runs:
        if is_current(run) and not forced(run, force):
            print(f"skip   {run.run_dir.name}: already done (--force re-runs it)")
            out.append(rundir.read_result(run.run_dir))
            continue
        if run.parent is None:
            out.append(_execute_one(run, force, progress, cache))
            continue
        with rundir.reading_lock(run.parent) as holder:
            if holder is None:
                out.append(_execute_one(run, force, progress, cache))
                continue
        print(f"skip   {run.run_dir.name}: its parent {run.parent.name} is being trained by {holder}; run the same "
              "command again when it has finished", flush=True)
        out.append({"run_id": run.run_dir.name, "status": "skipped", "reason": f"parent held by {holder}"})
    return out


def _execute_one(run, force, progress, cache):
    from bench.datasets.registry import for_config
    from bench.engine import distributed
    from bench.engine.choose import algorithm_class
    from bench.engine.trainer import train_run

    algorithm = algorithm_class(run.cfg)
    if not algorithm.trains:  # computed from the parent's files: no data, no training
        return _execute_child(run, force, algorithm)
    key = dataset_key(run.cfg)
    if key not in cache:
        cache.clear()  # hold one dataset at a time
        cache[key] = for_config(run.cfg).load(run.cfg)
    data = cache[key]
    if not distributed.is_main():  # with several processes (DDP) rank 0 owns the run folder
        distributed.barrier()
        return train_run(run.cfg, data, run.run_dir, progress=progress)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    with rundir.run_lock(run.run_dir) as holder:
        if holder is not None:
            print(f"skip   {run.run_dir.name}: being trained by {holder}; not training it twice", flush=True)
            return {"run_id": run.run_dir.name, "status": "skipped", "reason": f"held by {holder}"}
        if is_current(run) and not forced(run, force):  # finished while we waited for the lock
            print(f"skip   {run.run_dir.name}: already done (--force re-runs it)")
            return rundir.read_result(run.run_dir)
        if forced(run, force) or (run.parent is not None and rundir.read_result(run.run_dir) is not None):
            rundir.clear_run(run.run_dir)  # forced, or a stage-2 run that failed or is older than its parent
        rundir.remove_stale_temporaries(run.run_dir)  # of a killed write; we hold the lock
        results.write_config(run.run_dir, run.cfg)
        faults.point("config-written")
        distributed.barrier()
        try:
            result = train_run(run.cfg, data, run.run_dir, progress=progress)
        except OSError:
            raise  # disk full, folder gone: the CLI says so in one line; the run stays resumable
        except Exception as exc:  # noqa: BLE001 - this run failed; say why in its result, the others go on
            if distributed.world_size() > 1:
                raise  # the other processes of the run must stop too
            result = write_failed(run, exc)
    print(summary_line(result), flush=True)
    return result
