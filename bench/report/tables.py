"""Table models (main, per-setting shot groups, paper comparison) and their Markdown / LaTeX / CSV forms."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.metrics.evaluate import BY_NAME, REPORT_METRIC_NAMES  # recorded metrics and the shifted-prior accuracies
from bench.metrics.priors import RATIOS
from bench.report.collect import setting_label


@dataclass
class Entry:
    text: str  # what a reader sees
    mean: float = math.nan  # for picking the best of a column; nan when not a number
    short: str | None = None  # a narrower text for LaTeX, where given
    detail: str | None = None  # more than fits in the cell (the HTML report shows it on hover)
    strong: bool = False  # bold: the column's best, or not significantly worse than it (bench/report/paired.py)


@dataclass
class Table:
    name: str
    title: str
    columns: list
    rows: list  # (label, [Entry])
    notes: list = field(default_factory=list)
    higher_is_better: bool = True


def fmt_stat(stat, digits=2):
    if stat is None:
        return Entry("n/a")
    if math.isnan(stat.std):
        return Entry(f"{stat.mean:.{digits}f}", stat.mean, detail="one seed: no spread")
    return Entry(f"{stat.mean:.{digits}f} ± {stat.std:.{digits}f}", stat.mean,
                 detail=f"mean ± sd over {stat.n} seeds; 95% CI {stat.mean - stat.ci95:.{digits}f} to "
                        f"{stat.mean + stat.ci95:.{digits}f} (Student t)")


class Notes:
    """Numbered notes; each is (text, run folders it refers to). LaTeX leaves the folders out."""

    def __init__(self):
        self.items = []

    def add(self, text, dirs=()):
        item = (text, tuple(str(d) for d in dirs))
        if item not in self.items:
            self.items.append(item)
        return f"[{self.items.index(item) + 1}]"


def note_text(note, with_paths=True):
    text, dirs = note
    if not with_paths or not dirs:
        return text
    shown = ", ".join(dirs[:3]) + (f" and {len(dirs) - 3} more" if len(dirs) > 3 else "")
    return f"{text} ({shown})"


def cell_entry(cell, metric, expected, notes, where):
    """The entry for one cell, with a note saying why anything is missing."""
    if cell is None:
        return Entry("not run")
    if cell.n_done == 0:
        if cell.failed:
            reasons = sorted({err for _, err in cell.failed})
            return Entry("failed " + notes.add(
                f"{where}: {len(cell.failed)} run(s) failed: {'; '.join(reasons)}", [d for d, _ in cell.failed]))
        return Entry("incomplete " + notes.add(
            f"{where}: {len(cell.incomplete)} run(s) have no result yet (still running, or stopped: "
            "run the same command again to resume)", cell.incomplete))
    entry = fmt_stat(cell.stats.get(metric), BY_NAME[metric].digits)
    unrecorded = cell.unrecorded.get(metric, [])
    if unrecorded:
        mark = notes.add(f"{where}: {len(unrecorded)} run(s) have no {metric} ({BY_NAME[metric].title}): their "
                         "result.json was written by a bench version without it; re-run them with --force to "
                         "compute it", unrecorded)
        entry = Entry(f"{entry.text} {mark}", entry.mean, short=f"{entry.text} {mark}", detail=entry.detail)
    if cell.n_done < expected:
        why = []
        if cell.failed:
            why.append(f"{len(cell.failed)} failed: {'; '.join(sorted({e for _, e in cell.failed}))}")
        if cell.incomplete:
            why.append(f"{len(cell.incomplete)} without a result yet")
        if expected > cell.n_attempted:
            why.append(f"{expected - cell.n_attempted} not run")
        mark = notes.add(f"{where}: {cell.n_done} of {expected} seeds done ({', '.join(why)})",
                         [d for d, _ in cell.failed] + list(cell.incomplete))
        entry = Entry(f"{entry.text} ({cell.n_done} of {expected} seeds) {mark}", entry.mean,
                      short=f"{entry.text} {mark}", detail=entry.detail)
    return entry


def selection_phrase(select, cells=()):
    """How the reported epoch was chosen; `cells` tell whether validation splits were involved."""
    sources = set().union(*(c.selected_on for c in cells)) if cells else {"test"}
    if select == "last":
        return "last epoch" + ("; runs with eval.selection=best_val are measured on the test images their "
                               "validation split leaves out" if "val" in sources else "")
    sources = sources - {"fixed"} or {"fixed"}  # fixed: a post-hoc rule with its paper's tau chose nothing
    if sources == {"fixed"}:
        return "best epoch = last (nothing selected: a post-hoc rule with a fixed tau)"
    if sources == {"val"}:
        return "best epoch, selected on a validation split that shares no image with the reported ones"
    if "val" in sources:
        return ("best epoch, selected on a validation split (eval.selection=best_val) or ON THE TEST SET (the "
                "other runs: optimistic)")
    return "best epoch, SELECTED ON THE TEST SET (optimistic)"


def spread_phrase(cells):
    """What a cell's number is: with one finished seed per cell there is no std to state."""
    if max((c.n_done for c in cells), default=0) <= 1:
        return "one seed per cell (no std)"
    return "mean ± std over seeds"


