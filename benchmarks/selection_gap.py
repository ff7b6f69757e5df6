"""What choosing on the validation split instead of the test images changes, per method.

For every finished eval.selection=best_val run under a results folder: top-1 on the reported images at
the epoch (or post-hoc tau) the validation split chose, at the one best on the reported images
themselves (what best-on-test selection would report), and at the last epoch; means over seeds.

    python benchmarks/selection_gap.py results
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.algorithms.posthoc import adjust, head_of
from bench.plan.config import stage_kind


def posthoc_row(result, out):
    parent = Path(out) / result["parent"]["run_id"]
    with np.load(parent / "logits.npz", allow_pickle=False) as saved:
        logits, labels = saved["test_logits"].astype(np.float64), saved["test_labels"]
    counts = np.asarray(result["train_class_counts"], dtype=np.float64)
    rule, sel = result["config"]["stage"]["posthoc"], result["selection"]
    head = head_of(parent) if rule == "tau_norm" else None
    test = [float((adjust(rule, logits, t, counts / counts.sum(), head).argmax(1) == labels).mean() * 100)
            for t in sel["tau_grid"]]
    best = int(np.argmax(test))
    return test[sel["tau_grid"].index(sel["tau"])], test[best], None, sel["tau"], sel["tau_grid"][best]


def trained_row(run_dir):
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    history = [h for h in history if "top1" in h]
    by_val = max(history, key=lambda h: h["val_top1"])  # the first of equal scores, as the trainer keeps
    by_test = max(history, key=lambda h: h["top1"])
    return by_val["top1"], by_test["top1"], history[-1]["top1"], by_val["epoch"], by_test["epoch"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="a results folder")
    args = parser.parse_args(argv)
    rows = {}
    for path in sorted(Path(args.out).glob("*/result.json")):
        result = json.loads(path.read_text())
        if result.get("status") != "done" or result["config"]["eval"]["selection"] != "best_val":
            continue
        posthoc = stage_kind(result["config"]) == "posthoc"
        row = posthoc_row(result, args.out) if posthoc else trained_row(path.parent)
        rows.setdefault(result["method"], []).append(row)
    print("method        val-chosen  test-best   last  | chosen (epoch or tau) | best on test")
    for method, runs in rows.items():
        chosen, best, last = (np.mean([r[i] for r in runs if r[i] is not None] or [np.nan]) for i in range(3))
        print(f"{method:<12}  {chosen:>10.2f}  {best:>9.2f}  {last:>5.2f}  | {[r[3] for r in runs]} | "
              f"{[r[4] for r in runs]}")


if __name__ == "__main__":
    main()
