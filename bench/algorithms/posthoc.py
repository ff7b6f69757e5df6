"""Post-hoc methods: computed from a finished parent run (its saved logits and classifier), no training.

la        logit adjustment (Menon et al., ICLR 2021, Sec. 4): predict argmax_c z_c - tau log pi_c
tau_norm  tau-normalisation (Kang et al., ICLR 2020): z_c = f . w_c / ||w_c||^tau, the classifier's bias
          dropped as facebookresearch/classifier-balancing's tau-norm code does (f . w_c = z_c - b_c is
          recovered from the saved logits and the parent's Linear head)

tau comes from a declared grid and is chosen on the validation split of a parent run with
eval.selection=best_val (never on the reported images); without a validation split `la` uses the
paper's tau = 1 and `tau_norm` is refused at plan time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.algorithms.protocol import Algorithm
from bench.errors import BenchError
from bench.parts.part import Stage
from bench.runconfig import RunConfig
from bench.store import rundir

if TYPE_CHECKING:
    import torch


GRIDS = {
    "la": [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0],  # bench's choice around the paper's tau = 1
    "tau_norm": [round(0.1 * i, 1) for i in range(11)],  # [0, 1] in steps of 0.1, as methods-beyond.md asks
}
FIXED_TAU = {"la": 1.0}  # Menon et al. 2021, Sec. 4: tau = 1 without tuning


def result_sha256(run_dir: str | Path) -> str | None:
    """Hash of a run's result.json: children record their parent's, and are out of date when it changes."""
    path = Path(run_dir) / rundir.RESULT
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def finished_parent(parent_dir: str | Path) -> dict:
    """The parent's result.json dict; BenchError (the child fails with it) unless the parent finished."""
    parent_dir = Path(parent_dir)
    parent = rundir.read_result(parent_dir)
    if parent is None:
        raise BenchError(f"parent run {parent_dir.name} has no result (it did not finish); run it first")
    if parent.get("status") != "done":
        raise BenchError(f"parent run {parent_dir.name} failed: {parent.get('error', 'no reason recorded')}")
    return parent


def _top1(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(1) == labels).mean() * 100.0)


def head_of(parent_dir: str | Path, parent: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(weight C x D, bias C) of the parent's Linear head, from the checkpoint of the epoch its result reports
    (`parent`: its result.json, read when not given)."""
    import torch

    from bench.store import checkpoint

    parent = parent if parent is not None else finished_parent(parent_dir)
    epoch = (parent.get("last") or {}).get("epoch")
    ckpt = checkpoint.load_final(parent_dir, epoch, torch.device("cpu"), parent.get("method") or "its method")
    state = ckpt["model"]
    weight, bias = state.get("1.weight"), state.get("1.bias")
    if weight is None or bias is None or weight.dim() != 2:
        raise BenchError(f"parent run {Path(parent_dir).name} has no Linear classifier (tau_norm needs one); use a "
                         "parent with method.head=linear")
    return weight.double().numpy(), bias.double().numpy()


def read_logits(path: Path, parent_name: str, method: str) -> dict[str, np.ndarray]:
    """The arrays of a parent's logits.npz; BenchError naming the file and the fix when it is not one bench wrote."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {k: saved[k] for k in saved.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise BenchError(f"parent run {parent_name}'s {path.name} is unreadable ({type(exc).__name__}: {exc}); "
                         f"re-run the parent with bench run --methods {method} and this command's other options, "
                         "with --force") from None
    labels = arrays.get("test_labels")
    logits = arrays.get("test_logits")
    if logits is None or labels is None or logits.ndim != 2 or len(logits) != len(labels):
        raise BenchError(f"parent run {parent_name}'s {path.name} has no test logits and labels bench wrote; re-run "
                         f"the parent with bench run --methods {method} and this command's other options, with --force")
    return arrays


