"""`bench report --baseline METHOD`: each method's paired difference from the baseline, per setting."""

from __future__ import annotations

from bench.report.collect import setting_label
from bench.report.paired import ALPHA, against_baseline, baseline_label, higher_is_better, seed_values
from bench.report.tables import Entry, Notes, Table, metric_title, selection_phrase


def baseline_table(cells, settings, labels, baseline, metric, select, as_error):
    """Each method minus the baseline, per setting: the mean paired difference, its 95% interval, the p-value and
    its Holm adjustment over the table."""
    base = baseline_label(cells, baseline)
    found = {(c.setting, c.label): c for c in against_baseline(cells, settings, labels, base, metric, select,
                                                               as_error)}
    notes = Notes()
    rows = []
    for label in (lb for lb in labels if lb != base):
        row = []
        for setting in settings:
            c = found.get((setting, label))
            if c is None:
                why = ("the baseline has no finished run here" if not seed_values(cells.get((setting, base)), metric,
                                                                                   select, as_error)
                       else "not testable: fewer than 2 training seeds shared with the baseline, or differences "
                            "that do not vary")
                row.append(Entry("n/a " + notes.add(why)))
                continue
            star = "*" if c.p_holm < ALPHA else ""
            shown = "p < 0.001" if c.p_holm < 0.001 else f"p {c.p_holm:.3f}"
            row.append(Entry(f"{c.diff:+.2f} [{c.low:+.2f}, {c.high:+.2f}] {shown}{star}", c.diff,
                             detail=f"{c.n} paired seeds; unadjusted p {c.p:.4f}; Holm-adjusted p {c.p_holm:.4f}"))
        rows.append((label, row))
    notes.add(f"mean of the paired differences (method - {base}) over the training seeds both have, its 95% "
              "interval (Student t, not adjusted) and the paired t-test's p-value, Holm-adjusted over the table's "
              f"{len(found)} comparisons; * adjusted p < {ALPHA}")
    title = (f"{metric_title(metric, as_error)}: difference from {base}, {selection_phrase(select, cells.values())}")
    return Table("baseline", title, ["method"] + [setting_label(s) for s in settings], rows, notes.items,
                 higher_is_better=higher_is_better(metric, as_error))
