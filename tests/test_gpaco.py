"""GPaCo against its official code, transcribed here in its own structure: dvlab-research/
Parametric-Contrastive-Learning @ fe56535ecd716e56a72e75c4e818f2059e557584 GPaCo/LT/moco/builder.py:22-140 (MoCo,
one process: concat_all_gather is the identity) and GPaCo/LT/losses.py:7-78 (PaCoLoss), on a tiny encoder with the
official structure (avgpool second to last, fc last). The step's loss, gradients and queue; the recipes; an exact
mid-epoch resume."""

from __future__ import annotations

import contextlib
import copy
from types import SimpleNamespace

import torch
import torch.nn as nn
from test_preempt import fixture_run, resumes_exactly

from bench.algorithms.gpaco import GPaCoAlgorithm
from bench.algorithms.step import Step
from bench.models.paconet import GPaCoNet
from bench.plan.config import resolve


def concat_all_gather(tensor):
    return tensor  # one process


def flatten(t):
    return t.reshape(t.shape[0], -1)


class MoCo(nn.Module):
    def __init__(self, base_encoder, dim=128, K=65536, m=0.999, T=0.2, mlp=False, feat_dim=2048, num_classes=1000):
        super().__init__()
        self.K = K
        self.m = m
        self.T = T
        self.encoder_q = base_encoder(num_classes=dim)
        self.linear = nn.Linear(feat_dim, num_classes)
        if mlp:
            dim_mlp = self.encoder_q.fc.weight.shape[1]
            self.encoder_q.fc = nn.Sequential(nn.Linear(dim_mlp, dim_mlp), nn.ReLU(inplace=True),
                                              nn.Linear(dim_mlp, dim_mlp), nn.ReLU(inplace=True), self.encoder_q.fc)
        self.register_buffer("queue", torch.randn(K, dim))
        self.queue = nn.functional.normalize(self.queue, dim=0)
        self.register_buffer("queue_l", torch.randint(0, num_classes, (K,)))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))
        self.layer = -2
        self.feat_after_avg_q = None
        self._register_hook()
        self.normalize = False

    def _find_layer(self, module):
        children = [*module.children()]
        return children[self.layer]

    def _hook_q(self, _, __, output):
        self.feat_after_avg_q = flatten(output)

    def _register_hook(self):
        layer_q = self._find_layer(self.encoder_q)
        layer_q.register_forward_hook(self._hook_q)

    @torch.no_grad()
    def _dequeue_and_enqueue(self, keys, labels):
        keys = concat_all_gather(keys)
        labels = concat_all_gather(labels)
        batch_size = keys.shape[0]
        ptr = int(self.queue_ptr)
        assert self.K % batch_size == 0
        self.queue[ptr:ptr + batch_size, :] = keys
        self.queue_l[ptr:ptr + batch_size] = labels
        ptr = (ptr + batch_size) % self.K
        self.queue_ptr[0] = ptr

    def _train(self, im_q, im_k, labels):
        q = self.encoder_q(im_q)
        q = nn.functional.normalize(q, dim=1)
        logits_q = self.linear(self.feat_after_avg_q)
        k = self.encoder_q(im_k)
        k = nn.functional.normalize(k, dim=1)
        logits_k = self.linear(self.feat_after_avg_q)
        features = torch.cat((q, k, self.queue.clone().detach()), dim=0)
        target = torch.cat((labels, labels, self.queue_l.clone().detach()), dim=0)
        self._dequeue_and_enqueue(k, labels)
        logits = torch.cat((logits_q, logits_k), dim=0)
        return features, target, logits

    def forward(self, im_q, im_k=None, labels=None):
        return self._train(im_q, im_k, labels)


