"""How long `bench report` takes to aggregate a large results tree.

    python benchmarks/report_speed.py [--runs 10000] [--keep DIR]

Generates a results tree of N runs (10 methods x 8 CIFAR-LT settings x seeds; CIFAR-100 runs carry
100-class per-class lists; 1% failed, 1% without a result), then times collecting, aggregating and
rendering the Markdown tables (what `bench report DIR` does), in this process.
"""

import argparse
import contextlib
import copy
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report.aggregate import aggregate  # noqa: E402
from bench.report.build import report  # noqa: E402
from bench.report.collect import collect  # noqa: E402

SETTINGS = [(d, p, r) for d in ("cifar10_lt", "cifar100_lt") for p in ("exp", "step") for r in (100.0, 10.0)]
METHODS = ["erm", "resample", "reweight", "cb", "focal", "cb_focal", "ldam", "ldam_drw", "drw", "drs"]


def generate(out, n_runs):
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
                run = out / f"{dataset}-{profile}{ratio:g}-ds0__{method}__seed{seed}__{count:08x}"
                run.mkdir()
                if count % 100 == 1:
                    r["status"], r["error"] = "failed", "training loss became nan in epoch 3"
                if count % 100 == 2:  # no result yet
                    (run / "config.yaml").write_text(json.dumps(cfg))  # JSON is valid YAML
                else:
                    (run / "result.json").write_text(json.dumps(r, indent=2))
                count += 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--keep", help="generate into this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp)
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        generate(out, args.runs)
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


if __name__ == "__main__":
    main()
