"""Test-set metrics: top-1, top-5, per-class and many/medium/few-shot accuracy (percent)."""

from __future__ import annotations

import torch

from bench import faults


@torch.no_grad()
def predict(model, pipeline, batch_size, autocast=None):
    """Logits (CPU float32) of the whole test split, in large no-grad batches."""
    import contextlib

    model.eval()
    out = []
    channels_last = next(model.parameters()).is_contiguous(memory_format=torch.channels_last)
    for images in pipeline.test_batches(batch_size):
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast() if autocast else contextlib.nullcontext():
            out.append(model(images).float().cpu())
        faults.point("mid-eval")
    return torch.cat(out)


def shot_groups(train_counts, many_above=100, few_below=20):
    """Class indices per group: many > many_above, few < few_below, medium otherwise."""
    groups = {"many": [], "medium": [], "few": []}
    for cls, n in enumerate(train_counts):
        groups["many" if n > many_above else "few" if n < few_below else "medium"].append(cls)
    return groups


def accuracy_metrics(logits, labels, train_counts, many_above=100, few_below=20):
    labels = labels.cpu()
    num_classes = logits.shape[1]
    pred = logits.argmax(1)
    correct = pred == labels
    k = min(5, num_classes)
    top5 = (logits.topk(k, dim=1).indices == labels.view(-1, 1)).any(1)
    hits = torch.bincount(labels[correct], minlength=num_classes).double()
    totals = torch.bincount(labels, minlength=num_classes).double()
    per_class = [100.0 * h / t if t > 0 else None for h, t in zip(hits.tolist(), totals.tolist())]
    result = {
        "top1": 100.0 * correct.double().mean().item(),
        "top5": 100.0 * top5.double().mean().item(),
    }
    for group, classes in shot_groups(train_counts, many_above, few_below).items():
        accs = [per_class[c] for c in classes if per_class[c] is not None]
        result[group] = sum(accs) / len(accs) if accs else None  # an empty group has no accuracy
    result["per_class_acc"] = per_class
    return result
