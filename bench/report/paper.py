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


# what the paper's numbers were obtained with (ldam-drw.md sections 2 and 4; iNat: App. B)
PAPER_RECIPES = {
    "cifar": ({"model.name": "resnet32", "train.epochs": 200}, "the paper trains ResNet-32 for 200 epochs"),
    "inat2018": ({"model.name": "resnet50", "train.epochs": 90, "augment.train_crop": "resize_random",
                  "augment.resize": 256, "augment.image_size": 224},
                 "the paper trains ResNet-50 for 90 epochs on random 224 crops of images resized to a shorter "
                 "side of 256 (App. B)"),
}


def _get(cfg, dotted):
    from bench.config import default_keys

    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default_keys().get(dotted)  # written before the key existed: its default
        node = node[part]
    return node


def _paper_key(setting, numbers):
    dataset, profile, ratio, *_ = setting
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
        recipe, paper_phrase = PAPER_RECIPES["inat2018" if setting[0] == "inat2018" else "cifar"]
        off = set()
        for label in labels:
            cell = cells.get((setting, label))
            for run in cell.runs if cell else []:
                extra = [f"{k}={_get(run.config, k)}" for k, v in recipe.items()
                         if k not in ("model.name", "train.epochs") and _get(run.config, k) != v]
                used = (_get(run.config, "model.name"), _get(run.config, "train.epochs"))
                if extra or used != (recipe["model.name"], recipe["train.epochs"]):
                    off.add(f"{used[0]} for {used[1]} epochs" + (f" with {', '.join(extra)}" if extra else ""))
        if off:
            notes.add(f"{setting_label(setting)}: our runs use {', '.join(sorted(off))}; {paper_phrase}, so the "
                      "numbers are not comparable")
    notes.add(f"paper: {data['source']}; its numbers are the {data['selection']}; "
              f"ours: {selection_phrase(select, cells.values())}")
    title = "Top-1 error (%): ours (mean over seeds) / published (difference, ours minus paper)"
    if not cols:
        title = ("Paper comparison: none of these settings has published numbers (the paper covers "
                 + ", ".join(names.values()) + ")")
    columns = ["method = paper row"] + [f"{setting_label(s)} ({names[_paper_key(s, numbers)]})" for s in cols]
    return Table("paper", title, columns, rows, notes.items, higher_is_better=False)

