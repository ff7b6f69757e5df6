"""What a loaded dataset offers the rest of bench: `Dataset`, which both kinds a loader returns satisfy,
bench.datasets.base.LongTailData (images held in memory as tensors) and bench.datasets.imagelist.ImageListData
(image files decoded by DataLoader workers). Code that must tell them apart reads `in_memory`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from bench.runconfig import RunConfig

if TYPE_CHECKING:
    import torch


class Dataset(Protocol):
    in_memory: ClassVar[bool]  # True: tensors (train_x, test_x, ...); False: image lists (train_items, ...)
    name: str
    num_classes: int
    class_names: list
    mean: tuple
    std: tuple
    selection: dict | None  # how the validation and reported images were split (eval.selection=best_val)

    @property
    def in_channels(self) -> int: ...

    @property
    def train_labels(self) -> torch.Tensor: ...

    @property
    def train_counts(self) -> list[int]: ...

    @property
    def test_counts(self) -> list[int]: ...

    @property
    def train_indices_sha256(self) -> str: ...

    def pipeline(self, cfg: RunConfig, device: torch.device) -> Any: ...
