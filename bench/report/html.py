"""`bench report --html`: one self-contained page (no network: styles, script and SVG figures inline).

The page holds the report's tables (sortable: click a column header; mean ± sd in the cell, the 95%
interval on hover, every missing cell's reason in the notes under its table), the figures of every
dataset setting (per-class accuracy vs class size, shot-group bars, learning curves) and, one click
away, each finished run: config, provenance, per-class table and confusion matrix. It is rendered
from bench/report/report.html.j2 with Jinja2 (autoescaped); the figures are matplotlib SVG.
A `#sort=<table>:<column>[:asc]` address clicks a table's sort control on load (how the browser test
drives it).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import yaml

from bench.report import plots as figures
from bench.report.collect import setting_label
from bench.report.tables import note_text

TEMPLATE = "report.html.j2"
CONFUSION_MAX_CLASSES = 100  # above this a confusion matrix is unreadable as a figure: left out, said so
CONFUSION_MAX_RUNS = 60  # matrices drawn for the first runs only: a 1,000-run sweep's page stays quick and small


def _table(table):
    rows = []
    for label, entries in table.rows:
        cells = [{"text": e.text, "detail": e.detail or "", "strong": e.strong,
                  "key": "" if e.mean is None or math.isnan(e.mean) else repr(float(e.mean))} for e in entries]
        rows.append({"label": label, "cells": cells})
    return {"name": table.name, "title": table.title, "columns": table.columns, "rows": rows,
            "notes": [note_text(n) for n in table.notes]}


def _run_detail(run, sink, select, draw_confusion=True):
    result = run.result
    block = result.get(select) or result.get("last") or {}
    names = result.get("class_names") or [str(c) for c in range(len(result["train_class_counts"]))]
    per_class = [{"name": n, "train": t, "test": te, "acc": a}
                 for n, t, te, a in zip(names, result["train_class_counts"], result.get("test_class_counts") or
                                        [None] * len(names), block.get("per_class_acc") or [None] * len(names))]
    confusion, why = None, ""
    if not draw_confusion:
        why = (f"the page draws the first {CONFUSION_MAX_RUNS} runs' matrices; `bench report ... --out DIR "
               f"--confusion {run.run_dir}` draws this one")
    elif len(names) > CONFUSION_MAX_CLASSES:
        why = f"{len(names)} classes: too many for a readable matrix (predictions.npz has them)"
    else:
        try:
            figures.confusion(run.run_dir, sink)
            confusion = sink.take(f"confusion_{run.run_dir.name}")
        except Exception as exc:  # noqa: BLE001 - a run without usable predictions still gets its detail
            why = str(exc)
    env = result.get("env") or {}
    provenance = {"env": env, "timing": result.get("timing"), "data": result.get("data"),
                  "selection": result.get("selection"), "parent": result.get("parent")}
    provenance = {k: v for k, v in provenance.items() if v is not None}  # a one-stage run has no parent
    return {"id": run.run_dir.name, "method": run.method, "dataset": run.dataset, "seed": run.seed,
            "top1": block.get("top1"), "epoch": block.get("epoch"), "folder": str(run.run_dir),
            "config": yaml.safe_dump(shown_config(result.get("config", {})), sort_keys=False),
            "provenance": yaml.safe_dump(_rounded(provenance), sort_keys=False),
            "per_class": per_class, "confusion": confusion, "confusion_missing": why}


def shown_config(cfg):
    """The run's config as a reader needs it: the keys that can act on this run. Left out: method
    hyper-parameters none of its parts uses, the stage section of a one-stage run, the runtime section, and
    every key the run does not use (bench/plan/usage.py: the keys of the other kind of dataset, a zero-shot run's
    training keys, ...)."""
    from bench.plan.config import stage_kind
    from bench.report.collect import _unused, unused_method_keys

    try:
        unused = {f"method.{k}" for k in unused_method_keys(cfg)} | set(_unused(cfg))
        two_stage = stage_kind(cfg) is not None
        image_list = cfg["dataset"]["profile"] == "natural"
        unused |= {"dataset.imbalance_ratio"} if image_list else set()  # a published split: no ratio
    except (KeyError, TypeError):
        return cfg  # not a config this bench wrote whole: show it as it is
    shown = {}
    for section, values in cfg.items():
        if section == "run" or (section == "stage" and not two_stage) or (section == "loader" and not image_list):
            continue
        if isinstance(values, dict):
            values = {k: v for k, v in values.items() if f"{section}.{k}" not in unused}
        shown[section] = values
    return shown


def _rounded(value):
    """Provenance for reading: floats to 4 significant digits (seconds, images/s); everything else as is."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


WIDE_PT = 600  # a figure wider than this (panels side by side) gets a row of the page to itself


def _wide(svg):
    import re

    found = re.search(r"max-width: ([\d.]+)pt", svg[: svg.index(">")])
    return found is not None and float(found.group(1)) > WIDE_PT


def render(runs, cells, tables, settings, labels, select, folders, summary_line, selection, datasets=""):
    """The page as a string; `datasets`: the summaries of the dataset files' data (bench.report.build.data_headers)."""
    import jinja2

    sink = figures.SvgSink()
    settings_view = []
    for setting in settings:
        shown = []
        for kind, draw in (("per-class accuracy vs training images", figures.per_class_plot),
                           ("accuracy by shot group", figures.shot_bars)):
            draw(cells, setting, labels, select, sink, kind)
            shown.append((kind, sink.take(kind)))
        figures.curves(cells, setting, labels, sink, "curves")
        shown.append(("learning curves", sink.take("curves")))
        if any(t.name.startswith("priors_") for t in tables):  # --priors: its plot beside its table
            figures.prior_lines(cells, setting, labels, select, sink, "priors")
            shown.append(("accuracy under shifted test priors", sink.take("priors")))
        settings_view.append({"label": setting_label(setting),
                              "figures": [(k, svg, _wide(svg)) for k, svg in shown if svg]})
    done = [run for run in sorted(runs, key=lambda r: (r.dataset, r.method, r.seed)) if run.status == "done"]
    details = [_run_detail(run, sink, select, draw_confusion=i < CONFUSION_MAX_RUNS) for i, run in enumerate(done)]
    env = jinja2.Environment(loader=jinja2.PackageLoader("bench.report", "."), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template(TEMPLATE).render(
        summary=summary_line, selection=selection, folders=[str(f) for f in folders], datasets=datasets,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), tables=[_table(t) for t in tables],
        settings=settings_view, runs=details)


def write(path, page):
    from bench.store.results import atomic_write_text

    atomic_write_text(Path(path), page)
    return Path(path)
