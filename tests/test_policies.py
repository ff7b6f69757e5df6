"""Augmentation policies (bench/images/policies.py): AutoAugment and RandAugment draw torchvision's distributions
per image on a batch (chi-square against torchvision's own transforms), Cutout is DeVries & Taylor's hole,
both pipelines apply them, a run with them resumes exactly, bad values are refused."""

import numpy as np
import pytest
import torch
from scipy.stats import chi2_contingency
from test_preempt import resumes_exactly

from bench.cli import main
from bench.images.policies import BatchPolicy, cutout


def image():
    torch.manual_seed(3)
    return torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8)


def outcome_counts(outputs):
    keys = [hash(o.numpy().tobytes()) for o in outputs]
    values, counts = np.unique(keys, return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


def same_distribution(ours, theirs):
    """Chi-square test of homogeneity over the distinct output images (rare outcomes pooled)."""
    a, b = outcome_counts(ours), outcome_counts(theirs)
    keys = sorted(set(a) | set(b))
    table = np.array([[a.get(k, 0) for k in keys], [b.get(k, 0) for k in keys]])
    common = table.sum(0) >= 10
    pooled = np.column_stack([table[:, common], table[:, ~common].sum(1)]) if (~common).any() else table[:, common]
    return chi2_contingency(pooled)[1], len(keys)


@pytest.mark.parametrize("policy, ops", [("autoaugment_cifar", 2), ("randaugment", 1)])
def test_a_policy_on_a_batch_has_torchvision_s_per_image_distribution(policy, ops):
    x, n = image(), 3000
    ours = BatchPolicy(policy, ops, 9)(x.expand(n, -1, -1, -1).contiguous(), torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    reference = BatchPolicy(policy, ops, 9).t
    theirs = [reference(x) for _ in range(n)]
    p, outcomes = same_distribution(list(ours), theirs)
    assert outcomes > 10 and p > 1e-3, (p, outcomes)
    # and an always-applied AutoAugment (probabilities ignored) is told apart: the test can fail
    if policy == "autoaugment_cifar":
        always = BatchPolicy(policy)
        always.t._policies = [tuple((name, 1.0, m) for name, _, m in sub) for sub in always.t._policies]
        wrong = always(x.expand(n, -1, -1, -1).contiguous(), torch.Generator().manual_seed(0))
        assert same_distribution(list(wrong), theirs)[0] < 1e-6


def test_cutout_is_the_reference_hole():
    x = torch.full((64, 1, 12, 10), 200, dtype=torch.uint8)
    out = cutout(x, 6, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)  # the same draws: centres y then x, uniform over the pixels
    ys, xs = torch.randint(12, (64,), generator=g), torch.randint(10, (64,), generator=g)
    for i in range(64):  # uoguelph-mlrg/Cutout util/cutout.py, transcribed: clip(y -+ length // 2)
        mask = np.ones((12, 10), np.float32)
        y1, y2 = np.clip(ys[i].item() - 3, 0, 12), np.clip(ys[i].item() + 3, 0, 12)
        x1, x2 = np.clip(xs[i].item() - 3, 0, 10), np.clip(xs[i].item() + 3, 0, 10)
        mask[y1:y2, x1:x2] = 0.0
        assert np.array_equal(out[i, 0].numpy(), (200 * mask).astype(np.uint8))
    assert len({tuple(c) for c in zip(ys.tolist(), xs.tolist())}) > 40  # centres vary per image


def test_image_lists_apply_the_same_policy_per_image_in_the_workers(tmp_path):
    import io

    from PIL import Image

    from bench.images import jpeg

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(buf, "PNG")
    data = buf.getvalue()
    plain = jpeg.Recipe(size=32, resize=36, crop="random_resized", flip=True, jitter=0.0, reduce=False)
    with_policy = plain._replace(policy=("randaugment", 2, 9), cutout=8)
    params = jpeg.draw(40, 50, 7, with_policy)
    assert params[:4] == jpeg.draw(40, 50, 7, plain)[:4]  # the crop, flip and jitter draws do not move
    expected = cutout(BatchPolicy("randaugment", 2, 9)(jpeg.train_image(data, 7, plain)[None],
                                                      g := torch.Generator().manual_seed(params.seed)), 8, g)[0]
    assert torch.equal(jpeg.train_image(data, 7, with_policy), expected)


@pytest.mark.parametrize("setting, message", [
    ("augment.policy=autoaugment", "config key augment.policy must be one of none, autoaugment_cifar"),
    ("augment.randaugment_ops=0", "config key augment.randaugment_ops must be from 1 to 14, got 0"),
    ("augment.cutout=-1", "config key augment.cutout must be from 0 to 1024, got -1"),
])
def test_bad_policy_settings_are_one_line(tmp_path, capsys, setting, message):
    out = tmp_path / "out"
    code = main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(out), "--set", setting])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_a_run_with_a_policy_and_cutout_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    resumes_exactly(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "2", "--no-progress", "--set",
                     "dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "train.batch_size=64",
                     "eval.batch_size=100", "augment.policy=autoaugment_cifar", "augment.cutout=16",
                     "--data-root", str(cifar_root)], tmp_path, 3)


