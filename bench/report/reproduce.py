"""`bench reproduce PAPER`: the runs behind a published table. The LDAM-DRW paper's (paper_ldam_drw.yaml: its
CIFAR Tables 2 and 5 and its iNaturalist Table 3, each row a bench method with that `paper_row`) and every paper
of published.yaml (its numbers' methods and settings), each cell on the authors' recipe (run.recipe=authors, the
default), so that `bench report --compare paper` puts exactly those cells beside the published numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.errors import BenchError
from bench.report.paper import load_paper, load_published

LDAM = "ldam_drw"
TABLES = {"cifar": ("cifar10_lt", "cifar100_lt"), "imagenet": ("imagenet_lt",), "inat": ("inat2018",),
          "places": ("places_lt",)}


@dataclass(frozen=True)
class Cell:
    """One published number to reproduce: a method on a dataset at a profile and ratio, with the model and the
    epochs the number was trained with."""

    setting: str
    dataset: str
    method: str
    sets: tuple[str, ...]  # the --set items that make the setting (profile, ratio) and the published model
    epochs: int
    model: str  # the published model (its model.name item ends `sets`)


def papers() -> list[str]:
    return [LDAM, *load_published()[0]]


def _label(dataset: str, profile: str | None, ratio: float | None) -> str:
    return dataset if profile is None else f"{dataset} {profile} {ratio:g}"


def _cell(key: tuple, method: str, model: str, epochs: int) -> Cell:
    """The cell of a published number; a method whose stage computation selects on validation (tau_norm) runs
    under eval.selection=best_val, as its authors' does."""
    dataset, profile, ratio = key
    sets = [] if profile is None else [f"dataset.profile={profile}", f"dataset.imbalance_ratio={ratio:g}"]
    sets += method_sets(method)
    return Cell(_label(*key), dataset, method, (*sets, f"model.name={model}"), int(epochs), model)


def method_sets(method: str) -> list[str]:
    """The --set items a method needs to run as its authors' does: a stage computation that selects on validation
    (tau_norm) runs under eval.selection=best_val."""
    from bench.methods.registry import METHODS, STAGES

    stage = STAGES["posthoc"].get(METHODS[method].stage.get("posthoc", "none"))
    return ["eval.selection=best_val"] if stage is not None and stage.needs_validation else []


def ldam_cells() -> list[Cell]:
    """The LDAM-DRW paper's numbers that a bench method reproduces (its rows' Method.paper_row), with the paper's
    model and epochs (paper.PAPER_RECIPES)."""
    from bench.methods.registry import METHODS
    from bench.report.paper import PAPER_RECIPES

    by_row = {m.paper_row: m.name for m in METHODS.values() if m.paper_row}
    out = []
    for key, rows in load_paper()[1].items():
        recipe = PAPER_RECIPES["inat2018" if key[0] == "inat2018" else "cifar"][0]
        model, epochs = str(recipe["model.name"]), int(str(recipe["train.epochs"]))
        out += [_cell(key, by_row[row], model, epochs) for row in rows if row in by_row]
    return out


def published_cells(paper: str) -> list[Cell]:
    """The numbers published.yaml gives for `paper`, each with its model and epochs."""
    return [_cell(key, method, entry["model"], entry["epochs"])
            for key, entries in load_published()[1].items() for method, entry in entries.items()
            if entry["paper"] == paper]


def cells(paper: str, table: str | None = None) -> tuple[list[Cell], list[str]]:
    """The cells of `paper`'s table (`table`: cifar, imagenet, inat or places; None: all), and a line for each
    number left out (its model is not one bench builds); BenchError naming the choices for an unknown paper or a
    table it has no number in."""
    from bench.models.registry import MODELS

    if paper not in papers():
        raise BenchError(f"no published table of {paper!r}; bench reproduces {', '.join(papers())}")
    if table is not None and table not in TABLES:
        raise BenchError(f"unknown table {table!r}; use one of {', '.join(TABLES)}")
    found = ldam_cells() if paper == LDAM else published_cells(paper)
    chosen = [c for c in found if table is None or c.dataset in TABLES[table]]
    if not chosen:
        have = sorted({t for t, datasets in TABLES.items() for c in found if c.dataset in datasets})
        raise BenchError(f"{paper} publishes no {table} number; its tables: {', '.join(have)}")
    left = [f"left out: {c.method} on {c.setting}, published with model {c.model}, which bench does not build "
            f"(bench run with --set model.name=timm:... and model.weights=... runs a stand-in)"
            for c in chosen if c.model not in MODELS]
    kept = [c for c in chosen if c.model in MODELS]
    if not kept:
        raise BenchError(f"none of {paper}'s published numbers can be reproduced here: {'; '.join(left)}")
    return kept, left


def plan_runs(chosen: list[Cell], seeds: list[int], out: str, flags: dict, sets: list[str],
              presets: Sequence[str] = (), config_files: Sequence[str] = ()) -> list:
    """The planned runs of the cells (bench.plan.runs.plan, each on the authors' recipe with the published model and,
    unless --epochs is given, the published epochs), every run once (a parent two cells share, too)."""
    from bench.plan.config import distils_parent
    from bench.plan.runs import plan

    runs: dict = {}
    for cell in chosen:
        # --epochs reaches a parent too: a distilling method's published epochs are its own (its recipe's), and its
        # teacher trains on the teacher's recipe
        own = None if distils_parent(cell.method) else cell.epochs
        cell_flags = {**flags, "train.epochs": flags.get("train.epochs") or own}
        for run in plan([cell.method], [cell.dataset], seeds, out, list(presets), list(config_files), cell_flags,
                        [*cell.sets, *sets]):
            first = runs.setdefault(run.run_dir, run)
            first.named = first.named or run.named
    return list(runs.values())


def reproduce_line(paper: str, chosen: list[Cell], seeds: list[int], runs: list, out: str) -> str:
    """What `bench reproduce` plans, in one line: numbers (methods x settings) x seeds = runs (+ parents)."""
    methods, settings = len({c.method for c in chosen}), len({c.setting for c in chosen})
    named = sum(run.named for run in runs)
    parents = f" + {len(runs) - named} parent runs" if len(runs) > named else ""
    return (f"{paper}: {len(chosen)} published numbers ({methods} method{'s' * (methods > 1)}, {settings} "
            f"setting{'s' * (settings > 1)}) x {len(seeds)} seed{'s' * (len(seeds) > 1)} = {named} runs{parents}, "
            f"each on the authors' recipe with the published model and epochs unless set otherwise; then: bench "
            f"report {out} --compare paper")
