"""A run's data identity: what its numbers depend on in the files it read, kept in its checkpoint so that a
run resumed on edited files (a split list changed between a kill and the resume) is refused, not mixed."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.errors import BenchError


def _items_sha256(items):
    """Image-list entries by file name and label (not the full path: the data root may move)."""
    text = "\n".join(f"{Path(path).name} {label}" for path, label in items)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _labels_sha256(labels):
    import numpy as np

    return hashlib.sha256(np.asarray(labels, dtype=np.int64).tobytes()).hexdigest()


def data_identity(data) -> dict:
    """The training split's hash, the evaluation (and selection) images' hash, and the class counts."""
    if not data.in_memory:
        evaluation = _items_sha256(data.eval_items + [("|val|", -1)] + list(data.val_items))
    else:
        val = data.val_y.tolist() if data.val_y is not None else []
        evaluation = _labels_sha256(data.test_y.tolist() + [-1] + val)
    names = hashlib.sha256("\n".join(map(str, getattr(data, "class_names", None) or [])).encode()).hexdigest()
    return {"train_sha256": data.train_indices_sha256, "eval_sha256": evaluation,
            "train_counts": list(data.train_counts), "test_counts": list(data.test_counts), "names_sha256": names}


NAMES = {"train_sha256": "the training split (its list or indices)", "eval_sha256": "the evaluation images",
         "train_counts": "the training class counts", "test_counts": "the evaluation class counts",
         "names_sha256": "the class names (a class-name file)", "weights_sha256": "the pretrained weights file"}


def check_same_data(run_name: str, recorded: dict | None, now: dict) -> None:
    """BenchError when a checkpoint was written on other data than the run reads now (None: an older
    checkpoint without an identity, accepted)."""
    if not recorded:
        return
    changed = [NAMES[k] for k in NAMES if k in recorded and recorded[k] != now.get(k)]
    if changed:
        raise BenchError(f"run {run_name} was started on other data: {', '.join(changed)} changed since its "
                         "checkpoint (a split list, class-name, weights or data file edited?); restore the files it "
                         "started on to resume "
                         "it, or re-run it with --force to start over on the new data")
