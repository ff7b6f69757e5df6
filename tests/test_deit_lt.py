"""DeiT-LT (bench.algorithms.deit_lt) against val-iisc/DeiT-LT @ bc36970 and the timm functions it calls: the
Mixup / CutMix draws and targets, RandomErasing's boxes, the hard-distillation loss with its deferred class-balanced
weights, the student's outputs and AdamW's groups, the recipes, a run distilled from a finished parent, the keys it
does not read, and an exact mid-epoch resume."""

from __future__ import annotations

import contextlib
import copy
import random
import shutil

import numpy as np
import pytest
import timm.data.mixup as timm_mixup
import torch
import torch.nn.functional as F
from test_preempt import fixture_run, snapshot
from timm.data.random_erasing import RandomErasing

from bench.algorithms.deit_lt import STUDENT_NAMES, deit_lt_loss, erase_box, timm_mix
from bench.cli import main
from bench.models.deit import STUDENTS, build_student, weight_decay_groups
from bench.plan.config import resolve
from bench.plan.runs import plan
from bench.plan.usage import unused_keys
from bench.run.runner import execute

M = {"deit_switch_prob": 0.5, "deit_mixup_alpha": 0.8, "deit_cutmix_alpha": 1.0, "deit_smoothing": 0.1}
STUDENT = "method.deit_student=deit_tiny_distilled"


