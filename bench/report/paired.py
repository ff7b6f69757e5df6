"""Paired comparisons across seeds: which differences in a table are larger than the seed noise.

Runs of two methods in one setting that share a training seed are a pair (same data subset, same seed). For a
column, every method is compared with the column's best mean by a paired t-test over the shared seeds
(scipy.stats.ttest_rel, with its 95% interval of the mean difference); the p-values of all the table's
comparisons are adjusted together by Holm's step-down method (statsmodels' multipletests), and a method whose
adjusted p is at least ALPHA is "not significantly worse" than the best. The same machinery compares every
method with a chosen baseline (`bench report --baseline METHOD`).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

from bench.metrics.evaluate import BY_NAME
from bench.report.aggregate import exact_mean, metric_value, settled

ALPHA = 0.05


@contextlib.contextmanager
def quiet():
    """Around a statistics library's call: a degenerate input becomes "n/a" in the report (the caller checks the
    result), never a library's warning on the terminal."""
    import warnings

    import numpy as np

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


@dataclass
class Comparison:
    setting: tuple
    label: str
    reference: str  # the label compared against (the column's best, or the baseline)
    n: int  # shared seeds
    diff: float  # mean of label - reference over the shared seeds
    low: float  # 95% interval of the mean difference (Student t, paired)
    high: float
    p: float  # two-sided paired t-test
    p_holm: float = math.nan  # adjusted over every comparison of the table


def seed_values(cell, metric, select, as_error) -> dict:
    """{training seed: the metric of that seed's run} of a cell's finished runs."""
    if cell is None:
        return {}
    out = {}
    for run in cell.runs:
        if run.status == "done":
            value = metric_value(run.result.get(select) or {}, metric, as_error)
            if not math.isnan(value):
                out[run.seed] = value
    return out


def paired(setting, label, reference, a: dict, b: dict) -> Comparison | None:
    """label's values `a` against reference's `b`, over the seeds both have; None (not testable) under 2 shared
    seeds or when the differences are one constant other than 0 (the t statistic is undefined). Equal values at
    every shared seed (the same runs in two rows: a tuned row whose default trial won) are a tie: difference 0,
    interval [0, 0], p 1."""
    from scipy.stats import ttest_rel

    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return None
    x, y = [a[s] for s in seeds], [b[s] for s in seeds]
    diffs = [u - v for u, v in zip(x, y)]
    mean = sum(diffs) / len(diffs)
    scale = 1e-9 * max(1.0, *(abs(v) for v in x + y))
    if max(abs(d) for d in diffs) <= scale:  # the same numbers (to rounding): tied
        return Comparison(setting, label, reference, len(seeds), 0.0, 0.0, 0.0, 1.0)
    if max(diffs) - min(diffs) <= scale:  # no spread (to rounding): t is undefined
        return None
    with quiet():
        test = ttest_rel(x, y)
        interval = test.confidence_interval(0.95)
    return Comparison(setting, label, reference, len(seeds), mean, float(interval.low), float(interval.high),
                      float(test.pvalue))


def holm(comparisons: list) -> list:
    """Fill p_holm: Holm's adjustment over all of them (statsmodels.stats.multitest.multipletests)."""
    if comparisons:
        from statsmodels.stats.multitest import multipletests

        adjusted = multipletests([c.p for c in comparisons], alpha=ALPHA, method="holm")[1]
        for c, p in zip(comparisons, adjusted):
            c.p_holm = float(p)
    return comparisons


def higher_is_better(metric, as_error) -> bool:
    return BY_NAME[metric].higher_is_better != (as_error and BY_NAME[metric].is_accuracy)


def against_best(cells, settings, labels, metric, select, as_error) -> tuple[dict, list]:
    """({setting: the label of the column's best mean}, [Comparison of every other label with it], Holm-adjusted
    over the whole table)."""
    sign = 1 if higher_is_better(metric, as_error) else -1
    best, out = {}, []
    for setting in settings:
        values = {label: seed_values(cells.get((setting, label)), metric, select, as_error) for label in labels}
        means = {label: settled(exact_mean(v.values())) for label, v in values.items() if v}
        if not means:
            continue
        top = max(means, key=lambda label: sign * means[label])
        best[setting] = top
        out += [c for label in labels if label != top
                for c in [paired(setting, label, top, values[label], values[top])] if c is not None]
    return best, holm(out)


def against_baseline(cells, settings, labels, baseline, metric, select, as_error) -> list:
    """Every label against the baseline label in each setting, Holm-adjusted over the table."""
    out = []
    for setting in settings:
        base = seed_values(cells.get((setting, baseline)), metric, select, as_error)
        for label in labels:
            if label != baseline:
                c = paired(setting, label, baseline, seed_values(cells.get((setting, label)), metric, select,
                                                                 as_error), base)
                out += [c] if c is not None else []
    return holm(out)


def baseline_label(cells, baseline: str) -> str:
    """The table label of `baseline` (a method name or a full label); BenchError naming the choices otherwise."""
    from bench.errors import BenchError

    labels = sorted({c.label for c in cells.values()})
    if baseline in labels:
        return baseline
    of_method = sorted({c.label for c in cells.values() if c.method == baseline})
    if len(of_method) == 1:
        return of_method[0]
    if of_method:
        raise BenchError(f"--baseline {baseline} has {len(of_method)} variants here ({'; '.join(of_method)}); pass "
                         "one of these labels")
    raise BenchError(f"--baseline {baseline} is not among the report's methods ({', '.join(labels)})")
