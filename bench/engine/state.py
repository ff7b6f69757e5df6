"""What a run's checkpoint holds besides the weights: a typed RunState, with the Position inside an epoch
when the run stopped there. On disk both stay the plain dict earlier versions wrote (the position under
state["position"]), so a checkpoint written by an older bench resumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Position:
    """Where a run stopped inside an epoch: batches done, the epoch generator's state after them, the
    algorithm's random state (the mixer's), the running loss and hit sums, and the epoch's seconds so far."""

    batches: int
    generator: Any  # torch.ByteTensor: torch.Generator.get_state()
    mixer: Any  # the algorithm's position state (Algorithm.position_state), None without one
    loss_sum: float
    correct: int
    seconds: float

    @classmethod
    def from_dict(cls, saved: dict | None) -> Position | None:
        return None if saved is None else cls(**{k: saved[k] for k in cls.__dataclass_fields__})


@dataclass
class RunState:
    """A run's progress: the last finished epoch (-1: none), the best evaluation so far, the metrics history,
    time and images trained, the data and kind of device it started on, its parent (stage 2), its threads."""

    epoch: int = -1
    best: dict | None = None
    history: list = field(default_factory=list)
    train_seconds: float = 0.0
    images_seen: int = 0
    data: dict | None = None
    device_type: str | None = None
    parent: dict | None = None
    threads: int | None = None
    position: Position | None = None

    def to_dict(self) -> dict:
        """The checkpoint's "state" entry, key for key as earlier versions wrote it."""
        saved = {k: getattr(self, k) for k in ("epoch", "best", "history", "train_seconds", "images_seen", "data",
                                                "device_type")}
        if self.parent is not None:
            saved["parent"] = self.parent
        if self.threads is not None:
            saved["threads"] = self.threads
        saved["position"] = None if self.position is None else asdict(self.position)
        return saved

    @classmethod
    def from_dict(cls, saved: dict) -> RunState:
        known = {k: v for k, v in saved.items() if k in cls.__dataclass_fields__ and k != "position"}
        return cls(**known, position=Position.from_dict(saved.get("position")))
