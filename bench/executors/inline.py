"""The inline executor: every run in this process, one after another (DDP when launched by torchrun)."""

from __future__ import annotations

import sys


class InlineExecutor:
    name = "inline"
    trains_here = True
    gpus_per_run = 0

    def __init__(self, progress=True):
        self.progress = progress

    def queued(self, runs):
        return {}

    def check(self, runs):
        pass

    def submit(self, runs, force=False, all_runs=(), wait=False, out="results", preloaded=None):
        from bench import distributed
        from bench.runner import execute

        if not runs:
            print(f"nothing to start; results in {out}/")
            return 0
        # preloaded: the dataset the preflight loaded last; reused only if the first run needs it
        progress = self.progress and runs[0].cfg["run"]["progress"] and sys.stderr.isatty()
        try:
            done = execute(runs, force=force, progress=progress, cache=preloaded)
        finally:  # every process leaves the group, also after an error (gloo threads outliving it abort)
            distributed.finish()
        if not distributed.is_main():
            return 0
        return summarise(done, out)


def summarise(done, out):
    failed = [r for r in done if r.get("status") not in ("done", "skipped")]
    elsewhere = sum(r.get("status") == "skipped" for r in done)
    print(f"{len(done) - len(failed) - elsewhere} of {len(done)} runs done"
          + (f", {elsewhere} being trained by another process" if elsewhere else "") + f"; results in {out}/",
          flush=True)
    return 1 if failed else 0
