"""Closed-world recipes: every run behind a published number or an authors' recipe reads exactly its authors' values
(bench/methods/transcripts/), but for the deviations each transcription declares; the keys compared are derived from
the schema, so a key added later fails here until every transcription says what it is."""

import copy

import pytest

from bench.errors import BenchError
from bench.methods import transcribed
from bench.methods.registry import METHODS, PARTS
from bench.plan.runs import plan
from bench.plan.schema import BY_NAME
from bench.report import closed, transcript_check

REQUIRED = transcript_check.required()


@pytest.mark.parametrize("method", sorted({m for m, _ in REQUIRED}, key=list(METHODS).index))
def test_every_cell_is_transcribed_and_agrees(method):
    problems = [p for m, setting in REQUIRED if m == method for p in transcript_check.check(m, setting)]
    assert problems == []


def test_the_required_cells_are_the_published_numbers_and_the_recipes():
    assert ("ldam_drw", "cifar100_lt@10/step") in REQUIRED  # the LDAM-DRW paper's Table 2 / 5
    assert ("ldam_drw", "inat2018") in REQUIRED  # its Table 3
    assert ("sade_tta", "imagenet_lt") in REQUIRED  # published.yaml
    assert ("erm_sam", "cifar100_lt@100") in REQUIRED  # a recipe without a published number
    assert ("mislas", "cifar10_lt@50") in REQUIRED  # a ratio's recipe
    assert ("lift", "fashion_mnist_lt@100") in REQUIRED  # a preset's recipe on every dataset that has the preset


def test_every_recipe_key_applies_to_some_dataset():
    dead = [f"{m.name}: {key}" for m in METHODS.values() for key in m.recipes
            if not transcript_check.recipe_settings(key)]
    assert dead == []


def test_transcriptions_are_well_formed():
    """Sources given, methods and keys known, every cell used: a method cell covers a required pair, a base cell is
    extended or a parent."""
    cells = transcribed.cells()
    keys = set(BY_NAME) | {f"method.{p}" for p in PARTS.params} | {f"method.{k}" for k in PARTS.kinds}
    needed = set(REQUIRED)
    used = {c.parent for c in cells.values()} | {c.extends for c in cells.values()}
    problems = []
    for cell in cells.values():
        problems += [f"{cell.name}: unknown method {m}" for m in cell.methods if m not in METHODS]
        problems += [f"{cell.name}: unknown key {k}" for k in cell.keys if k not in keys]
        problems += [f"{cell.name}: {k} has no source" for k, e in cell.keys.items() if "TODO" in e.source]
        for s in cell.settings:
            transcribed.parse_setting(s)
        if cell.methods and not any((m, s) in needed for m in cell.methods for s in cell.settings):
            problems.append(f"{cell.name} transcribes no required cell")
        if not cell.methods and cell.name not in used:
            problems.append(f"{cell.name} is neither extended nor a parent")
    assert problems == []


def test_a_key_added_to_the_schema_is_missing_from_every_transcription():
    child, _ = transcript_check.planned("ldam_drw", "cifar10_lt@100")
    cell = transcribed.cell_of("ldam_drw", "cifar10_lt@100")
    assert closed.compare(cell, child.cfg) == []
    cfg = copy.deepcopy(child.cfg)
    cfg["train"]["label_smoothing"] = 0.1  # type: ignore[typeddict-unknown-key]
    assert closed.compare(cell, cfg) == [f"{cell.file} cell {cell.name}: train.label_smoothing is read by the run "
                                         "(0.1) but not transcribed: give the authors' value and where their code "
                                         "sets it (or their default)"]


def test_a_recipe_value_changed_or_a_stale_deviation_is_caught():
    child, _ = transcript_check.planned("ldam_drw", "cifar10_lt@100")
    cell = transcribed.cell_of("ldam_drw", "cifar10_lt@100")
    cfg = copy.deepcopy(child.cfg)
    cfg["train"]["lr"] = 0.2
    (problem,) = closed.compare(cell, cfg)
    assert "train.lr is 0.2 in bench and 0.1 in the authors' code" in problem
    declared = transcribed.Cell(cell.name, cell.file, cell.methods, cell.settings,
                                {**cell.keys, "train.lr": transcribed.Entry(0.1, "x", "a reason")})
    assert closed.compare(declared, cfg) == []
    (stale,) = closed.compare(declared, child.cfg)
    assert "train.lr is declared a deviation but bench runs the authors' 0.1" in stale