def test_bench_perf_measures_the_policies_against_torchvision():
    from bench.perf.augmenting import run_policy_perf

    rows = run_policy_perf("cpu", images=32, batch_size=16)
    assert set(rows) == {"autoaugment_cifar", "autoaugment_imagenet", "randaugment", "cutout"}
    assert all(ours > 0 and theirs > 0 for ours, theirs in rows.values())


def test_random_rotation_is_torchvision_s_per_image():
    from torchvision.transforms.v2.functional import rotate

    from bench.images.augment import BatchAugment

    torch.manual_seed(0)
    x = torch.randint(0, 256, (16, 3, 12, 12), dtype=torch.uint8)
    augment = BatchAugment([0.0] * 3, [1.0] * 3, crop_padding=0, flip=False, rotation=15.0)
    out = augment.train(x, torch.Generator().manual_seed(4))
    angles = (torch.rand(16, generator=torch.Generator().manual_seed(4)) * 2 - 1) * 15.0  # uniform in [-15, 15]
    expected = torch.stack([rotate(x[i], float(angles[i])) for i in range(16)])  # nearest, zero fill
    assert torch.equal(out, augment.normalize(expected)) and angles.abs().max() > 5


def test_timm_randaugment_is_timm_s_transform_with_each_image_s_seed():
    """PaCo's and BCL's large-dataset RandAugment ('rand-n2-m10-mstd0.5'): each image is timm's own transform with
    Python's and NumPy's generators seeded from the epoch's generator; the global generators are left as they were."""
    import random

    from PIL import Image
    from timm.data.auto_augment import rand_augment_transform

    from bench.images.policies import make_policy

    x = torch.randint(0, 256, (6, 3, 24, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    random.seed(5)
    np.random.seed(5)
    before = random.random(), np.random.rand()
    random.seed(5)
    np.random.seed(5)
    out = make_policy("timm_randaugment", 2, 10)(x, torch.Generator().manual_seed(1))
    assert (random.random(), np.random.rand()) == before  # the global generators were restored
    seeds = torch.randint(0, 2**32 - 1, (6,), generator=torch.Generator().manual_seed(1)).tolist()
    t = rand_augment_transform("rand-n2-m10-mstd0.5", {"translate_const": 100, "img_mean": (124, 116, 104)})
    for image, seed, got in zip(x, seeds, out):
        random.seed(seed)
        np.random.seed(seed)
        expected = np.asarray(t(Image.fromarray(image.permute(1, 2, 0).numpy())))
        assert torch.equal(got, torch.from_numpy(expected.copy()).permute(2, 0, 1))
    assert (out != x).any()


def test_the_moco_sim_view_jitters_every_image_without_hue(monkeypatch):
    from bench.images import views

    def no_hue(*args):
        raise AssertionError("ColorJitter(hue=0) never converts to HSV")

    calls = []
    real = views._jitter_op
    monkeypatch.setattr(views, "_hue", no_hue)
    monkeypatch.setattr(views, "_jitter_op", lambda x, op, f: calls.append(len(x)) or real(x, op, f))
    x = torch.randint(0, 256, (50, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    views.build_view("moco_sim", 16)(x, torch.Generator().manual_seed(1))
    assert sum(calls) == 50 * 3  # brightness, contrast, saturation on every image (p 1.0)
