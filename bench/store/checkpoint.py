"""Self-verifying resumable checkpoints.

File layout: b"BENCHCK1" + sha256(payload) + payload, where payload is a torch.save of plain
tensors and containers, loaded only with weights_only=True. Before a new checkpoint
replaces checkpoint.pt, the old one becomes checkpoint.prev.pt, so a damaged checkpoint
(truncated, corrupt, or not ours) falls back to the previous one, else the run starts over.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import torch

from bench.errors import BenchError
from bench.store import faults, results, rundir

MAGIC = b"BENCHCK1"


def encode(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = buf.getvalue()
    return MAGIC + hashlib.sha256(payload).digest() + payload


def decode(raw, device):
    """The checkpoint dict; ValueError naming the problem when the bytes are not a valid checkpoint."""
    if len(raw) < len(MAGIC) + 32 or not raw.startswith(MAGIC):
        raise ValueError("not a bench checkpoint or truncated")
    digest, payload = raw[len(MAGIC):len(MAGIC) + 32], raw[len(MAGIC) + 32:]
    if hashlib.sha256(payload).digest() != digest:
        raise ValueError("checksum mismatch (truncated or corrupt)")
    return torch.load(io.BytesIO(payload), map_location=device, weights_only=True)


def save(run_dir, obj):
    run_dir = Path(run_dir)
    data = encode(obj)
    current = run_dir / rundir.CHECKPOINT
    if current.exists():
        os.replace(current, run_dir / rundir.PREVIOUS_CHECKPOINT)
        faults.point("checkpoint-rotated")
    results.atomic_write_bytes(current, data)


def save_best(run_dir, model_state, epoch):
    """best.pt: the model's weights at `epoch`, the best so far on the validation split."""
    results.atomic_write_bytes(Path(run_dir) / rundir.BEST, encode({"model": model_state, "epoch": epoch}))


def load_best(run_dir, epoch, device, method="its method"):
    """A finished run's best.pt, for a child starting from its best-on-val epoch: only when it is of `epoch`, the
    best epoch its result reports. BenchError naming the run and the fix otherwise."""
    run_dir = Path(run_dir)
    fix = (f"re-run the parent with bench run --methods {method} --set eval.selection=best_val and this command's "
           "other options, with --force")
    try:
        best = decode((run_dir / rundir.BEST).read_bytes(), device)
    except FileNotFoundError:
        raise BenchError(f"parent run {run_dir.name} has no {rundir.BEST} (its best-on-val weights: kept by runs "
                         f"with eval.selection=best_val since bench 2026-11-30); {fix}") from None
    except Exception as exc:  # noqa: BLE001 - damaged: the weights are lost
        raise BenchError(f"parent run {run_dir.name}'s {rundir.BEST} is unusable ({exc}); {fix}") from None
    if best.get("epoch") != epoch:
        raise BenchError(f"parent run {run_dir.name}'s {rundir.BEST} is of epoch {best.get('epoch')}, not of the "
                         f"best epoch {epoch} its result reports; {fix}")
    return best


def load(run_dir, device):
    """The newest good checkpoint, or None; every damaged one is reported in one line."""
    run_dir = Path(run_dir)
    for name in (rundir.CHECKPOINT, rundir.PREVIOUS_CHECKPOINT):
        path = run_dir / name
        if not path.is_file():
            continue
        try:
            return decode(path.read_bytes(), device)
        except Exception as exc:  # noqa: BLE001 - any damage means: do not trust this file
            print(f"warning: {path} is unusable ({exc}); "
                  + ("trying the previous checkpoint" if name == rundir.CHECKPOINT else "starting this run over"),
                  flush=True)
    return None


def load_final(run_dir, epoch, device, method="its method"):
    """The checkpoint of a finished run's final epoch, for a child run: checkpoint.pt only (never the previous
    one, which holds another epoch), and only when it is of `epoch`, the epoch the run's result reports.
    BenchError naming the run and the fix otherwise."""
    run_dir = Path(run_dir)
    path = run_dir / rundir.CHECKPOINT
    fix = f"re-run the parent with bench run --methods {method} and this command's other options, with --force"
    try:
        ckpt = decode(path.read_bytes(), device)
    except FileNotFoundError:
        raise BenchError(f"parent run {run_dir.name} has no {rundir.CHECKPOINT} of its final epoch; {fix}") from None
    except Exception as exc:  # noqa: BLE001 - damaged: its final weights are lost
        raise BenchError(f"parent run {run_dir.name}'s {rundir.CHECKPOINT} is unusable ({exc}), so its final "
                         f"weights are lost; {fix}") from None
    state = ckpt.get("state", {}) if isinstance(ckpt, dict) else {}
    if state.get("epoch") != epoch or state.get("position") is not None:
        raise BenchError(f"parent run {run_dir.name}'s {rundir.CHECKPOINT} is of epoch {state.get('epoch')}, not of "
                         f"the final epoch {epoch} its result reports; {fix}")
    return ckpt