def adjust(rule: str, logits: np.ndarray, tau: float, prior: np.ndarray,
           head: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    if rule == "la":
        return logits - tau * np.log(prior)
    assert head is not None  # tau_norm reads the parent's head
    weight, bias = head
    return (logits - bias) / np.linalg.norm(weight, axis=1) ** tau


def run_posthoc(cfg: RunConfig, run_dir: Path, parent_dir: Path) -> dict:
    """Compute a post-hoc child from its parent; returns the result dict (also written to result.json)."""
    parent_dir = Path(parent_dir)
    parent = finished_parent(parent_dir)
    path = parent_dir / rundir.LOGITS
    if not path.is_file():
        raise BenchError(f"parent run {parent_dir.name} kept no {rundir.LOGITS} (eval.save_logits); re-run it with "
                         "--force --set eval.save_logits=always")
    arrays = read_logits(path, parent_dir.name, parent.get("method") or "its method")
    rule, stage = cfg["stage"]["posthoc"], cfg["stage"]
    grid = stage["taus"] or GRIDS[rule]
    counts = np.asarray(parent["train_class_counts"], dtype=np.float64)
    prior = counts / counts.sum()
    head = head_of(parent_dir, parent) if rule == "tau_norm" else None
    test = arrays["test_logits"].astype(np.float64)
    test_labels = arrays["test_labels"].astype(np.int64)
    if "val_logits" in arrays:
        val, val_labels = arrays["val_logits"].astype(np.float64), arrays["val_labels"].astype(np.int64)
        scores = [_top1(adjust(rule, val, tau, prior, head), val_labels) for tau in grid]
        tau, chosen_on = grid[int(np.argmax(scores))], "val"  # the first of equal scores
    elif rule in FIXED_TAU:
        scores, tau, chosen_on = None, FIXED_TAU[rule], "fixed (the paper's value)"
    else:
        raise BenchError(f"{rule} chooses tau on a validation split, and parent {parent_dir.name} has none; "
                         "use --set eval.selection=best_val")
    adjusted = adjust(rule, test, tau, prior, head)
    selection = {"posthoc": rule, "tau_grid": grid, "tau": tau, "tau_chosen_on": chosen_on,
                 "val_top1_per_tau": scores}
    return write_child_result(cfg, run_dir, parent_dir, parent, adjusted, test_labels, selection,
                              "val" if chosen_on == "val" else "fixed", {"tau": tau})  # fixed: none chosen


def write_child_result(cfg: RunConfig, run_dir: Path, parent_dir: Path, parent: dict, logits: np.ndarray,
                       labels: np.ndarray, selection: dict, selected_on: str, extra: dict, timing: dict | None = None,
                       device: torch.device | None = None) -> dict:
    """The result of a child computed at its parent's final epoch from `logits` (N x C) of the reported images:
    result.json (the parent's data and counts, `selection` added to the parent's protocol), predictions and one
    metrics line (with `extra`)."""
    import torch

    from bench.metrics.evaluate import RESULT_KEYS, evaluate_metrics, shot_rule
    from bench.metrics.runresult import RunResult
    from bench.store import results

    e = cfg["eval"]
    metrics = evaluate_metrics(torch.from_numpy(np.asarray(logits)).float(), torch.from_numpy(labels),
                               parent["train_class_counts"], e["many_above"], e["few_below"])
    epoch = (parent.get("last") or {}).get("epoch")
    block = {k: ({"epoch": epoch, **metrics}).get(k) for k in RESULT_KEYS}
    inherited = {k: v for k, v in (parent.get("selection") or {}).items() if k in ("protocol", "val", "reported")}
    result = RunResult(
        run_id=Path(run_dir).name, status="done", method=cfg["method"]["name"], dataset=cfg["dataset"]["name"],
        seed=cfg["train"]["seed"], head=parent.get("head"), train_class_counts=parent["train_class_counts"],
        test_class_counts=parent["test_class_counts"], class_names=parent.get("class_names", []),
        data=parent.get("data"), shot_rule=shot_rule(parent["train_class_counts"], e),
        last=block, best={**block, "selected_on": selected_on},
        selection={"rule": e["selection"], "chosen_epoch": epoch, **selection, **inherited},
        parent={"run_id": parent_dir.name, "method": parent.get("method"), "result_sha256": result_sha256(parent_dir)},
        config=cfg, env={**results.environment(device or torch.device("cpu")), "threads": None},
        timing=timing or {"train_seconds": 0.0, "train_images_per_second": None})
    results.write_predictions(run_dir, np.asarray(logits).argmax(1), labels)
    results.write_metrics(run_dir, [{"epoch": epoch, **{k: v for k, v in metrics.items()}, **extra}])
    return result.write(run_dir)


def is_current(run_dir: str | Path, parent_dir: str | Path) -> bool:
    """A child's result is current when its parent's result.json is the one it was computed from."""
    result = rundir.read_result(run_dir)
    if result is None or result.get("status") != "done":
        return False
    recorded = (result.get("parent") or {}).get("result_sha256")
    return recorded is not None and recorded == result_sha256(parent_dir)


def describe_parent_change(run_dir: str | Path, parent_dir: str | Path) -> str | None:
    """Why a finished child will run again, for `bench status`, or None."""
    result = rundir.read_result(run_dir)
    if result and result.get("status") == "done" and not is_current(run_dir, parent_dir):
        return f"out of date: parent {Path(parent_dir).name} changed since it was computed"
    return None



class PosthocAlgorithm(Algorithm):
    """Post-hoc methods on the algorithm protocol: trains = False, compute() reads the parent's logits (and
    classifier) and writes the result; no data is loaded and no model built."""

    trains = False

    def compute(self) -> dict:
        return run_posthoc(self.cfg, self.run_dir, rundir.parent_dir(self.run_dir, self.cfg))


def _la_unused(cfg: RunConfig) -> dict[str, str]:
    if cfg["eval"]["selection"] == "best_val":
        return {}
    return {"stage.taus": f"{cfg['method']['name']} chooses tau on validation logits, and without "
                          "eval.selection=best_val it uses tau 1"}


_SECONDS = "post-hoc: seconds, no training"
STAGES = (Stage("posthoc", "la", "logit adjustment of the parent's saved logits: argmax z - tau log pi",
                build=lambda: PosthocAlgorithm, reads_parent_logits=True, work=_SECONDS, unused=_la_unused),
          Stage("posthoc", "tau_norm", "tau-normalised classifier rows of the parent's Linear head",
                build=lambda: PosthocAlgorithm, reads_parent_logits=True, work=_SECONDS,
                needs_validation="tau_norm chooses tau on a validation split"))
