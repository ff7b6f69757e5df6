"""Which algorithm computes a run: the one place that maps a run's config to its Algorithm class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.algorithms.protocol import Algorithm
from bench.errors import BenchError
from bench.methods.registry import PARTS, STAGES  # complete: the plugins of BENCH_PLUGINS too
from bench.runconfig import RunConfig


def algorithm_class(cfg: RunConfig) -> type[Algorithm]:
    """How a run is computed: by the stage computation its stage section names (stage.posthoc: from the parent's
    files; stage.train: on the parent's weights; each declared in bench/algorithms/ as a Stage), else by the
    algorithm part `method.algorithm` names."""
    stage: Mapping[str, Any] = cfg["stage"]
    for key, registry in STAGES.items():
        if stage[key] != "none":
            return registry.get_or_fail(stage[key]).build()
    part = PARTS.get("algorithm", cfg["method"].get("algorithm", "standard"))
    if part.build is None:
        raise BenchError(f"algorithm {part.name} is computed in stage 2 of a two-stage method; use the method that "
                         "names it (bench list methods)")
    return part.build()
