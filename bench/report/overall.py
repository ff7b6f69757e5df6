"""Aggregates over settings (datasets x ratios x profiles), when a report has more than one.

Per method, over the settings it has numbers in all of: the average rank of its mean (1 = best; means summed by
math.fsum and rounded to 1e-9, so the same runs in another order tie; ties share the average rank, scipy.stats.rankdata)
with Friedman's test that all methods rank alike (scipy.stats.friedmanchisquare); the interquartile mean of its
runs x settings matrix (scipy.stats.trim_mean, 25% cut each side, over the seeds it has in every setting, as
rliable takes runs x tasks: pooling unequal seed counts would weight the settings unequally) and the probability
that it improves on a reference method (per setting, the Mann-Whitney statistic U / (n m) = P(X > Y) + P(X = Y) / 2
over their runs, averaged over the settings), each with a 95% stratified-bootstrap interval (runs re-drawn with
replacement within each setting).
These are rliable's definitions (Agarwal et al., NeurIPS 2021); rliable itself needs arch < 8, which does not
import under pandas 3, so the statistics come from scipy and the stratified re-draw is written out here.
"""

from __future__ import annotations

import math

import numpy as np

from bench.report.aggregate import exact_mean, settled
from bench.report.paired import higher_is_better, quiet, seed_values

REPS = 2000  # bootstrap re-draws
SEED = 0  # of the bootstrap's generator: a report is reproducible


def complete_scores(cells, settings, labels, metric, select, as_error) -> tuple[dict, list, dict]:
    """({label: [per-setting array of its runs' scores]}, [labels left out: missing in some setting],
    {label: runs x settings array of its scores at the seeds it has in every setting (rliable's score matrix)})."""
    scores, missing, matrices = {}, [], {}
    for label in labels:
        by_seed = [seed_values(cells.get((s, label)), metric, select, as_error) for s in settings]
        if all(by_seed):
            scores[label] = [np.array(list(v.values())) for v in by_seed]
            shared = sorted(set.intersection(*(set(v) for v in by_seed)))
            matrices[label] = np.array([[v[seed] for v in by_seed] for seed in shared]).reshape(len(shared),
                                                                                               len(settings))
        elif any(by_seed):
            missing.append(label)
    return scores, missing, matrices


def setting_means(per: list) -> list:
    """The mean of each setting's runs (math.fsum: the same in any order), rounded to 1e-9 (aggregate.settled)."""
    return [settled(exact_mean(v)) for v in per]


def average_ranks(scores: dict, higher: bool) -> dict:
    """{label: mean over settings of its rank (1 = best mean)}."""
    from scipy.stats import rankdata

    labels = list(scores)
    means = np.array([setting_means(scores[label]) for label in labels])  # methods x settings
    ranks = rankdata(-means if higher else means, axis=0)
    return dict(zip(labels, (settled(float(r)) for r in ranks.mean(axis=1))))


def friedman(scores: dict) -> tuple[float, float] | None:
    """(chi-square, p) of Friedman's test over the settings as blocks; None under 3 methods or 2 settings, or
    when every method ties in every setting (the statistic is undefined)."""
    from scipy.stats import friedmanchisquare

    if len(scores) < 3 or len(next(iter(scores.values()))) < 2:
        return None
    columns = [setting_means(per) for per in scores.values()]
    if all(len(set(block)) == 1 for block in zip(*columns)):  # every method tied in every setting: undefined
        return None
    with quiet():
        test = friedmanchisquare(*columns)
    if not math.isfinite(float(test.pvalue)):
        return None
    return float(test.statistic), float(test.pvalue)


def iqm(matrix: np.ndarray) -> float:
    """rliable's IQM of a runs x settings matrix (nan without a run in every setting)."""
    from scipy.stats import trim_mean

    return settled(float(trim_mean(matrix, 0.25, axis=None))) if len(matrix) else math.nan


def improvement(x: list, y: list, higher: bool) -> float:
    """P(a run of x beats a run of y) + P(a tie) / 2, averaged over the settings: the Mann-Whitney statistic
    U / (n m) of each setting (tests/test_overall.py checks it against scipy.stats.mannwhitneyu)."""
    return float(_improvements([v[None] for v in x], [v[None] for v in y], higher)[0])


def _improvements(x: list, y: list, higher: bool) -> np.ndarray:
    """improvement() of each of R re-draws at once: x, y are per-setting (R, runs) arrays."""
    total = np.zeros(len(x[0]))
    for a, b in zip(x, y):
        a, b = (a, b) if higher else (-a, -b)
        wins = (a[:, :, None] > b[:, None, :]).mean(axis=(1, 2))
        ties = (a[:, :, None] == b[:, None, :]).mean(axis=(1, 2))
        total += wins + 0.5 * ties
    return total / len(x)


def redraws(per: list, rng, reps: int) -> list:
    """`reps` stratified bootstrap samples at once: each setting's runs re-drawn with replacement, (reps, runs)."""
    return [v[rng.integers(0, len(v), (reps, len(v)))] for v in per]


