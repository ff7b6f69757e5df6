"""Which algorithm computes a run: the one place that maps a run's config to its Algorithm class."""

from __future__ import annotations

from bench.plan.config import stage_kind


def algorithm_class(cfg):
    """How a run is computed: post-hoc methods from their parent's files (bench.engine.posthoc), stage-2 methods on
    their parent's weights (bench.engine.stage2), every other method by the algorithm part `method.algorithm` names."""
    kind = stage_kind(cfg)
    if kind == "posthoc" and cfg["stage"]["posthoc"] == "sade_aggregation":
        from bench.engine.sade_tta import AggregationAlgorithm

        return AggregationAlgorithm
    if kind == "posthoc":
        from bench.engine.posthoc import PosthocAlgorithm

        return PosthocAlgorithm
    if kind == "train" and cfg["stage"]["train"] == "router":
        from bench.engine.ride_router import RouterAlgorithm

        return RouterAlgorithm
    if kind == "train":
        from bench.engine.stage2 import Stage2Algorithm

        return Stage2Algorithm
    from bench.methods.registry import PARTS

    return PARTS.get("algorithm", cfg["method"].get("algorithm", "standard")).build()
