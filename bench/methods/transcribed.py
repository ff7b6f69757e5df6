"""The authors' training configs, transcribed key by key from their official code (bench/methods/transcripts/*.yaml):
the closed-world side of every recipe. A method's recipe (bench/methods/<name>.py) says what bench runs; its
transcription says what the authors ran, each value with the file and line it was read from, or "their default:"
where their code leaves a key to a library or argparse default. tests/test_transcripts.py plans every cell (method x
setting) and asserts that the resolved config equals the transcription on every key the run reads; a key where it
does not is a declared deviation: a third item giving the reason, `--set key=VALUE` restoring the authors' value
(bench list recipes, docs/recipes.md and `bench report --compare paper` list them).

A file:

    repository: owner/name        # the official code
    commit: 40 hex digits         # the snapshot the lines refer to
    cells:
      NAME:                       # unique over every file
        extends: OTHER            # optional: start from another cell's keys and settings (any file)
        methods: [m1, m2]         # the bench methods it transcribes (none: a base other cells extend)
        settings: [cifar10_lt@100, cifar10_lt@10/step, inat2018]   # dataset[@ratio][/profile]
        parent: OTHER             # a two-stage method: the cell of its stage-1 run (it covers the parent's keys)
        keys:
          train.lr: [0.1, "cifar_train.py:45 (--lr default)"]
          eval.selection: [best_test, "cifar_train.py:262 best_acc1 = max(acc1, best_acc1)", "WHY bench differs"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError

FOLDER = Path(__file__).with_name("transcripts")
SETTING = re.compile(r"^(?P<dataset>[a-z0-9_]+)(?:@(?P<ratio>[0-9.]+))?(?:/(?P<profile>exp|step))?$")


@dataclass(frozen=True)
class Entry:
    value: Any  # the authors' value, in bench's terms
    source: str  # file:line in the official repository, or "their default: ..."
    deviation: str = ""  # why bench runs another value ("" where bench runs the authors')


@dataclass(frozen=True)
class Cell:
    name: str
    file: str
    methods: tuple[str, ...]
    settings: tuple[str, ...]
    keys: dict[str, Entry] = field(default_factory=dict)
    parent: str = ""
    repository: str = ""
    extends: str = ""


@dataclass(frozen=True)
class Setting:
    """A cell's setting: a dataset, and for a long-tailed draw its profile and ratio."""

    dataset: str
    ratio: float | None
    profile: str | None

    @property
    def sets(self) -> list[str]:
        """The --set items that make it (none: the dataset's defaults)."""
        out = [] if self.profile is None else [f"dataset.profile={self.profile}"]
        return out + ([] if self.ratio is None else [f"dataset.imbalance_ratio={self.ratio:g}"])


def parse_setting(text: str) -> Setting:
    found = SETTING.match(text)
    if found is None:
        raise BenchError(f"transcription setting {text!r} is not dataset[@ratio][/profile] (e.g. cifar10_lt@100/step)")
    ratio = found["ratio"]
    return Setting(found["dataset"], float(ratio) if ratio else None,
                   found["profile"] or ("exp" if ratio else None))


def _entry(where: str, key: str, item: Any) -> Entry:
    if not isinstance(item, list) or len(item) not in (2, 3) or not all(isinstance(x, str) and x for x in item[1:]):
        raise BenchError(f"{where}: {key} must be [VALUE, SOURCE] or [VALUE, SOURCE, DEVIATION], with non-empty "
                         f"texts; it is {item!r}")
    return Entry(item[0], item[1], item[2] if len(item) == 3 else "")


def _read(path: Path) -> dict[str, dict]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or set(data) != {"repository", "commit", "cells"}:
        raise BenchError(f"{path.name}: a transcription file has exactly repository, commit and cells")
    out = {}
    for name, raw in data["cells"].items():
        unknown = set(raw) - {"extends", "methods", "settings", "parent", "keys"}
        if unknown:
            raise BenchError(f"{path.name}: cell {name} has unknown fields {sorted(unknown)}")
        out[name] = dict(raw, file=path.name, repository=data["repository"])
    return out