def metric_title(metric, as_error):
    """'Top-1 error (%)' / 'Expected calibration error (%, 15 bins)' for a table title."""
    title = BY_NAME[metric].title
    if as_error and BY_NAME[metric].is_accuracy:
        title = title.replace("accuracy", "error")
    return title[0].upper() + title[1:]


def main_table(cells, settings, labels, select, as_error, metric="top1"):
    notes = Notes()
    expected = max((c.n_attempted for c in cells.values()), default=0)
    rows = []
    for label in labels:
        row = []
        for setting in settings:
            cell = cells.get((setting, label))
            row.append(cell_entry(cell, metric, expected, notes, f"{label} on {setting_label(setting)}"))
        rows.append((label, row))
    mark_significance(rows, cells, settings, labels, metric, select, as_error, notes)
    title = (f"{metric_title(metric, as_error)}, {selection_phrase(select, cells.values())}; "
             f"{spread_phrase(cells.values())}")
    from bench.report.paired import higher_is_better

    return Table("main", title, ["method"] + [setting_label(s) for s in settings], rows, notes.items,
                 higher_is_better=higher_is_better(metric, as_error))


def mark_significance(rows, cells, settings, labels, metric, select, as_error, notes):
    """Bold each column's best mean and the methods not significantly worse than it (paired.against_best);
    one note saying the rule, one naming the cells that could not be tested."""
    from bench.report.paired import ALPHA, against_best, higher_is_better

    best, comparisons = against_best(cells, settings, labels, metric, select, as_error)
    if not comparisons:
        for label, entries in rows:
            for setting, entry in zip(settings, entries):
                entry.strong = best.get(setting) == label
        if len(rows) > 1 and best:
            notes.add("bold: the best mean of each column (no method shares 2 training seeds with it: no test)")
        return
    sign = 1 if higher_is_better(metric, as_error) else -1  # better on the shared seeds than the best: not worse
    tied = {(c.setting, c.label) for c in comparisons if c.p_holm >= ALPHA or sign * c.diff >= 0}
    tested = {(c.setting, c.label) for c in comparisons}
    untested = []
    for label, entries in rows:
        for setting, entry in zip(settings, entries):
            entry.strong = best.get(setting) == label or (setting, label) in tied
            if (setting, label) not in tested and best.get(setting) not in (None, label) \
                    and not math.isnan(entry.mean):
                untested.append(f"{label} on {setting_label(setting)}")
    notes.add("bold: the best mean of each column and the methods not significantly worse than it (two-sided paired "
              f"t-test over the training seeds they share with it, p-values Holm-adjusted over the table's "
              f"{len(comparisons)} comparisons, alpha {ALPHA}); `bench report --baseline METHOD` gives each "
              "difference with its 95% interval")
    if untested:
        notes.add("not tested against the best (fewer than 2 training seeds shared with it, or differences that do "
                  "not vary): " + "; ".join(untested))


