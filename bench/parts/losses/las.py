"""Label-aware smoothing (MiSLAS, Zhong et al., CVPR 2021, Eq. 5 with the concave form of Eq. 6).

The smoothing of class c grows from the rarest to the most frequent class:
    eps_c = eps_K + (eps_1 - eps_K) sin(pi (n_c - n_K) / (2 (n_1 - n_K)))
(n_1 the largest, n_K the smallest class size), and the loss of an image of class y is
    (1 - eps_y) (-log p_y) + eps_y mean_c(-log p_c)
as dvlab-research/MiSLAS methods.py LabelAwareSmoothing computes it (shape='concave').
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.parts.part import Param, Part
from bench.parts.search import Search

if TYPE_CHECKING:
    import torch

SOURCE = "dvlab-research/MiSLAS config/cifar10/cifar10_imb001_stage2_mislas.yaml (smooth_head 0.3, smooth_tail 0.0)"
SMOOTH_HEAD = Param("smooth_head", 0.3, "label smoothing of the most frequent class (eps_1)", source=SOURCE,
                    check=lambda v: 0 <= v < 1, phrase="in [0, 1)",
                    search=Search("linear", 0.1, 0.5))  # above the tail's range: the head is smoothed more
SMOOTH_TAIL = Param("smooth_tail", 0.0, "label smoothing of the rarest class (eps_K)", source=SOURCE,
                    check=lambda v: 0 <= v < 1, phrase="in [0, 1)",
                    search=Search("linear", 0.0, 0.1))


def smoothing(class_counts: Sequence[int], smooth_head: float, smooth_tail: float) -> np.ndarray:
    """eps_c of every class (float64); all classes get smooth_head when they have equal sizes."""
    counts = np.asarray(class_counts, dtype=np.float64)
    n_1, n_k = counts.max(), counts.min()
    if n_1 == n_k:
        return np.full_like(counts, smooth_head)
    return smooth_tail + (smooth_head - smooth_tail) * np.sin((counts - n_k) * np.pi / (2 * (n_1 - n_k)))


def setup(class_counts: Sequence[int], smooth_head: float, smooth_tail: float) -> dict[str, Any]:
    return {"smooth": smoothing(class_counts, smooth_head, smooth_tail)}


def forward(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
            smooth: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    logp = F.log_softmax(logits, dim=-1)
    eps = smooth[target]
    per_image = (1 - eps) * -logp.gather(1, target[:, None]).squeeze(1) + eps * -logp.mean(dim=-1)
    if weight is None:
        return per_image.mean()
    w = weight[target]  # weighted mean, as F.cross_entropy takes class weights
    return (w * per_image).sum() / w.sum()


PART = Part("loss", "las", "label-aware smoothing: CE with smoothing eps_y growing from tail to head classes",
            params=(SMOOTH_HEAD, SMOOTH_TAIL), setup=setup, forward=forward, source="Zhong et al., CVPR 2021 (MiSLAS)")
