"""Published numbers beside ours (`bench report --compare paper`): the LDAM-DRW paper's table
(paper_ldam_drw.yaml) and the newer methods' numbers from their authors (published.yaml)."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from bench.report.collect import setting_label
from bench.report.tables import Entry, Notes, Table, cell_entry, selection_phrase

PAPER_FILE = Path(__file__).with_name("paper_ldam_drw.yaml")
PUBLISHED_FILE = Path(__file__).with_name("published.yaml")


def load_paper():
    data = yaml.safe_load(PAPER_FILE.read_text())
    numbers: dict[tuple, dict] = {}  # (dataset, profile, ratio) -> {paper row: top-1 error}
    for i, s in enumerate(data["settings"]):
        key = (s["dataset"], s["profile"], float(s["imbalance_ratio"]))
        numbers[key] = {row: values[i] for row, values in data["top1_error"].items() if values[i] is not None}
    inat = dict(data["inat2018"])
    inat.pop("setting")
    numbers[("inat2018", None, None)] = {row: v[0] for row, v in inat.items()}
    names: dict[tuple, str] = {(s["dataset"], s["profile"], float(s["imbalance_ratio"])): s["name"]
                               for s in data["settings"]}
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
    from bench.plan.config import default_keys

    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default_keys().get(dotted)  # written before the key existed: its default
        node = node[part]
    return node


def load_published():
    """The newer methods' published numbers (published.yaml): ({paper id: source, selection},
    {(dataset, profile, ratio): {method: entry}}); natural datasets are keyed (dataset, None, None)."""
    data = yaml.safe_load(PUBLISHED_FILE.read_text())
    numbers: dict = {}
    for entry in data["numbers"]:
        ratio = entry.get("imbalance_ratio")
        key = (entry["dataset"], "exp", float(ratio)) if ratio is not None else (entry["dataset"], None, None)
        numbers.setdefault(key, {})[entry["method"]] = entry
    return data["papers"], numbers


def _paper_key(setting, numbers):
    dataset, profile, ratio, *_ = setting
    if (dataset, profile, ratio) in numbers:
        return (dataset, profile, ratio)
    if profile == "natural" and (dataset, None, None) in numbers:
        return (dataset, None, None)
    return None


def _cell_text(cell, paper_error, expected, notes, where, as_error):
    """'ours ± sd / paper (ours - paper)' in top-1 error (the sd over seeds; none for one seed); 'not run /
    paper' etc. when ours is missing."""
    ours = cell_entry(cell, "top1", expected, notes, where)
    stat = cell.stats.get("top1") if cell is not None and cell.n_done else None
    if paper_error is None:
        return Entry(f"{ours.text} / paper n/a")
    if stat is None:
        return Entry(f"{ours.text} / {paper_error:.2f}")
    error = stat.mean if as_error else 100.0 - stat.mean  # cells hold what --metric asked for
    spread = "" if math.isnan(stat.std) else f" ± {stat.std:.2f}"
    return Entry(f"{error:.2f}{spread} / {paper_error:.2f} ({error - paper_error:+.2f})")


def _published_rows(cells, cols, labels, expected, notes, as_error, used):
    """Rows of the methods with numbers in published.yaml (and not in the LDAM-DRW paper's table)."""
    papers, numbers = load_published()
    method_of = {c.label: c.method for c in cells.values()}
    rows = []
    for label in labels:
        method = method_of.get(label)
        entries = {s: numbers.get(_paper_key(s, numbers) or (), {}).get(method) for s in cols}
        if not any(entries.values()):
            continue
        row_name = next(e for e in entries.values() if e)["row"]
        row = []
        for setting, entry in entries.items():
            where = f"{label} on {setting_label(setting)}"
            cell = cells.get((setting, label))
            row.append(_cell_text(cell, 100.0 - entry["top1"] if entry else None, expected, notes, where, as_error))
            if entry:
                used.add(entry["paper"])
                _flag_recipe(cell, entry, where, notes)
                _flag_transcription(method, setting, cell.runs if cell else [], where, notes)
        rows.append((f"{label} = {row_name}", row))
    for paper in sorted(used):
        notes.add(f"{papers[paper]['source']}: top-1 as published, the {papers[paper]['selection']}")
    return rows


def _deviations(method: str) -> tuple:
    """The method's declared deviations from its official code (bench/methods/): none for a method this bench does
    not know."""
    from bench.methods.registry import METHODS

    spec = METHODS.get(method)
    return spec.deviations if spec is not None else ()


