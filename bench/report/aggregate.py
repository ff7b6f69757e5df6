"""Across-seed statistics per (dataset setting, method variant), and why a cell is missing."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bench.metrics.evaluate import BY_NAME, REPORT_METRIC_NAMES  # recorded metrics and the shifted-prior accuracies
from bench.report.collect import variant_labels


def exact_mean(values) -> float:
    """The mean of the values that are not NaN, by math.fsum: correctly rounded, so the same runs in another order
    give the same number bit for bit (NaN when none is left)."""
    kept = [float(v) for v in values if not math.isnan(v)]
    try:
        return math.fsum(kept) / len(kept) if kept else math.nan
    except (ValueError, OverflowError):  # inf - inf, or a sum past the float range
        return math.nan


def settled(value: float) -> float:
    """A mean rounded to 1e-9 before ranks, the column's best and ties are decided: exact_mean already makes the
    same runs in any order one number; this also ties means that differ only in the last bits (computed another
    way, e.g. from errors rather than accuracies)."""
    return round(value, 9) if math.isfinite(value) else value


@dataclass
class Stat:
    mean: float
    std: float  # sample standard deviation (ddof 1); nan for one seed
    n: int
    ci95: float  # half-width of the 95% Student-t interval; nan for one seed


@dataclass
class Cell:
    setting: tuple
    label: str
    method: str
    stats: dict = field(default_factory=dict)  # metric -> Stat, or None for an empty shot group
    seeds_done: list = field(default_factory=list)
    failed: list = field(default_factory=list)  # (run_dir, first line of the error)
    incomplete: list = field(default_factory=list)  # run dirs without a result
    group_sizes: dict = field(default_factory=dict)
    runs: list = field(default_factory=list)
    unrecorded: dict = field(default_factory=dict)  # metric -> run dirs whose result predates the metric
    selected_on: set = field(default_factory=set)  # "test" / "val": what chose the runs' best epochs

    @property
    def n_done(self):
        return len(self.seeds_done)

    @property
    def n_attempted(self):
        return self.n_done + len(self.failed) + len(self.incomplete)


def tuned_label(labels: dict, run) -> str:
    """'<the default's label> (tuned, N trials)' of a run of bench tune's chosen configuration."""
    default, suffix = run.tuned_of
    return f"{labels.get((run.method, default), run.method)} ({suffix})"


def t_quantile(n):
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def metric_value(block, metric, as_error):
    value = block.get(metric)
    if value is None:
        return math.nan
    return 100.0 - value if as_error and BY_NAME[metric].is_accuracy else value


def aggregate(runs, select="last", as_error=False):
    """{(setting, label): Cell} over all runs; values from the last (or test-selected best) epoch."""
    labels = variant_labels([run for run in runs if run.tuned_of is None])  # a tuned row is named after its default
    cells: dict[Any, Any] = {}
    rows = []
    for run in runs:
        label = labels[(run.method, run.variant)] if run.tuned_of is None else tuned_label(labels, run)
        key = (run.setting, label)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell(run.setting, label, run.method)
        cell.runs.append(run)
        if run.status == "failed":
            cell.failed.append((run.run_dir, run.error))
        elif run.status == "incomplete":
            cell.incomplete.append(run.run_dir)
        else:
            block = run.result.get(select) or {}
            selection = run.result.get("selection") or {}
            cell.selected_on.add(block.get("selected_on", "test") if select == "best"
                                 else "val" if selection.get("rule") == "best_val" else "test")
            cell.seeds_done.append(run.seed)
            cell.group_sizes = run.result.get("shot_rule", {}).get("group_sizes", cell.group_sizes)
            for metric in REPORT_METRIC_NAMES:
                if metric not in block:  # written by a bench version without this metric
                    cell.unrecorded.setdefault(metric, []).append(run.run_dir)
                rows.append((key, metric, metric_value(block, metric, as_error)))
    if rows:
        frame = pd.DataFrame(rows, columns=["key", "metric", "value"])
        grouped = frame.groupby(["key", "metric"], sort=False)["value"]
        stats = grouped.agg(["std", "count", "size"]).join(grouped.agg(exact_mean).rename("mean"))
        for (key, metric), row in stats.iterrows():
            if row["count"] == 0:  # an empty shot group (no accuracy, never 0), or a metric not recorded
                cells[key].stats[metric] = None
                continue
            n = int(row["count"])
            std = float(row["std"]) if n > 1 else math.nan
            ci = t_quantile(n) * std / math.sqrt(n) if n > 1 else math.nan
            cells[key].stats[metric] = Stat(settled(float(row["mean"])), std, n, ci)  # ties: the same number
    return cells


def settings_and_labels(cells):
    """Settings (sorted) and method labels (in registry order, then alphabetical)."""
    from bench.datasets.registry import DATASETS
    from bench.methods.registry import METHODS

    order = {name: i for i, name in enumerate(METHODS)}
    data_order = {name: i for i, name in enumerate(DATASETS)}
    # the paper's order: dataset, then exp before step, then larger imbalance ratio first
    settings = sorted({c.setting for c in cells.values()},
                      key=lambda s: (data_order.get(s[0], len(data_order)), s[0], s[1], -(s[2] or 0), s[3] or 0,
                                     str(s[4])))
    labels = sorted({(c.method, c.label) for c in cells.values()},
                    key=lambda ml: (order.get(ml[0], len(order)), ml[1]))
    return settings, [label for _, label in labels]
