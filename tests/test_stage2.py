"""Stage-2 training on a finished parent run (issue 12): cRT, LWS, MiSLAS, weight balancing."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import bench_process

from bench.cli import main
from bench.store.checkpoint import decode

SETS = ["dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "dataset.imbalance_ratio=10",
        "train.warmup_epochs=1"]
# the CIFAR-10 fixture at ratio 10 keeps 100, 77, 59, 46, 35, 27, 21, 16, 12, 10 images (403)
N_TRAIN = 403


def args(cifar_root, out, methods, *extra, epochs=3):
    return ["run", "--methods", methods, "--datasets", "cifar10_lt", "--epochs", str(epochs), "--data-root",
            str(cifar_root), "--out", str(out), "--no-progress", "--set", *SETS, *extra]


def found(out, method):
    (run_dir,) = [p.parent for p in Path(out).glob(f"*__{method}__*/result.json")]
    return json.loads((run_dir / "result.json").read_text()), run_dir


def weights(run_dir):
    return decode((Path(run_dir) / "checkpoint.pt").read_bytes(), "cpu")["model"]


def test_backbone_is_bit_identical_and_bn_statistics_follow_the_recipe(cifar_root, tmp_path):
    out = tmp_path / "out"
    assert main(args(cifar_root, out, "crt,lws,mislas,wb", "stage.epochs=2", "stage.batch_size=64")) == 0
    # MiSLAS's CIFAR-10 configs turn BN shift off (shift_bn: False); cRT's, LWS's and wb's official stage 2 leaves
    # the frozen backbone in train mode
    for child, bn in (("crt", "update"), ("lws", "update"), ("mislas", "frozen"), ("wb", "update")):
        result, run_dir = found(out, child)
        assert result["status"] == "done" and result["parent"]["stage"]["bn"] == bn
        parent = weights(out / result["parent"]["run_id"])
        model = weights(run_dir)
        backbone = [k for k in parent if k.startswith("0.")]
        stats = [k for k in backbone if "running_" in k or "num_batches_tracked" in k]
        assert stats and all(torch.equal(parent[k], model[k]) for k in backbone if k not in stats), child
        if bn == "frozen":  # eval mode: the parent's statistics, untouched
            assert all(torch.equal(parent[k], model[k]) for k in stats), child
        else:  # train mode: every stage-2 batch (2 epochs x ceil(403 / 64) = 14) moved the statistics
            tracked = [k for k in stats if "num_batches_tracked" in k]
            assert all(int(model[k]) - int(parent[k]) == 2 * math.ceil(N_TRAIN / 64) for k in tracked), child
            assert not any(torch.equal(parent[k], model[k]) for k in stats if "running_mean" in k), child
    crt, lws, mislas = (weights(found(out, m)[1]) for m in ("crt", "lws", "mislas"))
    parent = weights(out / found(out, "crt")[0]["parent"]["run_id"])
    assert torch.equal(lws["1.weight"], parent["1.weight"]) and torch.equal(lws["1.bias"], parent["1.bias"])
    assert not torch.equal(lws["2.scales"], torch.ones(10))  # LWS trains the scales only
    assert not torch.equal(crt["1.weight"], parent["1.weight"]) and "2.scales" not in crt
    assert "2.scales" in mislas and not torch.equal(mislas["2.scales"], torch.ones(10))


def test_crt_starts_from_a_new_classifier_and_wb_caps_rows_at_the_parents_norms(cifar_root, tmp_path):
    out = tmp_path / "out"
    assert main(args(cifar_root, out, "crt,wb", "stage.epochs=1", "stage.lr=1e-12")) == 0
    crt, crt_dir = found(out, "crt")
    # an LR of 1e-12 leaves the head where stage 2 put it: the seed's fresh head, not the parent's
    torch.manual_seed(0)
    from bench.algorithms.network import build_model
    from bench.plan.config import resolve

    head = build_model(resolve("crt", "cifar10_lt", 0, sets=SETS), 3, 10)[1]
    head.reset_parameters()  # cRT's new classifier: nn.Linear's default draw (classifier-balancing), from the seed
    assert torch.allclose(weights(crt_dir)["1.weight"], head.weight, atol=1e-9)
    wb, wb_dir = found(out, "wb")
    parent = weights(out / wb["parent"]["run_id"])
    norms = torch.linalg.vector_norm(parent["1.weight"].double(), dim=1)
    cap = float(norms.min() + 0.1 * (norms.max() - norms.min()))  # ShadeAlsha/LTR-weight-balancing regularizers.py
    assert wb["parent"]["max_norm_cap"] == pytest.approx(cap, rel=1e-12)
    child_norms = torch.linalg.vector_norm(weights(wb_dir)["1.weight"].double(), dim=1)
    assert float(child_norms.max()) <= cap * (1 + 1e-6)  # rows above the cap were projected onto it
    assert (norms > cap).sum() > 0  # ... and there were some
    # a re-initialised classifier (crt) is capped at its parent's row norms too, not at the fresh rows'
    assert main(args(cifar_root, out, "crt", "stage.epochs=1", "stage.lr=1e-12", "stage.max_norm=0.5")) == 0
    (capped,) = [json.loads(p.read_text()) for p in out.glob("*__crt__*/result.json")
                 if json.loads(p.read_text())["parent"]["stage"]["max_norm"] == 0.5]
    parent_rows = torch.linalg.vector_norm(weights(out / capped["parent"]["run_id"])["1.weight"].double(), dim=1)
    expected = float(parent_rows.min() + 0.5 * (parent_rows.max() - parent_rows.min()))
    assert capped["parent"]["max_norm_cap"] == pytest.approx(expected, rel=1e-12)


def test_max_norm_projection_on_hand_computed_rows():
    from torch import nn

    from bench.algorithms.stage2 import Stage2

    stage = Stage2.__new__(Stage2)
    stage.cap, stage.s = 2.0, {"max_norm_at": "step"}
    model = nn.Sequential(nn.Identity(), nn.Linear(2, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[3.0, 4.0], [0.6, 0.8]]))  # norms 5 and 1
    stage.after_train_step(model)
    assert torch.allclose(model[1].weight, torch.tensor([[1.2, 1.6], [0.6, 0.8]]))


def test_label_aware_smoothing_on_hand_computed_values():
    from bench.methods.registry import PARTS
    from bench.parts.loss_module import build_loss
    from bench.parts.losses.las import smoothing

    counts = [100, 10, 1]
    eps = smoothing(counts, 0.3, 0.0)  # 0.3 sin(pi (n - 1) / (2 * 99)): 0.3, 0.3 sin(9 pi / 198), 0
    assert eps == pytest.approx([0.3, 0.3 * math.sin(9 * math.pi / 198), 0.0])
    cfg = dict(PARTS.config_defaults(), loss="las")
    loss = build_loss(cfg, counts)
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    target = torch.tensor([0, 2])
    logp = torch.log_softmax(logits.double(), 1)
    by_hand = [(1 - 0.3) * -logp[0, 0] + 0.3 * -logp[0].mean(), -logp[1, 2]]  # the tail class: plain CE
    assert float(loss(logits, target)) == pytest.approx(float(sum(by_hand) / 2), rel=1e-6)
    weighted = build_loss(dict(cfg, weights="cb"), counts, weight=torch.tensor([1.0, 2.0, 3.0]))
    assert float(weighted(logits, target)) == pytest.approx(float((by_hand[0] + 3 * by_hand[1]) / 4), rel=1e-6)


def bench(root, out, methods, fault=None):
    stage = ["stage.epochs=3", "stage.batch_size=64"] if methods == "mislas" else []
    return bench_process(args(root, out, methods, *stage), fault)


def snapshot(run_dir):
    result = json.loads((run_dir / "result.json").read_text())
    with np.load(run_dir / "predictions.npz", allow_pickle=False) as saved:
        predictions = saved["predictions"].tolist()
    return {"last": result["last"], "best": result["best"], "parent": result["parent"],
            "metrics": (run_dir / "metrics.jsonl").read_text(), "predictions": predictions,
            "model": {k: v.tolist() for k, v in weights(run_dir).items()}}


@pytest.mark.parametrize("fault", ["mid-epoch:9", "after-checkpoint:2"])
def test_a_killed_stage2_run_resumes_exactly(cifar_root, tmp_path, fault):
    first = tmp_path / "reference"
    assert bench(cifar_root, first, "erm_mixup").returncode == 0  # the parent of mislas
    second = tmp_path / "killed"
    second.mkdir()
    (parent_dir,) = first.iterdir()
    shutil.copytree(parent_dir, second / parent_dir.name)  # the same parent result (same hash) in both
    proc = bench(cifar_root, first, "mislas")
    assert proc.returncode == 0, proc.stderr
    killed = bench(cifar_root, second, "mislas", fault)  # 7 batches per epoch: killed in epoch 2
    assert killed.returncode != 0 and not (found_dir(second, "mislas") / "result.json").exists()
    resumed = bench(cifar_root, second, "mislas")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout and "skip   " in resumed.stdout  # the parent is not trained again
    assert snapshot(found_dir(second, "mislas")) == snapshot(found_dir(first, "mislas"))


def found_dir(out, method):
    (run_dir,) = [p for p in Path(out).iterdir() if f"__{method}__" in p.name]
    return run_dir


def test_a_child_checkpoint_from_an_older_parent_is_not_resumed(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(args(cifar_root, out, "lws", "stage.epochs=2")) == 0
    result, run_dir = found(out, "lws")
    (run_dir / "result.json").unlink()  # as if killed after its last checkpoint
    assert main(args(cifar_root, out, "erm") + ["--force"]) == 0
    capsys.readouterr()
    assert main(args(cifar_root, out, "lws", "stage.epochs=2")) == 0
    assert f"starting {run_dir.name} over: its checkpoint was trained on an older result" in capsys.readouterr().out
    again, _ = found(out, "lws")
    assert again["parent"]["result_sha256"] != result["parent"]["result_sha256"]


@pytest.mark.parametrize("method, sets, message", [
    ("crt", ["stage.train=none"], "crt: stage.train=none freezes everything, so stage 2 would learn nothing"),
    ("lws", ["stage.reinit=true"], "stage.reinit=true with stage.train=scales would leave a random, frozen"),
    ("lws", ["stage.max_norm=0.1"], "stage.max_norm caps the rows of the classifier"),
    ("crt", ["stage.taus=[1]"], "stage.taus is the tau grid of post-hoc methods"),
    ("la_posthoc", ["stage.train=classifier"], "stage.posthoc=la computes its result without training"),
    ("wb", ["stage.max_norm=2"], "config key stage.max_norm must be in [0, 1]"),
    ("crt", ["stage.bn=shift"], "config key stage.bn must be one of frozen, update"),
    ("erm", ["stage.epochs=3"], "stage.epochs apply to two-stage methods"),
])
def test_bad_stage2_recipes_are_one_line(tmp_path, capsys, method, sets, message):
    code = main(["run", "--methods", method, "--datasets", "cifar10_lt", "--out", str(tmp_path / "o"), "--dry-run",
                 "--set", *sets])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_a_child_whose_parent_cannot_run_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    from bench.methods.registry import METHODS
    from bench.methods.spec import Method

    monkeypatch.setitem(METHODS, "crt_on_drw", Method("crt_on_drw", "test", "", dict(sampler="class_uniform"),
                                                     parent="ldam_drw", stage=dict(train="classifier")))
    code = main(["run", "--methods", "crt_on_drw", "--datasets", "cifar10_lt", "--epochs", "2", "--out",
                 str(tmp_path / "o"), "--dry-run", "--set", "train.milestone_fractions=[1.0]"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
    assert ("crt_on_drw starts from a finished ldam_drw run on cifar10_lt, and that run cannot be planned: method "
            "ldam_drw switches re-balancing on at epoch 2, at or past the last of 2 epochs") in err


def test_dry_run_prices_stage2_children_as_level_two(tmp_path, capsys):
    assert main(["run", "--methods", "crt", "--datasets", "cifar10_lt", "--out", str(tmp_path / "o"),
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "level 2, after its parent" in out and "(stage 2: a third of a training step)" in out
    assert "in two levels (1 first, 1 after their parents)" in out


def test_a_failed_parent_fails_its_stage2_child_with_the_reason(cifar_root, tmp_path):
    out = tmp_path / "out"
    assert main(args(cifar_root, out, "crt", "train.lr=1e12", "train.warmup_epochs=0")) == 1
    parent, _ = found(out, "erm")
    child, child_dir = found(out, "crt")
    assert parent["status"] == "failed" and child["status"] == "failed"
    assert child["error"].startswith(f"parent run {parent['run_id']} failed: training loss became")
    assert not (child_dir / "checkpoint.pt").exists()  # nothing trained
