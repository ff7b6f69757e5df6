"""The executor interface every executor implements (bench/executors/__init__.py describes it), and the closing
line of a command that trained runs here."""

from __future__ import annotations


class Executor:
    """What every executor shares; subclasses implement start() (and override the rest as needed)."""

    name = ""
    trains_here = True
    gpus_per_run = 0
    world_size = 1  # processes one run trains on (data-parallel); it enters the run id when above 1

    def queued(self, runs):
        return {}

    def check(self, runs):
        pass

    submitted = None  # what a second level waits for (SLURM: the job ids of the first)

    def submit(self, runs, force=False, all_runs=(), wait=False, out="results", preloaded=None, after=None):
        if not runs:
            print(f"nothing to start; results in {out}/")
            return 0
        return self.start(runs, force, out, preloaded)

    def start(self, runs, force, out, preloaded):
        raise NotImplementedError


def summarise(done, out):
    """The closing line of a command that trained runs here; exit status 1 if any failed."""
    failed = [r for r in done if r.get("status") not in ("done", "skipped")]
    elsewhere = sum(r.get("status") == "skipped" for r in done)
    print(f"{len(done) - len(failed) - elsewhere} of {len(done)} runs done"
          + (f", {elsewhere} being trained by another process" if elsewhere else "") + f"; results in {out}/",
          flush=True)
    return 1 if failed else 0
