"""The executor interface every executor implements (bench/run/executors/__init__.py describes it), and the closing
line of a command that trained runs here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from bench.plan.runs import PlannedRun


class Executor:
    """What every executor shares; subclasses implement start() (and override the rest as needed)."""

    name: str = ""
    trains_here: bool = True
    gpus_per_run: int = 0
    world_size: int = 1  # processes one run trains on (data-parallel); it enters the run id when above 1
    submitted: Any = None  # what a second level waits for (SLURM: the job ids of the first)

    def queued(self, runs: Sequence[PlannedRun]) -> dict[Path, str]:
        return {}

    def check(self, runs: Sequence[PlannedRun]) -> None:
        pass

    def submit(self, runs: Sequence[PlannedRun], force: bool = False, all_runs: Sequence[PlannedRun] = (),
               wait: bool = False, out: str = "results", preloaded: dict | None = None, after: Any = None) -> int:
        if not runs:
            print(f"nothing to start; results in {out}/")
            return 0
        return self.start(runs, force, out, preloaded)

    def start(self, runs: Sequence[PlannedRun], force: bool, out: str, preloaded: dict | None) -> int:
        raise NotImplementedError


def summarise(done: list[dict], out: str) -> int:
    """The closing line of a command that trained runs here; exit status 1 if any failed."""
    failed = [r for r in done if r.get("status") not in ("done", "skipped")]
    elsewhere = sum(r.get("status") == "skipped" for r in done)
    print(f"{len(done) - len(failed) - elsewhere} of {len(done)} runs done"
          + (f", {elsewhere} being trained by another process" if elsewhere else "") + f"; results in {out}/",
          flush=True)
    return 1 if failed else 0


@dataclass(frozen=True)
class Options:
    """What the command line says of the executor: each executor reads its own."""

    jobs: int = 2  # the local executor's concurrent runs
    slurm_profile: str = "local"  # the SLURM executor's profile
    progress: bool = True


@dataclass(frozen=True)
class ExecutorInfo:
    """What an executor's module declares (EXECUTOR): its --executor name, its line in --help, and how the command
    line's options make it."""

    name: str
    doc: str
    make: Callable[[Options], Executor]