def rand_bbox_timm08(img_shape, lam, margin=0.0, count=None):
    """timm 0.8.15's rand_bbox (the official environment.yml pin), as it was: the box's far edges at + cut // 2."""
    ratio = np.sqrt(1 - lam)
    img_h, img_w = img_shape[-2:]
    cut_h, cut_w = int(img_h * ratio), int(img_w * ratio)
    margin_y, margin_x = int(margin * cut_h), int(margin * cut_w)
    cy = np.random.randint(0 + margin_y, img_h - margin_y, size=count)
    cx = np.random.randint(0 + margin_x, img_w - margin_x, size=count)
    yl = np.clip(cy - cut_h // 2, 0, img_h)
    yh = np.clip(cy + cut_h // 2, 0, img_h)
    xl = np.clip(cx - cut_w // 2, 0, img_w)
    xh = np.clip(cx + cut_w // 2, 0, img_w)
    return yl, yh, xl, xh


def test_the_batch_mixing_is_timms_mixup_draw_for_draw(monkeypatch):
    """main.py:163-172's Mixup (batch mode, prob 1, switch 0.5, smoothing 0.1) on np.random seeded as our
    RandomState: the same images and soft targets, batch after batch, through both branches."""
    monkeypatch.setattr(timm_mixup, "rand_bbox", rand_bbox_timm08)
    official = timm_mixup.Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode="batch",
                                label_smoothing=0.1, num_classes=10)
    g = torch.Generator().manual_seed(0)
    np.random.seed(5)
    ours = np.random.RandomState(5)
    kinds = set()
    for _ in range(12):
        x = torch.randn(8, 3, 16, 16, generator=g)
        y = torch.randint(0, 10, (8,), generator=g)
        want_x, want_y = official(x.clone(), y)
        got_x, got_y = timm_mix(x, y, 10, M, ours)
        assert torch.allclose(got_x, want_x, atol=1e-6) and torch.allclose(got_y, want_y, atol=1e-7)
        kinds.add(bool((got_x == x).any() and (got_x != x).any()))  # a pasted box leaves pixels as they were
    assert kinds == {True, False}  # both CutMix and mixup batches were drawn
    assert torch.allclose(got_y.sum(1), torch.ones(8)) and got_y.min() >= 0.1 / 10 - 1e-7


def test_the_erasing_boxes_are_timms():
    """timm's RandomErasing(0.25, mode const) on a ones image with Python's generator seeded as ours: the erased
    pixels are exactly our box; about a quarter of the images are erased."""
    erased = 0
    for seed in range(200):
        image = torch.ones(3, 24, 20)
        random.seed(seed)
        RandomErasing(probability=0.25, mode="const", device="cpu")(image)
        box = erase_box(24, 20, 0.25, random.Random(seed))
        want = torch.ones(3, 24, 20)
        if box is not None:
            top, left, h, w = box
            want[:, top:top + h, left:left + w] = 0
            erased += 1
        assert torch.equal(image, want)
    assert 30 < erased < 70


def official_loss(outputs, labels, teacher_outputs, alpha, weight, soft):
    """losses.py:34-115 DistillationLoss (hard) with the base criterion main.py picks: SoftTargetCrossEntropy with
    Mixup on, CrossEntropyLoss after --no-mixup-drw; weighted_distillation from the DRW epoch."""
    cls, dist = outputs
    if soft:
        base = torch.sum(-labels * F.log_softmax(cls, dim=-1), dim=-1).mean()
    else:
        base = torch.nn.CrossEntropyLoss()(cls, labels)
    targets = teacher_outputs.argmax(dim=1)
    kd = F.cross_entropy(dist, targets, weight=weight) if weight is not None else F.cross_entropy(dist, targets)
    return base * (1 - alpha) + kd * alpha


@pytest.mark.parametrize("soft, weighted", [(True, False), (False, True), (True, True)])
def test_the_loss_is_the_official_hard_distillation(soft, weighted):
    g = torch.Generator().manual_seed(1)
    cls = torch.randn(6, 5, generator=g, requires_grad=True)
    dist = torch.randn(6, 5, generator=g, requires_grad=True)
    teacher = torch.randn(6, 5, generator=g)
    labels = torch.randint(0, 5, (6,), generator=g)
    targets = torch.softmax(torch.randn(6, 5, generator=g), 1) if soft else labels
    counts = np.array([500, 200, 80, 20, 5])
    w = (1 - 0.9999) / (1 - np.power(0.9999, counts))  # main.py:97-101
    weight = torch.tensor(w / w.sum() * 5, dtype=torch.float32) if weighted else None
    ours = deit_lt_loss(cls, dist, targets, teacher.argmax(1), 0.5, weight)
    want = official_loss((cls, dist), targets, teacher, 0.5, weight, soft)
    assert torch.allclose(ours, want, atol=1e-6)
    (g1,) = torch.autograd.grad(ours, dist)
    (g2,) = torch.autograd.grad(official_loss((cls, dist), targets, teacher, 0.5, weight, soft), dist)
    assert torch.allclose(g1, g2, atol=1e-7)


def test_the_student_gives_both_tokens_in_training_and_their_mean_in_evaluation():
    student = build_student("deit_tiny_distilled", 7, 0.1, (0.5,), (0.25,))
    x = torch.randn(2, 1, 28, 28)  # grey, off the student's side: replicated and resized to 32
    student.eval()
    with torch.no_grad():
        mean = student(x)
        front = student.front(x)
        tokens = student.vit.forward_features(front)  # after the final norm: deit.py:65-115 reads x[:, 0], x[:, 1]
        both = (student.vit.head(tokens[:, 0]) + student.vit.head_dist(tokens[:, 1])) / 2
    assert torch.allclose(mean, both, atol=1e-6)
    assert mean.shape == (2, 7) and front.shape == (2, 3, 32, 32)
    student.train()
    both = student(torch.randn(2, 1, 32, 32))
    assert isinstance(both, tuple) and [t.shape for t in both] == [(2, 7), (2, 7)]
    assert tuple(STUDENTS) == STUDENT_NAMES
    no_decay, decay = weight_decay_groups(student, 0.05)
    names = {id(p): n for n, p in student.vit.named_parameters()}
    skipped = {names[id(p)] for p in no_decay["params"]}
    assert {"cls_token", "dist_token", "pos_embed", "head.bias", "norm.weight"} <= skipped
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.05
    assert all(p.ndim > 1 for p in decay["params"]) and "head.weight" not in skipped


def test_the_recipes_are_the_scripts():
    c100 = resolve("deit_lt", "cifar100_lt", 0, sets=["dataset.imbalance_ratio=50"])
    assert (c100["train"]["epochs"], c100["train"]["batch_size"], c100["train"]["lr"]) == (1200, 1024, 2.5e-4)
    assert c100["method"]["defer_epoch"] == 1100 and c100["method"]["deit_mix_deferred"] is False
    assert c100["augment"]["policy"] == "timm_randaugment_inc" and c100["model"]["name"] == "resnet32"
    inat = resolve("deit_lt", "inat2018", 0)
    assert (inat["train"]["epochs"], inat["method"]["defer_epoch"], inat["train"]["batch_size"]) == (1000, 900, 2048)
    assert inat["augment"]["normalize"] == "imagenet" and inat["method"]["deit_mix_deferred"] is True
    assert {"train.momentum", "train.nesterov", "method.loss", "method.weights"} <= set(unused_keys(c100))
    assert {"augment.crop_padding", "augment.flip", "augment.cutout"} <= set(unused_keys(c100))


def test_an_in_memory_policy_the_view_does_not_read_is_refused(tmp_path, capsys):
    argv = ["run", "--methods", "deit_lt", "--datasets", "cifar10_lt", "--dry-run", "--out", str(tmp_path / "o")]
    assert main([*argv, "--set", "augment.policy=autoaugment_cifar"]) == 2
    assert "takes augment.policy=none or timm_randaugment_inc" in capsys.readouterr().err
    assert main([*argv, "--set", "method.mix=mixup"]) == 2
    assert "DeiT-LT mixes its batches itself" in capsys.readouterr().err
    assert main([*argv, "--set", "stage.epochs=3"]) == 2
    assert "deit_lt is trained in one stage" in capsys.readouterr().err


@pytest.fixture(scope="module")
def teacher_and_child(cifar_root, tmp_path_factory):
    """A finished ldam_drw_sam teacher (small CNN, 1 epoch) and the planned deit_lt child of 2 epochs."""
    out = tmp_path_factory.mktemp("deit")
    flags = {"dataset.root": str(cifar_root), "train.epochs": 2, "train.batch_size": 64}
    sets = ["dataset.verify=false", "dataset.download=false", "eval.batch_size=200", "model.name=small_cnn", STUDENT]
    parent, child = plan(["deit_lt"], ["cifar10_lt"], [0], str(out), flags=flags, sets=sets)
    (result,) = execute([parent], progress=False)
    assert result["status"] == "done"
    return parent, child, out


def trained(child, parent_dir, out):
    folder = out / f"t{len(list(out.glob('t*')))}"
    folder.mkdir()
    shutil.copytree(parent_dir, folder / parent_dir.name)
    run = copy.deepcopy(child)
    run.run_dir = folder / child.run_dir.name
    run.parent = folder / parent_dir.name
    (result,) = execute([run], progress=False)
    assert result["status"] == "done", result
    return result


def test_the_keys_deit_lt_does_not_read_train_to_the_same_numbers(teacher_and_child):
    parent, child, out = teacher_and_child
    first = trained(child, parent.run_dir, out)
    other = copy.deepcopy(child)
    for section, key, value in [("train", "momentum", 0.5), ("train", "nesterov", True), ("augment", "flip", False),
                                ("augment", "crop_padding", 2), ("augment", "cutout", 8), ("method", "loss", "focal")]:
        other.cfg[section][key] = value
    second = trained(other, parent.run_dir, out)
    assert first["last"] == second["last"] and first["parent"]["run_id"] == parent.run_dir.name
    assert first["last"]["top1"] > 0


def test_a_deit_lt_run_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    from conftest import bench_process

    argv = fixture_run("deit_lt", cifar_root, STUDENT)
    plain, cut = tmp_path / "plain", tmp_path / "cut"
    assert bench_process([*fixture_run("ldam_drw_sam", cifar_root), "--out", str(plain)]).returncode == 0
    (parent_dir,) = plain.iterdir()
    cut.mkdir()
    shutil.copytree(parent_dir, cut / parent_dir.name)
    done = bench_process([*argv, "--out", str(plain)])
    assert done.returncode == 0, done.stdout + done.stderr
    stopped = bench_process([*argv, "--out", str(cut)], "mid-epoch:2:SIGTERM")
    assert stopped.returncode == 128 + 15 and "already done" in stopped.stdout  # the child stopped; the parent shared
    resumed = bench_process([*argv, "--out", str(cut)])
    assert resumed.returncode == 0 and "resuming" in resumed.stdout, resumed.stdout + resumed.stderr
    shutil.rmtree(plain / parent_dir.name)
    shutil.rmtree(cut / parent_dir.name)
    assert snapshot(cut) == snapshot(plain)


def test_reproducing_the_readme_trains_the_student_for_its_epochs_and_the_teacher_for_its_own(tmp_path):
    from bench.report.reproduce import plan_runs, published_cells

    cells = published_cells("deit_lt")
    assert sorted((c.dataset, c.epochs) for c in cells)[0] == ("cifar100_lt", 1200) and len(cells) == 6
    (cell,) = [c for c in cells if c.dataset == "imagenet_lt"]
    teacher, student = plan_runs([cell], [0], str(tmp_path), {}, [])
    assert (student.cfg["method"]["name"], student.cfg["train"]["epochs"]) == ("deit_lt", 1400)
    assert (teacher.cfg["method"]["name"], teacher.cfg["train"]["epochs"]) == ("ldam_drw_sam", 90)
    assert student.cfg["stage"]["parent"] == teacher.run_dir.name


def test_posterize_to_no_bits_is_black_as_timms_pillow_gave_it():
    """'-inc1' RandAugment reaches PosterizeIncreasing at 0 bits (magnitude 10 through its noise): the Pillow of the
    official environment returned a black image (mask ~255), Pillow 11+ refuses; bench's op gives the black image."""
    from PIL import Image

    from bench.images.policies import TimmRandAugment, posterize

    image = Image.new("RGB", (8, 8), (200, 100, 50))
    assert np.asarray(posterize(image, 0)).max() == 0 and np.asarray(posterize(image, 8)).max() == 200
    assert np.asarray(posterize(image, 2)).tolist() == np.asarray(image.point(lambda v: v & 0xC0)).tolist()
    policy = TimmRandAugment(2, 9, increasing=True, interpolation="bicubic")
    assert all(op.aug_fn is posterize for op in policy.t[3].ops if op.name.startswith("Posterize"))
    out = policy(torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8), torch.Generator().manual_seed(0))
    assert out.shape == (16, 3, 32, 32) and out.dtype == torch.uint8


class RecordingTeacher:
    """A stand-in teacher: records what it reads, answers fixed labels."""

    def __init__(self, labels):
        self.seen, self.answer = [], labels

    def labels(self, x, autocast):
        self.seen.append(x.clone())
        return self.answer[:len(x)]


def bare_algorithm(mixing, erasing=0.25, micro_batch=128, num_classes=5):
    from types import SimpleNamespace

    from bench.algorithms.deit_lt import PARAMS, DeiTLTAlgorithm
    from bench.models.deit import DeiTInput

    algo = object.__new__(DeiTLTAlgorithm)
    m = {p.key: p.default for p in PARAMS}
    algo.cfg = {"method": {**m, "deit_erasing": erasing, "deit_micro_batch": micro_batch}}
    algo.data = SimpleNamespace(num_classes=num_classes)
    algo.rng, algo.mixing, algo.rebalancing = np.random.RandomState(3), mixing, False
    algo.front = DeiTInput((0.5, 0.4, 0.3), (0.2, 0.25, 0.3), 16)
    algo.class_weight = torch.linspace(0.5, 2.0, num_classes)
    algo.teacher = RecordingTeacher(torch.arange(16) % num_classes)
    return algo


def test_the_teacher_reads_the_erased_mixed_batch_and_mixing_stops_with_the_switch():
    x, y = torch.randn(8, 3, 16, 16), torch.arange(8) % 5
    mixed = bare_algorithm(mixing=True)
    out, targets, teacher_labels = mixed.prepare(x, y, None)
    assert torch.equal(mixed.teacher.seen[0], out) and targets.shape == (8, 5) and not torch.equal(out, x)
    plain = bare_algorithm(mixing=False, erasing=0.0)
    out, targets, _ = plain.prepare(x, y, None)
    assert torch.equal(out, x) and torch.equal(targets, y) and torch.equal(plain.teacher.seen[0], x)
    assert plain.distillation_weight() is None
    plain.rebalancing = True
    assert torch.equal(plain.distillation_weight(), plain.class_weight)


def test_the_erased_box_holds_n01_noise_in_the_students_space():
    algo = bare_algorithm(mixing=False, erasing=1.0)
    x = torch.zeros(4, 3, 16, 16)
    seeds = np.random.RandomState(3).randint(0, 2**31 - 1, size=4).tolist()  # what erase() draws first
    erased = algo.front(algo.erase(x))
    for i, seed in enumerate(seeds):
        top, left, h, w = erase_box(16, 16, 1.0, random.Random(seed))
        noise = torch.randn((3, h, w), generator=torch.Generator().manual_seed(seed))
        assert torch.allclose(erased[i, :, top:top + h, left:left + w], noise, atol=1e-5)


def test_a_step_is_the_mean_of_its_micro_batches_gradients():
    """deit_micro_batch 4 on a batch of 8: the gradient equals the mean of the two micro-batches' mean losses' (the
    official accumulation), which a single pass over the 8 (one loss mean) does not give with class weights on."""
    from bench.algorithms.step import Step

    torch.manual_seed(0)
    student = build_student("deit_tiny_distilled", 5, 0.0, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    x, y = torch.randn(8, 3, 32, 32), torch.tensor([0, 0, 0, 1, 2, 3, 4, 4])
    grads = {}
    for size in (4, 8):
        algo = bare_algorithm(mixing=False, erasing=0.0, micro_batch=size)
        algo.rebalancing = True
        net = copy.deepcopy(student)
        step = Step(net, net, torch.optim.SGD(net.parameters(), lr=0.0), contextlib.nullcontext,
                    torch.contiguous_format, None)
        algo.train_step(step, x, y)
        grads[size] = net.vit.head_dist.weight.grad.clone()
    net = copy.deepcopy(student)
    teacher = torch.arange(16) % 5
    losses = []
    for part in (slice(0, 4), slice(4, 8)):
        cls, dist = net(x[part])
        losses.append(deit_lt_loss(cls, dist, y[part], teacher[:4], 0.5, torch.linspace(0.5, 2.0, 5)))
    ((losses[0] + losses[1]) / 2).backward()
    assert torch.allclose(grads[4], net.vit.head_dist.weight.grad, atol=1e-6)
    assert not torch.allclose(grads[4], grads[8], atol=1e-6)


def test_the_teacher_reads_image_lists_normalised_as_it_trained():
    from bench.algorithms.teacher import statistics
    from bench.datasets.imagelist import IMAGENET_MEAN, INAT_MEAN

    inat = resolve("ldam_drw_sam", "inat2018", 0)
    assert torch.allclose(statistics(inat)[0].flatten(), torch.tensor(INAT_MEAN))
    inat["augment"]["normalize"] = "imagenet"
    assert torch.allclose(statistics(inat)[0].flatten(), torch.tensor(IMAGENET_MEAN))
    assert resolve("deit_lt", "inat2018", 0)["augment"]["normalize"] == "imagenet"  # the child: ImageNet's


def test_a_deit_lt_run_is_priced_and_measured_as_its_student_not_its_teacher(tmp_path):
    """model.name is the teacher's (resnet32); the speed the dry run assumes and the one a finished run measures are
    the student's, so a deit_lt run never passes for a fast ResNet-32 run (nor slows ldam_drw_sam's estimates)."""
    import json
    from types import SimpleNamespace

    from bench.algorithms.deit_lt import ASSUMED_SPEED
    from bench.plan.cost import estimate, measured_speeds

    cfg = resolve("deit_lt", "cifar10_lt", 0)
    seconds, how = estimate(SimpleNamespace(cfg=cfg), {})
    assert how.startswith(f"{ASSUMED_SPEED['deit_b16_distilled']:.0f} img/s assumed") and "x1.2" in how
    run = tmp_path / "cifar10_lt-exp100-ds0__deit_lt__seed0__00000000"
    run.mkdir()
    (run / "result.json").write_text(json.dumps({"status": "done", "dataset": "cifar10_lt", "config": cfg,
                                                 "timing": {"train_images_per_second": 100.0}}))
    assert measured_speeds(tmp_path) == {("cifar10_lt", "deit_b16_distilled"): [pytest.approx(120.0)]}
    teacher = SimpleNamespace(cfg=resolve("ldam_drw_sam", "cifar10_lt", 0))
    assert "measured" not in estimate(teacher, measured_speeds(tmp_path))[1]
