"""The converse of tests/test_usage.py: every key a run uses (bench/plan/usage.py does not call it unused, and the
checks accept the change) should change what the run computes. Trains each method once as planned and once per changed
key, and lists the keys whose trained numbers came out identical: suspects for a rule that bench/plan/usage.py lacks.

Too slow for the test suite (one short training per key and method: about 40 per method); run it after adding a
key, a part or an algorithm:

    python benchmarks/usage_walk.py                     # erm and ldam_drw on the CIFAR-10 fixture
    python benchmarks/usage_walk.py --methods paco,sade

Runs 2 epochs of small_cnn on a generated CIFAR-10 fixture (60 images per class, ratio 10). A key listed is not
necessarily a bug (a change too small to move a 2-epoch run's numbers); each one is worth a look. Last found
(2026-12-06; erm, ldam_drw, paco, sade, erm_sam; 2 minutes on 2 cores): eval.batch_size for every method (the
evaluation's batch changes float rounding at most; it stays in the id, since the large datasets' presets set it and
their run ids would all move), and eval.every for ldam_drw (its best epoch is the last either way in 2 epochs).
"""

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import write_cifar  # noqa: E402
from test_usage import OTHER, _text  # noqa: E402

from bench.errors import BenchError  # noqa: E402
from bench.plan.config import resolve  # noqa: E402
from bench.plan.runs import (
    PlannedRun,  # noqa: E402
    run_name,  # noqa: E402
)
from bench.plan.usage import unused_keys  # noqa: E402
from bench.run.runner import execute

FIXTURE = ["dataset.verify=false", "dataset.download=false", "dataset.imbalance_ratio=10", "model.name=small_cnn",
           "train.batch_size=64",
           "train.warmup_epochs=0", "eval.batch_size=200"]


def trained(cfg, out: Path) -> dict:
    run_dir = out / f"{len(list(out.glob('*')))}-{run_name(cfg)}"
    with contextlib.redirect_stdout(io.StringIO()):
        (result,) = execute([PlannedRun(cfg, run_dir, None)], progress=False)
    return {k: result.get(k) for k in ("status", "last", "best")}  # best: the epoch eval.every lets it choose


def walk(method: str, root: Path, out: Path) -> list:
    flags = {"dataset.root": str(root), "train.epochs": 2}
    base = resolve(method, "cifar10_lt", 0, flags=flags, sets=FIXTURE)
    if base["stage"]["parent"] is not None or base["stage"]["posthoc"] != "none" or base["stage"]["train"] != "none":
        raise SystemExit(f"{method} is a two-stage method: walk its parent")
    unused, reference, suspects = unused_keys(base), trained(base, out), []
    for key in OTHER:
        if key in unused or key.startswith(("dataset.", "loader.", "stage.")) or key == "model.weights":
            continue  # not used, or about files and children (the test suite covers them)
        try:
            cfg = resolve(method, "cifar10_lt", 0, flags=flags, sets=[*FIXTURE, f"{key}={_text(key, base)}"])
        except BenchError:
            continue  # refused: a combination the checks name
        if run_name(cfg) != run_name(base) and trained(cfg, out) == reference:
            suspects.append(key)
    return suspects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="erm,ldam_drw")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        write_cifar(root, per_class_train=60, per_class_test=10)
        for method in args.methods.split(","):
            out = Path(tmp) / method
            out.mkdir()
            suspects = walk(method, root, out)
            print(f"{method}: " + (", ".join(suspects) + " changed nothing trained" if suspects
                                   else "every key it uses changed the trained numbers"), flush=True)


if __name__ == "__main__":
    main()
