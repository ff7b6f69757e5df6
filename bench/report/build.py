"""`bench report`: read runs, print Markdown tables, optionally write LaTeX, CSV and plots."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bench.errors import BenchError
from bench.metrics.evaluate import BY_NAME
from bench.report.aggregate import aggregate, settings_and_labels
from bench.report.collect import collect, setting_label
from bench.report.tables import main_table, prior_table, shot_table, tidy_rows, to_latex, to_markdown
from bench.store.results import atomic_write_text


def build_tables(cells, select="last", as_error=False, compare=None, metric="top1", priors=False, baseline=None,
                 studies=()):
    settings, labels = settings_and_labels(cells)
    tables = [main_table(cells, settings, labels, select, as_error, metric)]
    if studies:
        from bench.report.studies import tuning_table

        tables.append(tuning_table(studies, cells))
    from bench.report.overall import overall_table

    overall = overall_table(cells, settings, labels, metric, select, as_error, baseline)
    tables += [overall] if overall is not None else []
    if baseline:
        from bench.report.baseline import baseline_table

        tables.append(baseline_table(cells, settings, labels, baseline, metric, select, as_error))
    tables += [shot_table(cells, s, labels, select, as_error) for s in settings]
    tables += [prior_table(cells, s, labels, select, as_error) for s in settings] if priors else []
    from bench.report.parameters import parameters_table

    counted = parameters_table(cells)
    tables += [counted] if counted is not None else []
    if compare == "paper":
        from bench.report.paper import compare_table

        tables.append(compare_table(cells, settings, labels, select, as_error))
    return tables, settings, labels


def summary(runs, folders, notes=()):
    counts = {s: sum(r.status == s for r in runs) for s in ("done", "failed", "incomplete")}
    return (f"{len(runs)} runs in {', '.join(str(f) for f in folders)}: {counts['done']} done, "
            f"{counts['failed']} failed, {counts['incomplete']} without a result yet"
            + "".join(f"; {note}" for note in notes))


def data_headers(runs) -> str:
    """`bench data describe`'s summary of each dataset file's data the runs trained on (one per fingerprint and
    setting), as an indented block before the tables; '' when no run trained on a dataset file."""
    from bench.datasets.custom.summary import from_result, text

    seen: dict = {}
    for run in runs:
        data = (run.result or {}).get("data") or {}
        if data.get("fingerprint") and run.result.get("train_class_counts"):
            seen.setdefault((run.dataset, data["fingerprint"], data.get("train_indices_sha256")), run.result)
    blocks = ["\n".join("    " + line for line in text(from_result(r)).splitlines()) for r in seen.values()]
    return "".join(block + "\n\n" for block in blocks)


def check_report_out(out):
    """--out must be a folder that exists or can be made, and be writable: checked before any file is written."""
    from bench.run.launch import check_output_dir

    check_output_dir(out)


def report(folders, out=None, latex=False, csv=False, plots=False, compare=None, select="last",
           metric="accuracy", confusion=(), html=False, priors=False, baseline=None):
    check_report_inputs(folders, out, confusion, latex or csv or plots or confusion or html)
    notes: list[str] = []
    runs = collect(folders, notes)
    if not runs:
        raise BenchError(f"no runs found under {', '.join(map(str, folders))}; pass the folder given to "
                         "`bench run --out`")
    from bench.report.studies import apply as apply_studies

    collected = runs
    runs, studies = apply_studies(collected, folders, notes)  # a tuned row's runs are copies of collected ones
    shown = {run.run_dir for run in runs}
    listed = [run for run in collected if run.run_dir in shown]  # each run folder once
    as_error = metric == "error"  # accuracy / error: top-1 as accuracy or 100 - accuracy; else a schema metric
    shown_metric = "top1" if metric in ("accuracy", "error") else metric
    cells = aggregate(runs, select, as_error)
    tables, settings, labels = build_tables(cells, select, as_error, compare, shown_metric, priors, baseline, studies)
    markdown = summary(collected, folders, notes) + "\n\n" + data_headers(collected) + "\n".join(
        to_markdown(t) for t in tables)
    print(markdown)
    if out is None:
        return tables
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "tables.md"]
    atomic_write_text(out / "tables.md", markdown)
    written += write_files(out, tables, cells, settings, labels, select, as_error, latex, csv, plots, confusion,
                           shown_metric, baseline)
    if html:
        from bench.report import html as page
        from bench.report.tables import selection_phrase

        text = page.render(listed, cells, tables, settings, labels, select, folders, summary(collected, folders, notes),
                           selection_phrase(select, list(cells.values())), textwrap.dedent(data_headers(collected)))
        written.append(page.write(out / "report.html", text))
        print(f"report.html: {len(text.encode()) / 1024:.0f} KB, self-contained (opens offline)")
    assert len(set(written)) == len(written), "two outputs share a file name"
    print(f"wrote {len(written)} files to {out}/: " + ", ".join(p.name for p in written))
    return tables


def check_report_inputs(folders, out, confusion, writes_files):
    """Every input usable before anything is written: folders, --out, the --confusion runs."""
    for folder in folders:
        if not Path(folder).is_dir():
            raise BenchError(f"results folder {folder} does not exist; pass the folder given to `bench run --out`")
    if writes_files and out is None:
        raise BenchError("--latex, --csv, --plots, --confusion and --html write files: pass --out DIR")
    if out is not None:
        check_report_out(out)
    if confusion:
        from bench.report.plots import read_predictions

        for run_dir in confusion:  # every asked-for run is readable before any file is written
            read_predictions(run_dir)


SIGNIFICANCE_COLUMNS = ("bold", "vs_best", "vs_best_n", "vs_best_diff", "vs_best_low", "vs_best_high",
                        "vs_best_p_holm", "vs_baseline", "vs_baseline_n", "vs_baseline_diff", "vs_baseline_low",
                        "vs_baseline_high", "vs_baseline_p_holm")


def significance_columns(tables, cells, settings, labels, metric, select, as_error, baseline) -> dict:
    """{(setting label, row label): the CSV columns of what the main table and --baseline's table say of that
    cell}: bold (the column's best or not significantly worse than it), the paired difference from the column's
    best and from the baseline with its 95% interval and Holm-adjusted p (the rows of the shown metric)."""
    from bench.report.paired import against_baseline, against_best, baseline_label

    main = next(t for t in tables if t.name == "main")
    out = {(setting_label(s), label): {"bold": entry.strong} for label, entries in main.rows
           for s, entry in zip(settings, entries)}
    best, comparisons = against_best(cells, settings, labels, metric, select, as_error)
    groups = [("vs_best", comparisons)]
    if baseline:
        groups.append(("vs_baseline", against_baseline(cells, settings, labels, baseline_label(cells, baseline),
                                                       metric, select, as_error)))
    for setting, label in best.items():
        out.setdefault((setting_label(setting), label), {})["vs_best"] = "itself"
    for prefix, found in groups:
        for c in found:
            out.setdefault((setting_label(c.setting), c.label), {}).update({
                prefix: c.reference, f"{prefix}_n": c.n, f"{prefix}_diff": c.diff, f"{prefix}_low": c.low,
                f"{prefix}_high": c.high, f"{prefix}_p_holm": c.p_holm})
    return out


def write_files(out, tables, cells, settings, labels, select, as_error, latex, csv, plots, confusion, metric="top1",
                baseline=None):
    """LaTeX tables, the CSV, the plots and confusion matrices asked for; the paths written."""
    written = []
    if latex:
        for table in (t for t in tables if t.rows and len(t.columns) > 1):
            atomic_write_text(out / f"{table.name}.tex", to_latex(table))
            written.append(out / f"{table.name}.tex")
    if csv:
        import pandas as pd

        marks = significance_columns(tables, cells, settings, labels, metric, select, as_error, baseline)
        marked = f"{metric}_error" if as_error and BY_NAME[metric].is_accuracy else metric  # tidy_rows' name
        rows = [{**row, **marks.get((row["setting"], row["label"]), {})} if row["metric"] == marked else row
                for row in tidy_rows(cells, select, as_error)]
        frame = pd.DataFrame(rows, columns=list(dict.fromkeys([*rows[0], *SIGNIFICANCE_COLUMNS])))
        for column in ("data_seed", "n", "n_failed", "n_incomplete", "group_size", "vs_best_n", "vs_baseline_n"):
            frame[column] = frame[column].astype("Int64")
        atomic_write_text(out / "results.csv", frame.to_csv(index=False))
        written.append(out / "results.csv")
    if plots:
        from bench.report import plots as figures
        from bench.report.tables import _slug

        if any(t.name == "overall" for t in tables):
            written += figures.cd_diagram(cells, settings, labels, metric, select, as_error, out, "plot_cd_diagram")
        for setting in settings:
            slug = _slug(setting)
            written += figures.per_class_plot(cells, setting, labels, select, out, f"plot_per_class_{slug}")
            written += figures.shot_bars(cells, setting, labels, select, out, f"plot_shots_{slug}")
            written += figures.curves(cells, setting, labels, out, f"plot_curves_{slug}")
            if any(t.name == f"priors_{slug}" for t in tables):
                written += figures.prior_lines(cells, setting, labels, select, out, f"plot_priors_{slug}")
    for run_dir in dict.fromkeys(confusion):  # each run once
        from bench.report.plots import confusion as confusion_plot

        written += confusion_plot(run_dir, out)
    return written
