"""Paired comparisons across seeds (issue 27): the paired t-test and its interval, Holm's adjustment, the bold
marks of the main table and the --baseline table, checked against closed forms and hand computations."""

import json
import math
from pathlib import Path

import pytest
from conftest import write_scored_runs

from bench.cli import main
from bench.report.build import report
from bench.report.paired import holm, paired

GOLDEN = Path(__file__).parent / "data" / "golden"


def test_the_paired_difference_interval_and_p_value_have_their_closed_forms():
    """Differences 1, 2, 4 over three seeds: mean 7/3, sd sqrt(7/3), t = 2.6458 on 2 df, whose distribution has
    the closed forms p = 1 - t / sqrt(2 + t^2) and 97.5% quantile 0.95 / sqrt(2 * 0.975 * 0.025)."""
    c = paired("s", "a", "b", {0: 11.0, 1: 12.0, 2: 14.0, 9: 1.0}, {0: 10.0, 1: 10.0, 2: 10.0})
    mean, se = 7 / 3, math.sqrt(7 / 3) / math.sqrt(3)
    t = mean / se
    q = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    assert c.n == 3 and c.diff == pytest.approx(mean)  # seed 9 has no partner
    assert c.p == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-9)
    assert (c.low, c.high) == pytest.approx((mean - q * se, mean + q * se), rel=1e-9)
    assert paired("s", "a", "b", {0: 1.0}, {0: 2.0}) is None  # one shared seed: no test


def test_holm_adjusts_as_the_step_down_rule():
    """p = 0.01, 0.04, 0.03, 0.2: sorted, times 4, 3, 2, 1 = 0.04, 0.09, 0.08, 0.2; made monotone: 0.04, 0.09, 0.09,
    0.2 (Holm 1979)."""
    cs = [paired("s", str(i), "b", {0: 0.0, 1: 1.0}, {0: 1.0, 1: 3.0}) for i in range(4)]
    for c, p in zip(cs, (0.01, 0.04, 0.03, 0.2)):
        c.p = p
    assert [c.p_holm for c in holm(cs)] == pytest.approx([0.04, 0.09, 0.09, 0.2])


def _golden_top1(method):
    values = {}
    for path in GOLDEN.glob(f"cifar10_lt-exp100-ds0__{method}__*/result.json"):
        result = json.loads(path.read_text())
        if result.get("status") == "done":
            values[result["seed"]] = result["last"]["top1"]
    return values


def test_the_main_table_bolds_the_best_and_those_not_significantly_worse(capsys):
    """On the golden runs' cifar10_lt exp-100 column: the best mean, then each method's paired t-test against it
    (scipy) Holm-adjusted by hand; bold exactly where the adjusted p is at least 0.05."""
    from scipy.stats import ttest_rel

    values = {m: _golden_top1(m) for m in ("erm", "cb", "ldam_drw")}
    means = {m: sum(v.values()) / len(v) for m, v in values.items()}
    best = max(means, key=means.get)
    ps = {}
    for m in values:
        seeds = sorted(set(values[m]) & set(values[best]))
        if m != best and len(seeds) >= 2:
            ps[m] = ttest_rel([values[m][s] for s in seeds], [values[best][s] for s in seeds]).pvalue
    order = sorted(ps, key=ps.get)
    adjusted, running = {}, 0.0
    for i, m in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * ps[m]))
        adjusted[m] = running
    table = report([GOLDEN])[0]
    column = table.columns.index("cifar10_lt exp-100 ds0") - 1
    strong = {label: row[column].strong for label, row in table.rows if label in values}
    assert strong == {m: m == best or adjusted.get(m, 0) >= 0.05 for m in values}
    assert any("Holm-adjusted over the table's" in text for text, _ in table.notes)
    assert "| **" in capsys.readouterr().out


def test_a_clearly_worse_method_loses_its_bold_and_a_close_one_keeps_it(tmp_path):
    """ldam_drw best; cb within the seed noise of it (paired p 0.25): bold; erm 10 points below on every seed
    (paired p 4.9e-6, Holm x2): not bold. Against erm both others differ significantly (*)."""
    write_scored_runs(tmp_path, {"erm": {100: [70.0, 71.0, 72.1, 73.0]}, "ldam_drw": {100: [80.0, 81.5, 82.0, 83.2]},
                                 "cb": {100: [79.9, 81.6, 81.8, 83.0]}})
    table = report([tmp_path])[0]
    assert {label: row[0].strong for label, row in table.rows} == {"erm": False, "cb": True, "ldam_drw": True}
    base = [t for t in report([tmp_path], baseline="erm") if t.name == "baseline"][0]
    assert {label: row[0].text.endswith("*") for label, row in base.rows} == {"cb": True, "ldam_drw": True}


def test_the_baseline_table_gives_each_difference_and_refuses_an_unknown_method(capsys):
    erm, ldam = _golden_top1("erm"), _golden_top1("ldam_drw")
    diff = sum(ldam[s] - erm[s] for s in erm) / len(erm)
    table = [t for t in report([GOLDEN], baseline="erm") if t.name == "baseline"][0]
    (row,) = [r for label, r in table.rows if label == "ldam_drw"]
    assert row[table.columns.index("cifar10_lt exp-100 ds0") - 1].text.startswith(f"{diff:+.2f} [")
    assert main(["report", str(GOLDEN), "--baseline", "nope"]) == 2
    assert "--baseline nope is not among the report's methods" in capsys.readouterr().err
