"""Fingerprint of every method's training: run id, last top-1 and a sha256 of the final weights.

Run it at two commits and diff the outputs to show a refactoring changed no number:

    python benchmarks/fingerprint.py > before.txt   # at the old commit
    python benchmarks/fingerprint.py > after.txt    # at the new one
    diff before.txt after.txt

4 epochs (first LR decay and deferred re-balancing at epoch 3) of small_cnn on a generated CIFAR-10
fixture (150 images per class, ratio 10), seed 0, this machine's default thread count; tau_norm (which
chooses tau on a validation split) and its erm parent under eval.selection=best_val; the foundation-model methods
on clip_tiny (random-initialised, offline).
"""

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from conftest import write_cifar  # noqa: E402

os.environ.pop("BENCH_PLUGINS", None)  # bench's own methods: not the test plugin that conftest has every process load

from bench.cli import main  # noqa: E402
from bench.methods.registry import METHODS  # noqa: E402
from bench.store import checkpoint  # noqa: E402


def needs_validation(method):
    """tau_norm chooses its tau on a validation split only: it runs (with its erm parent) under best_val."""
    return METHODS[method].stage.get("posthoc") == "tau_norm"


def is_foundation(method):
    """The foundation-model methods adapt a CLIP: they run on the offline clip_tiny, random-initialised."""
    return METHODS[method].parts.get("algorithm") == "foundation"


def trains_nothing(method):
    """Zero-shot CLIP: a training key (the warm-up) would change nothing in it, and is refused (bench/plan/usage.py)."""
    return METHODS[method].parts.get("tuning") == "zeroshot"


WARMUP = ["train.warmup_epochs=1"]
GROUPS = (  # (which methods, their extra settings)
    (lambda m: not needs_validation(m) and not is_foundation(m), ["model.name=small_cnn", *WARMUP]),
    (needs_validation, ["model.name=small_cnn", "eval.selection=best_val", *WARMUP]),
    (lambda m: is_foundation(m) and not trains_nothing(m), ["model.name=clip_tiny", "model.weights=null", *WARMUP]),
    (trains_nothing, ["model.name=clip_tiny", "model.weights=null"]),
)


def fingerprint(methods):
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        write_cifar(data, "cifar10", per_class_train=150, per_class_test=10, learnable=True)
        for member, extra in GROUPS:
            group = [m for m in methods if member(m)]
            if not group:
                continue
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(["run", "--methods", ",".join(group), "--datasets", "cifar10_lt", "--seeds", "0",
                             "--epochs", "4", "--data-root", str(data), "--out", str(out), "--no-progress", "--set",
                             "dataset.verify=false", "dataset.download=false", "dataset.imbalance_ratio=10",
                             *extra])
            assert code == 0, f"bench run exited {code}"
        for run_dir in sorted(out.iterdir()):
            result = json.loads((run_dir / "result.json").read_text())
            ckpt = checkpoint.load(run_dir, torch.device("cpu"))
            if ckpt is None:  # a post-hoc run trains nothing: its predictions instead of weights
                with np.load(run_dir / "predictions.npz", allow_pickle=False) as saved:
                    digest = "p" + hashlib.sha256(saved["predictions"].tobytes()).hexdigest()[:11]
            else:
                digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in ckpt["model"].values())).hexdigest()[:12]
            print(run_dir.name, f"{result['last']['top1']:.2f}", digest)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated (default: all)")
    fingerprint(parser.parse_args().methods.split(","))
