"""The inline executor: every run in this process, one after another (DDP when launched by torchrun)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.run.executors.base import Executor, ExecutorInfo, summarise

if TYPE_CHECKING:
    from bench.run.executors.base import Options


class InlineExecutor(Executor):
    name = "inline"

    def __init__(self, progress=True):
        import os

        self.progress = progress
        self.world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)  # torchrun: the processes of each run

    def start(self, runs, force, out, preloaded):
        from bench.engine import distributed
        from bench.run.runner import execute

        progress = self.progress and runs[0].cfg["run"]["progress"]  # a bar on a terminal, else lines
        try:  # preloaded: the dataset the preflight loaded last, reused when the first run needs it
            done = execute(runs, force=force, progress=progress, cache=preloaded)
        finally:  # every process leaves the group, also after an error (gloo threads outliving it abort)
            distributed.finish()
        if not distributed.is_main():
            return 0
        return summarise(done, out)


def from_options(options: Options) -> InlineExecutor:
    return InlineExecutor(progress=options.progress)


EXECUTOR = ExecutorInfo("inline", "every run in this process, one after another", from_options)
