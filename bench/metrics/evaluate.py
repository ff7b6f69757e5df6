"""Evaluation: predictions of the test split and the metric schema.

Every metric is declared once in METRICS (name, direction, how to compute, how to format); the
trainer, result.json, `bench report` (tables, CSV, plots) and `--metric` all read this list, so
adding a metric is one entry. Torch is imported inside the functions (the report imports the
schema without it). PRIOR_METRICS (accuracy under shifted test priors) are derived by the report from
each result's per-class accuracy (bench/metrics/priors.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.metrics.priors import NAMES as PRIOR_NAMES
from bench.metrics.priors import parse, shifted_accuracy
from bench.store import faults


@dataclass(frozen=True)
class Metric:
    name: str
    title: str  # for table titles: "top-1 accuracy (%)"
    higher_is_better: bool
    compute: Callable  # compute(Evaluation) -> float, or None where undefined (an empty shot group)
    digits: int = 2  # decimals in tables
    is_accuracy: bool = True  # a percentage of correct predictions: `--metric error` shows 100 - value
    doc: str = ""

    def fmt(self, value):
        return "n/a" if value is None else f"{value:.{self.digits}f}"


class Evaluation:
    """What every metric needs, computed once: logits (CPU), labels, per-class accuracy, shot groups."""

    def __init__(self, logits, labels, train_counts, many_above, few_below, probability_scale=1.0):
        import torch

        self.logits, self.labels = logits.float(), labels.cpu()
        # what softmax turns into the trained probabilities (LDAM's cosines times s); accuracy uses the outputs
        self.prob_logits = self.logits * probability_scale if probability_scale != 1.0 else self.logits
        num_classes = logits.shape[1]
        self.pred = self.logits.argmax(1)
        self.correct = self.pred == self.labels
        hits = torch.bincount(self.labels[self.correct], minlength=num_classes).double()
        totals = torch.bincount(self.labels, minlength=num_classes).double()
        self.per_class = [100.0 * h / t if t > 0 else None for h, t in zip(hits.tolist(), totals.tolist())]
        self.groups = shot_groups(train_counts, many_above, few_below)
        self.train_counts = list(train_counts)

    def group_mean(self, group):
        accs = [self.per_class[c] for c in self.groups[group] if self.per_class[c] is not None]
        return sum(accs) / len(accs) if accs else None  # an empty group has no accuracy, never 0


def _top1(ev):
    return 100.0 * ev.correct.double().mean().item()


def _top5(ev):
    k = min(5, ev.logits.shape[1])
    return 100.0 * (ev.logits.topk(k, dim=1).indices == ev.labels.view(-1, 1)).any(1).double().mean().item()


def _worst(ev):
    accs = [a for a in ev.per_class if a is not None]
    return min(accs) if accs else None


ECE_BINS = 15


def expected_calibration_error(logits, labels, bins=ECE_BINS):
    """ECE in percent: sum over equal-width confidence bins (lo, hi] of |B|/N |accuracy(B) - confidence(B)|,
    confidence = the largest softmax probability (Guo et al., ICML 2017; 15 bins as there)."""
    import torch

    probs = torch.softmax(logits.double(), dim=1)
    confidence, pred = probs.max(1)
    correct = (pred == labels).double()
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    ece = torch.zeros((), dtype=torch.float64)
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.double().mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
    return 100.0 * ece.item()


def _nll(ev):
    import torch.nn.functional as F

    return F.cross_entropy(ev.prob_logits.double(), ev.labels).item()


METRICS = (
    Metric("top1", "top-1 accuracy (%)", True, _top1,
           doc="the test sets are class-balanced, so this is also the balanced (mean per-class) accuracy"),
    Metric("top5", "top-5 accuracy (%)", True, _top5),
    Metric("many", "many-shot accuracy (%)", True, lambda ev: ev.group_mean("many")),
    Metric("medium", "medium-shot accuracy (%)", True, lambda ev: ev.group_mean("medium")),
    Metric("few", "few-shot accuracy (%)", True, lambda ev: ev.group_mean("few")),
    Metric("worst", "worst-class accuracy (%)", True, _worst, doc="the lowest per-class accuracy"),
    Metric("ece", "expected calibration error (%, 15 bins)", False,
           lambda ev: expected_calibration_error(ev.prob_logits, ev.labels), is_accuracy=False,
           doc="15 equal-width bins of the top softmax probability (Guo et al. 2017)"),
    Metric("nll", "negative log-likelihood (nats)", False, _nll, digits=3, is_accuracy=False,
           doc="mean cross-entropy of the softmax on the test labels"),
)
METRIC_NAMES = tuple(m.name for m in METRICS)
RESULT_KEYS = ("epoch", *METRIC_NAMES, "per_class_acc")  # an evaluation as result.json keeps it


def _prior_metric(name: str) -> Metric:
    direction, ratio = parse(name)
    return Metric(name, f"top-1 accuracy (%) under a {direction}-long-tailed test prior (imbalance {ratio})", True,
                  lambda ev: shifted_accuracy(ev.per_class, ev.train_counts, name),
                  doc=f"SADE's {direction} test distribution of imbalance {ratio}, from per-class accuracy "
                      "(bench/metrics/priors.py)")


# the report derives these from each result's per-class accuracy (bench.metrics.priors.fill); training does not log them
PRIOR_METRICS = tuple(_prior_metric(n) for n in PRIOR_NAMES)
REPORT_METRIC_NAMES = METRIC_NAMES + tuple(m.name for m in PRIOR_METRICS)
BY_NAME = {m.name: m for m in (*METRICS, *PRIOR_METRICS)}
SHOT_GROUPS = ("many", "medium", "few")


def predict(model, pipeline, batch_size, autocast=None, split="test"):
    """Logits (CPU float32) of the whole test (or val) split, in large no-grad batches."""
    import contextlib

    import torch

    model.eval()
    out = []
    channels_last = next(model.parameters()).is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        for images in getattr(pipeline, f"{split}_batches")(batch_size):
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with autocast() if autocast else contextlib.nullcontext():
                out.append(model(images).float().cpu())
            faults.point("mid-eval")
    return torch.cat(out)


def shot_groups(train_counts, many_above=100, few_below=20):
    """Class indices per group: many > many_above, few < few_below, medium otherwise."""
    groups: dict[str, list[int]] = {"many": [], "medium": [], "few": []}
    for cls, n in enumerate(train_counts):
        groups["many" if n > many_above else "few" if n < few_below else "medium"].append(cls)
    return groups


def evaluate_metrics(logits, labels, train_counts, many_above=100, few_below=20, probability_scale=1.0):
    """{metric name: value for every metric of METRICS, "per_class_acc": [...]} (percent where a percentage).
    probability_scale: ECE and NLL are computed on softmax(probability_scale * logits) (LDAM: s)."""
    ev = Evaluation(logits, labels, train_counts, many_above, few_below, probability_scale)
    result = {m.name: m.compute(ev) for m in METRICS}
    result["per_class_acc"] = ev.per_class
    return result


def shot_rule(train_counts, e_cfg):
    """result.json's shot rule: the thresholds and how many classes each group has."""
    groups = shot_groups(train_counts, e_cfg["many_above"], e_cfg["few_below"])
    return {"many_above": e_cfg["many_above"], "few_below": e_cfg["few_below"],
            "group_sizes": {g: len(c) for g, c in groups.items()}}
