"""result.json of a trained run (done or failed), written by rank 0 only."""

from __future__ import annotations

from pathlib import Path

from bench.algorithms.network import resolve_head
from bench.engine import distributed
from bench.metrics.evaluate import RESULT_KEYS, shot_rule
from bench.metrics.runresult import RunResult
from bench.runconfig import RunConfig
from bench.store import faults, results


def _block(evaluation):
    """An evaluation as result.json keeps it: the metric schema (+ val_top1 under best_val)."""
    return {k: evaluation.get(k) for k in RESULT_KEYS + (("val_top1",) if "val_top1" in evaluation else ())}


def write_final_logits(run_dir, setting, logits, pipe, val_logits):
    splits = {"test": (logits, pipe.test_labels)}
    if val_logits is not None:
        splits["val"] = (val_logits, pipe.val_labels)
    if results.logits_wanted(setting, sum(v[0].numel() for v in splits.values())):
        results.write_logits(run_dir, splits)


def build_result(cfg: RunConfig, data, device, state, last, run_dir, status="done", error=None, extra=None):
    """Write and return result.json of a trained run (one-stage or stage 2); `state` is its RunState; `extra`:
    the algorithm's own keys (Algorithm.result_extra)."""
    if not distributed.is_main():  # only rank 0 writes
        return {"status": status, "run_id": Path(run_dir).name, "rank": distributed.rank()}
    e_cfg = cfg["eval"]
    chosen = (last or {}).get("epoch") if e_cfg["selection"] == "last" else (state.best or {}).get("epoch")
    seconds = state.train_seconds
    result = RunResult(
        run_id=Path(run_dir).name, status=status, method=cfg["method"]["name"], dataset=cfg["dataset"]["name"],
        seed=cfg["train"]["seed"], head=resolve_head(cfg["method"]), train_class_counts=data.train_counts,
        test_class_counts=data.test_counts, class_names=data.class_names,
        data={"data_seed": cfg["dataset"]["data_seed"], "imbalance_ratio": cfg["dataset"]["imbalance_ratio"],
              "profile": cfg["dataset"]["profile"], "train_indices_sha256": data.train_indices_sha256,
              **(getattr(data, "source", None) or {})},  # a dataset YAML file: its file, fingerprint, drawn splits
        shot_rule=shot_rule(data.train_counts, e_cfg),
        last=_block(last) if last else None,
        best={**_block(state.best), "selected_on": "val" if e_cfg["selection"] == "best_val" else "test"}
        if state.best else None,
        selection={"rule": e_cfg["selection"], "chosen_epoch": chosen, **(getattr(data, "selection", None) or {})},
        parent=state.parent or None,  # stage 2: the parent's run id and result hash, and the recipe
        config=cfg,
        env={**results.environment(device), "world_size": distributed.world_size(), "threads": state.threads},
        timing={"train_seconds": seconds,
                "train_images_per_second": state.images_seen / seconds if seconds > 0 else None},
        error=error, extra=extra or {})
    written = result.write(run_dir)
    faults.point("after-result")
    return written