class PaCoLoss(nn.Module):
    def __init__(self, alpha, beta=1.0, gamma=1.0, supt=1.0, temperature=1.0, base_temperature=None, K=8192,
                 num_classes=1000, smooth=0.0):
        super().__init__()
        self.temperature = temperature
        self.beta = beta
        self.gamma = gamma
        self.supt = supt
        self.base_temperature = temperature if base_temperature is None else base_temperature
        self.K = K
        self.alpha = alpha
        self.num_classes = num_classes
        self.smooth = smooth
        self.weight = None

    def cal_weight_for_classes(self, cls_num_list):
        cls_num_list = torch.Tensor(cls_num_list).view(1, self.num_classes)
        self.weight = cls_num_list / cls_num_list.sum()

    def forward(self, features, labels=None, sup_logits=None):
        device = torch.device('cpu')
        batch_size = features.shape[0] - self.K
        labels = labels.contiguous().view(-1, 1)
        mask = torch.eq(labels[:batch_size], labels.T).float().to(device)
        anchor_dot_contrast = torch.div(torch.matmul(features[:batch_size], features.T), self.temperature)
        if self.weight is not None:
            anchor_dot_contrast = torch.cat(((sup_logits + torch.log(self.weight + 1e-9)) / self.supt,
                                             anchor_dot_contrast), dim=1)
        else:
            anchor_dot_contrast = torch.cat(((sup_logits) / self.supt, anchor_dot_contrast), dim=1)
        logits_max, _ = torch.max(anchor_dot_contrast, dim=1, keepdim=True)
        logits = anchor_dot_contrast - logits_max.detach()
        logits_mask = torch.scatter(torch.ones_like(mask), 1, torch.arange(batch_size).view(-1, 1).to(device), 0)
        mask = mask * logits_mask
        one_hot_label = torch.nn.functional.one_hot(labels[:batch_size, ].view(-1, ),
                                                    num_classes=self.num_classes).to(torch.float32)
        one_hot_label = self.smooth / (self.num_classes - 1) * (1 - one_hot_label) + (1 - self.smooth) * one_hot_label
        mask = torch.cat((one_hot_label * self.beta, mask * self.alpha), dim=1)
        logits_mask = torch.cat((torch.ones(batch_size, self.num_classes).to(device), self.gamma * logits_mask), dim=1)
        exp_logits = torch.exp(logits) * logits_mask
        log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True) + 1e-12)
        mean_log_prob_pos = (mask * log_prob).sum(1) / mask.sum(1)
        loss = - (self.temperature / self.base_temperature) * mean_log_prob_pos
        return loss.mean()


class TinyEncoder(nn.Module):
    """A torchvision-like encoder: ..., avgpool, fc (the official hook reads the second-to-last child)."""

    def __init__(self, num_classes):
        super().__init__()
        self.conv, self.bn, self.relu = nn.Conv2d(1, 6, 3), nn.BatchNorm2d(6), nn.ReLU()
        self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(6, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.relu(self.bn(self.conv(x)))), 1))


class Backbone(nn.Module):
    out_features = 6

    def __init__(self, encoder):
        super().__init__()
        self.conv, self.bn, self.relu, self.avgpool = encoder.conv, encoder.bn, encoder.relu, encoder.avgpool

    def forward(self, x):
        return torch.flatten(self.avgpool(self.relu(self.bn(self.conv(x)))), 1)


COUNTS = [6, 3, 1]


def _pair():
    """The official MoCo and bench's GPaCoNet with the same weights and queue."""
    torch.manual_seed(0)
    official = MoCo(TinyEncoder, dim=8, K=16, mlp=True, feat_dim=6, num_classes=3)
    ours = GPaCoNet(Backbone(copy.deepcopy(official.encoder_q)), 3, 8, 16)
    ours.projector.load_state_dict(official.encoder_q.fc.state_dict())
    ours.classifier.load_state_dict(official.linear.state_dict())
    ours.queue.copy_(official.queue)
    ours.queue_labels.copy_(official.queue_l)
    return official, ours


