"""CC-SAM (bench.algorithms.ccsam) against zzpustc/CC-SAM @ 651d3df train_cifar.py, transcribed below in its own
structure (the classifier perturbed through .data, restored from a deepcopy): stage 1's class-wise flat term and
stage 2's feature-adversarial term, value and gradients on random inputs; the radius; the recipes; a run of both
stages and an exact mid-epoch resume of each."""

from __future__ import annotations

from copy import deepcopy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_preempt import fixture_run, resumes_exactly
from torch import nn

from bench.algorithms.ccsam import class_perturbation, stage1_loss, stage2_loss
from bench.plan.config import resolve


def grad_norm(param_groups, device):  # utils/pytorch.py:19-28
    return torch.norm(torch.stack([p.norm(p=2).to(device) for p in param_groups]), p=2)


def official_stage1(fea, classifier, loss_ori, y, class_ratio, flat_ratio, noise_ratio):
    """train_cifar.py:123, 136-185 (params_num = the classifier's parameter count)."""
    params_num = sum(p.numel() for p in classifier.parameters())
    y_in = y.detach().cpu().numpy()
    disturb_params = list(classifier.parameters())
    origin_params = deepcopy(disturb_params)
    loss_list, grad_list = [], {}
    for y_tmp in np.unique(y_in):
        idx = np.where(y_in == y_tmp)
        grad_list[str(y_tmp)] = list(torch.autograd.grad(loss_ori[idx].mean(), disturb_params, retain_graph=True))
    param_norm = grad_norm(disturb_params, disturb_params[0].device) + 1e-12
    for y_tmp in np.unique(y_in):
        idx = np.where(y_in == y_tmp)
        for param_c, param in enumerate(disturb_params):
            grad_c = grad_list[str(y_tmp)][param_c]
            grad_c_norm = torch.norm(grad_c)
            rho_c = noise_ratio * torch.sqrt(param_norm) / torch.sqrt(grad_c_norm) / np.sqrt(2) / \
                np.sqrt(np.sqrt(class_ratio[y_tmp] - 1)) / np.sqrt(np.sqrt(params_num))
            noise = rho_c * 1.0 * (grad_c / grad_c_norm) * np.sqrt(params_num)
            param.data = param.data + noise
        loss_list.extend(F.cross_entropy(classifier(fea[idx]), y[idx], reduction="none"))
        for i in range(len(disturb_params)):
            disturb_params[i].data = origin_params[i].data.clone()
    return (1 - flat_ratio) * loss_ori.mean() + flat_ratio * torch.stack(loss_list).mean()


def official_stage2(fea, classifier, y, class_weights, alpha, adver_reg):
    """train_cifar.py:52-83 (sampler Decoup)."""
    fea.requires_grad = True
    o = classifier(fea)
    loss_ori = F.cross_entropy(o, y, reduction="none")
    y_in = y.detach().cpu().numpy()
    loss_list = []
    for y_tmp in np.unique(y_in):
        idx = np.where(y_in == y_tmp)
        loss_cls_spc = loss_ori[idx]
        if len(idx[0]) > 1:
            loss_cls_spc = loss_ori[idx].mean()
        fea_grad = torch.autograd.grad(loss_cls_spc, fea, retain_graph=True, allow_unused=True)[0]
        fea_grad = fea_grad / torch.norm(fea_grad)
        noise = adver_reg * fea_grad * class_weights[y_tmp]
        loss_tmp = F.cross_entropy(classifier(fea + noise), y, reduction="none") * class_weights[y_tmp]
        loss_list.extend(loss_tmp[idx])
    return alpha * torch.stack(loss_list).mean() + (1 - alpha) * loss_ori.mean()


def _case(seed, noise_ratio):
    g = torch.Generator().manual_seed(seed)
    head = nn.Linear(8, 5)
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    backbone = nn.Linear(6, 8)
    x = torch.randn(12, 6, generator=g)
    y = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2, 0, 0, 3, 1])  # one class with a single image in the batch (4)
    partner, lam = y[torch.randperm(12, generator=g)], 0.37
    return head, backbone, x, y, partner, lam, np.array([400, 120, 40, 12, 3])


@pytest.mark.parametrize("noise_ratio", [1e-6, 0.5])  # the shipped scale, and one large enough to move the numbers
def test_stage1_is_the_official_flat_term(noise_ratio):
    head, backbone, x, y, partner, lam, counts = _case(0, noise_ratio)
    got, want = [], []
    for out, fn in ((got, "ours"), (want, "official")):
        h, b = deepcopy(head), deepcopy(backbone)
        fea = b(x)
        o = h(fea)
        per_image = lam * F.cross_entropy(o, y, reduction="none") + (1 - lam) * F.cross_entropy(o, partner,
                                                                                                reduction="none")
        if fn == "ours":
            loss = stage1_loss(fea, h, per_image, y, counts, 0.3, noise_ratio)
        else:
            loss = official_stage1(fea, h, per_image, y, counts, 0.3, noise_ratio)
        loss.backward()
        out += [loss.detach(), h.weight.grad, h.bias.grad, b.weight.grad]
    for a, b_ in zip(got, want):
        assert torch.allclose(a, b_, rtol=1e-5, atol=1e-7)
    if noise_ratio == 0.5:  # the perturbation matters here: without it the loss differs
        h, b = deepcopy(head), deepcopy(backbone)
        fea = b(x)
        plain = F.cross_entropy(h(fea), y, reduction="none")
        assert not torch.allclose(stage1_loss(fea, h, plain, y, counts, 0.3, noise_ratio),
                                  stage1_loss(fea, h, plain, y, counts, 0.3, 1e-12), atol=1e-4)


