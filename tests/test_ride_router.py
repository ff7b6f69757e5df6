"""RIDE's expert-assignment router (`ride_ea`): targets, loss and gated inference against loop-written
transcriptions of frank-xwang/RIDE-LongTailRecognition model/ldam_drw_resnets/ea_resnet_cifar.py, the official
router size, frozen experts, the expert-usage report, bad input."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.cli import main
from bench.models.classifiers import NormedLinear
from bench.models.registry import MODELS
from bench.models.routers import RoutedExperts, Router, router_targets

ARGS = ["--datasets", "cifar10_lt", "--epochs", "2", "--no-progress", "--set", "dataset.verify=false",
        "dataset.download=false", "model.name=small_cnn", "train.batch_size=64"]


def routed_model(seed=0, classes=10, bias=None):
    torch.manual_seed(seed)
    experts = MODELS["resnet32"].build_experts(3, 3, True, NormedLinear, classes).eval()
    router = Router(experts.out_features, 3, min(30, classes), kaiming=True)
    if bias is not None:
        router.decide.bias.data.fill_(bias)
    return RoutedExperts(experts, router, 30.0, 100.0).eval()


def test_the_cifar_router_has_the_official_size():
    # 2 routers: Linear(48, 16) each; one shared Linear(30 + 16, 1) (ea_resnet_cifar.py, reduced widths, K 30)
    router = routed_model(classes=100).router
    assert sum(p.numel() for p in router.parameters()) == 2 * (48 * 16 + 16) + (30 + 16 + 1)


def test_targets_are_wrong_now_and_right_later():
    labels = torch.tensor([0, 0, 0, 0])
    right, wrong = [5.0, 0.0], [0.0, 5.0]
    # cumulative sums S_0, S_1, S_2 per sample: (right..), (wrong, right, ..), (wrong, wrong, right), all wrong
    rows = [[right, right, right], [wrong, right, right], [wrong, wrong, right], [wrong, wrong, wrong]]
    sums = [torch.tensor([r[i] for r in rows]) for i in range(3)]
    assert router_targets(sums, labels).tolist() == [[0, 1, 1, 0], [0, 0, 1, 0]]


def official_loss(model, x, labels):
    """Loop-written: all experts run; router i on expert i's normalised feature and the top-K of S_i / (i + 1);
    BCE with pos_weight averaged over the batch, then over the routers."""
    shared = model.experts.trunk(x)
    feats = [b(shared) for b in model.experts.branches]
    z = [30.0 * h(f) for f, h in zip(feats, model.experts.heads)]
    total = 0.0
    for i in range(2):
        s_i = sum(z[: i + 1])
        loss_i = 0.0
        for b in range(len(x)):
            f = feats[i][b] / feats[i][b].norm()
            h = torch.relu(model.router.feature_fcs[i](f))
            top = torch.sort(s_i[b] / (i + 1), descending=True).values[: model.router.top_k]
            o = model.router.decide(torch.cat([top, h]))[0]
            wrong_now = s_i[b].argmax() != labels[b]
            later = any(sum(z[: j + 1])[b].argmax() == labels[b] for j in range(i + 1, 3))
            y = float(wrong_now and later)
            loss_i += -(100.0 * y * F.logsigmoid(o) + (1 - y) * F.logsigmoid(-o))
        total += loss_i / len(x)
    return total / 2


def test_the_router_loss_is_the_official_formula():
    model = routed_model()
    x, labels = torch.randn(6, 3, 32, 32), torch.tensor([0, 1, 2, 3, 4, 5])
    with torch.no_grad():
        loss, mean = model(x, labels)
        expected = official_loss(model, x, labels)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    assert torch.allclose(mean, model.experts(x, experts=True).mean(1), atol=1e-6)


@pytest.mark.parametrize("bias, used", [(1e4, 3), (-1e4, 1)])
def test_a_router_that_always_or_never_continues(bias, used):
    model = routed_model(bias=bias)
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        out = model(x)
        every = model.experts(x, experts=True)
    assert model.used.tolist() == [used] * 5
    assert torch.allclose(out, every[:, :used].mean(1), atol=1e-6)


def test_gated_inference_is_the_official_per_image_loop():
    model = routed_model(seed=3, bias=0.0)
    x = torch.randn(24, 3, 32, 32)
    with torch.no_grad():
        shared = model.experts.trunk(x)
        f0 = model.experts.branches[0](shared)
        first = model.router(0, f0, 30.0 * model.experts.heads[0](f0))
        model.router.decide.bias.data -= first.sort().values[11:13].mean()  # half the images go on to expert 1
        out = model(x)
        shared = model.experts.trunk(x)
        for b in range(len(x)):
            total, n = None, 0
            for k in range(3):
                f = model.experts.branches[k](shared[b:b + 1])
                z = 30.0 * model.experts.heads[k](f)
                total, n = (z if total is None else total + z), n + 1
                if k == 2 or model.router(k, f, total / n)[0] <= 0:
                    break
            assert model.used[b] == n
            assert torch.allclose(out[b], (total / n / 30.0)[0], atol=1e-5)
    assert len(set(model.used.tolist())) > 1  # the check saw images stop at different experts


def test_only_the_router_trains_and_the_result_reports_expert_usage(cifar_root, tmp_path):
    from bench.store.checkpoint import decode

    out = tmp_path / "out"
    assert main(["run", "--methods", "ride_ea", "--data-root", str(cifar_root), "--out", str(out), *ARGS,
                 "stage.epochs=2"]) == 0
    runs = {json.loads(p.read_text())["method"]: p.parent for p in out.glob("*/result.json")}
    parent = decode((runs["ride"] / "checkpoint.pt").read_bytes(), "cpu")["model"]
    child = decode((runs["ride_ea"] / "checkpoint.pt").read_bytes(), "cpu")["model"]
    for key, value in parent.items():
        assert torch.equal(child[f"experts.{key}"], value), key
    assert {k.split(".")[0] for k in child} == {"experts", "router"}
    result = json.loads((runs["ride_ea"] / "result.json").read_text())
    share = result["routing"]["experts_used_share"]
    assert len(share) == 3 and sum(share) == pytest.approx(1.0)
    assert result["routing"]["experts_used_mean"] == pytest.approx(sum((k + 1) * p for k, p in enumerate(share)))
    assert result["last"]["epoch"] == 1 and result["config"]["method"]["sampler"] == "class_uniform"
    lines = [json.loads(line) for line in (runs["ride_ea"] / "metrics.jsonl").read_text().splitlines()]
    assert all(len(line["experts_used_share"]) == 3 for line in lines)
    assert np.isclose(lines[-1]["experts_used_mean"], result["routing"]["experts_used_mean"])


def test_settings_the_router_never_reads_are_refused(cifar_root, tmp_path, capsys):
    code = main(["run", "--methods", "ride_ea", "--data-root", str(cifar_root), "--out", str(tmp_path / "o"), *ARGS,
                 "stage.bn=update"])
    assert code == 2 and "stage.bn would change nothing in ride_ea" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_ride_ea_run_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    from conftest import bench_process, stop_and_resume

    from bench.store.checkpoint import decode

    def child(out):
        (run_dir,) = [p for p in out.iterdir() if "__ride_ea__" in p.name]
        result = json.loads((run_dir / "result.json").read_text())
        model = decode((run_dir / "checkpoint.pt").read_bytes(), "cpu")["model"]
        return result["last"], (run_dir / "metrics.jsonl").read_text(), {k: v.tolist() for k, v in model.items()}

    argv = ["run", "--methods", "ride_ea", "--data-root", str(cifar_root), *ARGS, "stage.epochs=2",
            "stage.batch_size=64"]
    for name in ("plain", "cut"):  # the parent first, so the stop below falls in the router's training
        parent = bench_process(["run", "--methods", "ride", "--data-root", str(cifar_root), *ARGS, "--out",
                                str(tmp_path / name)])
        assert parent.returncode == 0, parent.stdout + parent.stderr
    plain, cut = stop_and_resume(argv, tmp_path)
    assert child(cut) == child(plain)
