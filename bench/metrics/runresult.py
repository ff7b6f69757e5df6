"""A run's result (result.json), typed: built in one place for every kind of run (trained, stage 2, post-hoc,
failed), written atomically, and parsed back by everything that reads results (bench report, bench status).

The file keeps the layout earlier versions wrote: the same keys, in the same order, a key whose value is None
left out (a failed run has no `last`; a one-stage run no `parent`). Keys this bench does not know (written by
a later version) are kept in `extra` and written back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bench.runconfig import RunConfig

STATUSES = ("done", "failed")
_NUMBER = (int, float)


class NotAResult(ValueError):
    """A JSON object that is not a result.json bench wrote."""


@dataclass
class RunResult:
    run_id: str
    status: str  # "done" or "failed"
    method: str
    dataset: str
    seed: int
    head: str | None = None
    train_class_counts: list | None = None
    test_class_counts: list | None = None
    class_names: list | None = None
    data: dict | None = None
    shot_rule: dict | None = None
    last: dict | None = None  # the final epoch's evaluation (accuracies in percent, epochs 0-based)
    best: dict | None = None  # the selected epoch's, with "selected_on"
    selection: dict | None = None
    parent: dict | None = None  # a two-stage run's parent: run id, method, result sha256 (+ stage-2 recipe)
    config: Mapping[str, Any] = field(default_factory=dict)
    env: dict | None = None
    timing: dict | None = None
    error: str | None = None
    traceback: str | None = None
    extra: dict = field(default_factory=dict)
    read_keys: list | None = field(default=None, repr=False, compare=False)  # a parsed file's keys, in order

    def to_json(self) -> dict:
        """The dict result.json holds. A parsed result gives back its file's keys in their order; a new one
        leaves out the keys whose value is None."""
        names = [f.name for f in fields(self) if f.name not in ("extra", "read_keys")]
        if self.read_keys is not None:
            known = set(names)
            out = {k: getattr(self, k) if k in known else self.extra[k] for k in self.read_keys}
            out.update({k: getattr(self, k) for k in names if k not in out and getattr(self, k) is not None})
            return out
        out = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Any) -> RunResult:
        """Parse a result.json's object; NotAResult when it is not one bench wrote (wrong types included)."""
        if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
            raise NotAResult("not a result object with a config")
        known = {f.name for f in fields(cls)} - {"extra", "read_keys"}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("run_id", "")
        for key in ("method", "dataset"):  # results of early versions: from the config
            section = data["config"].get(key)
            values.setdefault(key, section.get("name") if isinstance(section, dict) else None)
        values.setdefault("seed", None)
        values.setdefault("status", "failed")
        result = cls(**values, extra={k: v for k, v in data.items() if k not in known}, read_keys=list(data))
        result.check()
        return result

    def check(self) -> None:
        """The blocks the tables read are of the right types (a finished result only)."""
        if self.status != "done":
            return
        from bench.metrics.evaluate import METRIC_NAMES

        for name in ("last", "best"):
            block = getattr(self, name)
            if block is None and name == "best":
                continue
            if not isinstance(block, dict):
                raise NotAResult(f"{name} is not an evaluation")
            for metric in METRIC_NAMES:
                value = block.get(metric)
                if value is not None and type(value) not in _NUMBER:
                    raise NotAResult(f"{name}.{metric} is not a number")
            epoch = block.get("epoch")
            if epoch is not None and type(epoch) is not int:
                raise NotAResult(f"its {name}.epoch is {epoch!r}, not an epoch number")
            per_class = block.get("per_class_acc", [])
            if not isinstance(per_class, list) or not all(type(v) in (*_NUMBER, type(None)) for v in per_class):
                raise NotAResult(f"{name}.per_class_acc is not a list of numbers")
        problem = number_problem(self.last, self.best, self.selection)
        if problem:
            raise NotAResult(problem)
        counts = self.train_class_counts if self.train_class_counts is not None else []
        if not isinstance(counts, list) or not all(type(c) in _NUMBER for c in counts):
            raise NotAResult("train_class_counts is not a list of numbers")
        shot = self.shot_rule if self.shot_rule is not None else {}
        if not isinstance(shot, dict) or not isinstance(shot.get("group_sizes", {}), dict):
            raise NotAResult("shot_rule is not a rule")

    def write(self, run_dir: Path) -> dict:
        """result.json, atomically (written last: a run folder with it is finished); returns its dict."""
        from bench.store import rundir
        from bench.store.atomic import write_json

        data = self.to_json()
        write_json(Path(run_dir) / rundir.RESULT, data)
        return data


def number_problem(last: Any, best: Any, selection: Any = None) -> str | None:
    """Where a finished result holds a number bench never writes (a damaged or hand-edited result.json): a metric,
    per-class accuracy or validation score that is not finite (NaN, Infinity), or an accuracy outside [0, 100];
    None when every number is one bench could have written."""
    import math

    from bench.metrics.evaluate import BY_NAME, METRIC_NAMES

    found: list[tuple[str, Any, bool]] = []
    for name, block in (("last", last), ("best", best)):
        if not isinstance(block, dict):
            continue
        found += [(f"{name}.{m}", block.get(m), m == "val_top1" or BY_NAME[m].is_accuracy)
                  for m in (*METRIC_NAMES, "val_top1")]
        per_class = block.get("per_class_acc")
        found += [(f"{name}.per_class_acc[{c}]", v, True) for c, v in enumerate(per_class or [])]
    taus = (selection or {}).get("val_top1_per_tau") if isinstance(selection, dict) else None
    found += [(f"selection.val_top1_per_tau[{i}]", v, True) for i, v in enumerate(taus or [])]
    for where, value, accuracy in found:
        if type(value) not in _NUMBER:
            continue
        if not math.isfinite(value) or accuracy and not 0 <= value <= 100:
            what = "not a finite number" if not math.isfinite(value) else "outside 0..100 %"
            return (f"its {where} is {value!r}, {what} (bench never writes one: a damaged or hand-edited "
                    "result.json); re-run it with --force")
    return None


def read(run_dir: Path) -> RunResult | None:
    """A run folder's result, or None when it has none or one bench did not write (unreadable, not a result)."""
    try:
        return _parse(run_dir)
    except (OSError, ValueError, UnicodeDecodeError):  # NotAResult is a ValueError
        return None


def _parse(run_dir: Path) -> RunResult:
    import json

    from bench.store import rundir

    return RunResult.from_json(json.loads((Path(run_dir) / rundir.RESULT).read_text()))


def damage(run_dir: Path) -> str | None:
    """Why the run folder's result.json is not one bench wrote (unreadable, not a result, numbers bench never
    writes); None when it is one, or when there is none."""
    from bench.store import rundir

    if not (Path(run_dir) / rundir.RESULT).is_file():
        return None
    try:
        _parse(run_dir)
    except NotAResult as exc:
        return f"result.json is not a bench result: {exc}"
    except (OSError, ValueError, UnicodeDecodeError):
        return "result.json is unreadable"
    return None


def failed(run_id: str, cfg: RunConfig, error: str, traceback: str | None = None) -> RunResult:
    """A run that could not train (bad data, a failed parent, a crash): its config and the reason."""
    return RunResult(run_id=run_id, status="failed", method=cfg["method"]["name"], dataset=cfg["dataset"]["name"],
                     seed=cfg["train"]["seed"], config=cfg, error=error, traceback=traceback)