def test_the_radius_shrinks_as_the_fourth_root_of_the_class_count():
    g = (torch.tensor([3.0, 4.0]),)  # |g| = 5
    small, large = (class_perturbation(g, torch.tensor(9.0), n, 16, 1e-3)[0].norm() for n in (17, 257))
    assert torch.isclose(small / large, torch.tensor(2.0))  # ((257 - 1) / (17 - 1))^(1/4)
    # noise_ratio sqrt(P) Q^(1/4) / (sqrt(2) sqrt(|g|) (n - 1)^(1/4)) with P 9, Q 16, |g| 5, n 17
    assert float(small) == pytest.approx(1e-3 * 3.0 * 2.0 / (np.sqrt(2) * np.sqrt(5.0) * 2.0), rel=1e-6)


def test_stage2_is_the_official_adversarial_term():
    head, backbone, x, y, _, _, counts = _case(1, 0)
    weights = torch.tensor(np.log(counts.max() / counts + 0.01) / 2.0, dtype=torch.float32)
    fea = backbone(x).detach()
    h1, h2 = deepcopy(head), deepcopy(head)
    ours, logits = stage2_loss(fea, h1, y, weights, 0.4, 1.0)
    want = official_stage2(fea.clone(), h2, y, weights, 0.4, 1.0)
    ours.backward()
    want.backward()
    assert torch.allclose(ours, want, atol=1e-6) and torch.allclose(logits, h2(fea), atol=1e-6)
    assert torch.allclose(h1.weight.grad, h2.weight.grad, atol=1e-6) and torch.allclose(h1.bias.grad, h2.bias.grad)


def test_the_recipes_are_the_configs():
    c100 = resolve("ccsam_stage1", "cifar100_lt", 0, sets=["dataset.imbalance_ratio=200"])
    assert c100["method"]["ccsam_flat_ratio"] == 0.5 and c100["method"]["mix"] == "mixup"
    assert (c100["train"]["batch_size"], c100["train"]["drop_last"], c100["train"]["epochs"]) == (64, True, 200)
    child = resolve("ccsam", "cifar100_lt", 0, sets=["dataset.imbalance_ratio=200"])
    assert child["method"]["ccsam_up_limit"] == 0.3 and child["method"]["sampler"] == "class_aware"
    assert (child["stage"]["train"], child["stage"]["epochs"], child["stage"]["lr"]) == ("ccsam", 30, 0.01)
    from bench.algorithms.stage2 import run_train_section
    from bench.parts.schedules import learning_rate

    section = run_train_section(child)
    assert [learning_rate(e, section) for e in (0, 15, 29)] == [0.01] * 3  # adjust_learning_rate: constant


def test_both_stages_resume_mid_epoch_exactly(cifar_root, tmp_path):
    import shutil

    from conftest import bench_process
    from test_preempt import snapshot

    argv = fixture_run("ccsam_stage1", cifar_root, "dataset.imbalance_ratio=10")
    assert len(resumes_exactly(argv, tmp_path / "one", 2)["metrics"]) == 2
    child = fixture_run("ccsam", cifar_root, "dataset.imbalance_ratio=10", "stage.epochs=2", "stage.batch_size=64")
    plain, cut = tmp_path / "plain", tmp_path / "cut"
    (parent_dir,) = (tmp_path / "one" / "plain").iterdir()
    for out in (plain, cut):
        shutil.copytree(parent_dir, out / parent_dir.name)
    assert bench_process([*child, "--out", str(plain)]).returncode == 0
    stopped = bench_process([*child, "--out", str(cut)], "mid-epoch:3:SIGTERM")
    assert stopped.returncode == 128 + 15 and "already done" in stopped.stdout  # the child stopped, the parent shared
    resumed = bench_process([*child, "--out", str(cut)])
    assert resumed.returncode == 0 and "resuming" in resumed.stdout, resumed.stdout + resumed.stderr
    for out in (plain, cut):
        shutil.rmtree(out / parent_dir.name)
    assert snapshot(cut) == snapshot(plain)


def test_a_class_with_one_image_is_refused_in_one_sentence(cifar_root, tmp_path, capsys):
    """The official radius divides by (n_c - 1)^(1/4): a class of one image (the fixture's last at ratio 100) would
    train on infinities; the run fails with the reason instead."""
    from bench.cli import main

    assert main([*fixture_run("ccsam_stage1", cifar_root, epochs=1), "--out", str(tmp_path / "o")]) != 0
    assert "a class here has fewer than 2 training images" in capsys.readouterr().out
