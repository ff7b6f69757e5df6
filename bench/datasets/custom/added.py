"""Dataset names recorded by `bench data add FILE`: a YAML file of name -> absolute path of the dataset file, at
$BENCH_DATASETS, else $XDG_CONFIG_HOME/bench/datasets.yaml, else ~/.config/bench/datasets.yaml."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from bench.errors import BenchError
from bench.store import yamltext
from bench.store.atomic import atomic_write_text
from bench.store.textfiles import read_text


def registry_file() -> Path:
    if os.environ.get("BENCH_DATASETS"):
        return Path(os.environ["BENCH_DATASETS"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "bench" / "datasets.yaml"


def added() -> dict[str, str]:
    path = registry_file()
    if not path.is_file():
        return {}
    try:
        data = yamltext.load(read_text(path, "dataset names file")) or {}
    except Exception:  # noqa: BLE001 - a hand-edited file that no longer parses
        raise BenchError(f"{path} is not a YAML mapping of dataset names to files; fix or delete it") from None
    if not isinstance(data, dict):
        raise BenchError(f"{path} is not a YAML mapping of dataset names to files; fix or delete it")
    return {str(k): str(v) for k, v in data.items()}


def add(name: str, file: Path) -> Path:
    """Record `name` -> `file` (replacing an earlier entry of that name); the registry file's path."""
    names = added()
    names[name] = str(file)
    path = registry_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# dataset names recorded by `bench data add`: name -> dataset YAML file\n" + yaml.safe_dump(
        dict(sorted(names.items())), default_flow_style=False)
    atomic_write_text(path, text)
    return path
