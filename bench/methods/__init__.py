"""Imbalance methods: named compositions of parts (loss x class weights x sampler x schedule x head x mix).

Public API (imported lazily so that `bench list` does not load torch):
    from bench.methods import LDAMLoss, FocalLoss, LogitAdjustedLoss, VSLoss, class_balanced_weights
Each loss module computes the mean loss from `(logits, target)`.
"""

_LAZY = {
    "CrossEntropy": "bench.parts.loss_module",
    "LDAMLoss": "bench.parts.loss_module",
    "FocalLoss": "bench.parts.loss_module",
    "LogitAdjustedLoss": "bench.parts.loss_module",
    "BalancedSoftmaxLoss": "bench.parts.loss_module",
    "VSLoss": "bench.parts.loss_module",
    "class_balanced_weights": "bench.parts.weights",
    "inverse_frequency_weights": "bench.parts.weights",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bench.methods' has no attribute {name!r}")
