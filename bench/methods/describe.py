"""`bench list methods` and `bench list parts`: the registries as text (no torch)."""

from __future__ import annotations

from bench.methods import transcribed
from bench.methods.registry import METHODS, PARTS, STAGES
from bench.parts.part import DEFAULT_PART, KINDS


def _value(value):
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def flatten(recipe):
    """{"train.lr": 0.1, ...} of a recipe's sections."""
    return {f"{section}.{key}": value for section, keys in recipe.items() for key, value in keys.items()}


def method_parts(method):
    """{kind: part name} of a registered method, defaults filled in."""
    return {kind: method.parts.get(kind, DEFAULT_PART[kind]) for kind in KINDS}


def describe_methods():
    width = max(len(name) for name in METHODS)
    lines = []
    for method in METHODS.values():
        parts = method_parts(method)
        head = parts["head"]
        if head == "auto":
            head = f"auto ({PARTS.get('loss', parts['loss']).head})"
        shown = ", ".join(f"{kind} {head if kind == 'head' else parts[kind]}" for kind in KINDS)
        params = [(p.key, method.parts.get(p.key, p.default)) for kind in KINDS
                  for p in PARTS.get(kind, parts[kind]).params]
        params = list(dict(params).items())  # beta of weights cb and sampler class_balanced once
        row = method.description + (f" [paper row: {method.paper_row}]" if method.paper_row else "")
        lines.append(f"{method.name:<{width}}  {row}")
        if method.parent:
            stage = ", ".join(f"stage.{k}={_value(v)}" for k, v in method.stage.items())
            if method.stage.get("posthoc", "none") != "none":
                lines.append(f"{'':<{width}}    two-stage: computed from a finished {method.parent} run; {stage}")
                lines += _recipe_lines(method, width)
                continue
            lines.append(f"{'':<{width}}    two-stage: trained on a finished {method.parent} run; {stage}")
        if method.train:
            fixed = ", ".join(f"train.{k}={_value(v)}" for k, v in method.train.items())
            lines.append(f"{'':<{width}}    recipe: {fixed}")
        lines += _recipe_lines(method, width)
        lines.append(f"{'':<{width}}    parts: {shown}")
        if parts["algorithm"] != DEFAULT_PART["algorithm"]:
            lines.append(f"{'':<{width}}    code: {PARTS.get('algorithm', parts['algorithm']).source}")
        if params:
            lines.append(f"{'':<{width}}    hyper-parameters: "
                         + ", ".join(f"method.{key}={_value(value)}" for key, value in params))
    return "\n".join(lines)


def describe_parts():
    lines = []
    for kind in KINDS:
        lines.append(f"{kind} (method.{kind}, default {DEFAULT_PART[kind]}):")
        registry = PARTS.kinds[kind]
        width = max(len(name) for name in registry)
        for part in registry.values():
            lines.append(f"  {part.name:<{width}}  {part.doc}" + (f" [{part.source}]" if part.source else ""))
            for p in part.params:
                allowed = (f"one of {', '.join(p.choices)}" if p.choices else p.phrase) or "any"
                lines.append(f"  {'':<{width}}    method.{p.key} = {_value(p.default)} ({allowed}): {p.doc}"
                             + (f" [default from {p.source}]" if p.source else " [default: bench's choice]")
                             + (f" [bench tune: {p.search.describe()}]" if p.search else ""))
    return "\n".join(lines + _stage_lines())


def _stage_lines() -> list[str]:
    """The stage computations two-stage methods name (stage.posthoc, stage.train) and the stage settings each reads."""
    lines = []
    for key, registry in STAGES.items():
        lines.append(f"stage.{key} (two-stage methods; default none):")
        width = max(len(value) for value in registry)
        for stage in registry.values():
            reads = f" [reads stage.{', stage.'.join(stage.reads)}]" if stage.reads else ""
            lines.append(f"  {stage.value:<{width}}  {stage.doc}{reads}")
    return lines


def _recipe_lines(method, width):
    if not method.recipes:
        return []
    return [f"{'':<{width}}    authors' recipes ({method.recipe_source}): " + "; ".join(
        f"{preset}: {_settings(recipe)}" for preset, recipe in method.recipes.items())]


def _settings(recipe):
    """A recipe's settings; an empty one is the method's own values (the authors' recipe at that dataset)."""
    return ", ".join(f"{k}={_value(v)}" for k, v in flatten(recipe).items()) or "the method's own values"


