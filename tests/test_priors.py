"""Accuracy under shifted test priors (SADE's test-agnostic protocol), computed from per-class accuracy: equal to
the accuracy on an actually re-sampled test set, selectable with --metric, tabled and plotted with --priors."""

import numpy as np
import pytest
import torch

from bench.metrics import priors
from bench.metrics.evaluate import evaluate_metrics


def logits_with_accuracies(correct_per_class, images_per_class, classes):
    """Logits of `images_per_class` test images a class, the first correct_per_class[c] of class c right."""
    labels, rows = [], []
    for c in range(classes):
        for i in range(images_per_class):
            labels.append(c)
            row = torch.zeros(classes)
            row[c if i < correct_per_class[c] else (c + 1) % classes] = 1.0
            rows.append(row)
    return torch.stack(rows), torch.tensor(labels)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_shifted_accuracy_equals_the_accuracy_of_a_resampled_test_set(direction):
    """SADE keeps n_max (1/rho)^(r_c / (C-1)) test images of class c (r_c: its rank by training count; backward:
    reversed). With 3 classes and rho 25 the counts are 25 : 5 : 1 times a class's images: the re-sampled set
    (each class's images repeated that often) has exactly the accuracy bench computes from per-class accuracy."""
    train_counts = [10, 50, 30]  # ranks: class 1 first, then 2, then 0
    logits, labels = logits_with_accuracies([7, 2, 5], 10, 3)
    per_class = evaluate_metrics(logits, labels, train_counts)["per_class_acc"]
    assert per_class == [70.0, 20.0, 50.0]
    repeat = {"forward": {1: 25, 2: 5, 0: 1}, "backward": {1: 1, 2: 5, 0: 25}}[direction]
    index = torch.cat([torch.nonzero(labels == c).flatten().repeat(repeat[c]) for c in range(3)])
    resampled = evaluate_metrics(logits[index], labels[index], train_counts)["top1"]
    assert priors.shifted_accuracy(per_class, train_counts, f"{direction}25") == pytest.approx(resampled, abs=1e-12)
    expected = (25 * 20.0 + 5 * 50.0 + 70.0) / 31 if direction == "forward" else (20.0 + 5 * 50.0 + 25 * 70.0) / 31
    assert resampled == pytest.approx(expected, abs=1e-12)


def test_cifar_forward_prior_is_sades_exponential_profile_over_class_indices():
    """CIFAR-LT classes are numbered from the most to the fewest training images: forward-50's prior is
    proportional to SADE's test counts int(n_max (1/50)^(c/9)) up to their rounding; backward is its mirror."""
    counts = [int(5000 * (1 / 100) ** (c / 9)) for c in range(10)]
    q = priors.weights(counts, 50, "forward")
    assert q == pytest.approx([(1 / 50) ** (c / 9) / sum((1 / 50) ** (k / 9) for k in range(10)) for c in range(10)])
    assert priors.weights(counts, 50, "backward") == pytest.approx(q[::-1])
    assert sum(q) == pytest.approx(1.0) and np.argmax(q) == 0


def test_the_report_selects_tables_and_plots_the_shifted_priors(tmp_path):
    """Golden results predate the metrics: the report derives them from each result's per-class accuracy."""
    import json
    from pathlib import Path

    from bench.cli import main
    from bench.report.build import report

    golden = Path(__file__).parent / "data" / "golden"
    tables = report([golden], metric="backward50", priors=True, out=tmp_path / "rep", plots=True)
    erm = [json.loads(p.read_text()) for p in golden.glob("cifar10_lt-exp100-ds0__erm__*/result.json")]
    values = [priors.shifted_accuracy(r["last"]["per_class_acc"], r["train_class_counts"], "backward50")
              for r in erm if r["status"] == "done"]
    expected = sum(values) / len(values)
    assert tables[0].title.startswith("Top-1 accuracy (%) under a backward-long-tailed test prior (imbalance 50)")
    prior = [t for t in tables if t.name.startswith("priors_")]
    assert prior and prior[0].rows and prior[0].columns[1] == "bwd 50" and prior[0].columns[6] == "uniform"
    column = tables[0].columns.index("cifar10_lt exp-100 ds0") - 1
    (row,) = [r for label, r in tables[0].rows if label == "erm"]
    assert len(values) > 1 and row[column].text.startswith(f"{expected:.2f} ± ")
    assert list((tmp_path / "rep").glob("plot_priors_*.png"))
    with pytest.raises(SystemExit) as refused:  # not one of SADE's ratios: argparse's usage error
        main(["report", str(golden), "--metric", "forward7"])
    assert refused.value.code == 2


def test_classes_with_the_same_training_count_share_their_ranks_weight():
    """Natural splits have many tied counts: the prior must not depend on the classes' order among them."""
    q = priors.weights([5, 20, 5, 20], 25, "forward")  # ranks 0, 1 (count 20) and 2, 3 (count 5), of 3 steps
    step = [25 ** (-r / 3) for r in range(4)]
    head, tail = (step[0] + step[1]) / 2, (step[2] + step[3]) / 2
    assert q == pytest.approx([tail / (2 * head + 2 * tail), head / (2 * head + 2 * tail)] * 2)
    assert priors.weights([5, 20, 5, 20], 25, "backward") == pytest.approx([head / (2 * head + 2 * tail),
                                                                           tail / (2 * head + 2 * tail)] * 2)
