"""Closed-world recipes: every key a run reads, compared with its authors' transcription (bench.methods.transcribed).

The keys a transcription must give are derived, never listed: every key of the resolved config except the
runtime-only ones (schema), the ones the run does not read (usage), and EXCLUDED (each with why no author sets it).
A schema key added later is therefore missing from every transcription of a run that reads it until each says
what the key is. A two-stage child's cell gives its method and stage sections (its other sections are its
parent's, which the parent's cell gives); a post-hoc child's method section is its parent's too.
"""

from __future__ import annotations

import math
from typing import Any

from bench.errors import BenchError
from bench.methods import transcribed
from bench.plan import config as config_mod
from bench.plan.experiment import RUNTIME_KEYS
from bench.plan.show import IDENTITY
from bench.plan.usage import unused_keys
from bench.runconfig import RunConfig

EXCLUDED = {
    **IDENTITY,
    "dataset.imbalance_ratio": "the cell's setting", "dataset.profile": "the cell's setting",
    "dataset.image_root": "where the image files are, not which (dataset.check_split compares the lists)",
    "dataset.split_dir": "where the split lists are, not which (dataset.check_split compares them)",
    "dataset.path_rewrite": "where the image files are, not which",
    "eval.batch_size": "how many test images are scored at once: the network is in eval mode, the numbers the same",
    "stage.posthoc": "what the method is (its declaration), not a recipe value",
    "stage.train": "what the method is (its declaration), not a recipe value",
}


def _runtime(key: str) -> bool:
    return key in RUNTIME_KEYS or key.split(".")[0] in RUNTIME_KEYS


def read_keys(cfg: RunConfig, sections: tuple[str, ...] = (), besides: tuple[str, ...] = ()) -> dict[str, Any]:
    """{dotted key: value} of the keys a transcription gives for this run (module docstring), within `sections`
    (none: all) and outside `besides`."""
    unread = unused_keys(cfg)
    return {key: value for key, value in config_mod.flatten(cfg).items()
            if not _runtime(key) and key not in EXCLUDED and key not in unread
            and (not sections or key.split(".")[0] in sections) and key.split(".")[0] not in besides}


def child_sections(cfg: RunConfig) -> tuple[str, ...]:
    """The sections a cell gives for a run: all for a one-stage run, method and stage for a trained stage 2, stage
    alone for a post-hoc computation."""
    kind = config_mod.stage_kind(cfg)
    return () if kind is None else ("stage",) if kind == "posthoc" else config_mod.CHILD_SECTIONS


def same(ours: Any, theirs: Any) -> bool:
    """Equal as config values: numbers within float rounding (a transcription's 2e-4 is YAML text: read as a number
    where bench's value is one), lists item by item."""
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(same(a, b) for a, b in zip(ours, theirs))
    if isinstance(ours, (int, float)) and not isinstance(ours, bool):
        if isinstance(theirs, str):
            try:
                theirs = float(theirs)
            except ValueError:
                return False
        if isinstance(theirs, bool) or not isinstance(theirs, (int, float)):
            return False
        return math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=0.0)
    return bool(ours == theirs) and type(ours) is type(theirs)


def compare(cell: transcribed.Cell, cfg: RunConfig, sections: tuple[str, ...] = (), what: str = "") -> list[str]:
    """What is wrong between a run and its cell: a key the run reads that the cell does not give, a value that differs
    without a declared deviation, a declared deviation where the values agree."""
    where = f"{cell.file} cell {cell.name}{what}"
    read = read_keys(cfg, sections)
    live = {entry.deviation for key, entry in cell.keys.items() if key in read}
    out = [f"{where}: {key} is declared a deviation but the run does not read it: move it to the cells whose runs do"
           for key, entry in cell.keys.items() if entry.deviation and key not in read and entry.deviation not in live
           and (not sections or key.split(".")[0] in sections)]
    for key, ours in read.items():
        entry = cell.keys.get(key)
        if entry is None:
            out.append(f"{where}: {key} is read by the run ({ours!r}) but not transcribed: give the authors' value "
                       "and where their code sets it (or their default)")
        elif not same(ours, entry.value) and not entry.deviation:
            out.append(f"{where}: {key} is {ours!r} in bench and {entry.value!r} in the authors' code "
                       f"({entry.source}): fix the recipe or declare the deviation")
        elif same(ours, entry.value) and entry.deviation:
            out.append(f"{where}: {key} is declared a deviation but bench runs the authors' {ours!r}: drop it")
    return out


def differences(method: str, setting: str, cfg: RunConfig) -> list[str]:
    """'key=OURS (the authors' THEIRS)' for every transcribed key a finished run reads whose value is not its
    authors' (a two-stage run: its parent's sections against its parent's cell); [] where the method at that
    setting is not transcribed or the config is not one this bench reads."""
    cell = transcribed.cell_of(method, setting)
    if cell is None:
        return []
    try:
        sections = child_sections(cfg)
        pairs = [(cell, read_keys(cfg, sections))]
        if sections and cell.parent in transcribed.cells():
            pairs.append((transcribed.cells()[cell.parent], read_keys(cfg, besides=config_mod.CHILD_SECTIONS)))
    except (KeyError, TypeError, BenchError):
        return []
    out = []
    for owner, keys in pairs:
        for key, ours in keys.items():
            entry = owner.keys.get(key)
            if entry is not None and not same(ours, entry.value):
                out.append(f"{key}={transcribed.flow(ours)} (the authors' {transcribed.flow(entry.value)})")
    return out


def setting_of(dataset: str, profile: str | None, ratio: float | None) -> str:
    """A cell's setting text (transcribed.parse_setting) of a dataset at a profile and ratio."""
    if profile is None or profile == "natural" or ratio is None:
        return dataset
    return f"{dataset}@{ratio:g}" + ("" if profile == "exp" else f"/{profile}")