def recipe_cell(method, dataset):
    """Which recipe a method runs on a dataset: its authors' (for the dataset's preset, the dataset, the dataset at
    an imbalance ratio), the stage-2 recipe in its file, or the dataset's shared preset."""
    general = [_settings(method.recipes[k]) for k in method.recipe_keys(dataset.recipe, dataset.name)]
    ratios = [f"ratio {k.split('@', 1)[1]}: {_settings(v)}" for k, v in method.recipes.items()
              if k.startswith(f"{dataset.name}@")]
    if ratios:
        rest = "the shared preset" + (" with the settings above" if general else "")
        return f"authors' ({'; '.join(general + ratios)}; other ratios and the step profile: {rest})"
    if general:
        return f"authors' ({'; '.join(general)})"
    if method.parent and method.stage:
        return "its stage recipe over the parent's run"
    return f"shared preset {dataset.recipe}"


def recipe_entries() -> list[tuple]:
    """[(method, source, [(datasets, cell)], deviations)] of every method: the one declaration `bench list recipes`,
    docs/recipes.md and the paper comparison's notes read."""
    from bench.datasets.registry import DATASETS

    entries = []
    for method in METHODS.values():
        source = method.recipe_source or ("the method's file" if method.parent else "")
        cells: dict = {}
        for dataset in DATASETS.values():
            cells.setdefault(recipe_cell(method, dataset), []).append(dataset.name)
        if all(cell.startswith("shared preset") for cell in cells):
            cells = {"the dataset's shared recipe preset (bench list datasets)": ["every dataset"]}
        entries.append((method.name, "; ".join(x for x in (source, _transcribed_in(method.name)) if x),
                        [(", ".join(names), cell) for cell, names in cells.items()],
                        list(method.deviations) + [transcribed.deviation_line(*d)
                                                   for d in transcribed.deviations(method.name)]))
    return entries


def _transcribed_in(method: str) -> str:
    """Where the authors' configs of `method` are transcribed key by key (bench/methods/transcripts/)."""
    found = {f"{c.file} ({c.repository})": None for c in transcribed.cells().values() if method in c.methods}
    return f"transcribed key by key: bench/methods/transcripts/{', '.join(found)}" if found else ""


SHARED_NOTE = "run.recipe=shared runs every method on the dataset's shared recipe instead (apples to apples)."


def describe_recipes() -> str:
    """`bench list recipes`: for every method and dataset, which recipe applies and where it comes from, and each
    deliberate deviation from the official code with the setting that restores it."""
    lines = []
    for name, source, cells, deviations in recipe_entries():
        lines.append(name + (f"  [{source}]" if source else ""))
        lines += [f"    {datasets}: {cell}" for datasets, cell in cells]
        lines += [f"    deviation: {d}" for d in deviations]
    lines.append(SHARED_NOTE)
    return "\n".join(lines)


def recipes_page() -> str:
    """docs/recipes.md, written by `python -m bench.methods.describe > docs/recipes.md` (tests/test_docs.py checks
    it is current): the same declarations as `bench list recipes`, as a page."""
    lines = ["# Recipes and deviations", "",
             "<!-- generated by `python -m bench.methods.describe > docs/recipes.md` from the method declarations "
             "(bench/methods/); do not edit -->", "",
             "Which recipe each method runs on each dataset (the authors', from the source named, or the dataset's "
             "shared preset), and every deliberate deviation from the official code with the setting that restores "
             "the official behaviour (\"no setting\" where none can). The deviations of the form \"the authors' "
             "KEY=VALUE on SETTINGS\" come from the key-by-key transcriptions of the official code in "
             "bench/methods/transcripts/ "
             "(tests/test_transcripts.py checks every run behind a published number against them). `bench list "
             "recipes` prints the same; `bench config` shows the resolved values of one run and the layer each came "
             "from.", "", SHARED_NOTE]
    for name, source, cells, deviations in recipe_entries():
        lines += ["", f"## `{name}`", ""]
        if source:
            lines += [f"Source: {source}", ""]
        lines += [f"- {datasets}: {cell}" for datasets, cell in cells]
        if deviations:
            lines += ["", "Deviations:", ""] + [f"- {d}" for d in deviations]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(recipes_page(), end="")
