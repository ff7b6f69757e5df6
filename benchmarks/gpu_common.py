"""What the GPU check's parts share: the run context, generated fixtures, bench invocations."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import torch

FIXTURE_SETS = ["dataset.verify=false", "dataset.download=false"]


class Skip(Exception):
    """A check that does not apply here (its reason is reported)."""


class Context:
    """The device, the size of the checks and their scratch folder; fixtures are written once, when first used."""

    def __init__(self, device: torch.device, quick: bool, tmp: Path):
        self.device, self.quick, self.tmp = device, quick, tmp
        self.cuda = device.type == "cuda"
        self.shared: dict = {}  # figures one check measures and another compares against
        self._cifar: Path | None = None

    @property
    def cifar_root(self) -> Path:
        """CIFAR-10 pickles: 100 images a class (ratio 100 leaves 1 for the last), 20 test images a class."""
        if self._cifar is None:
            from conftest import write_cifar

            self._cifar = self.tmp / "cifar"
            write_cifar(self._cifar, "cifar10", per_class_train=100, per_class_test=20,
                        learnable=True)
        return self._cifar

    def model_sets(self) -> list[str]:
        """The network of the run checks: ResNet-32 on a GPU, the small CNN in quick mode."""
        return ["model.name=small_cnn"] if self.quick else []

    def run_argv(self, methods: str, out: Path, epochs: int = 2, sets=(), dataset: str = "cifar10_lt",
                 root: Path | None = None) -> list[str]:
        return ["run", "--methods", methods, "--datasets", dataset, "--epochs", str(epochs), "--data-root",
                str(root or self.cifar_root), "--out", str(out), "--no-progress", "--device", str(self.device),
                "--set", *FIXTURE_SETS, "train.batch_size=64", *self.model_sets(), *sets]


def bench_main(argv: list[str]) -> tuple[int, str]:
    """`bench ARGV` in this process: (exit code, what it printed)."""
    from bench.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        code = main(argv)
    return code, buf.getvalue()


def bench_process(argv: list[str], fault: str | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m bench ARGV` in a fresh process, stopped at a bench.store.faults point when `fault` is given."""
    env = {k: v for k, v in os.environ.items() if k != "BENCH_FAULT"}
    if fault:
        env["BENCH_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "bench", *argv], capture_output=True, text=True, env=env,
                          timeout=timeout)


def results(out: Path) -> dict:
    """{method: (result.json, run folder)} of the runs under `out`."""
    found = {}
    for path in Path(out).glob("*/result.json"):
        result = json.loads(path.read_text())
        found[result["method"]] = (result, path.parent)
    return found


def finite_run(result: dict, run_dir: Path) -> bool:
    """Finished, with finite accuracy and (for trained runs) finite training losses in every epoch."""
    if result.get("status") != "done" or not math.isfinite(result["last"]["top1"]):
        return False
    metrics = run_dir / "metrics.jsonl"
    if not metrics.exists():
        return True
    losses = [json.loads(line).get("train_loss") for line in metrics.read_text().splitlines()]
    return all(v is None or math.isfinite(v) for v in losses)


def levels(a: torch.Tensor, b: torch.Tensor, std) -> dict:
    """Differences of two normalised batches in pixel levels (0-255): max, share of values off by > 1 level."""
    scale = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1) * 255
    diff = ((a.float() - b.float()).abs() * scale)
    return {"max_levels": round(float(diff.max()), 3), "mean_levels": round(float(diff.mean()), 4),
            "share_over_1": float((diff > 1.01).float().mean())}
