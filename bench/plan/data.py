"""`bench data add FILE` (a name for a dataset YAML file) and `bench data describe DATASET` (its numbers as a run
loads them: bench/datasets/custom/summary.py)."""

from __future__ import annotations

from pathlib import Path

from bench.errors import BenchError


def add_dataset(file: str, replace: bool = False) -> str:
    """Check the dataset file (its data is read: bad data fails here) and record its name (name: in it, else the file
    name) for --datasets; the line to print. A name recorded for another file is kept unless `replace`."""
    from bench.datasets.custom.added import add, added
    from bench.datasets.registry import forget, is_file_name, lookup

    if not is_file_name(file):
        raise BenchError(f"bench data add takes a dataset YAML file (.yaml or .yml), got {file!r}")
    forget()
    info = lookup(file)  # refuses a built-in dataset's name
    chosen = info.name
    earlier = added().get(chosen)
    if earlier not in (None, info.file) and not replace:
        raise BenchError(f"dataset name {chosen} is recorded for {earlier}; give {info.file} another name: in the "
                         "file, or pass --replace to point the name at it")
    where = add(chosen, Path(info.file))
    return (f"added dataset {chosen}: {info.file} ({info.num_classes} classes, {info.train_size:,} training images; "
            f"{info.why}); recorded in {where}; use --datasets {chosen}")


def describe_dataset(name: str, sets: list[str], plot: str | None = None) -> str:
    """The summary of `name` as an ERM run with these --set items would load it; writes the PNG when asked."""
    from bench.datasets.custom.summary import plot as draw
    from bench.datasets.custom.summary import summary, text
    from bench.datasets.registry import for_config, forget
    from bench.plan.config import resolve

    forget()
    cfg = resolve("erm", name, 0, sets=sets)
    info = for_config(cfg)
    s = summary(info.load(cfg), cfg, info)
    out = text(s)
    if plot:
        draw(s, Path(plot))
        out += f"  per-class counts plotted in {plot}\n"
    return out
