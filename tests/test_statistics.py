"""What the report's statistics mean, on hand-made result folders: the IQM over unequal seed counts (rliable's runs x
tasks matrix), exact ties that float rounding must not break, and bootstrap intervals that depend only on the
method's own runs."""

import numpy as np
import pytest
from conftest import write_scored_run, write_scored_runs
from scipy.stats import friedmanchisquare, trim_mean

from bench.report.build import report


def _overall(tmp_path, **kwargs):
    tables = report([tmp_path / "runs"], out=tmp_path / "rep", **kwargs)
    (table,) = [t for t in tables if t.name == "overall"]
    return table, {label: row for label, row in table.rows}


# cb has 3 / 5 / 5 runs, erm 5 / 5 / 4, and erm is 1 point better in every setting: pooling the runs put cb first
UNEQUAL = {
    "cb": {100: [40.0, 41.0, 42.0], 50: [60.0, 61.0, 62.0, 63.0, 64.0], 10: [80.0, 81.0, 82.0, 83.0, 84.0]},
    "erm": {100: [41.0, 42.0, 43.0, 44.0, 45.0], 50: [61.0, 62.0, 63.0, 64.0, 65.0], 10: [81.0, 82.0, 83.0, 84.0]},
}


def test_the_iqm_is_rlaibles_over_the_seeds_a_method_has_in_every_setting(tmp_path):
    write_scored_runs(tmp_path / "runs", UNEQUAL)
    pooled = {m: trim_mean(np.concatenate([v for v in UNEQUAL[m].values()]), 0.25) for m in UNEQUAL}
    assert pooled["cb"] > pooled["erm"]  # the old answer: cb's high settings weigh more
    table, rows = _overall(tmp_path)
    for method, seeds in (("cb", 3), ("erm", 4)):  # rliable: trim_mean of the runs x tasks matrix, axis=None
        matrix = np.array([[UNEQUAL[method][r][s] for r in (100, 50, 10)] for s in range(seeds)])
        assert rows[method][1].mean == pytest.approx(trim_mean(matrix, 0.25, axis=None))
    assert rows["erm"][1].mean > rows["cb"][1].mean and rows["erm"][1].strong and not rows["cb"][1].strong
    assert rows["erm"][0].text == "1.00"
    note = next(text for text, _ in table.notes if text.startswith("IQM over the seeds"))
    assert "cb: 9 of 13 runs" in note and "erm: 12 of 14 runs" in note


def test_a_method_without_one_seed_in_every_setting_has_no_iqm(tmp_path):
    write_scored_runs(tmp_path / "runs", {"erm": {100: [70.0, 71.0], 10: [86.0, 86.5]},
                                          "cb": {100: [74.0, 73.5]}})
    write_scored_run(tmp_path / "runs", "cb", 2, 86.1, ["dataset.imbalance_ratio=10"])  # seed 2 only there
    table, rows = _overall(tmp_path)
    assert rows["cb"][1].text == "n/a" and rows["erm"][1].strong
    assert any("cb: no seed in every setting, n/a" in text for text, _ in table.notes)


def test_exact_ties_are_not_broken_by_float_rounding(tmp_path):
    """The same four values in another seed order: 74.1965 and 74.19650000000001 before rounding."""
    values = [74.1, 74.2, 74.186, 74.3]
    assert sum(values) / 4 != sum([74.1, 74.2, 74.3, 74.186]) / 4
    write_scored_runs(tmp_path / "runs", {
        "cb": {100: values, 10: [80.0, 80.5, 81.0, 80.2]},
        "focal": {100: [74.1, 74.2, 74.3, 74.186], 10: [80.2, 81.0, 80.5, 80.0]},
        "ldam_drw": {100: [77.0, 76.1, 78.2, 77.5], 10: [88.0, 88.4, 87.9, 88.8]},
        "erm": {100: [70.0, 71.0, 72.5, 73.0], 10: [76.0, 76.5, 77.0, 76.2]}})
    table, rows = _overall(tmp_path)
    assert rows["cb"][0].text == rows["focal"][0].text == "2.50"  # ranks 2 and 3 share 2.5 in both settings
    means = [[74.1965, 80.425], [74.1965, 80.425], [77.2, 88.275], [71.625, 76.425]]
    chi2, p = friedmanchisquare(*means)
    assert any(f"chi-square {chi2:.2f}, p {p:.3g}" in text for text, _ in table.notes)
    main = next(t for t in report([tmp_path / "runs"]) if t.name == "main")
    column = {label: entries for label, entries in main.rows}
    assert column["cb"][0].mean == column["focal"][0].mean == 74.1965  # one number in the table too


def test_an_interval_is_na_only_where_the_method_itself_has_one_run(tmp_path):
    """The reference (--baseline cb) has a single run at ratio 10: erm's intervals are still drawn (cb's run
    re-draws as itself); cb's own IQM interval is n/a (one seed in every setting: a runs x settings matrix of one
    row)."""
    write_scored_runs(tmp_path / "runs", {"erm": {100: [70.0, 71.0, 72.5], 10: [86.0, 86.5, 87.0]},
                                          "cb": {100: [74.0, 73.5, 75.0], 10: [86.1]}})
    table, rows = _overall(tmp_path, baseline="cb")
    assert "n/a" not in rows["erm"][1].text and "n/a" not in rows["erm"][2].text
    low, high = (float(x) for x in rows["erm"][2].text.split("[")[1].rstrip("]").split(", "))
    assert 0 <= low <= rows["erm"][2].mean <= high <= 1
    assert rows["cb"][1].text.endswith("[n/a: one seed in every setting]") and rows["cb"][2].text == "reference"
