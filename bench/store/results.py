"""Writing a run's files atomically (temporary file, fsync, rename), and the run's provenance.

The run folder's layout and file names: bench.store.rundir.
"""

from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bench.runconfig import RunConfig
from bench.store.atomic import FILE_MODE, atomic_write_bytes, atomic_write_text, write_json  # noqa: F401 - the writers
from bench.store.rundir import CONFIG, LOGITS, METRICS, PREDICTIONS


def write_config(run_dir, cfg: RunConfig):
    atomic_write_text(Path(run_dir) / CONFIG, yaml.safe_dump(cfg, sort_keys=False))


def write_metrics(run_dir, history):
    atomic_write_text(Path(run_dir) / METRICS, "".join(json.dumps(h) + "\n" for h in history))


def write_predictions(run_dir, predictions, labels):
    """Last-epoch test predictions and labels as int32 arrays (read with allow_pickle=False)."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez_compressed(buf, predictions=np.asarray(predictions, dtype=np.int32),
                        labels=np.asarray(labels, dtype=np.int32))
    atomic_write_bytes(Path(run_dir) / PREDICTIONS, buf.getvalue())


# eval.save_logits=auto keeps logits up to this many numbers (128 MB in float16): every CIFAR / Fashion-MNIST /
# Places-LT run and ImageNet-LT (50,000 x 1,000: 100 MB); not iNaturalist's 24,426 x 8,142 val logits (398 MB).
# Up to FLOAT32_LOGITS_MAX numbers (64 MB) they are kept in float32, so post-hoc rules see the exact outputs.
AUTO_LOGITS_MAX = 64_000_000
FLOAT32_LOGITS_MAX = 16_000_000


def logits_wanted(setting, numbers):
    return setting == "always" or (setting == "auto" and numbers <= AUTO_LOGITS_MAX)


def write_logits(run_dir, splits):
    """Final logits (float32, or float16 above FLOAT32_LOGITS_MAX numbers) with int32 labels:
    {split: (logits, labels)} -> logits.npz arrays `<split>_logits`, `<split>_labels` (allow_pickle=False)."""
    import io

    import numpy as np

    numbers = sum(np.asarray(logits).size for logits, _ in splits.values())
    dtype = np.float32 if numbers <= FLOAT32_LOGITS_MAX else np.float16
    arrays: dict[str, Any] = {}
    for split, (logits, labels) in splits.items():
        arrays[f"{split}_logits"] = np.asarray(logits, dtype=dtype)
        arrays[f"{split}_labels"] = np.asarray(labels, dtype=np.int32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(Path(run_dir) / LOGITS, buf.getvalue())


def git_sha():
    """Commit of the bench checkout that ran, or None (e.g. installed from a wheel)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment(device):
    import torch

    name = str(device)
    if device.type == "cuda":
        name = f"{device} ({torch.cuda.get_device_name(device)})"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "git_sha": git_sha(),
        "host": socket.gethostname(),
        "device": name,
        "argv": sys.argv,
    }