def shot_table(cells, setting, labels, select, as_error):
    notes = Notes()
    present = [label for label in labels if (setting, label) in cells]
    in_setting = [cells[(setting, label)] for label in present]
    expected = max((c.n_attempted for c in in_setting), default=0)
    sizes: dict[str, Any] = next((c.group_sizes for c in in_setting if c.group_sizes), {})
    columns = ["method", "overall"] + [f"{g} ({sizes[g]})" if g in sizes else g for g in ("many", "medium", "few")]
    rows = []
    for label in present:
        cell = cells[(setting, label)]
        where = f"{label} on {setting_label(setting)}"
        rows.append((label, [cell_entry(cell, m, expected, notes, where) for m in ("top1", "many", "medium", "few")]))
    kind = "error" if as_error else "accuracy"
    title = (f"{setting_label(setting)}: top-1 {kind} (%) overall and by shot group (classes per group in "
             f"brackets; many > {_rule(in_setting, 'many_above', 100)}, few < {_rule(in_setting, 'few_below', 20)} "
             f"training images), {selection_phrase(select, in_setting)}; {spread_phrase(in_setting)}")
    return Table(f"shots_{_slug(setting)}", title, columns, rows, notes.items, higher_is_better=not as_error)


PRIOR_COLUMNS = tuple(f"backward{r}" for r in reversed(RATIOS)) + ("top1",) + tuple(f"forward{r}" for r in RATIOS)


def prior_column_name(metric):
    """'backward50' -> 'bwd 50', 'top1' -> 'uniform'."""
    return "uniform" if metric == "top1" else metric.replace("backward", "bwd ").replace("forward", "fwd ")


def prior_table(cells, setting, labels, select, as_error):
    """Accuracy under SADE's shifted test priors, backward-long-tailed 50 .. uniform .. forward 50
    (bench/metrics/priors.py)."""
    notes = Notes()
    present = [label for label in labels if (setting, label) in cells]
    in_setting = [cells[(setting, label)] for label in present]
    expected = max((c.n_attempted for c in in_setting), default=0)
    rows = [(label, [cell_entry(cells[(setting, label)], m, expected, notes, f"{label} on {setting_label(setting)}")
                     for m in PRIOR_COLUMNS]) for label in present]
    kind = "error" if as_error else "accuracy"
    title = (f"{setting_label(setting)}: top-1 {kind} (%) under shifted test label distributions (SADE's protocol: "
             "long-tailed the other way (bwd) or the training way (fwd), imbalance 2 to 50; exact expectations "
             f"from per-class accuracy), {selection_phrase(select, in_setting)}; {spread_phrase(in_setting)}")
    return Table(f"priors_{_slug(setting)}", title, ["method"] + [prior_column_name(m) for m in PRIOR_COLUMNS],
                 rows, notes.items, higher_is_better=not as_error)


def _rule(cells, key, default):
    for cell in cells:
        for run in cell.runs:
            if run.result:
                return run.result.get("shot_rule", {}).get(key, default)
    return default


def _slug(setting):
    """A file-name part for the setting, as unique as its label (the ratio printed exactly)."""
    from bench.report.collect import default_eval_split, fmt_ratio

    dataset, profile, ratio, data_seed, eval_split = setting
    split = "" if eval_split == default_eval_split(dataset) else f"_{eval_split}"
    if ratio is None:
        return f"{dataset}_natural{split}"
    return f"{dataset}_{profile}{fmt_ratio(ratio)}_ds{data_seed}{split}".replace(".", "p").replace("+", "")


# ---------------------------------------------------------------- rendering


