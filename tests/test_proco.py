"""ProCo against its official code, transcribed here in its own structure: LeapLabTHU/ProCo @
af9e78ef6b3d731fed963781e5a4861658028fc2 loss/proco.py:8-285 (miller_recurrence, LogRatioC, EstimatorCV,
ProCoLoss; one process, so all_gather is the identity; on the CPU) and loss/logitadjust.py, with the training loss of
ProCo_cifar/main.py:375-392. Values, gradients and the estimators' state over steps and epochs on random inputs; the
network; the recipes; an exact mid-epoch resume."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import ive
from test_preempt import fixture_run, resumes_exactly

from bench.algorithms.network import resolve_head
from bench.algorithms.proco import ProCoAlgorithm, ProCoStatistics
from bench.algorithms.protocol import log_prior
from bench.algorithms.step import Step
from bench.cli import main
from bench.models.proconet import ProCoNet
from bench.models.vmf import ClassStatistics, contrast_logits, log_bessel_pair
from bench.plan.config import resolve


# ---------------------------------------------------------------------------------------- the official code
def miller_recurrence(nu, x):
    I_n = torch.ones(1, dtype=torch.float64)
    I_n1 = torch.zeros(1, dtype=torch.float64)
    Estimat_n = [nu, nu + 1]
    scale0 = 0
    scale1 = 0
    scale = 0
    for i in range(2 * nu, 0, -1):
        I_n_tem, I_n1_tem = 2 * i / x * I_n + I_n1, I_n
        if torch.isinf(I_n_tem).any():
            I_n1 /= I_n
            scale += torch.log(I_n)
            if i >= (nu + 1):
                scale0 += torch.log(I_n)
                scale1 += torch.log(I_n)
            elif i == nu:
                scale0 += torch.log(I_n)
            I_n = torch.ones(1, dtype=torch.float64)
            I_n, I_n1 = 2 * i / x * I_n + I_n1, I_n
        else:
            I_n, I_n1 = I_n_tem, I_n1_tem
        if i == nu:
            Estimat_n[0] = I_n1
        elif i == (nu + 1):
            Estimat_n[1] = I_n1
    ive0 = torch.special.i0e(x)
    Estimat_n[0] = torch.log(ive0) + torch.log(Estimat_n[0]) - torch.log(I_n) + scale0 - scale
    Estimat_n[1] = torch.log(ive0) + torch.log(Estimat_n[1]) - torch.log(I_n) + scale1 - scale
    return Estimat_n[0], Estimat_n[1]


class LogRatioC(torch.autograd.Function):
    @staticmethod
    def forward(ctx, k, p, logc):
        nu, nu1 = miller_recurrence((p / 2 - 1).int(), k.double())
        tensor = nu + k - (p / 2 - 1) * torch.log(k + 1e-20) - logc
        ctx.save_for_backward(torch.exp(nu1 - nu))
        return tensor

    @staticmethod
    def backward(ctx, grad_output):
        grad = ctx.saved_tensors[0]
        grad[grad > 1.0] = 1.0
        grad *= grad_output
        return grad, None, None


class EstimatorCV:
    def __init__(self, feature_num, class_num):
        self.class_num = class_num
        self.feature_num = feature_num
        self.Ave = F.normalize(torch.randn(class_num, feature_num), dim=1) * 0.9
        self.Amount = torch.zeros(class_num)
        self.kappa = torch.ones(class_num) * self.feature_num * 90 / 19
        tem = torch.from_numpy(ive(self.feature_num / 2 - 1, self.kappa.cpu().numpy().astype(np.float64)))
        self.logc = torch.log(tem + 1e-300) + self.kappa - (self.feature_num / 2 - 1) * torch.log(self.kappa + 1e-300)

    def reset(self):
        self.__init__(self.feature_num, self.class_num)

    def update_CV(self, features, labels):
        N = features.size(0)
        C = self.class_num
        A = features.size(1)
        NxCxFeatures = features.view(N, 1, A).expand(N, C, A)
        onehot = torch.zeros(N, C)
        onehot.scatter_(1, labels.view(-1, 1), 1)
        NxCxA_onehot = onehot.view(N, C, 1).expand(N, C, A)
        features_by_sort = NxCxFeatures.mul(NxCxA_onehot)
        Amount_CxA = NxCxA_onehot.sum(0)
        Amount_CxA[Amount_CxA == 0] = 1
        ave_CxA = features_by_sort.sum(0) / Amount_CxA
        sum_weight_AV = onehot.sum(0).view(C, 1).expand(C, A)
        weight_AV = sum_weight_AV.div(sum_weight_AV + self.Amount.view(C, 1).expand(C, A))
        weight_AV[weight_AV != weight_AV] = 0
        self.Ave = (self.Ave.mul(1 - weight_AV) + ave_CxA.mul(weight_AV)).detach()
        self.Amount += onehot.sum(0)

    def update_kappa(self, kappa_inf=False):
        R = torch.linalg.norm(self.Ave, dim=1)
        self.kappa = self.feature_num * R / (1 - R ** 2)
        self.kappa[self.kappa > 1e5] = 1e5
        self.kappa[self.kappa < 0] = 1e5
        nu, _ = miller_recurrence(torch.tensor(self.feature_num / 2 - 1).int(), self.kappa.double())
        self.logc = nu + self.kappa - (self.feature_num / 2 - 1) * torch.log(self.kappa + 1e-20)


class ProCoLoss(torch.nn.Module):
    def __init__(self, contrast_dim, temperature=1.0, num_classes=1000):
        super().__init__()
        self.temperature = temperature
        self.num_classes = num_classes
        self.feature_num = contrast_dim
        self.estimator_old = EstimatorCV(self.feature_num, num_classes)
        self.estimator = EstimatorCV(self.feature_num, num_classes)

    def _hook_before_epoch(self, epoch, epochs):
        self.estimator_old.Ave = self.estimator.Ave
        self.estimator_old.Amount = self.estimator.Amount
        self.estimator_old.kappa = self.estimator.kappa
        self.estimator_old.logc = self.estimator.logc
        self.estimator.reset()

    def forward(self, features, labels=None, sup_logits=None, args=None):
        N = features.size(0)
        if labels is not None:
            total_features, total_labels = features, labels  # all_gather over one process
            self.estimator_old.update_CV(total_features.detach(), total_labels)
            self.estimator.update_CV(total_features.detach(), total_labels)
            self.estimator_old.update_kappa()
        Ave = self.estimator_old.Ave.detach()
        Ave_norm = F.normalize(Ave, dim=1)
        logc = self.estimator_old.logc.detach()
        kappa = self.estimator_old.kappa.detach()
        tem = kappa.reshape(-1, 1) * Ave_norm
        tem = tem.unsqueeze(0) + features[:N].unsqueeze(1) / self.temperature
        kappa_new = torch.linalg.norm(tem, dim=2)
        return LogRatioC.apply(kappa_new, torch.tensor(self.estimator.feature_num), logc)


class LogitAdjust(torch.nn.Module):
    def __init__(self, cls_num_list, tau=1, weight=None):
        super().__init__()
        cls_num_list = torch.FloatTensor(cls_num_list)
        cls_p_list = cls_num_list / cls_num_list.sum()
        self.m_list = (tau * torch.log(cls_p_list)).view(1, -1)
        self.weight = weight

    def forward(self, x, target):
        return F.cross_entropy(x + self.m_list, target, weight=self.weight)


def official_loss(criterion_ce, criterion_scl, ce_logits, f2, f3, targets, alpha):
    """ProCo_cifar/main.py:383-392."""
    contrast_logits1 = criterion_scl(f2, targets)
    contrast_logits2 = criterion_scl(f3, targets)
    scl_loss = (criterion_ce(contrast_logits1, targets) + criterion_ce(contrast_logits2, targets)) / 2
    ce_loss = criterion_ce(ce_logits, targets)
    return ce_loss + alpha * scl_loss


# ---------------------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("nu", [1, 7, 63, 511])
def test_the_log_bessel_recurrence_is_the_official_bit_for_bit_overflows_included(nu):
    """Wide arguments, and tiny ones whose values overflow float64 and make the official code rescale (at orders
    nu + 1 and nu too, where its in-place division reaches the values it recorded)."""
    gen = torch.Generator().manual_seed(nu)
    x = torch.cat([torch.logspace(-3, 5, 61, dtype=torch.float64),
                   torch.rand(40, generator=gen, dtype=torch.float64) * 2000])
    ours, theirs = log_bessel_pair(nu, x.clone()), miller_recurrence(torch.tensor(nu).int(), x.clone())
    assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])
    # alone, these overflow at order nu + 1 or nu themselves (nu 63, 511): the aliased in-place division
    for tiny in (0.0023883310435035784, 0.0016220062119181328):
        one = torch.tensor([tiny], dtype=torch.float64)
        ours, theirs = log_bessel_pair(nu, one.clone()), miller_recurrence(torch.tensor(nu).int(), one.clone())
        assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])
    ours = log_bessel_pair(nu, x.clone())
    # and they are log ive where the recurrence, started at order 2 nu, is accurate (ProCo's nu, 63 and 511, x below
    # 2 nu; ProCo's large concentrations, far above, are where it drifts): scipy's, where it does not underflow
    moderate = (x > 1) & (x < 2 * nu) & (nu >= 63)
    reference = ive(nu, x[moderate].numpy())
    shown = reference > 0
    assert shown.sum() >= (20 if nu >= 63 else 0)
    np.testing.assert_allclose(ours[0][moderate].numpy()[shown], np.log(reference[shown]), rtol=1e-9, atol=1e-9)


def _features(gen, n, dim, spread):
    """Unit features around a few class directions: concentrations from small to large."""
    centres = F.normalize(torch.randn(4, dim, generator=gen), dim=1)
    labels = torch.randint(0, 4, (n,), generator=gen)
    return F.normalize(centres[labels] + spread * torch.randn(n, dim, generator=gen), dim=1), labels


def _official_state_into(stats: ClassStatistics, official: EstimatorCV) -> None:
    stats.mean, stats.count = official.Ave.clone(), official.Amount.clone()


@pytest.mark.parametrize("dim, spread, temperature", [(16, 0.3, 0.1), (128, 0.05, 0.07), (32, 2.0, 0.1)])
def test_the_loss_over_steps_and_epochs_equals_the_official_in_value_gradient_and_state(dim, spread, temperature):
    gen = torch.Generator().manual_seed(dim)
    counts, classes, alpha = [40, 20, 8, 3, 1], 5, 1.0  # class 4 never appears: it keeps its random start
    criterion_ce = LogitAdjust(counts)
    torch.manual_seed(0)
    official = ProCoLoss(dim, temperature, classes)
    ours = ProCoStatistics(classes, dim, torch.device("cpu"))
    lp = log_prior(counts, torch.device("cpu"))
    for epoch in range(2):
        official._hook_before_epoch(epoch, 2)
        ours.next_epoch(epoch, torch.Generator().manual_seed(epoch))
        # the same random starts: the official code draws them from torch's global generator
        _official_state_into(ours.current, official.estimator)
        if epoch == 0:
            _official_state_into(ours.previous, official.estimator_old)
        for _ in range(3):
            f2, labels = _features(gen, 12, dim, spread)
            f3 = F.normalize(f2 + 0.1 * torch.randn(12, dim, generator=gen), dim=1)
            ce_logits = torch.randn(12, classes, generator=gen)
            theirs_in = [t.clone().requires_grad_(True) for t in (ce_logits, f2, f3)]
            ours_in = [t.clone().requires_grad_(True) for t in (ce_logits, f2, f3)]
            theirs = official_loss(criterion_ce, official, *theirs_in, labels, alpha)
            contrastive = [F.cross_entropy(contrast_logits(f, ours.observe(f.detach(), labels), temperature) + lp,
                                           labels) for f in ours_in[1:]]
            loss = F.cross_entropy(ours_in[0] + lp, labels) + alpha * (contrastive[0] + contrastive[1]) / 2
            torch.testing.assert_close(loss, theirs, rtol=2e-5, atol=2e-5)
            loss.backward()
            theirs.backward()
            for a, b in zip(ours_in, theirs_in):
                torch.testing.assert_close(a.grad, b.grad, rtol=2e-4, atol=2e-6)
            for mine, its in ((ours.previous, official.estimator_old), (ours.current, official.estimator)):
                torch.testing.assert_close(mine.mean, its.Ave, rtol=1e-5, atol=1e-6)
                assert torch.equal(mine.count, its.Amount)
            assert ours.previous.count[4] == 0 and ours.previous.count[:4].sum() > 0


def test_the_expansion_of_the_norm_is_the_official_norm_in_float64():
    """bench's k~ = sqrt(kappa^2 + 2 kappa mu.z / T + |z|^2 / T^2) against the official (N, C, P) norm, both in
    float64 on the same statistics: the same logits to 1e-9."""
    gen = torch.Generator().manual_seed(3)
    stats = ClassStatistics(6, 64, torch.device("cpu"), gen)
    z, labels = _features(gen, 20, 64, 0.4)
    stats.update(z, labels)
    kappa, logc = stats.concentration()
    tem = kappa.double().reshape(-1, 1) * F.normalize(stats.mean, dim=1).double()
    k_new = torch.linalg.norm(tem.unsqueeze(0) + z.double().unsqueeze(1) / 0.1, dim=2)
    theirs = LogRatioC.apply(k_new, torch.tensor(64), logc)
    torch.testing.assert_close(contrast_logits(z, stats, 0.1), theirs, rtol=1e-9, atol=1e-9)


def test_concentration_at_the_random_start_and_its_clamp():
    stats = ClassStatistics(3, 128, torch.device("cpu"), torch.Generator().manual_seed(0))
    kappa, logc = stats.concentration()
    torch.testing.assert_close(kappa, torch.full((3,), 128 * 90 / 19))  # the official EstimatorCV's start
    reference = np.log(ive(63, kappa.double().numpy())) + kappa.double().numpy() - 63 * np.log(kappa.double().numpy())
    np.testing.assert_allclose(logc.numpy(), reference, rtol=2e-7)  # the official float32 log of kappa
    stats.mean = torch.nn.functional.one_hot(torch.tensor([0, 1, 2]), 128).float() * torch.tensor([[1.0], [0.0],
                                                                                                    [1.0000001]])
    # R = 1: infinite, clamped; R = 0: no concentration; R rounded above 1: negative, also 1e5 (the official clamps)
    assert stats.concentration()[0].tolist() == [1e5, 0.0, 1e5]


def test_the_network_and_its_classifier_kinds():
    from bench.models.registry import MODELS

    torch.manual_seed(0)
    linear = ProCoNet(MODELS["small_cnn"].build(1), 4, 16, 8, 0.0)
    normed = ProCoNet(MODELS["small_cnn"].build(1), 4, 16, 8, 30.0)
    x = torch.randn(5, 1, 28, 28)
    logits, z = linear(x, contrastive=True)
    h = linear.backbone(x)
    torch.testing.assert_close(logits, h @ linear.classifier.weight.T + linear.classifier.bias)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(5))
    head = [(type(m).__name__, getattr(m, "in_features", getattr(m, "num_features", None)),
             getattr(m, "out_features", None)) for m in linear.head]
    assert head == [("Linear", h.shape[1], 16), ("BatchNorm1d", 16, None), ("ReLU", None, None), ("Linear", 16, 8)]
    cos = F.normalize(normed.backbone(x), dim=1) @ F.normalize(normed.classifier.weight, dim=0)
    torch.testing.assert_close(normed(x), 30 * cos)
    assert resolve_head({"algorithm": "proco", "proco_scale": 0.0}) == "linear"
    assert resolve_head({"algorithm": "proco", "proco_scale": 30.0}) == "normed"


def _algorithm(scale=0.0):
    cfg = resolve("proco", "cifar10_lt", 0, sets=["model.name=small_cnn", "method.proco_dim=8",
                                                  "method.proco_hidden=16", f"method.proco_scale={scale}"])
    data = SimpleNamespace(train_counts=[6, 3, 1], train_labels=torch.tensor([0] * 6 + [1] * 3 + [2]), in_channels=1,
                           num_classes=3)
    return ProCoAlgorithm(cfg, data, torch.device("cpu"), ".")


def test_a_step_takes_the_official_loss_and_the_statistics_move_on_once_per_epoch():
    torch.manual_seed(0)
    algorithm = _algorithm()
    model, params = algorithm.build_model()
    algorithm.setup()
    algorithm.start_epoch(0, torch.Generator().manual_seed(0))
    first = algorithm.stats.current.mean.clone()
    step = Step(net=model, model=model, optimizer=torch.optim.SGD(params, lr=0.0), autocast=contextlib.nullcontext,
                memory_format=torch.contiguous_format)
    views, y = [torch.randn(4, 1, 28, 28) for _ in range(3)], torch.tensor([0, 1, 2, 0])
    # the official loss on the same network outputs and statistics: both start from 100 earlier features per class
    # with mean length 0.5 (one batch of a random network's near-identical features would give R near 1, where the
    # concentration P R / (1 - R^2) turns float32 rounding into large differences)
    official = ProCoLoss(8, 0.1, 3)
    pairs = ((algorithm.stats.previous, official.estimator_old), (algorithm.stats.current, official.estimator))
    for mine, its in pairs:
        mine.mean, mine.count = F.normalize(torch.randn(3, 8), dim=1) * 0.5, torch.full((3,), 100.0)
        its.Ave, its.Amount = mine.mean.clone(), mine.count.clone()
    logits, z = model(torch.cat(views), contrastive=True)
    expected = official_loss(LogitAdjust([6, 3, 1]), official, logits[:4], z[4:8], z[8:], y, 1.0)
    loss, train_logits = algorithm.train_step(step, views, y)
    torch.testing.assert_close(loss.float(), expected.detach().float(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(train_logits, logits[:4].detach())
    assert algorithm.stats.current.count.tolist() == [104.0, 102.0, 102.0]  # both views of each image
    torch.testing.assert_close(algorithm.stats.previous.mean, official.estimator_old.Ave)
    state = algorithm.state_dict()
    algorithm.start_epoch(0, torch.Generator().manual_seed(0))  # a resumed epoch 0: the statistics stay
    assert algorithm.stats.current.count.tolist() == [104.0, 102.0, 102.0]
    algorithm.start_epoch(1, torch.Generator().manual_seed(1))  # epoch 1: current -> previous, a fresh current
    assert algorithm.stats.previous.count.tolist() == [104.0, 102.0, 102.0]
    assert algorithm.stats.current.count.sum() == 0 and not torch.equal(algorithm.stats.current.mean, first)
    algorithm.load_state_dict(state)
    assert algorithm.stats.epoch == 0 and algorithm.stats.current.count.tolist() == [104.0, 102.0, 102.0]


def test_the_recipes_apply_per_dataset(tmp_path, capsys):
    c100 = resolve("proco", "cifar100_lt", 0)
    t = c100["train"]
    assert (t["lr"], t["batch_size"], t["weight_decay"], t["warmup_epochs"], t["drop_last"]) == (0.3, 256, 2e-4, 5,
                                                                                                   True)
    assert c100["method"]["proco_scale"] == 0.0 and c100["augment"]["cutout"] == 16
    inat = resolve("proco", "inat2018", 0)
    assert (inat["train"]["lr"], inat["train"]["weight_decay"], inat["method"]["proco_dim"]) == (0.2, 1e-4, 1024)
    imagenet = resolve("proco", "imagenet_lt", 0)
    assert imagenet["method"]["proco_scale"] == 30.0 and imagenet["method"]["proco_temperature"] == 0.07
    argv = ["run", "--methods", "proco", "--datasets", "cifar10_lt", "--dry-run", "--out", str(tmp_path / "o")]
    assert main([*argv, "--set", "method.proco_dim=127"]) == 2
    assert "an even number from 4 to 65536" in capsys.readouterr().err
    assert main([*argv, "--set", "method.mix=mixup"]) == 2
    assert "ProCo trains on its three views" in capsys.readouterr().err


def test_a_proco_run_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    argv = fixture_run("proco", cifar_root, "method.proco_hidden=32", "method.proco_dim=16")
    assert len(resumes_exactly(argv, tmp_path, 2)["metrics"]) == 2
