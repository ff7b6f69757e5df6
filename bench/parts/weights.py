"""Class-weight parts: per-class loss weights, used while re-balancing is on (see schedules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from bench.parts.part import Param, Part
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch

BETA = Param("beta", 0.9999, "effective-number beta of class-balanced weights / sampling",
             source="Cao et al. 2019 (LDAM-DRW) Sec. 4 and kaidic/LDAM-DRW cifar_train.py (beta = 0.9999)",
             check=lambda v: 0 <= v < 1, phrase="in [0, 1)",
             search=Search("choice", choices=(0.9, 0.99, 0.999, 0.9999)))


def _tensor(weights: np.ndarray) -> torch.Tensor:
    import torch

    return torch.tensor(weights, dtype=torch.float32)


def class_balanced_weights(class_counts: Sequence[int], beta: float) -> torch.Tensor:
    """Cui et al. 2019 'effective number' weights, normalised to sum to the number of classes.

    w_c = (1 - beta) / (1 - beta ** n_c), computed in float64 as the reference code does.
    beta = 0 gives all ones.
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
    weights = weights / np.sum(weights) * len(counts)
    return _tensor(weights)


def inverse_frequency_weights(class_counts: Sequence[int]) -> torch.Tensor:
    """w_c proportional to 1 / n_c, normalised to sum to the number of classes (CB's beta -> 1 limit)."""
    counts = np.asarray(class_counts, dtype=np.float64)
    weights = 1.0 / counts
    weights = weights / np.sum(weights) * len(counts)
    return _tensor(weights)


GRW_RHO = Param("grw_rho", 1.0, "exponent rho of generalized re-weighting, w_c proportional to (n_c / N)^-rho",
                source="Megvii-BaseDetection/cvpods cvpods/modeling/losses/grw_loss.py:40 (exp_scale=1.0; DisAlign's "
                       "ImageNet-LT config sets 1.2)", check=lambda v: v >= 0, phrase="non-negative",
                search=Search("linear", 0.0, 1.25))


def grw_weights(class_counts: Sequence[int], rho: float) -> torch.Tensor:
    """Generalized re-weighting (Zhang et al., CVPR 2021, DisAlign): w_c = (n_c / N)^-rho, normalised to sum to the
    number of classes (cvpods grw_loss.py:21-30). rho = 0 gives all ones, rho = 1 the inverse frequency."""
    counts = np.asarray(class_counts, dtype=np.float64)
    weights = np.power(counts / counts.sum(), -rho)
    weights = weights / np.sum(weights) * len(counts)
    return _tensor(weights)


# build(class_counts, method_cfg) -> float32 tensor of C weights, or None
NONE = Part("weights", "none", "no class weights", build=lambda counts, m: None)
CB = Part("weights", "cb", "class-balanced weights (1 - beta) / (1 - beta^n_c), normalised to sum to C",
          params=(BETA,), source="Cui et al., CVPR 2019",
          build=lambda counts, m: class_balanced_weights(counts, m["beta"]))
INVERSE_FREQUENCY = Part("weights", "inverse_frequency", "weights proportional to 1 / n_c, normalised to sum to C",
                         build=lambda counts, m: inverse_frequency_weights(counts))
GRW = Part("weights", "grw", "generalized re-weighting (n_c / N)^-rho, normalised to sum to C", params=(GRW_RHO,),
           source="Zhang et al., CVPR 2021 (DisAlign); Megvii-BaseDetection/cvpods grw_loss.py",
           build=lambda counts, m: grw_weights(counts, m["grw_rho"]))
PARTS = (NONE, CB, INVERSE_FREQUENCY, GRW)