def percentiles(values: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def summarise(scores: dict, matrices: dict, reference: str, higher: bool, reps: int = REPS,
              seed: int = SEED) -> dict:
    """{label: (average rank, iqm, iqm interval, P(improve over reference), its interval)}. An interval is None
    where the method itself has nothing to re-draw: the IQM's under two seeds in every setting, the probability's
    where a setting has a single run of it (the reference's single run re-draws as itself). Each method's draws
    come from its own generator (SEED and its label), so adding a method to a report leaves the others' alone."""
    import zlib

    from scipy.stats import trim_mean

    ranks = average_ranks(scores, higher)
    out: dict[str, tuple] = {}
    for label, per in scores.items():
        rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
        matrix, ref = matrices[label], scores[reference]
        iqm_ci = poi_ci = None
        if len(matrix) > 1:
            columns = redraws([matrix[:, j] for j in range(matrix.shape[1])], rng, reps)
            iqm_ci = percentiles(trim_mean(np.concatenate(columns, axis=1), 0.25, axis=1))
        poi = improvement(per, ref, higher) if label != reference else math.nan
        if label != reference and min(len(v) for v in per) > 1:
            poi_ci = percentiles(_improvements(redraws(per, rng, reps), redraws(ref, rng, reps), higher))
        out[label] = (ranks[label], iqm(matrix), iqm_ci, poi, poi_ci)
    return out


def left_out_runs(scores: dict, matrices: dict) -> list:
    """'label: n of m runs' of the methods whose IQM leaves runs out (seeds missing in some setting)."""
    out = []
    for label, per in scores.items():
        used, total = matrices[label].size, sum(len(v) for v in per)
        if used < total:
            out.append(f"{label}: {used} of {total} runs" if used else f"{label}: no seed in every setting, n/a")
    return out


def _ci(interval, missing: str = "one run") -> str:
    return f"[n/a: {missing}]" if interval is None else f"[{interval[0]:.2f}, {interval[1]:.2f}]"


def _iqm_text(mid: float, interval) -> str:
    return "n/a" if math.isnan(mid) else f"{mid:.2f} {_ci(interval, 'one seed in every setting')}"


def _rows(stats: dict, reference: str, higher: bool) -> list:
    """Table rows by average rank, the best rank and IQM in bold."""
    from bench.report.tables import Entry

    rows = []
    for label in sorted(stats, key=lambda lb: stats[lb][0]):
        rank, mid, mid_ci, poi, poi_ci = stats[label]
        rows.append((label, [Entry(f"{rank:.2f}", rank), Entry(_iqm_text(mid, mid_ci), mid),
                             Entry("reference") if label == reference else Entry(f"{poi:.2f} {_ci(poi_ci)}", poi)]))
    for col, best in ((0, min), (1, max if higher else min)):
        values = [row[col].mean for _, row in rows if not math.isnan(row[col].mean)]
        for _, row in rows:
            row[col].strong = bool(values) and row[col].mean == best(values)
    return rows


def _rule(settings, reference, test, testable=False) -> str:
    from bench.report.collect import setting_label

    return (f"over {len(settings)} settings ({'; '.join(setting_label(s) for s in settings)}): average rank of each "
            "method's mean (1 = best); interquartile mean of its runs' scores and the probability that a run of "
            f"it beats one of {reference} (averaged over the settings), with 95% stratified-bootstrap intervals "
            f"({REPS} re-draws of the runs within each setting, generator seed {SEED}; rliable's definitions: the IQM "
            "over each method's runs x settings matrix of the seeds it has in every setting; compare rows, which "
            "share the settings)"
            + (f"; Friedman's test that all methods rank alike: chi-square {test[0]:.2f}, p {test[1]:.3g} (an "
               "approximation with few settings)" if test is not None else "; Friedman's test: n/a (every method "
               "ties in every setting)" if testable else ""))


def overall_table(cells, settings, labels, metric, select, as_error, baseline=None):
    """The aggregate table (module docstring), or None with fewer than two settings or two complete methods."""
    from bench.report.paired import baseline_label
    from bench.report.tables import Notes, Table, metric_title, selection_phrase

    if len(settings) < 2:
        return None
    scores, missing, matrices = complete_scores(cells, settings, labels, metric, select, as_error)
    if len(scores) < 2:
        return None
    higher = higher_is_better(metric, as_error)
    ranks = average_ranks(scores, higher)
    reference = baseline_label(cells, baseline) if baseline else min(ranks, key=lambda label: ranks[label])
    notes = Notes()
    if reference not in scores:
        notes.add(f"the baseline {reference} lacks numbers in some setting: the reference is the top-ranked method")
        reference = min(ranks, key=lambda label: ranks[label])
    rows = _rows(summarise(scores, matrices, reference, higher), reference, higher)
    notes.add(_rule(settings, reference, friedman(scores), testable=len(scores) > 2 and len(settings) > 1))
    left_out = left_out_runs(scores, matrices)
    if left_out:
        notes.add("IQM over the seeds a method has in every setting (runs of other seeds left out, so that no "
                  "setting weighs more): " + "; ".join(left_out))
    if missing:
        notes.add("left out (no numbers in every setting): " + ", ".join(missing))
    title = f"{metric_title(metric, as_error)} aggregated over settings, {selection_phrase(select, cells.values())}"
    return Table("overall", title, ["method", "average rank", "IQM [95% CI]", f"P(improve on {reference})"],
                 rows, notes.items, higher_is_better=True)
