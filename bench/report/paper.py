"""The LDAM-DRW paper's published numbers beside ours (`bench report --compare paper`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.report.collect import setting_label
from bench.report.tables import Entry, Notes, Table, cell_entry, selection_phrase

PAPER_FILE = Path(__file__).with_name("paper_ldam_drw.yaml")


def load_paper():
    data = yaml.safe_load(PAPER_FILE.read_text())
    numbers = {}  # (dataset, profile, ratio) -> {paper row: top-1 error}
    for i, s in enumerate(data["settings"]):
        key = (s["dataset"], s["profile"], float(s["imbalance_ratio"]))
        numbers[key] = {row: values[i] for row, values in data["top1_error"].items() if values[i] is not None}
    inat = dict(data["inat2018"])
    inat.pop("setting")
    numbers[("inat2018", None, None)] = {row: v[0] for row, v in inat.items()}
    names = {(s["dataset"], s["profile"], float(s["imbalance_ratio"])): s["name"] for s in data["settings"]}
    names[("inat2018", None, None)] = "iNat 2018"
    return data, numbers, names


def _paper_key(setting, numbers):
    dataset, profile, ratio, _ = setting
    if (dataset, profile, ratio) in numbers:
        return (dataset, profile, ratio)
    if dataset == "inat2018":
        return ("inat2018", None, None)
    return None


def compare_table(cells, settings, labels, select, as_error=False):
    """Rows: our methods with a paper row; columns: our settings the paper covers. Top-1 error."""
    from bench.methods.registry import METHODS

    data, numbers, names = load_paper()
    cols = [s for s in settings if _paper_key(s, numbers)]
    method_of = {c.label: c.method for c in cells.values()}
    rows, notes = [], Notes()
    expected = max((c.n_attempted for c in cells.values()), default=0)
    for label in labels:
        method = METHODS.get(method_of.get(label))
        paper_row = method.paper_row if method else ""
        if not paper_row or not any(paper_row in numbers[_paper_key(s, numbers)] for s in cols):
            continue
        row = []
        for setting in cols:
            paper = numbers[_paper_key(setting, numbers)].get(paper_row)
            cell = cells.get((setting, label))
            ours = cell_entry(cell, "top1", expected, notes, f"{label} on {setting_label(setting)}")
            stat = cell.stats.get("top1") if cell is not None and cell.n_done else None
            if paper is None:
                row.append(Entry(f"{ours.text} / paper n/a"))
            elif stat is None:
                row.append(Entry(f"{ours.text} / {paper:.2f}"))
            else:
                error = stat.mean if as_error else 100.0 - stat.mean  # cells hold what --metric asked for
                row.append(Entry(f"{error:.2f} / {paper:.2f} ({error - paper:+.2f})"))
        rows.append((f"{label} = {paper_row}", row))
    for setting in cols:
        recipes = set()
        for label in labels:
            cell = cells.get((setting, label))
            for run in cell.runs if cell else []:
                recipes.add((run.config["model"]["name"], run.config["train"]["epochs"]))
        off = sorted(r for r in recipes if r != ("resnet32", 200))
        if off and setting[0].startswith("cifar"):
            notes.add(f"{setting_label(setting)}: our runs use " + ", ".join(f"{m} for {e} epochs" for m, e in off)
                      + "; the paper trains ResNet-32 for 200 epochs, so the numbers are not comparable")
    notes.add(f"paper: {data['source']}; its numbers are the {data['selection']}; ours: {selection_phrase(select)}")
    title = "Top-1 error (%): ours (mean over seeds) / published (difference, ours minus paper)"
    if not cols:
        title = ("Paper comparison: none of these settings has published numbers (the paper covers "
                 + ", ".join(names.values()) + ")")
    columns = ["method = paper row"] + [f"{setting_label(s)} ({names[_paper_key(s, numbers)]})" for s in cols]
    return Table("paper", title, columns, rows, notes.items, higher_is_better=False)

