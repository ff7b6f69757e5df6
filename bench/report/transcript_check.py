"""The closed-world check itself: every (method, setting) that has a published number or an authors' recipe is
planned on bench's recipe and compared with its transcription (bench.report.closed, bench/methods/transcripts/);
tests/test_transcripts.py walks them all."""

from __future__ import annotations

from bench.methods import transcribed
from bench.methods.registry import METHODS
from bench.plan.runs import PlannedRun, plan
from bench.report.closed import child_sections, compare, setting_of
from bench.report.reproduce import LDAM, ldam_cells, method_sets, papers, published_cells


def planned(method: str, setting: str) -> tuple[PlannedRun, PlannedRun | None]:
    """The run of `method` at `setting` on the authors' recipe (bench's defaults otherwise), and its parent."""
    s = transcribed.parse_setting(setting)
    runs = plan([method], [s.dataset], [0], "results", [], [], {}, [*s.sets, *method_sets(method)])
    return runs[-1], (runs[0] if len(runs) > 1 else None)


def check(method: str, setting: str) -> list[str]:
    """Every problem of one (method, setting): its cell (and its parent's cell) against the planned runs."""
    cell = transcribed.cell_of(method, setting)
    if cell is None:
        return [f"{method} at {setting} has no transcription cell (bench/methods/transcripts/)"]
    child, parent = planned(method, setting)
    out = compare(cell, child.cfg, child_sections(child.cfg))
    if parent is not None:
        if not cell.parent:
            return out + [f"{cell.file} cell {cell.name}: {method} is two-stage; name its stage-1 cell (parent:)"]
        if cell.parent not in transcribed.cells():
            return out + [f"{cell.file} cell {cell.name}: parent cell {cell.parent} does not exist"]
        out += compare(transcribed.cells()[cell.parent], parent.cfg, (), f" (stage 1 of {method})")
    return out


def required() -> list[tuple[str, str]]:
    """[(method, setting)] every transcription must cover: each published number bench reproduces (the LDAM-DRW
    paper's tables and published.yaml) and each authors' recipe a method declares (at the settings it applies to)."""
    out: dict[tuple[str, str], None] = {}
    for paper in papers():
        found = ldam_cells() if paper == LDAM else published_cells(paper)
        for c in found:
            items = dict(item.split("=", 1) for item in c.sets)
            ratio = items.get("dataset.imbalance_ratio")
            out[(c.method, setting_of(c.dataset, items.get("dataset.profile"), float(ratio) if ratio else None))] = None
    for method in METHODS.values():
        for key in method.recipes:
            for setting in recipe_settings(key):
                out[(method.name, setting)] = None
    return list(out)


def recipe_settings(key: str) -> list[str]:
    """The settings a recipe key applies to: a dataset preset's datasets, a dataset, a dataset at a ratio (CIFAR-LT
    at its default ratio 100 where no ratio is named); none for a key that applies nowhere."""
    from bench.datasets.registry import DATASETS

    name, _, ratio = key.partition("@")
    found = [d for d in DATASETS.values() if name in (d.recipe, d.name)]
    return [d.name + (f"@{ratio}" if ratio else "" if d.natural else "@100") for d in found]