def _flag_recipe(cell, entry, where, notes):
    runs = cell.runs if cell is not None else []
    used = {(_get(r.config, "model.name"), _get(r.config, "train.epochs")) for r in runs}
    off = sorted(f"{model} for {epochs} epochs" for model, epochs in used if (model, epochs) != (entry["model"],
                                                                                             entry["epochs"]))
    if off:
        notes.add(f"{where}: our runs use {', '.join(off)}; the published number trains {entry['model']} for "
                  f"{entry['epochs']} epochs, so the numbers are not comparable")
    deviations = _deviations(entry["method"])
    if deviations and runs:
        notes.add(f"{entry['method']}: what differs from the official code behind its published numbers, as declared "
                  f"(docs/recipes.md, bench list recipes): {'; '.join(deviations)}")


def _flag_transcription(method, setting, runs, where, notes):
    """Each key where a run beside a published number differs from the authors' transcription
    (bench/methods/transcripts/): a declared deviation, a preset, a flag."""
    from bench.report.closed import differences, setting_of

    differ = sorted({d for r in runs for d in differences(method, setting_of(*setting[:3]), r.config)})
    if differ:
        notes.add(f"{where}: our runs differ from the authors' code behind the published number in "
                  f"{', '.join(differ)} (docs/recipes.md; --set restores each)")


def compare_table(cells, settings, labels, select, as_error=False):
    """Rows: our methods with published numbers (the LDAM-DRW paper's rows, then published.yaml's); columns: our
    settings with any. Top-1 error."""
    data, numbers, names = load_paper()
    _, published = load_published()
    cols = [s for s in settings if _paper_key(s, numbers) or _paper_key(s, published)]
    notes = Notes()
    expected = max((c.n_attempted for c in cells.values()), default=0)
    rows = _ldam_rows(cells, [s for s in cols if _paper_key(s, numbers)], cols, labels, expected, notes, as_error)
    ldam_labels = {label.split(" = ")[0] for label, _ in rows}
    used: set = set()
    rows += _published_rows(cells, cols, [lb for lb in labels if lb not in ldam_labels], expected, notes, as_error,
                            used)
    _flag_ldam_recipes(cells, [s for s in cols if _paper_key(s, numbers)], labels, notes)
    notes.add(f"paper: {data['source']}; its numbers are the {data['selection']}; "
              f"ours: {selection_phrase(select, cells.values())}")
    title = "Top-1 error (%): ours (mean ± sd over seeds) / published (difference, ours minus paper)"
    if not cols:
        title = ("Paper comparison: none of these settings has published numbers (the papers cover "
                 + ", ".join(names.values()) + ", and CIFAR-10/100-LT exp-100, imagenet_lt, inat2018 for the "
                 "newer methods)")
    columns = ["method = paper row"] + [f"{setting_label(s)} ({_column_name(s, numbers, names)})" for s in cols]
    return Table("paper", title, columns, rows, notes.items, higher_is_better=False)


def _column_name(setting, numbers, names):
    key = _paper_key(setting, numbers)
    return names[key] if key else setting[0]


def _ldam_rows(cells, ldam_cols, cols, labels, expected, notes, as_error):
    """Rows of the methods with a row in the LDAM-DRW paper (over every column; n/a outside the paper's)."""
    from bench.methods.registry import METHODS

    _, numbers, _ = load_paper()
    method_of = {c.label: c.method for c in cells.values()}
    rows = []
    for label in labels:
        method = METHODS.get(method_of.get(label))
        paper_row = method.paper_row if method else ""
        if method is None or not paper_row or not any(paper_row in numbers[_paper_key(s, numbers)] for s in ldam_cols):
            continue
        row = []
        for setting in cols:
            key = _paper_key(setting, numbers)
            paper = numbers[key].get(paper_row) if key else None
            cell, where = cells.get((setting, label)), f"{label} on {setting_label(setting)}"
            row.append(_cell_text(cell, paper, expected, notes, where, as_error))
            if paper is not None:
                _flag_transcription(method.name, setting, cell.runs if cell else [], where, notes)
        rows.append((f"{label} = {paper_row}", row))
    return rows


def _flag_ldam_recipes(cells, ldam_cols, labels, notes):
    for setting in ldam_cols:
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
