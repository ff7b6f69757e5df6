"""Long-tailed datasets. Public API: `long_tail_counts`."""

from bench.datasets.longtail import indices_sha256, long_tail_counts, select_long_tail

__all__ = ["long_tail_counts", "select_long_tail", "indices_sha256"]