def to_markdown(table):
    def esc(text):
        return str(text).replace("|", "\\|")

    if len(table.columns) < 2 or not table.rows:
        return f"**{table.title}**\n"
    lines = [f"**{table.title}**", "", "| " + " | ".join(esc(c) for c in table.columns) + " |",
             "|" + "|".join(["---"] + [":-:"] * (len(table.columns) - 1)) + "|"]
    for label, entries in table.rows:
        lines.append("| " + " | ".join([esc(label)] + [f"**{esc(e.text)}**" if e.strong else esc(e.text)
                                                        for e in entries]) + " |")
    if table.notes:
        lines.append("")
        lines.extend(f"[{i}] {note_text(note)}" for i, note in enumerate(table.notes, 1))
    return "\n".join(lines) + "\n"


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text):
    out = "".join(LATEX_SPECIAL.get(ch, ch) for ch in str(text)).replace("<", "$<$").replace(">", "$>$")
    return out.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("–", "--")


def _best_means(table):
    best: list[Any] = []
    for col in range(len(table.columns) - 1):
        means = [entries[col].mean for _, entries in table.rows if not math.isnan(entries[col].mean)]
        if not means:
            best.append(None)
        else:
            best.append(max(means) if table.higher_is_better else min(means))
    return best


def to_latex(table, label_prefix="tab:bench-"):
    marked = any(e.strong for _, entries in table.rows for e in entries)  # significance marks, else the best mean
    best = [None] * (len(table.columns) - 1) if marked else _best_means(table)
    lines = [
        "% generated by `bench report`; needs \\usepackage{booktabs} and \\usepackage{graphicx}",
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{latex_escape(table.title)}}}",
        f"\\label{{{label_prefix}{table.name.replace('_', '-')}}}",
        "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%",  # shrink only if too wide
        "\\begin{tabular}{l" + "c" * (len(table.columns) - 1) + "}",
        "\\toprule",
        " & ".join(latex_escape(c) for c in table.columns) + " \\\\",
        "\\midrule",
    ]
    for label, entries in table.rows:
        cells = [latex_escape(label)]
        for col, entry in enumerate(entries):
            text = latex_escape(entry.short or entry.text)
            if entry.strong or (best[col] is not None and not math.isnan(entry.mean) and entry.mean == best[col]):
                number, _, rest = text.partition(" [")
                text = f"\\textbf{{{number}}}" + (f" [{rest}" if rest else "")
            cells.append(text)
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}}"]
    if table.notes:
        lines.append("\\par\\smallskip\\footnotesize")
        lines += [f"[{i}] {latex_escape(note_text(note, with_paths=False))}\\par"
                  for i, note in enumerate(table.notes, 1)]
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


def _missing_note(cell, metric):
    unrecorded = cell.unrecorded.get(metric)
    if unrecorded:
        return f"not recorded: {len(unrecorded)} run(s) written by a bench version without {metric}"
    return "empty group"


def tidy_rows(cells, select, as_error):
    """One row per method x setting x metric (CSV), missing cells included with their reason."""
    rows = []
    for (setting, label), cell in sorted(cells.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        dataset, profile, ratio, data_seed, eval_split = setting
        base = {"dataset": dataset, "profile": profile, "imbalance_ratio": ratio, "data_seed": data_seed,
                "eval_split": eval_split,
                "setting": setting_label(setting), "method": cell.method, "label": label, "selection": select,
                "n_failed": len(cell.failed), "n_incomplete": len(cell.incomplete)}
        if cell.n_done == 0:
            note = "failed: " + "; ".join(sorted({e for _, e in cell.failed})) if cell.failed else "incomplete"
            rows.append({**base, "metric": "top1_error" if as_error else "top1", "mean": None, "std": None,
                         "n": 0, "ci95": None, "group_size": None, "note": note})
            continue
        for metric in REPORT_METRIC_NAMES:
            stat = cell.stats.get(metric)
            rows.append({**base, "metric": f"{metric}_error" if as_error and BY_NAME[metric].is_accuracy else metric,
                         "mean": None if stat is None else stat.mean,
                         "std": None if stat is None or math.isnan(stat.std) else stat.std,
                         "n": 0 if stat is None else stat.n,
                         "ci95": None if stat is None or math.isnan(stat.ci95) else stat.ci95,
                         "group_size": cell.group_sizes.get(metric),
                         "note": _missing_note(cell, metric) if stat is None else ""})
    return rows
