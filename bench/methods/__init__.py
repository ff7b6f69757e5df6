"""Imbalance methods: named presets of loss x class weights x sampler x schedule x head.

Public API (imported lazily so that `bench list` does not load torch):
    from bench.methods import LDAMLoss, FocalLoss, class_balanced_weights
"""

_LAZY = {
    "LDAMLoss": "bench.methods.losses",
    "FocalLoss": "bench.methods.losses",
    "class_balanced_weights": "bench.methods.weights",
    "inverse_frequency_weights": "bench.methods.weights",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bench.methods' has no attribute {name!r}")
