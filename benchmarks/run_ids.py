"""Which run ids a change moves: the planned run ids of every method x dataset x {its defaults, ratio 10, the step
profile, run.recipe=shared}, written as JSON, and the difference of two such files per method.

    PYTHONPATH=/path/to/old python benchmarks/run_ids.py old.json      # in a worktree of the old commit
    python benchmarks/run_ids.py new.json
    python benchmarks/run_ids.py --diff old.json new.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

VARIANTS = ([], ["dataset.imbalance_ratio=10"], ["dataset.profile=step"], ["run.recipe=shared"])


def planned_ids() -> dict[str, object]:
    from bench.datasets.registry import DATASETS
    from bench.errors import BenchError
    from bench.methods.registry import METHODS
    from bench.plan.runs import plan

    out: dict[str, object] = {}
    for method in METHODS:
        for name, info in DATASETS.items():
            for sets in VARIANTS:
                if info.natural and sets and sets[0].startswith("dataset."):
                    continue
                extra = ["eval.selection=best_val"] if method == "tau_norm" else []
                key = " ".join([method, name, *sets])
                try:
                    out[key] = [run.run_dir.name for run in plan([method], [name], [0], "results", sets=sets + extra)]
                except BenchError as exc:
                    out[key] = f"refused: {exc}"
    return out


def diff(old_file: str, new_file: str) -> str:
    old, new = (json.loads(Path(path).read_text()) for path in (old_file, new_file))
    moved: dict[str, list[str]] = defaultdict(list)
    for key, ids in old.items():
        if new.get(key) != ids:
            method, rest = key.split(" ", 1)
            moved[method].append(rest)
    lines = [f"{sum(map(len, moved.values()))} of {len(old)} plans move"]
    lines += [f"{method}: {'; '.join(rest)}" for method, rest in sorted(moved.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1] == "--diff":
        print(diff(sys.argv[2], sys.argv[3]))
    else:
        ids = planned_ids()
        Path(sys.argv[1]).write_text(json.dumps(ids, indent=0, sort_keys=True))
        print(f"{len(ids)} plans written to {sys.argv[1]}")
