"""format: huggingface: a dataset from the Hub by name, a folder written by `save_to_disk`, or parquet files, read
through the `datasets` library (pip install 'bench[hf]'). Its images are read as encoded bytes (the Image feature
with decode=False), so they go through bench's own decoding like image files.

Nothing runs that the file did not ask for: a Hub dataset with a loading script is refused unless the dataset file
says trust_remote_code: true. A Hub dataset is downloaded once into the Hugging Face cache (~/.cache/huggingface,
$HF_HOME) and read from there offline (HF_HUB_OFFLINE=1, or no network) afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.datasets.custom.sources import Entry
from bench.datasets.custom.spec import UserSpec
from bench.errors import BenchError

DEFAULT_SPLITS = {"train": "train", "test": "test", "val": "validation"}


def _library():
    try:
        import datasets
    except ImportError:
        raise BenchError("format: huggingface needs the datasets library; pip install 'bench[hf]' (or pip install "
                         "datasets)") from None
    datasets.disable_progress_bars()  # bench prints its own progress, and one line per problem
    datasets.logging.set_verbosity_error()
    import huggingface_hub

    huggingface_hub.utils.logging.set_verbosity_error()  # no retry warnings when the Hub cannot be reached
    return datasets


def _open_hub(name: str, spec: UserSpec) -> Any:
    datasets = _library()
    kwargs: dict[str, Any] = {"revision": spec.hub.get("revision")}
    if spec.hub.get("config"):
        kwargs["name"] = spec.hub["config"]
    if spec.hub.get("trust_remote_code"):
        kwargs["trust_remote_code"] = True  # only ever when the dataset file says so
    try:
        return datasets.load_dataset(name, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the library's errors for offline, missing and scripted datasets vary
        text = (str(exc).splitlines() or [type(exc).__name__])[0]
        _refuse_script(f"Hub dataset {name}", text, spec)
        words = f"{type(exc).__name__} {text}".lower()
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or any(
            w in words for w in ("offline", "connect", "name or service", "max retries", "timed out", "resolve"))
        if offline:
            raise BenchError(f"Hub dataset {name} is not in the local Hugging Face cache and the Hub cannot be "
                             "reached; load it once on a machine with internet access (it is then cached), or save "
                             "it with save_to_disk and give that folder as train") from None
        raise BenchError(f"Hub dataset {name} cannot be loaded ({type(exc).__name__}: {text[:200]}); check the name, "
                         "config and revision in the dataset file") from None


def _refuse_script(what: str, text: str, spec: UserSpec | None) -> None:
    """One line for a dataset that needs its own loading script (Python code bench does not run on its own)."""
    if "script" not in text.lower() and "trust_remote_code" not in text:
        return
    asked = spec is not None and spec.hub.get("trust_remote_code")
    raise BenchError(f"{what} needs its own loading script ({text[:120]}); bench runs none unless the dataset file "
                     "says trust_remote_code: true" + (", and the installed datasets library (4.0 or later) runs none "
                     "at all" if asked else "") + ": use its parquet conversion (revision: refs/convert/parquet) or a "
                     "copy saved with save_to_disk") from None


def _open_local(path: Path) -> Any:
    datasets = _library()
    try:
        if path.is_dir() and ((path / "state.json").is_file() or (path / "dataset_dict.json").is_file()):
            return datasets.load_from_disk(str(path))
        if path.suffix == ".parquet":
            return datasets.load_dataset("parquet", data_files=str(path))
        return datasets.load_dataset(str(path))  # a folder of data files (parquet, ...) in the Hub's layout
    except Exception as exc:  # noqa: BLE001
        text = (str(exc).splitlines() or [type(exc).__name__])[0]
        _refuse_script(str(path), text, None)
        raise BenchError(f"{path} cannot be read by the datasets library ({type(exc).__name__}: {text[:200]}); give "
                         "a folder written by save_to_disk, parquet files, or a Hub name") from None


def opened(source: str, spec: UserSpec) -> Any:
    """The Dataset or DatasetDict of a local path or a Hub name (read afresh by each catalogue: a run re-reads)."""
    local = Path(source)
    return _open_local(local) if local.is_absolute() and local.exists() else _open_hub(source, spec)


def _split_of(found: Any, wanted: str, source: str, required: bool) -> Any:
    """A split of a DatasetDict; None where an optional split is absent."""
    if wanted in found:
        return found[wanted]
    if required:
        raise BenchError(f"{source} has no split {wanted!r} (its splits: {', '.join(found)}); set train_split, "
                         "test_split or val_split in the dataset file")
    return None


def _columns(ds: Any, spec: UserSpec, source: str) -> tuple[str, str]:
    image, label = spec.hub.get("image_column", "image"), spec.hub.get("label_column", "label")
    for key, column in (("image_column", image), ("label_column", label)):
        if column not in ds.column_names:
            raise BenchError(f"{source} has no column {column!r} (its columns: {', '.join(ds.column_names)}); set "
                             f"{key} in the dataset file")
    return image, label


def hub_splits(spec: UserSpec) -> dict:
    """{split: prepared Dataset} of every split the file gives or the source has (train always). A single Dataset is
    the split it is given as; a DatasetDict's splits are named by train_split, test_split and val_split."""
    out: dict = {}
    sources: dict[str, Any] = {}  # each source opened once
    for split in ("train", "test", "val"):
        given, named = split in spec.sources, f"{split}_split" in spec.hub
        source = spec.sources[split] if given else spec.sources["train"]
        found = sources[source] = sources[source] if source in sources else opened(source, spec)
        if not hasattr(found, "keys"):  # a single Dataset
            if named:
                raise BenchError(f"{split}_split names a split of a DatasetDict, and {source} is one Dataset; remove "
                                 f"{split}_split, or give the {split} images as {split}: in the dataset file")
            if split != "train" and not given:
                continue
            ds = found
        else:
            ds = _split_of(found, spec.hub.get(f"{split}_split", DEFAULT_SPLITS[split]), source,
                           required=given or named or split == "train")
            if ds is None:
                continue
        image, _ = _columns(ds, spec, source)
        datasets = _library()
        if isinstance(ds.features.get(image), datasets.Image):
            ds = ds.cast_column(image, datasets.Image(decode=False))
        out[split] = ds
    return out


