"""ProCo's von Mises-Fisher estimate per class and its closed-form contrastive logits (Du et al., TPAMI 2024), as
LeapLabTHU/ProCo (af9e78e) loss/proco.py does them (the CIFAR tree's file is the same).

For unit features z of dimension P and class c with mean direction mu_c and concentration kappa_c, the expectation of
exp(z . z' / T) over z' ~ vMF(mu_c, kappa_c) is C_P(kappa_c) / C_P(||kappa_c mu_c + z / T||), with C_P(k) =
k^(P/2 - 1) / ((2 pi)^(P/2) I_(P/2 - 1)(k)); ProCo's logit of z for class c is its log:

    logit_c(z) = log I_nu(k~) - nu log k~ - [log I_nu(kappa_c) - nu log kappa_c]

with nu = P/2 - 1 and k~ = ||kappa_c mu_c + z/T||.

Per class, a running mean A_c of the features seen and their count; R_c = ||A_c||, kappa_c = P R_c / (1 - R_c^2)
(the official code's estimate; > 1e5 or negative becomes 1e5), mu_c = A_c / R_c. log I_nu comes from the official
Miller recurrence (below), its gradient from the ratio I_(nu+1)(k~) / I_nu(k~), clipped at 1 as the official backward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KAPPA_MAX = 1e5  # loss/proco.py:206-207


def log_bessel_pair(nu: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log(I_nu(x) e^-x), log(I_(nu+1)(x) e^-x)) of float64 `x` by Miller's backward recurrence, as loss/proco.py:8-51
    miller_recurrence: from order 2 nu down to 0, normalised by i0e(x); where any value would overflow, the whole
    tensor is rescaled by its current values (the log of the scale kept), and the official code's aliasing is kept too
    (its in-place rescale of I_(n+1) also divides the value just recorded at orders nu + 1 and nu). Without host
    synchronisation: each step's rescale is a torch.where on a 0-dim flag."""
    ones = torch.ones_like(x)
    i_n, i_n1 = ones, torch.zeros_like(x)
    scale = scale0 = scale1 = torch.zeros_like(x)
    at_nu, at_nu1 = ones, ones
    for i in range(2 * nu, 0, -1):
        following = 2 * i / x * i_n + i_n1
        over = torch.isinf(following).any()
        log_n = torch.where(over, torch.log(i_n), 0.0)
        rescaled = torch.where(over, i_n1 / i_n, i_n1)
        if i == nu:  # i_n1 is the value recorded at order nu + 1: the official in-place division reaches it
            at_nu1 = rescaled
        elif i == nu - 1:  # ... and here the one recorded at order nu
            at_nu = rescaled
        scale = scale + log_n
        if i >= nu + 1:
            scale0, scale1 = scale0 + log_n, scale1 + log_n
        elif i == nu:
            scale0 = scale0 + log_n
        i_n, i_n1 = torch.where(over, 2 * i / x + rescaled, following), torch.where(over, ones, i_n)
        if i == nu:
            at_nu = i_n1
        elif i == nu + 1:
            at_nu1 = i_n1
    log_i0e = torch.log(torch.special.i0e(x))
    return (log_i0e + torch.log(at_nu) - torch.log(i_n) + scale0 - scale,
            log_i0e + torch.log(at_nu1) - torch.log(i_n) + scale1 - scale)


def log_normaliser(nu: int, k: torch.Tensor) -> torch.Tensor:
    """log I_nu(k) - nu log k (float64), k float32, in the official code's arithmetic (loss/proco.py:210-212)."""
    log_ive, _ = log_bessel_pair(nu, k.double())
    return log_ive + k - nu * torch.log(k + 1e-20)


class _LogRatio(torch.autograd.Function):
    """loss/proco.py:57-115 LogRatioC: log I_nu(k) - nu log k - logc, d/dk = min(I_(nu+1)(k) / I_nu(k), 1)."""

    @staticmethod
    def forward(ctx, k: torch.Tensor, nu: int, logc: torch.Tensor) -> torch.Tensor:
        log_ive, log_ive1 = log_bessel_pair(nu, k.double())
        ctx.save_for_backward(torch.exp(log_ive1 - log_ive))
        return log_ive + k - nu * torch.log(k + 1e-20) - logc

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (ratio,) = ctx.saved_tensors
        return (ratio.clamp(max=1.0) * grad), None, None


class ClassStatistics:
    """One estimator (loss/proco.py:123-212 EstimatorCV): the running mean of each class's features and their count,
    from a random start (unit directions x 0.9, count 0)."""

    def __init__(self, classes: int, dim: int, device: torch.device, generator: torch.Generator):
        mean = F.normalize(torch.randn(classes, dim, generator=generator), dim=1) * 0.9
        self.mean, self.count = mean.to(device), torch.zeros(classes, device=device)

    def update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Fold a batch in (update_CV, lines 161-200): each class's batch mean weighted n / (n + count)."""
        onehot = F.one_hot(labels, len(self.count)).to(torch.float64)
        n = onehot.sum(0)
        batch_mean = (onehot.T @ features.detach().double() / n.clamp(min=1).view(-1, 1)).float()
        n = n.float()
        weight = (n / (n + self.count)).nan_to_num(0.0).view(-1, 1)  # 0 / 0 for a class not seen yet
        self.mean = self.mean * (1 - weight) + batch_mean * weight
        self.count = self.count + n

    def concentration(self) -> tuple[torch.Tensor, torch.Tensor]:
        """kappa (float32) and log I_nu(kappa) - nu log kappa (float64) of every class (update_kappa, 202-212)."""
        dim = self.mean.shape[1]
        r = torch.linalg.norm(self.mean, dim=1)
        kappa = dim * r / (1 - r ** 2)
        kappa = torch.where((kappa > KAPPA_MAX) | (kappa < 0), torch.full_like(kappa, KAPPA_MAX), kappa)
        return kappa, log_normaliser(dim // 2 - 1, kappa)


def contrast_logits(features: torch.Tensor, stats: ClassStatistics, temperature: float) -> torch.Tensor:
    """(N, C) float64: ProCoLoss.forward's logits (lines 272-283) of float32 unit features against the statistics.
    k~ = ||kappa_c mu_c + z / T|| as sqrt(kappa_c^2 |mu_c|^2 + 2 kappa_c (mu_c . z) / T + |z|^2 / T^2) in float64 (mu_c
    normalised in float32, as theirs, so |mu_c| is 1 within its rounding): an (N, C)
    matrix where the official code builds (N, C, P) (8 GB a view for iNaturalist's batch of 256); the official float32
    norm differs by its own rounding."""
    kappa, logc = stats.concentration()
    z, k, mu = features.double(), kappa.double(), F.normalize(stats.mean, dim=1).double()
    squared = (k.square() * mu.square().sum(1) + 2 * k * (z @ mu.T) / temperature
               + z.square().sum(1, keepdim=True) / temperature ** 2)
    k_tilde = squared.clamp(min=0).sqrt()
    return _LogRatio.apply(k_tilde, stats.mean.shape[1] // 2 - 1, logc)
