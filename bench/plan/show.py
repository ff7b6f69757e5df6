"""`bench config`: what exactly a run will be. The resolved config as YAML, each value with the layer it came from
(a default, the dataset's preset, the method, the authors' recipe for the dataset or ratio, a user preset, a
config file, a command-line flag, --set, bench's checks); keys the run does not read are shown commented out with
why, as are the run's identity keys. The output is a config file: `--config` on it plans the same run id. A
two-stage method's parent follows, commented out (it is planned from the same layers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from bench.errors import BenchError
from bench.methods.registry import METHODS
from bench.plan import config as config_mod
from bench.plan.runs import PlannedRun, parent_sets, plan
from bench.plan.usage import unused_keys
from bench.runconfig import RunConfig

IDENTITY = {"method.name": "--method", "dataset.name": "--dataset", "train.seed": "--seed",
            "stage.parent": "planned for a two-stage method", "train.world_size": "how the run is launched",
            "dataset.file": "--dataset (a dataset YAML file)", "dataset.fingerprint": "--dataset (its data)"}


def value_text(value: Any) -> str:
    """One YAML flow value, as a config file reads it back (bench.store.yamltext)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...").strip()


def left_out(cfg: RunConfig, parent: RunConfig | None) -> dict[str, str]:
    """{dotted key: why} of the keys a config file must not set for this run: its identity, what it does not read,
    and for a two-stage child what a config file would also set in its parent (every key outside the method and
    stage sections reaches the parent: the ones whose values differ come from each run's own layers) or, computed
    without training, its method section (its parent's)."""
    out = dict(IDENTITY)
    out.update({key: f"not read: {why}" for key, why in unused_keys(cfg).items() if key not in out})
    if parent is None:
        return out
    mine, theirs, unread = config_mod.flatten(cfg), config_mod.flatten(parent), unused_keys(parent)
    for key, value in mine.items():
        section = key.split(".")[0]
        if section == "method" and config_mod.stage_kind(cfg) == "posthoc":
            out.setdefault(key, "computed from its parent's files: the parent's method section is the one trained")
        elif section in config_mod.CHILD_SECTIONS:
            continue
        elif value != theirs[key]:
            out.setdefault(key, f"its own layers give it; its parent has {value_text(theirs[key])}, which a "
                                "config file would overwrite")
        elif key in unread:
            out.setdefault(key, f"its parent does not read it: {unread[key]}")
    return out


def config_lines(cfg: RunConfig, origin: dict[str, str], parent: RunConfig | None = None) -> list[str]:
    """The config as YAML lines: `key: value  # where it came from`, the keys a config file must not set commented
    out with why (left_out)."""
    skipped = left_out(cfg, parent)
    lines = []
    sections: Mapping[str, Any] = cfg
    for section, values in sections.items():
        lines.append(f"{section}:")  # with every key commented out it reads as an empty section
        width = max(len(f"{key}: {value_text(value)}") for key, value in values.items())
        for key, value in values.items():
            dotted, text = f"{section}.{key}", f"{key}: {value_text(value)}"
            if dotted in skipped:
                lines.append(f"  # {text:<{width}}  # {skipped[dotted]}")
            else:
                lines.append(f"  {text:<{width}}    # {origin.get(dotted, 'default')}")
    return lines


def show_config(method: str, dataset: str, seed: int, presets: list[str], config_files: list[str],
                flags: dict[str, Any], sets: list[str], out: str = "results") -> str:
    """The text `bench config` prints: the run's config, then its parent's (commented out) for a two-stage method."""
    if "," in method or "," in dataset:
        raise BenchError("bench config shows one run: give one --method and one --dataset (bench run takes lists)")
    runs = plan([method], [dataset], [seed], out, presets, config_files, flags, sets)
    child = runs[-1]
    origin: dict[str, str] = {}
    config_mod.resolve(method, dataset, seed, presets, config_files, flags, sets, origin=origin)
    again = f" --epochs {flags['train.epochs']}" if flags.get("train.epochs") else ""
    text = [f"# bench config: {method} on {dataset}, seed {seed}: run {child.run_dir.name}",
            f"# the same run: bench run --methods {method} --datasets {dataset} --seeds {seed}{again} --config FILE",
            *config_lines(child.cfg, origin, runs[0].cfg if len(runs) > 1 else None)]
    parent = METHODS[method].parent
    if parent and len(runs) > 1:
        text += ["", *parent_text(runs[0], parent, dataset, seed, presets, config_files, flags, sets)]
    return "\n".join(text) + "\n"


def parent_text(run: PlannedRun, parent: str, dataset: str, seed: int, presets: list[str], config_files: list[str],
                flags: dict[str, Any], sets: list[str]) -> list[str]:
    origin: dict[str, str] = {}
    config_mod.resolve(parent, dataset, seed, presets, config_mod.parent_config_files(config_files), flags,
                       parent_sets(sets), origin=origin)
    head = [f"# its parent: {parent} on {dataset}, seed {seed}: run {run.run_dir.name} (planned from the same layers "
            "without the child's method and stage keys)"]
    return head + [f"# {line}" for line in config_lines(run.cfg, origin)]
