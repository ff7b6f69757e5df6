"""DirMixE against its official code, transcribed here in its own structure: scongl/DirMixE @
2b67827254a2e9a9475dc692a2697a3e5a073ac0 model/loss.py:289-449 LogitAdjustExpertLoss (on the CPU; the pool given, not
drawn). Values and gradients on random inputs, before and after the semi-variance starts; the components; the pool's
use over an epoch; the recipes; an exact mid-epoch resume."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_preempt import fixture_run, resumes_exactly

from bench.algorithms.dirmixe import DirMixEAlgorithm, components, dirmixe_loss, prior_pool
from bench.algorithms.step import Step
from bench.cli import main
from bench.plan.config import resolve


class LogitAdjustExpertLoss(torch.nn.Module):
    def __init__(self, cls_num_list=None, lambda_var=1.0, power=1.0, trials=60, loss_type='LA', alpha_sum=10000,
                 dataset_type='CIFAR'):
        super().__init__()
        self.cls_num_list = cls_num_list
        self.prior = torch.tensor(cls_num_list).float()
        self.prior = self.prior / self.prior.sum()
        self.C_number = len(cls_num_list)
        self.power = power
        self.lambda_var = lambda_var
        self.trials = trials
        self.dataset_type = dataset_type
        self.loss = torch.nn.CrossEntropyLoss()

    def start_new_epoch(self, epoch, total_epoch):
        self.flag = epoch <= int(0.8 * total_epoch)
        self.idx = 0  # the pool's np.random.shuffle is left out: the test gives each step its draws

    def generate_weights(self):
        weight = torch.tensor([1 / self.C_number] * self.C_number).float()
        self.weights1 = self.prior.clone()
        self.weights2 = weight
        if self.dataset_type == 'CIFAR':
            self.weights3 = self.inverse_prior(self.prior)
        else:
            sorted_idx = np.argsort(self.cls_num_list)
            sorted_train_cls_num_list = np.sort(self.cls_num_list)
            sorted_idx = sorted_idx[::-1]
            img_num_per_cls = [0] * self.C_number
            for i in range(self.C_number):
                img_num_per_cls[sorted_idx[i]] = sorted_train_cls_num_list[i]
            self.weights3 = torch.tensor(img_num_per_cls).float()
        self.weights1 = self.weights1 / self.weights1.sum()
        self.weights2 = self.weights2 / self.weights2.sum()
        self.weights3 = self.weights3 / self.weights3.sum()

    def inverse_prior(self, prior):
        value, idx0 = torch.sort(prior)
        _, idx1 = torch.sort(idx0)
        idx2 = prior.shape[0] - 1 - idx1
        return value.index_select(0, idx2)

    def forward(self, output_logits, target, extra_info=None):
        t_list = self.pool[self.idx: self.idx + self.trials]
        index = []
        diri = []
        for t in t_list:
            index.append(t[1])
            diri.append(t[0])
        self.idx += self.trials
        expert_logits = extra_info['logits']
        loss_list = []
        for (i, w) in zip(index, diri):
            pi_ratio = w ** self.power / self.prior ** self.power
            expert = expert_logits[i]
            score = expert - torch.log(pi_ratio + 1e-9)
            loss = self.loss(score, target)
            loss_list.append(loss)
        loss_tensor = torch.stack(loss_list)
        loss_mean = loss_tensor.mean()
        loss_var = 0.0
        cnt = 0
        for i in range(loss_tensor.size(0)):
            loss_tmp = loss_tensor[i]
            if loss_tmp > loss_mean:
                loss_var += (loss_tmp - loss_mean) ** 2
                cnt += 1
        loss_var = loss_var / max(cnt - 1, 1)
        if self.flag:
            return loss_tensor.mean()
        return loss_tensor.mean() + self.lambda_var * loss_var


COUNTS = [int(500 * 0.01 ** (i / 19)) for i in range(20)]


@pytest.mark.parametrize("epoch, power, lam, seed", [(1, 1.3, 5.0, 0), (200, 1.3, 15.0, 1), (170, 1.6, 1.0, 2)])
def test_the_loss_equals_the_official_in_value_and_gradient(epoch, power, lam, seed):
    """Epoch 200 of 200 (1-based) has the semi-variance, epoch 1 not: the official flag for 0-based epochs >= 160."""
    rng = np.random.default_rng(seed)
    ws, ks = prior_pool(COUNTS, 24, 10000.0, rng)
    cosines = torch.tensor(rng.uniform(-1, 1, (16, 3, 20)), dtype=torch.float32)
    labels = torch.tensor(rng.integers(0, 20, 16))
    official = LogitAdjustExpertLoss(COUNTS, lambda_var=lam, power=power, trials=12)
    official.pool = [(torch.from_numpy(w), int(k)) for w, k in zip(ws, ks)]
    official.start_new_epoch(epoch, 201)
    ours_x, theirs_x = cosines.clone().requires_grad_(True), cosines.clone().requires_grad_(True)
    prior = torch.tensor(COUNTS, dtype=torch.float32) / sum(COUNTS)
    variance = epoch - 1 >= int(0.8 * 201)  # bench's 0-based test
    assert variance == (not official.flag)
    ours = sum(dirmixe_loss(ours_x, labels, 30.0, prior, torch.from_numpy(ws[i:i + 12]), torch.from_numpy(ks[i:i + 12]),
                            power, lam, variance) for i in (0, 12))
    theirs = sum(official(None, labels, {"logits": (30.0 * theirs_x).transpose(0, 1)}) for _ in range(2))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(ours_x.grad, theirs_x.grad, rtol=1e-4, atol=1e-6)


def test_the_semi_variance_starts_where_the_official_flag_turns():
    for epochs in (200, 180, 100):
        official = LogitAdjustExpertLoss(COUNTS)
        first = next(e for e in range(epochs) if (official.start_new_epoch(e + 1, epochs + 1), not official.flag)[1])
        algorithm = _algorithm(epochs)
        algorithm.start_epoch(first - 1, torch.Generator().manual_seed(0))
        assert not algorithm.variance
        algorithm.start_epoch(first, torch.Generator().manual_seed(0))
        assert algorithm.variance and first == {200: 160, 180: 144, 100: 80}[epochs]
        algorithm.start_epoch(epochs - 1, torch.Generator().manual_seed(0))  # and on to the last epoch
        assert algorithm.variance


@pytest.mark.parametrize("dataset_type", ["CIFAR", "ImageNet"])
@pytest.mark.parametrize("counts", [[50, 30, 30, 9, 4, 1], [int(500 * 0.01 ** (i / 99)) for i in range(100)]])
def test_the_components_are_the_official_ones(dataset_type, counts):
    """Exactly, but for the order among tied classes (CIFAR-100-LT's tail has many): the official sorts order ties
    their own way (a declared deviation); bench's stable sort gives each tie group the same set of values."""
    official = LogitAdjustExpertLoss(counts, dataset_type=dataset_type)
    official.generate_weights()
    expected = torch.stack([official.weights1, official.weights2, official.weights3]).numpy()
    ours = components(counts)
    np.testing.assert_allclose(ours[:2], expected[:2], rtol=1e-6)
    counts = np.asarray(counts)
    for c in np.unique(counts):
        tied = counts == c
        np.testing.assert_allclose(np.sort(ours[2][tied]), np.sort(expected[2][tied]), rtol=1e-6)
        if tied.sum() == 1:
            np.testing.assert_allclose(ours[2][tied], expected[2][tied], rtol=1e-6)


def test_the_pool_draws_around_each_component():
    ws, ks = prior_pool(COUNTS, 3000, 10000.0, np.random.default_rng(0))
    comps = components(COUNTS)
    assert len(np.bincount(ks)) == 3 and all(900 < n < 1100 for n in np.bincount(ks))
    for k in range(3):
        np.testing.assert_allclose(ws[ks == k].mean(0), comps[k], rtol=0.05, atol=1e-4)
    np.testing.assert_allclose(ws.sum(1), 1.0, rtol=1e-5)


def _algorithm(epochs=200):
    cfg = resolve("dirmixe", "cifar10_lt", 0, sets=["model.name=small_cnn", "train.batch_size=4",
                                                    f"train.epochs={epochs}", "method.dirmixe_trials=5"])
    data = SimpleNamespace(train_counts=[6, 3, 1], train_labels=torch.tensor([0] * 6 + [1] * 3 + [2]), in_channels=1,
                           num_classes=3)
    algorithm = DirMixEAlgorithm(cfg, data, torch.device("cpu"), ".")
    algorithm.build_model()
    algorithm.setup()
    return algorithm


def test_each_epoch_uses_the_whole_pool_once_in_a_new_order_and_a_step_takes_the_loss():
    torch.manual_seed(0)
    algorithm = _algorithm()
    assert len(algorithm.pool_k) == 5 * 3  # trials x ceil(10 images / 4)
    model = algorithm.build_model()[0]
    step = Step(net=model, model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
                autocast=contextlib.nullcontext, memory_format=torch.contiguous_format)
    orders = []
    for epoch in range(2):
        algorithm.start_epoch(epoch, torch.Generator().manual_seed(epoch))
        orders.append(algorithm.order.clone())
        for _ in range(3):
            x, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 0])
            take = algorithm.order[algorithm.index:algorithm.index + 5]
            expected = dirmixe_loss(model(x, experts=True), y, 30.0, algorithm.prior, algorithm.pool_w[take],
                                    algorithm.pool_k[take], 1.3, 15.0, False)
            loss, _ = algorithm.train_step(step, x, y)
            torch.testing.assert_close(loss, expected.detach())
        assert algorithm.index == 15
    assert sorted(orders[0].tolist()) == list(range(15)) and not torch.equal(orders[0], orders[1])
    state = algorithm.position_state()
    algorithm.start_epoch(1, torch.Generator().manual_seed(1))
    algorithm.restore_position(state)
    assert algorithm.index == 15 and torch.equal(algorithm.order, orders[1])