def class_names(ds: Any, spec: UserSpec) -> list[str]:
    """The names of a ClassLabel label column ([] for plain values)."""
    feature = ds.features.get(spec.hub.get("label_column", "label"))
    return list(getattr(feature, "names", None) or [])


def hub_entries(spec: UserSpec, split: str, ds: Any) -> list[Entry]:
    source = spec.sources.get(split, spec.sources["train"])
    _, label = _columns(ds, spec, source)
    values = ds[label]
    wrong = next((v for v in values if isinstance(v, bool) or not isinstance(v, (int, str))), None)
    if wrong is not None:
        raise BenchError(f"{source}'s column {label!r} holds {type(wrong).__name__} values, not class labels (whole "
                         "numbers or names); set label_column (and image_column) in the dataset file")
    return [Entry(f"{split}/{row}", str(value), f"row {row} of the {split} split", f"{split}/{row}")
            for row, value in enumerate(values)]


def fingerprint_files(ds: Any) -> str:
    """What identifies a Dataset's stored rows for the record cache: its arrow files with size and mtime ('' when
    it has none, an in-memory dataset: read every time)."""
    parts = []
    for item in getattr(ds, "cache_files", None) or []:
        try:
            stat = os.stat(item["filename"])
        except (OSError, KeyError, TypeError):
            return ""
        parts.append(f"{item['filename']}|{stat.st_size}|{stat.st_mtime_ns}")
    return ";".join(parts)


class HubReader:
    """The encoded bytes of a row's image: 'split/row' -> bytes (picklable: DataLoader workers read through it)."""

    def __init__(self, splits: dict, image_column: str):
        self.splits, self.image = splits, image_column

    def __call__(self, key: str) -> bytes:
        split, row = key.rsplit("/", 1)
        value = self.splits[split][int(row)][self.image]
        if isinstance(value, dict):
            if value.get("bytes"):
                return bytes(value["bytes"])
            if value.get("path"):
                return Path(value["path"]).read_bytes()
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if isinstance(value, str):
            return Path(value).read_bytes()
        if hasattr(value, "save"):  # a decoded PIL image (a column that is not an Image feature)
            import io

            buffer = io.BytesIO()
            value.save(buffer, format="PNG")
            return buffer.getvalue()
        raise BenchError(f"the {split} split's image column holds {type(value).__name__} values, not images; set "
                         "image_column in the dataset file")