def _algorithm():
    cfg = resolve("gpaco", "cifar10_lt", 0, sets=["method.paco_dim=8", "method.paco_queue=16",
                                                  "method.paco_alpha=0.3", "method.paco_temperature=0.2"])
    data = SimpleNamespace(train_counts=COUNTS, train_labels=torch.tensor([0] * 6 + [1] * 3 + [2]), in_channels=1,
                           num_classes=3)
    algorithm = GPaCoAlgorithm(cfg, data, torch.device("cpu"), ".")
    algorithm.setup()
    return algorithm


def test_two_steps_take_the_official_loss_gradients_and_queue():
    official, ours = _pair()
    assert [type(m).__name__ for m in ours.projector] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]  # no BN
    criterion = PaCoLoss(alpha=0.3, beta=1.0, gamma=1.0, temperature=0.2, K=16, num_classes=3)
    criterion.cal_weight_for_classes(COUNTS)
    algorithm = _algorithm()
    step = Step(net=ours, model=ours, optimizer=torch.optim.SGD(ours.parameters(), lr=0.1),
                autocast=contextlib.nullcontext, memory_format=torch.contiguous_format)
    theirs_opt = torch.optim.SGD(official.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(1)
    for _ in range(2):  # the second step sees the first one's keys in the queue and its update
        v1, v2 = torch.randn(4, 1, 8, 8, generator=gen), torch.randn(4, 1, 8, 8, generator=gen)
        y = torch.tensor([0, 1, 2, 0])
        features, target, logits = official(v1, v2, y)
        theirs = criterion(features, target, logits)
        theirs_opt.zero_grad()
        theirs.backward()
        theirs_opt.step()
        loss, train_logits = algorithm.train_step(step, [v1, v2], y)
        torch.testing.assert_close(loss, theirs.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(train_logits, logits[:4].detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ours.queue, official.queue)
        assert torch.equal(ours.queue_labels, official.queue_l) and int(ours.queue_ptr) == int(official.queue_ptr)
    torch.testing.assert_close(ours.classifier.weight, official.linear.weight, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.projector[0].weight, official.encoder_q.fc[0].weight, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.backbone.conv.weight, official.encoder_q.conv.weight, rtol=1e-5, atol=1e-6)


def test_the_recipes_apply_per_dataset():
    inat, imagenet = resolve("gpaco", "inat2018", 0), resolve("gpaco", "imagenet_lt", 0)
    assert (inat["train"]["lr"], inat["train"]["weight_decay"], inat["augment"]["randaugment_ops"]) == (0.04, 1e-4, 2)
    assert (imagenet["train"]["lr"], imagenet["augment"]["randaugment_ops"]) == (0.06, 3)
    for cfg in (inat, imagenet):
        m, t = cfg["method"], cfg["train"]
        assert (m["paco_alpha"], m["paco_temperature"], m["paco_queue"], m["paco_key_view"]) == (0.05, 0.2, 8192,
                                                                                              "moco_sim")
        assert (t["epochs"], t["batch_size"], t["warmup_epochs"], t["cosine_offset"]) == (400, 128, 10, 1)


def test_a_gpaco_run_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    argv = fixture_run("gpaco", cifar_root)
    assert len(resumes_exactly(argv, tmp_path, 2)["metrics"]) == 2


def test_the_network_predicts_with_the_plain_classifier():
    _, ours = _pair()
    x = torch.randn(3, 1, 8, 8)
    ours.eval()
    torch.testing.assert_close(ours(x), ours.classifier(ours.backbone(x)))
    fresh = GPaCoNet(Backbone(TinyEncoder(8)), 3, 8, 16)  # the official start: randn normalised over the K keys
    torch.testing.assert_close(fresh.queue.norm(dim=0), torch.ones(8))
    assert fresh.queue.shape == (16, 8) and int(fresh.queue_ptr) == 0 and set(fresh.queue_labels.tolist()) <= {0, 1, 2}