@cache
def cells() -> dict[str, Cell]:
    """Every cell of every transcription file, `extends` resolved (a cell's own keys over its base's)."""
    raw: dict[str, dict] = {}
    for path in sorted(FOLDER.glob("*.yaml")):
        for name, cell in _read(path).items():
            if name in raw:
                raise BenchError(f"transcription cell {name} is in {raw[name]['file']} and {cell['file']}")
            raw[name] = cell

    def resolved(name: str, seen: tuple = ()) -> Cell:
        if name not in raw:
            raise BenchError(f"transcription cell {seen[-1] if seen else name} extends unknown cell {name}")
        if name in seen:
            raise BenchError(f"transcription cells extend in a circle: {' -> '.join((*seen, name))}")
        cell = raw[name]
        base = resolved(cell["extends"], (*seen, name)) if cell.get("extends") else None
        keys = dict(base.keys) if base else {}
        keys.update({k: _entry(f"{cell['file']} cell {name}", k, v) for k, v in (cell.get("keys") or {}).items()})
        return Cell(name, cell["file"], tuple(cell.get("methods") or ()),
                    tuple(cell.get("settings") or (base.settings if base else ())), keys,
                    cell.get("parent") or (base.parent if base else ""), cell["repository"], cell.get("extends") or "")

    return {name: resolved(name) for name in raw}


def cell_of(method: str, setting: str) -> Cell | None:
    """The cell transcribing `method` at `setting` (None: not transcribed)."""
    found = [cell for cell in cells().values() if method in cell.methods and setting in cell.settings]
    if len(found) > 1:
        raise BenchError(f"{method} at {setting} is transcribed twice: cells {', '.join(c.name for c in found)}")
    return found[0] if found else None


def deviations(method: str) -> list[tuple[list[str], list[tuple[str, Any]], str]]:
    """[(settings, [(key, the authors' value)], why)] of the keys where bench deliberately runs `method` on another
    value than its authors (its cells and its parent cells: "stage 1 KEY"), the keys one reason covers on the same
    settings together (restored together)."""
    found: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}
    for key, value, why, settings in _declared(method):
        found.setdefault((tuple(settings), why), {})[key] = value
    return [(list(settings), list(keys.items()), why) for (settings, why), keys in found.items()]


def _declared(method: str) -> list[tuple[str, Any, str, list[str]]]:
    """[(key, the authors' value, why, settings)] of every declared deviation of `method`'s cells, each once."""
    out: dict[tuple[str, str, str], list[str]] = {}
    for cell in cells().values():
        if method not in cell.methods:
            continue
        chain = [(cell, "")] + ([(cells()[cell.parent], "stage 1 ")] if cell.parent in cells() else [])
        for owner, prefix in chain:
            for key, entry in owner.keys.items():
                if entry.deviation:
                    out.setdefault((prefix + key, flow(entry.value), entry.deviation), []).extend(cell.settings)
    return [(key, yaml.safe_load(value), why, list(dict.fromkeys(settings)))
            for (key, value, why), settings in out.items()]


def settings_text(settings: list[str]) -> str:
    """'cifar10_lt@100, @10/step; inat2018': the settings, each dataset named once."""
    by_dataset: dict[str, list[str]] = {}
    for setting in settings:
        dataset = parse_setting(setting).dataset
        by_dataset.setdefault(dataset, []).append(setting.removeprefix(dataset))
    return "; ".join(dataset + ", ".join(rest) for dataset, rest in by_dataset.items())


def flow(value: Any) -> str:
    """A value as one YAML flow item (a config file and --set read it back)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def restore_items(keys: list[tuple[str, Any]]) -> list[str]:
    """The --set items that give bench the authors' values of `keys` (no spaces: one shell word each)."""
    return [f"--set {key.removeprefix('stage 1 ')}={flow(value).replace(', ', ',')}" for key, value in keys]


def deviation_line(settings: list[str], keys: list[tuple[str, Any]], why: str) -> str:
    """One declared deviation: the keys with the authors' values, where, why bench differs, and the settings that
    restore them (none where the reason says "no setting")."""
    theirs = ", ".join(f"{key}={flow(value)}" for key, value in keys)
    restore = "" if "no setting" in why else " (" + " ".join(restore_items(keys)) + ")"
    return f"the authors' {theirs} on {settings_text(settings)}: {why}{restore}"
