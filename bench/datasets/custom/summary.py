"""`bench data describe DATASET`: what a dataset is, as a run loads it (classes, images per split, imbalance ratio,
Gini coefficient, classes per shot group, the per-class counts) and, for a dataset YAML file, what bench found in its
files (images left out as unreadable, duplicate contents, how test and val were drawn, the fingerprint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.runconfig import RunConfig


def gini(counts: list[int]) -> float:
    """The Gini coefficient of the class counts: 0 when balanced, towards 1 when a few classes hold every image."""
    xs = sorted(counts)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return 0.0
    return sum((2 * i - n + 1) * x for i, x in enumerate(xs)) / (n * total)


def groups(counts: list[int], many_above: int, few_below: int) -> dict[str, int]:
    many = sum(c > many_above for c in counts)
    few = sum(c < few_below for c in counts)
    return {"many": many, "medium": len(counts) - many - few, "few": few}


def summary(data: Any, cfg: RunConfig, info: Any) -> dict:
    """The numbers of a loaded dataset (bench.datasets.protocol.Dataset) under a resolved config."""
    train, test = list(data.train_counts), list(data.test_counts)
    e = cfg["eval"]
    out = {"dataset": data.name, "classes": data.num_classes,
           "images": {"train": sum(train), "test": sum(test)},
           "imbalance_ratio": max(train) / max(min(train), 1), "gini": gini(train),
           "shot_groups": groups(train, e["many_above"], e["few_below"]),
           "thresholds": {"many_above": e["many_above"], "few_below": e["few_below"]},
           "train_counts": train, "test_counts": test, "class_names": list(data.class_names or []),
           "train_sha256": data.train_indices_sha256}
    val = len(getattr(data, "val_items", None) or []) or (len(data.val_y) if getattr(data, "val_y", None) is not None
                                                          else 0)
    if val:
        out["images"]["val"] = val
    if info.file:
        out.update(_file_facts(info))
    return out


def _file_facts(info: Any) -> dict:
    from bench.datasets.custom.catalog import catalog

    cat = catalog(info.file)
    return {"file": info.file, "format": cat.spec.format, "recipe": info.why, "fingerprint": cat.fingerprint,
            "val_images": len(cat.splits.get("val", [])),
            "drawn": cat.drawn,
            "skipped": [{"image": e.key, "where": e.where, "why": why} for e, why in cat.skipped],
            "duplicates": [[f"{split}: {e.key}" for split, e in group] for group in cat.duplicates]}


def from_result(result: dict) -> dict:
    """The summary of the data a finished run trained on, from its result.json (the report's header for a dataset
    file's runs: no data is read again)."""
    train, test = list(result["train_class_counts"]), list(result.get("test_class_counts") or [])
    rule, data = result.get("shot_rule") or {}, result.get("data") or {}
    thresholds = {"many_above": rule.get("many_above", 100), "few_below": rule.get("few_below", 20)}
    out = {"dataset": result["dataset"], "classes": len(train), "images": {"train": sum(train), "test": sum(test)},
           "imbalance_ratio": max(train) / max(min(train), 1), "gini": gini(train),
           "shot_groups": groups(train, thresholds["many_above"], thresholds["few_below"]), "thresholds": thresholds,
           "train_counts": train, "test_counts": test, "class_names": list(result.get("class_names") or []),
           "train_sha256": data.get("train_indices_sha256", "")}
    out.update({k: data[k] for k in ("file", "format", "fingerprint", "drawn") if k in data})
    return out


def text(s: dict, shown: int = 10) -> str:
    images = ", ".join(f"{n:,} {split}" for split, n in s["images"].items())
    if s.get("val_images") and "val" not in s["images"]:
        images += f", {s['val_images']:,} val (they select with eval.selection=best_val)"
    g, t = s["shot_groups"], s["thresholds"]
    lines = [f"dataset {s['dataset']}" + (f" ({s['file']}, {s['format']})" if "file" in s else ""),
             f"  classes: {s['classes']}; images: {images}",
             f"  imbalance ratio (largest / smallest training class): {s['imbalance_ratio']:.1f}; "
             f"Gini coefficient of the training counts: {s['gini']:.3f}",
             f"  classes per shot group (many > {t['many_above']}, few < {t['few_below']} training images): "
             f"many {g['many']}, medium {g['medium']}, few {g['few']}"]
    if "recipe" in s:
        lines.append(f"  recipe: {s['recipe']}")
    for split, how in (s.get("drawn") or {}).items():
        per = how["per_class"]
        amount = f"{int(per)} images" if per >= 1 else f"{per:g} of the images"
        lines.append(f"  {split}: drawn from train, {amount} of each class, seed {how['seed']}")
    names = s["class_names"] or [str(i) for i in range(s["classes"])]
    order = sorted(range(s["classes"]), key=lambda c: -s["train_counts"][c])
    lines.append("  training images per class (largest first): " + ", ".join(
        f"{names[c]} {s['train_counts'][c]}" for c in order[:shown]) + (", ..." if len(order) > shown else ""))
    for key, what in (("skipped", "left out (bad_images: skip)"), ("duplicates", "with the same content")):
        found = s.get(key) or []
        if found:
            lines.append(f"  {len(found)} image(s) {what}:" if key == "skipped" else
                         f"  {len(found)} group(s) of images {what}:")
            lines.extend(f"    {item['image']} ({item['where']}): {item['why']}" if key == "skipped" else
                         "    " + "; ".join(item) for item in found[:shown])
    if "fingerprint" in s:
        lines.append(f"  fingerprint (images, labels, splits): {s['fingerprint']}")
    if s["train_sha256"]:
        lines.append(f"  training split sha256: {s['train_sha256']}")
    return "\n".join(lines) + "\n"


def plot(s: dict, path: Path) -> None:
    """A bar chart of the training (and test) images per class, largest training class first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = sorted(range(s["classes"]), key=lambda c: -s["train_counts"][c])
    fig, ax = plt.subplots(figsize=(max(4.0, min(16.0, 0.25 * s["classes"] + 3)), 3.2))
    ax.bar(range(len(order)), [s["train_counts"][c] for c in order], label="train", color="#4c72b0")
    ax.bar(range(len(order)), [s["test_counts"][c] for c in order], label="test", color="#dd8452", alpha=0.8)
    t = s["thresholds"]
    ax.axhline(t["many_above"], color="grey", lw=0.8, ls="--")
    ax.axhline(t["few_below"], color="grey", lw=0.8, ls=":")
    names = s["class_names"] or [str(c) for c in range(s["classes"])]
    if len(order) <= 30:
        ax.set_xticks(range(len(order)), [names[c] for c in order], rotation=45 if len(order) > 6 else 0,
                      ha="right" if len(order) > 6 else "center")
    ax.set_xlabel("class (largest training class first)")
    ax.set_ylabel("images")
    ax.set_title(f"{s['dataset']}: {s['classes']} classes, imbalance ratio {s['imbalance_ratio']:.1f}")
    ax.legend()
    fig.tight_layout()
    import io

    from bench.store.atomic import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())  # whole or not at all
