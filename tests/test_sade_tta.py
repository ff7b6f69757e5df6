"""SADE's test-time self-supervised aggregation (`sade_tta`): the loss against the formula transcribed from
Vanint/SADE-AgnosticLT test_training_cifar.py, what trains, the official stopping rule, the transductive label,
the view's blur rate, bad input."""

import hashlib
import json

import numpy as np
import pytest
import torch
from conftest import write_imagenet_lt
from scipy.stats import binomtest

from bench.algorithms import sade_tta
from bench.cli import main

ARGS = ["--datasets", "cifar10_lt", "--epochs", "2", "--no-progress", "--set", "dataset.verify=false",
        "dataset.download=false", "model.name=small_cnn", "train.batch_size=64"]


def official_loss(c1, c2, w, s):
    """Loop-written: a = softmax(w); z_v = sum_k a_k s cos_k; p_v = softmax(z_v); -mean_b cos(p_1, p_2), eps 1e-6."""
    a = np.exp(w) / np.exp(w).sum()
    total = 0.0
    for b in range(len(c1)):
        ps = []
        for c in (c1[b], c2[b]):
            z = sum(a[k] * s * c[k] for k in range(len(a)))
            e = np.exp(z - z.max())
            ps.append(e / e.sum())
        n1, n2 = np.linalg.norm(ps[0]), np.linalg.norm(ps[1])
        total += ps[0] @ ps[1] / (max(n1, 1e-6) * max(n2, 1e-6))
    return -total / len(c1)


def test_the_stability_loss_is_the_official_formula():
    rng = np.random.RandomState(0)
    c1, c2 = rng.uniform(-1, 1, (6, 3, 7)), rng.uniform(-1, 1, (6, 3, 7))
    for w in (np.full(3, 1 / 3), rng.normal(0, 1, 3)):
        got = sade_tta.stability_loss(torch.tensor(c1), torch.tensor(c2), torch.tensor(w), 30.0)
        assert float(got) == pytest.approx(official_loss(c1, c2, w, 30.0), rel=1e-12)
    logits = sade_tta.aggregated_logits(torch.tensor(c1), torch.tensor(np.full(3, 1 / 3)), 30.0)
    assert torch.allclose(logits, 30.0 * torch.tensor(c1).mean(1))  # uniform weights: the experts' mean


def _runs(out):
    runs = {}
    for path in out.glob("*/result.json"):
        result = json.loads(path.read_text())
        runs[result["method"]] = (result, path.parent)
    return runs


def _predictions(run_dir):
    with np.load(run_dir / "predictions.npz", allow_pickle=False) as saved:
        return saved["predictions"]


def test_only_the_weights_train_on_unlabelled_test_images_and_the_result_says_so(cifar_root, tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--methods", "sade", "--data-root", str(cifar_root), "--out", str(out), *ARGS]) == 0
    (parent, parent_dir), = _runs(out).values()
    weights_before = hashlib.sha256((parent_dir / "checkpoint.pt").read_bytes()).hexdigest()
    assert main(["run", "--methods", "sade_tta", "--data-root", str(cifar_root), "--out", str(out), *ARGS]) == 0
    child, child_dir = _runs(out)["sade_tta"]
    assert hashlib.sha256((parent_dir / "checkpoint.pt").read_bytes()).hexdigest() == weights_before
    s = child["selection"]
    assert "without their labels" in s["transductive"] and s["posthoc"] == "sade_aggregation"
    assert len(s["aggregation_weights"]) == 3 and sum(s["aggregation_weights"]) == pytest.approx(1.0)
    assert 1 <= s["epochs_run"] == len(s["history"]) <= 5
    assert max(abs(w - 1 / 3) for w in s["aggregation_weights"]) > 0.01  # lr 0.1, up to 5 epochs: 0.08 seen
    assert child["parent"]["run_id"] == parent_dir.name and child["config"]["stage"]["lr"] == 0.1
    assert child["test_class_counts"] == parent["test_class_counts"]


def test_without_learning_the_prediction_is_the_parent_s_mean_of_experts(cifar_root, tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--methods", "sade_tta", "--data-root", str(cifar_root), "--out", str(out), *ARGS,
                 "stage.lr=1e-12"]) == 0
    runs = _runs(out)
    assert runs["sade_tta"][0]["selection"]["aggregation_weights"] == pytest.approx([1 / 3] * 3, abs=1e-6)
    assert np.array_equal(_predictions(runs["sade_tta"][1]), _predictions(runs["sade"][1]))
    assert runs["sade_tta"][0]["last"]["top1"] == runs["sade"][0]["last"]["top1"]


def test_an_epoch_ending_with_a_weight_below_the_threshold_is_the_last(cifar_root, tmp_path, monkeypatch):
    monkeypatch.setattr(sade_tta, "STOP_BELOW", 0.34)  # every rounded weight (about 0.33) is below it
    out = tmp_path / "out"
    assert main(["run", "--methods", "sade_tta", "--data-root", str(cifar_root), "--out", str(out), *ARGS]) == 0
    assert _runs(out)["sade_tta"][0]["selection"]["epochs_run"] == 1


def test_the_view_blurs_one_image_in_five(monkeypatch):
    from bench.images import views

    monkeypatch.setattr(views, "gaussian_blur", lambda x, kernel, sigma: torch.zeros_like(x))
    x = torch.randint(1, 256, (4000, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = views.build_view("padcrop_blur", 8)(x, torch.Generator().manual_seed(1))
    blurred = int((out.flatten(1).amax(1) == 0).sum())
    assert binomtest(blurred, 4000, 0.2).pvalue > 1e-3


def test_on_image_lists_the_views_of_the_test_images_come_from_the_workers(tmp_path):
    root, out = write_imagenet_lt(tmp_path / "data"), tmp_path / "out"
    assert main(["run", "--methods", "sade_tta", "--datasets", "imagenet_lt", "--epochs", "1", "--data-root",
                 str(root), "--out", str(out), "--no-progress", "--set", "model.name=small_cnn",
                 "augment.image_size=32", "augment.resize=36", "train.batch_size=4", "loader.workers=2",
                 "stage.batch_size=4"]) == 0
    child = _runs(out)["sade_tta"][0]
    assert child["status"] == "done" and child["selection"]["epochs_run"] >= 1
    assert child["test_class_counts"] == _runs(out)["sade"][0]["test_class_counts"]
