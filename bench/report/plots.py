"""Figures (PNG and PDF): per-class accuracy vs class size, shot-group bars, learning curves, confusion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.report.collect import setting_label
from bench.store import rundir


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper", font_scale=1.1)
    return plt, sns


class SvgSink:
    """An `out` that keeps figures as SVG text (for the HTML report) instead of writing files."""

    def __init__(self):
        self.figures = {}  # stem -> SVG text

    def take(self, stem):
        return self.figures.pop(stem, None)


def _save(fig, out, stem):
    """PNG and PDF, each written atomically (a full disk leaves no torn figure); SVG text into an SvgSink."""
    import io

    from bench.store.results import atomic_write_bytes

    if isinstance(out, SvgSink):
        import matplotlib

        buf = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, not glyph paths: a tenth the size
            fig.savefig(buf, format="svg", bbox_inches="tight")
        text = buf.getvalue()
        out.figures[stem] = _scalable(text[text.index("<svg"):])  # the element alone, inlined in the page
        return []
    paths = []
    for ext in ("png", "pdf"):
        path = Path(out) / f"{stem}.{ext}"
        image = io.BytesIO()
        fig.savefig(image, format=ext, dpi=150, bbox_inches="tight")
        atomic_write_bytes(path, image.getvalue())
        paths.append(path)
    return paths


def _scalable(svg):
    """The SVG without its fixed width and height: it scales with the page (its viewBox keeps the aspect ratio,
    so no blank band opens between a shrunk figure and its caption), never above its natural width."""
    import re

    head_end = svg.index(">")
    head = svg[:head_end]
    width = re.search(r'\swidth="([^"]+)"', head)
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    style = f' style="width: 100%; height: auto; max-width: {width.group(1)}"' if width else ""
    return head + style + svg[head_end:]


def _finish(fig, ax, title, out, stem):
    """Title, method legend, PNG + PDF, close: the common end of every plot."""
    import matplotlib.pyplot as plt

    ax.set_title(title)
    ax.legend(title="method", fontsize="small")
    paths = _save(fig, out, stem)
    plt.close(fig)
    return paths


def _done_runs(cells, setting, labels):
    for label in labels:
        cell = cells.get((setting, label))
        for run in (cell.runs if cell else []):
            if run.status == "done":
                yield label, run


def _suffix(cells, setting, labels, select):
    """The reported epoch as the tables name it (what selected it: the test set, a validation split, nothing)."""
    from bench.report.tables import selection_phrase

    in_setting = [cells[(setting, label)] for label in labels if (setting, label) in cells]
    return selection_phrase(select, in_setting).split(";")[0]


def per_class_plot(cells, setting, labels, select, out, stem):
    plt, sns = _pyplot()
    rows = []
    for label, run in _done_runs(cells, setting, labels):
        block = run.result.get(select) or {}
        for cls, (count, acc) in enumerate(zip(run.result["train_class_counts"], block.get("per_class_acc", []))):
            if acc is not None:
                rows.append({"method": label, "seed": run.seed, "class": cls, "train images": count,
                             "test accuracy (%)": acc})
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    title = (f"{setting_label(setting)}: per-class test accuracy vs training images\n"
             f"({_suffix(cells, setting, labels, select)}; line = mean over seeds and classes of that size, "
             "band = ± 1 sd)")
    if frame["method"].nunique() > FACET_ABOVE:
        return _per_class_facets(frame, title, out, stem)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    sns.lineplot(frame, x="train images", y="test accuracy (%)", hue="method", style="method", markers=True,
                 dashes=False, errorbar="sd", ax=ax)
    ax.set_xscale("log")
    ax.set_ylim(-2, 102)
    ax.set_xlabel("training images of the class (log scale)")
    return _finish(fig, ax, title, out, stem)


FACET_ABOVE = 4  # more methods than this on one per-class plot is a tangle: one small panel per method


def _per_class_facets(frame, title, out, stem):
    """One panel per method (its line and band), the other methods' mean lines in light grey behind it."""
    plt, sns = _pyplot()
    methods = list(dict.fromkeys(frame["method"]))
    cols = 5
    fig, axes = plt.subplots(-(-len(methods) // cols), cols, figsize=(3.4 * cols, 2.8 * -(-len(methods) // cols)),
                             sharex=True, sharey=True, squeeze=False)
    grouped = frame.groupby(["method", "train images"])["test accuracy (%)"]
    means, sds = grouped.mean(), grouped.std(ddof=1).fillna(0.0)  # sd over seeds and classes of that size
    palette = dict(zip(methods, sns.color_palette(n_colors=len(methods))))
    for ax, method in zip(axes.flat, methods):  # plain matplotlib: a panel per method is drawn many times
        for other in methods:
            if other != method:
                ax.plot(means[other].index, means[other].values, color="0.82", linewidth=0.8)
        x, y, sd = means[method].index, means[method].values, sds[method].values
        ax.fill_between(x, y - sd, y + sd, color=palette[method], alpha=0.2, linewidth=0)
        ax.plot(x, y, marker="o", markersize=3, color=palette[method])
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(method, fontsize="medium")
        ax.set_xscale("log")
        ax.set_ylim(-2, 102)
        ax.set_xlabel("training images (log)")
    for ax in list(axes.flat)[len(methods):]:
        ax.set_visible(False)
    fig.suptitle(title + "; grey: the other methods' means", fontsize="medium")
    fig.tight_layout()
    paths = _save(fig, out, stem)
    plt.close(fig)
    return paths


def shot_bars(cells, setting, labels, select, out, stem):
    plt, sns = _pyplot()
    sizes: dict[Any, Any] = {}
    rows = []
    for label, run in _done_runs(cells, setting, labels):
        block = run.result.get(select) or {}
        sizes = run.result.get("shot_rule", {}).get("group_sizes", sizes)
        for group in ("many", "medium", "few"):
            rows.append({"method": label, "seed": run.seed, "group": group, "accuracy": block.get(group)})
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    names = {g: f"{g}\n({sizes.get(g, '?')} classes)" + ("\nn/a: no class" if sizes.get(g) == 0 else "")
             for g in ("many", "medium", "few")}
    frame["group"] = frame["group"].map(names)
    frame["accuracy"] = frame["accuracy"].astype(float)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    sns.barplot(frame, x="group", y="accuracy", hue="method", order=list(names.values()), errorbar="sd",
                capsize=0.1, ax=ax)
    ax.set_ylim(0, 100)
    ax.set_xlabel("shot group (by training images per class)")
    ax.set_ylabel("test accuracy (%)")
    return _finish(fig, ax, f"{setting_label(setting)}: accuracy by shot group\n"
                   f"({_suffix(cells, setting, labels, select)}; bar = mean "
                   "over seeds, error bar = ± 1 sd)", out, stem)


def prior_lines(cells, setting, labels, select, out, stem):
    """Accuracy against the test prior, backward-long-tailed 50 .. uniform .. forward 50, one line per method."""
    from bench.report.tables import PRIOR_COLUMNS, prior_column_name

    plt, sns = _pyplot()
    rows = [{"method": label, "seed": run.seed, "prior": prior_column_name(m),
             "accuracy": (run.result.get(select) or {}).get(m)}
            for label, run in _done_runs(cells, setting, labels) for m in PRIOR_COLUMNS]
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    frame["accuracy"] = frame["accuracy"].astype(float)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    sns.lineplot(frame, x="prior", y="accuracy", hue="method", marker="o", errorbar="sd", sort=False, ax=ax)
    ax.set_xlabel("test label distribution (bwd: long-tailed the other way, fwd: as in training; imbalance)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{setting_label(setting)}: accuracy under shifted test priors\n"
                 f"({_suffix(cells, setting, labels, select)}; line = mean over seeds, band = ± 1 sd)")
    ax.legend(title="method", fontsize="small", bbox_to_anchor=(1.01, 1), loc="upper left",
              ncol=1 + frame["method"].nunique() // 18)  # beside the axes: many methods would hide the lines
    paths = _save(fig, out, stem)
    plt.close(fig)
    return paths


def cd_diagram(cells, settings, labels, metric, select, as_error, out, stem):
    """Critical-difference diagram over the settings (scikit-posthocs): average ranks, and a bar joining the
    methods the Nemenyi test after Friedman's does not separate (alpha 0.05)."""
    import scikit_posthocs as sp

    from bench.report.overall import average_ranks, complete_scores, friedman, setting_means
    from bench.report.paired import higher_is_better, quiet

    scores, _, _ = complete_scores(cells, settings, labels, metric, select, as_error)
    if len(scores) < 3 or len(settings) < 2 or friedman(scores) is None:  # every method tied: nothing to draw
        return []
    higher = higher_is_better(metric, as_error)
    means = pd.DataFrame({label: setting_means(per) for label, per in scores.items()})  # settings x methods
    plt, _ = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(scores) + 1.2))
    with quiet():
        significance = sp.posthoc_nemenyi_friedman(means if higher else -means)
        sp.critical_difference_diagram(pd.Series(average_ranks(scores, higher)), significance, ax=ax)
    ax.set_title(f"{metric}: average rank over {len(settings)} settings (1 = best); a bar joins methods the "
                 "Nemenyi test does not separate (alpha 0.05)", fontsize="small")
    paths = _save(fig, out, stem)
    plt.close(fig)
    return paths