def test_values_compare_as_config_values():
    assert closed.same(0.0002, "2e-4") and closed.same(2e-4, 0.0002) and closed.same(200, 200.0)
    assert not closed.same(1, True) and not closed.same(0.1, 0.10001) and not closed.same("step", "cosine")
    assert closed.same([160, 180], [160, 180]) and not closed.same([160, 180], [160])


def test_settings_parse():
    assert transcribed.parse_setting("cifar100_lt@10/step") == transcribed.Setting("cifar100_lt", 10.0, "step")
    assert transcribed.parse_setting("cifar10_lt@100").sets == ["dataset.profile=exp", "dataset.imbalance_ratio=100"]
    assert transcribed.parse_setting("inat2018").sets == []
    with pytest.raises(Exception, match="dataset\\[@ratio\\]"):
        transcribed.parse_setting("cifar10_lt-100")


def test_a_finished_run_lists_the_keys_where_it_differs_from_its_authors():
    child, _ = transcript_check.planned("ldam_drw", "cifar10_lt@100")
    cfg = copy.deepcopy(child.cfg)
    assert closed.differences("ldam_drw", "cifar10_lt@100", cfg) == \
        [f"{k}={transcribed.flow(v)} (the authors' {transcribed.flow(e.value)})" for k, v, e in _declared(cfg)]
    cfg["train"]["lr"] = 0.2
    assert "train.lr=0.2 (the authors' 0.1)" in closed.differences("ldam_drw", "cifar10_lt@100", cfg)
    assert closed.differences("ldam_drw", "no_such_dataset", cfg) == []


def _declared(cfg):
    cell = transcribed.cell_of("ldam_drw", "cifar10_lt@100")
    return [(k, v, cell.keys[k]) for k, v in closed.read_keys(cfg).items() if cell.keys[k].deviation]


def test_deviations_name_the_restoring_setting():
    lines = [transcribed.deviation_line(*d) for m in METHODS for d in transcribed.deviations(m)]
    assert lines and all("(--set " in line or "no setting" in line for line in lines)
    (line,) = [transcribed.deviation_line(*d) for d in transcribed.deviations("resample")
               if d[1] == [("method.sampler", "instance")]]
    assert line.startswith("the authors' method.sampler=instance on cifar10_lt@100, @10, @100/step, @10/step; "
                           "cifar100_lt@100, @10, @100/step, @10/step: the official script builds")
    assert line.endswith("(--set method.sampler=instance)")


def test_the_recipe_listing_and_its_page_carry_every_declared_deviation():
    from bench.methods.describe import recipes_page

    page = recipes_page()
    assert all(transcribed.deviation_line(*d) in page for m in METHODS for d in transcribed.deviations(m))


def test_every_printed_restore_plans_and_gives_the_authors_values():
    """The --set items each deviation line prints, applied together on each of its settings, plan, and the run then
    differs from its authors on none of those keys: the restores bench prints work as printed."""
    from bench.report.reproduce import method_sets

    broken = []
    for method in METHODS:
        for settings, keys, why in transcribed.deviations(method):
            if "no setting" in why:
                continue
            items = [item.removeprefix("--set ") for item in transcribed.restore_items(keys)]
            for setting in settings:
                s = transcribed.parse_setting(setting)
                try:
                    run = plan([method], [s.dataset], [0], "results", sets=[*s.sets, *method_sets(method), *items])[-1]
                except BenchError as exc:
                    broken.append(f"{method} at {setting} with {items}: {exc}")
                    continue
                left = [d for d in closed.differences(method, setting, run.cfg)
                        if d.split("=")[0] in {k.removeprefix("stage 1 ") for k, _ in keys}]
                broken += [f"{method} at {setting} with {items} still differs: {d}" for d in left]
    assert broken == []