def test_the_recipes_apply_per_dataset():
    c10, c100 = resolve("dirmixe", "cifar10_lt", 0), resolve("dirmixe", "cifar100_lt", 0)
    assert (c10["method"]["dirmixe_lambda"], c100["method"]["dirmixe_lambda"]) == (15.0, 5.0)
    assert (c10["train"]["weight_decay"], c100["train"]["weight_decay"]) == (5e-4, 1e-3)
    assert c100["train"]["nesterov"] and c100["augment"]["rotation"] == 15.0
    imagenet = resolve("dirmixe", "imagenet_lt", 0)
    assert (imagenet["method"]["dirmixe_power"], imagenet["train"]["weight_decay"]) == (1.6, 7e-4)


def test_dirmixe_needs_three_experts(tmp_path, capsys):
    argv = ["run", "--methods", "dirmixe", "--datasets", "cifar10_lt", "--dry-run", "--out", str(tmp_path / "o")]
    assert main([*argv, "--set", "method.experts=2"]) == 2
    assert "method dirmixe has exactly 3 experts" in capsys.readouterr().err


def test_a_dirmixe_run_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    argv = fixture_run("dirmixe", cifar_root)
    assert len(resumes_exactly(argv, tmp_path, 2)["metrics"]) == 2


def test_the_loss_is_the_draws_mean_plus_lambda_times_their_upper_semi_variance():
    z = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])  # 1 image, 3 experts, 2 classes
    labels, prior = torch.tensor([0]), torch.tensor([0.5, 0.5])
    w, k = torch.full((3, 2), 0.5), torch.tensor([0, 1, 2])  # w = pi: no adjustment (log(1 + 1e-9))
    losses = torch.stack([F.cross_entropy(z[:, j], labels) for j in range(3)])
    mean = losses.mean()
    top = losses[losses > mean]  # losses 0.13, 1.31, 0.69, mean 0.71: only expert 1's is above (divided by max(0, 1))
    assert len(top) == 1
    expected = mean + 4.0 * (top[0] - mean) ** 2
    torch.testing.assert_close(dirmixe_loss(z, labels, 1.0, prior, w, k, 1.3, 4.0, False), mean)
    torch.testing.assert_close(dirmixe_loss(z, labels, 1.0, prior, w, k, 1.3, 4.0, True), expected)
    k4, w4 = torch.tensor([0, 1, 1, 1, 2]), torch.full((5, 2), 0.5)  # three draws above the mean: divided by 3 - 1
    losses4 = losses[k4]
    assert (losses4 > losses4.mean()).sum() == 3
    spread = ((losses4 - losses4.mean()) ** 2 * (losses4 > losses4.mean())).sum() / 2
    torch.testing.assert_close(dirmixe_loss(z, labels, 1.0, prior, w4, k4, 1.3, 4.0, True),
                               losses4.mean() + 4.0 * spread)


def test_dirmixe_tta_aggregates_a_finished_dirmixe_run(cifar_root, tmp_path):
    """The child trains only SADE's aggregation weights on the unlabelled test images; with no learning its
    prediction is its parent's mean of experts."""
    from test_sade_tta import ARGS, _predictions, _runs

    out = tmp_path / "out"
    assert main(["run", "--methods", "dirmixe_tta", "--data-root", str(cifar_root), "--out", str(out), *ARGS,
                 "stage.lr=1e-12"]) == 0
    runs = _runs(out)
    child, parent = runs["dirmixe_tta"], runs["dirmixe"]
    s = child[0]["selection"]
    assert s["posthoc"] == "sade_aggregation" and "without their labels" in s["transductive"]
    assert s["aggregation_weights"] == pytest.approx([1 / 3] * 3, abs=1e-6)
    assert np.array_equal(_predictions(child[1]), _predictions(parent[1]))
    assert child[0]["parent"]["run_id"] == parent[1].name
    cfg = resolve("dirmixe_tta", "imagenet_lt", 0)
    assert (cfg["stage"]["lr"], cfg["stage"]["batch_size"]) == (0.025, 64)
