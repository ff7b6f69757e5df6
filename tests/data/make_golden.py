"""Regenerate tests/data/golden/ with the harness itself (run from the repository root):

    python tests/data/make_golden.py

A miniature sweep on a generated, learnable CIFAR-10 fixture (150 images/class, small CNN, 8 epochs):
  cifar10_lt exp-100: erm x3 seeds, ldam_drw x3, cb x2 seeds, reweight x2 with a diverging
                      learning rate (both fail), drw seed 0 interrupted (no result)
  cifar10_lt step-10: erm x3, cb x3
Checkpoints are not kept. Expected outputs: tests/data/golden_expected/.
"""

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conftest import write_cifar  # noqa: E402

from bench.cli import main  # noqa: E402
from bench.engine import trainer  # noqa: E402


def run(root, out, methods, seeds, *sets):
    argv = ["run", "--methods", methods, "--datasets", "cifar10_lt", "--seeds", seeds, "--epochs", "8",
            "--data-root", str(root), "--out", str(out), "--no-progress", "--set", "dataset.verify=false",
            "dataset.download=false", "model.name=small_cnn", "train.warmup_epochs=1", *sets]
    return main(argv)


def interrupted(root, out, methods, seeds):
    real = trainer.learning_rate

    def stop(epoch, cfg):
        if epoch == 4:
            raise KeyboardInterrupt
        return real(epoch, cfg)

    trainer.learning_rate = stop
    try:
        run(root, out, methods, seeds)
    finally:
        trainer.learning_rate = real


def main_():
    out = HERE / "golden"
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        write_cifar(tmp, "cifar10", per_class_train=150, per_class_test=10, learnable=True)
        assert run(tmp, out, "erm,ldam_drw", "0,1,2") == 0
        assert run(tmp, out, "cb", "0,1") == 0
        assert run(tmp, out, "reweight", "0,1", "train.lr=1e12", "train.warmup_epochs=0") == 1
        interrupted(tmp, out, "drw", "0")
        assert run(tmp, out, "erm,cb", "0,1,2", "dataset.profile=step", "dataset.imbalance_ratio=10") == 0
    for path in out.glob("*/checkpoint.pt"):
        path.unlink()


if __name__ == "__main__":
    main_()
