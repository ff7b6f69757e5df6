"""Aggregates over settings (issue 27): average ranks, Friedman's test, the interquartile mean and the probability
of improvement with stratified-bootstrap intervals, and the critical-difference diagram, on crafted runs whose
numbers are known."""

import numpy as np
import pytest
from conftest import write_scored_runs
from scipy.stats import friedmanchisquare, mannwhitneyu, trim_mean

from bench.report.build import report
from bench.report.overall import improvement

TOPS = {  # method -> ratio -> top-1 of seeds 0..3
    "erm": {100: [70.0, 71.0, 72.5, 73.0], 10: [86.0, 86.5, 87.0, 86.2]},
    "cb": {100: [74.0, 73.5, 75.0, 74.2], 10: [86.1, 86.9, 86.0, 87.3]},
    "ldam_drw": {100: [77.0, 76.1, 78.2, 77.5], 10: [88.0, 88.4, 87.9, 88.8]},
}


def test_the_aggregate_table_has_the_closed_form_statistics_and_a_cd_diagram(tmp_path):
    write_scored_runs(tmp_path / "runs", TOPS)
    tables = report([tmp_path / "runs"], out=tmp_path / "rep", plots=True)
    (table,) = [t for t in tables if t.name == "overall"]
    rows = {label: row for label, row in table.rows}
    # ranks of the means: ratio 100 ldam_drw > cb > erm; ratio 10 ldam_drw > cb (86.575) > erm (86.425)
    assert [rows[m][0].text for m in ("ldam_drw", "cb", "erm")] == ["1.00", "2.00", "3.00"]
    assert table.columns[3] == "P(improve on ldam_drw)" and rows["ldam_drw"][2].text == "reference"
    for method in ("erm", "cb"):
        scores = np.array(TOPS[method][100] + TOPS[method][10])
        assert rows[method][1].mean == pytest.approx(trim_mean(scores, 0.25))
        u = [mannwhitneyu(TOPS[method][r], TOPS["ldam_drw"][r]).statistic / 16 for r in (100, 10)]
        assert rows[method][2].mean == pytest.approx(sum(u) / 2)
        low, high = (float(x) for x in rows[method][1].text.split("[")[1].rstrip("]").split(", "))
        assert low <= rows[method][1].mean <= high
    means = [[np.mean(TOPS[m][r]) for r in (100, 10)] for m in TOPS]
    chi2, p = friedmanchisquare(*means)
    assert any(f"chi-square {chi2:.2f}, p {p:.3g}" in text for text, _ in table.notes)
    assert (tmp_path / "rep" / "plot_cd_diagram.png").stat().st_size > 5000


def test_the_probability_of_improvement_is_the_mann_whitney_statistic():
    rng = np.random.default_rng(1)
    x = [rng.integers(0, 5, 7).astype(float), rng.integers(0, 5, 4).astype(float)]  # ties included
    y = [rng.integers(0, 5, 6).astype(float), rng.integers(0, 5, 5).astype(float)]
    expected = np.mean([mannwhitneyu(a, b).statistic / (len(a) * len(b)) for a, b in zip(x, y)])
    assert improvement(x, y, True) == pytest.approx(expected)
    lower = np.mean([mannwhitneyu(b, a).statistic / (len(a) * len(b)) for a, b in zip(x, y)])
    assert improvement(x, y, False) == pytest.approx(lower)  # lower is better (errors): the other tail