def _curve_rows(run, label):
    """(kind, rows) of one run's metrics.jsonl: kind "train" for one-stage runs, "stage2" for a stage-2 run
    (its own epochs: it starts from its parent's weights), "posthoc" for a post-hoc one (a single point, at its
    parent's last epoch)."""
    from bench.plan.config import stage_kind

    try:
        kind = {"train": "stage2", "posthoc": "posthoc"}.get(stage_kind(run.config), "train")
    except (KeyError, TypeError):  # written before two-stage methods existed: a one-stage run
        kind = "train"
    try:
        lines = (run.run_dir / rundir.METRICS).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return kind, []
    rows = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line bench did not write
        if isinstance(entry, dict) and isinstance(entry.get("top1"), (int, float)) \
                and isinstance(entry.get("epoch"), int):
            rows.append({"method": label, "seed": run.seed, "epoch": entry["epoch"],
                         "test top-1 accuracy (%)": entry["top1"]})
    return kind, rows


def curves(cells, setting, labels, out, stem):
    """Test accuracy per epoch (0-based, as result.json counts): one-stage runs, and post-hoc children as
    markers at their parent's last epoch, on one axis; stage-2 runs on a second axis of their own epochs."""
    from matplotlib.ticker import MaxNLocator

    plt, sns = _pyplot()
    rows: dict[str, list[Any]] = {"train": [], "stage2": [], "posthoc": []}
    for label, run in _done_runs(cells, setting, labels):
        kind, found = _curve_rows(run, label)
        rows[kind].extend(found)
    if not any(rows.values()):
        return []
    first = rows["train"] or rows["posthoc"]
    panels = [p for p in ("first", "stage2") if (first if p == "first" else rows["stage2"])]
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.2), squeeze=False)
    y = "test top-1 accuracy (%)"
    for ax, panel in zip(axes[0], panels):
        if panel == "first":
            if rows["train"]:
                sns.lineplot(pd.DataFrame(rows["train"]), x="epoch", y=y, hue="method", errorbar="sd", ax=ax)
            if rows["posthoc"]:
                sns.scatterplot(pd.DataFrame(rows["posthoc"]), x="epoch", y=y, hue="method", style="method", s=90,
                                ax=ax, palette="dark", legend=True)
            ax.set_xlabel("epoch (0-based; post-hoc methods: a marker at their parent's last epoch)")
            ax.set_title(f"{setting_label(setting)}: test accuracy per epoch\n(line = mean over seeds, "
                         "band = ± 1 sd)")
        else:
            sns.lineplot(pd.DataFrame(rows["stage2"]), x="epoch", y=y, hue="method", errorbar="sd", marker="o",
                         ax=ax)
            ax.set_xlabel("stage-2 epoch (0-based, from the parent's final weights)")
            ax.set_title("stage-2 methods: test accuracy per stage-2 epoch\n(line = mean over seeds, band = ± 1 sd)")
        ax.legend(title="method", fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    paths = _save(fig, out, stem)
    plt.close(fig)
    return paths


def read_predictions(run_dir):
    """(result, predictions, labels, classes) of a finished run; BenchError when they cannot be used."""
    from bench.errors import BenchError

    run_dir = Path(run_dir)
    result = rundir.read_result(run_dir)
    path = run_dir / rundir.PREDICTIONS
    if result is None or result.get("status") != "done" or not path.is_file():
        raise BenchError(f"{run_dir} has no finished result with {rundir.PREDICTIONS}; pass a finished run folder "
                         "to --confusion")
    try:
        classes = len(result["test_class_counts"])
        with np.load(path, allow_pickle=False) as saved:
            predictions, labels = saved["predictions"], saved["labels"]
        ok = (predictions.ndim == labels.ndim == 1 and predictions.shape == labels.shape
              and np.issubdtype(predictions.dtype, np.integer) and np.issubdtype(labels.dtype, np.integer)
              and (predictions.size == 0 or (predictions.min() >= 0 and predictions.max() < classes
                                             and labels.min() >= 0 and labels.max() < classes)))
    except Exception:  # noqa: BLE001 - not an npz bench wrote (pickled objects are never loaded)
        ok = False
    if not ok:
        raise BenchError(f"{path} is not a predictions file bench wrote (two integer arrays of class ids); "
                         "re-run the run or leave it out of --confusion")
    return result, predictions, labels, classes


def confusion(run_dir, out):
    """Row-normalised confusion matrix (%) of one run's last-epoch test predictions."""
    run_dir = Path(run_dir)
    result, predictions, labels, classes = read_predictions(run_dir)
    matrix = np.zeros((classes, classes))
    np.add.at(matrix, (labels, predictions), 1)
    matrix = 100 * matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    plt, sns = _pyplot()
    size = min(4 + classes * 0.45, 14)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    names = result.get("class_names") or [str(c) for c in range(classes)]
    counts = result["train_class_counts"]
    ticks = [f"{n} ({c})" for n, c in zip(names, counts)] if classes <= 30 else False
    sns.heatmap(matrix, ax=ax, cmap="Blues", vmin=0, vmax=100, square=True, annot=classes <= 12, fmt=".0f",
                xticklabels=ticks, yticklabels=ticks, cbar_kws={"label": "% of the true class"})
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (training images)")
    ax.set_title(f"{result['method']} on {result['dataset']}, seed {result['seed']}: confusion matrix, "
                 f"last epoch\n(row-normalised; classes ordered head to tail)")
    paths = _save(fig, out, f"confusion_{run_dir.name}")
    plt.close(fig)
    return paths
