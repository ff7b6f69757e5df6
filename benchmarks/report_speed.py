"""How long `bench report` takes to aggregate a large results tree.

    python benchmarks/report_speed.py [--runs 10000] [--keep DIR] [--logits-rows N] [--command] [--html]

Generates a results tree of N runs (10 methods x 8 CIFAR-LT settings x seeds; CIFAR-100 runs carry
100-class per-class lists; 1% failed, 1% without a result), as the current bench writes them: every metric
of the schema present, the few-shot group of the CIFAR-10 settings empty (null), and a logits.npz in each
finished run (N rows of test logits: the real 10,000 by default). Then it times collecting, aggregating
and rendering the Markdown tables (what `bench report DIR` does) in this process, and with --command the
`bench report DIR` command (and with --html `bench report DIR --html`) wall-clock, Python start-up
included.
"""

import argparse
import contextlib
import copy
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report.aggregate import aggregate  # noqa: E402
from bench.report.build import report  # noqa: E402
from bench.report.collect import collect  # noqa: E402

SETTINGS = [(d, p, r) for d in ("cifar10_lt", "cifar100_lt") for p in ("exp", "step") for r in (100.0, 10.0)]
METHODS = ["erm", "resample", "reweight", "cb", "focal", "cb_focal", "ldam", "ldam_drw", "drw", "drs"]


def current_schema(r, classes):
    """Blocks as the current bench writes them: worst / ECE / NLL present; CIFAR-10's few-shot group empty."""
    for block in ("last", "best"):
        r[block].update(worst=min(r[block]["per_class_acc"]), ece=5.0, nll=0.8)
    if classes == 10:
        r["shot_rule"]["group_sizes"] = {"many": 6, "medium": 4, "few": 0}
        for block in ("last", "best"):
            r[block]["few"] = None


def write_logits(run, classes, rows):
    labels = np.arange(rows) % classes
    logits = np.random.default_rng(0).standard_normal((rows, classes), dtype=np.float32)
    np.savez(run / "logits.npz", test_logits=logits, test_labels=labels)


def generate(out, n_runs, logits_rows=10000):
    template = json.loads(next((ROOT / "tests/data/golden").glob("*__erm__seed0__*/result.json")).read_text())
    per_setting = -(-n_runs // (len(SETTINGS) * len(METHODS)))
    count = 0
    for dataset, profile, ratio in SETTINGS:
        classes = 10 if dataset == "cifar10_lt" else 100
        for method in METHODS:
            for seed in range(per_setting):
                if count == n_runs:
                    return
                r = copy.deepcopy(template)
                r["method"], r["dataset"], r["seed"] = method, dataset, seed
                cfg = r["config"]
                cfg["method"]["name"], cfg["train"]["seed"] = method, seed
                cfg["dataset"].update(name=dataset, profile=profile, imbalance_ratio=ratio)
                for block in ("last", "best"):
                    r[block]["top1"] = 50 + (seed * 7 + count) % 30
                    r[block]["per_class_acc"] = [float((c * 13 + seed) % 100) for c in range(classes)]
                r["train_class_counts"] = list(range(classes, 0, -1))
                current_schema(r, classes)
                run = out / f"{dataset}-{profile}{ratio:g}-ds0__{method}__seed{seed}__{count:08x}"
                run.mkdir()
                if count % 100 == 1:
                    r["status"], r["error"] = "failed", "training loss became nan in epoch 3"
                if count % 100 == 2:  # no result yet
                    (run / "config.yaml").write_text(json.dumps(cfg))  # JSON is valid YAML
                else:
                    (run / "result.json").write_text(json.dumps(r, indent=2))
                    if logits_rows and r["status"] == "done":
                        write_logits(run, classes, logits_rows)
                count += 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--keep", help="generate into this folder and keep it")
    parser.add_argument("--logits-rows", type=int, default=10000, help="test logits per run (0: no logits.npz)")
    parser.add_argument("--command", action="store_true", help="also time the `bench report DIR` command")
    parser.add_argument("--html", action="store_true", help="also time `bench report DIR --html`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp)
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        generate(out, args.runs, args.logits_rows)
        print(f"generated {args.runs} runs in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        runs = collect([out])
        t1 = time.perf_counter()
        aggregate(runs)
        t2 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            report([out])
        t3 = time.perf_counter()
        print(f"collect {t1 - t0:.2f} s, aggregate {t2 - t1:.2f} s, "
              f"whole `bench report` (collect + aggregate + tables) {t3 - t2:.2f} s for {len(runs)} runs")
        if args.command:
            print(f"`bench report DIR` command: {timed(['bench', 'report', str(out)]):.2f} s wall-clock")
        if args.html:
            html = ["bench", "report", str(out), "--html", "--out", str(out / "_report")]
            print(f"`bench report DIR --html` command: {timed(html):.2f} s wall-clock")


def timed(command):
    t0 = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
