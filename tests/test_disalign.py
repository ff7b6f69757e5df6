"""DisAlign's stage 2 against its official code, transcribed here in its own structure, and as a bench method.

- The classification layer: Megvii-BaseDetection/cvpods @ 2deea5dc659371318c8a570c644201d913a83027,
  cvpods/layers/wrappers.py:450-466 (DisAlignLinear, an nn.Linear subclass with a confidence layer, logit_scale and
  logit_bias), what trains: Megvii-BaseDetection/DisAlign @ a2fc3500 classification/imagenetlt/resnext50/
  resx50.scratch.imagenet_lt.224size.90e.disalign.10e/net.py:56-62.
- The paper's form: cvpods/modeling/roi_heads/disalign_fast_rcnn.py:40-64 (the detection head, foreground logits).
"""

from __future__ import annotations

import shutil

import pytest
import torch
import torch.nn.functional as F
from conftest import bench_process
from test_stage2 import args, found, found_dir, snapshot, weights
from torch import nn

from bench.cli import main
from bench.models.classifiers import DisAlign


class OfficialDisAlignLinear(nn.Linear):
    """cvpods' classification layer in its own structure: the frozen classifier is the layer's own weight and bias."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.confidence_layer = nn.Linear(in_features, 1)
        self.logit_scale = nn.Parameter(torch.ones(1, out_features))
        self.logit_bias = nn.Parameter(torch.zeros(1, out_features))
        nn.init.constant_(self.confidence_layer.weight, 0.1)

    def forward(self, x):
        before = F.linear(x, self.weight, self.bias)
        confidence = self.confidence_layer(x).sigmoid()
        return (1 + confidence * self.logit_scale) * before + confidence * self.logit_bias


def official_detection_form(scores, confidence_logit, scale, bias):
    """disalign_fast_rcnn.py:55-60 on the foreground scores: s (z scale + bias) + (1 - s) z."""
    s = confidence_logit.sigmoid()
    return s * (scores * scale + bias) + (1 - s) * scores


def paired(in_features=12, classes=7, seed=0):
    """bench's DisAlign and the official layer holding the same (random, trained-looking) parameters."""
    torch.manual_seed(seed)
    official = OfficialDisAlignLinear(in_features, classes)
    with torch.no_grad():
        official.logit_scale.normal_(1.0, 0.3)
        official.logit_bias.normal_(0.0, 0.5)
        official.confidence_layer.weight.normal_(0.0, 0.2)
    head = nn.Linear(in_features, classes)
    head.load_state_dict({"weight": official.weight.detach().clone(), "bias": official.bias.detach().clone()})
    ours = DisAlign(head, in_features, classes, "code")
    with torch.no_grad():
        ours.confidence.weight.copy_(official.confidence_layer.weight)
        ours.confidence.bias.copy_(official.confidence_layer.bias)
        ours.scale.copy_(official.logit_scale)
        ours.bias.copy_(official.logit_bias)
    return ours, official


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_code_form_equals_the_official_layer_in_value_and_gradient(seed):
    ours, official = paired(seed=seed)
    x = torch.randn(9, 12).relu()  # pooled features after a ReLU
    target = torch.randint(0, 7, (9,))
    weight = torch.rand(7) + 0.5  # a class-weighted CE, as GRW's
    out_ours, out_official = ours(x), official(x)
    torch.testing.assert_close(out_ours, out_official, rtol=1e-6, atol=1e-6)
    F.cross_entropy(out_ours, target, weight=weight).backward()
    F.cross_entropy(out_official, target, weight=weight).backward()
    for mine, theirs in ((ours.scale, official.logit_scale), (ours.bias, official.logit_bias),
                         (ours.confidence.weight, official.confidence_layer.weight),
                         (ours.confidence.bias, official.confidence_layer.bias)):
        assert mine.grad is not None and mine.grad.abs().sum() > 0
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-5, atol=1e-6)
    # net.py:56-62 trains only the calibration: the head's parameters are what stage 2 leaves out
    trained = {id(ours.scale), id(ours.bias), *map(id, ours.confidence.parameters())}
    assert {id(p) for p in ours.calibration()} == trained


def test_the_initial_state_of_each_form():
    torch.manual_seed(3)
    head = nn.Linear(5, 4)
    code, paper = DisAlign(head, 5, 4, "code"), DisAlign(head, 5, 4, "paper")
    # wrappers.py:457-459: scale 1, bias 0, every confidence weight 0.1 (its bias nn.Linear's draw)
    assert torch.equal(code.confidence.weight, torch.full((1, 5), 0.1)) and torch.equal(code.scale, torch.ones(1, 4))
    x = torch.rand(6, 5)
    z, s = head(x), torch.sigmoid(code.confidence(x))
    torch.testing.assert_close(code(x), (1 + s) * z)  # the code's form does not start at z
    # disalign_fast_rcnn.py:50-53: confidence ~ N(0, 0.01), bias 0; the paper's form starts at z exactly
    assert float(paper.confidence.bias.detach()) == 0.0 and float(paper.confidence.weight.detach().std()) < 0.05
    torch.testing.assert_close(paper(x), z)
    with torch.no_grad():
        paper.scale.normal_()
        paper.bias.normal_()
    torch.testing.assert_close(paper(x), official_detection_form(z, paper.confidence(x), paper.scale, paper.bias))


def test_stage2_trains_only_the_calibration_on_the_parents_frozen_model(cifar_root, tmp_path):
    out = tmp_path / "out"
    assert main(args(cifar_root, out, "disalign", "stage.epochs=2", "stage.batch_size=64", epochs=2)) == 0
    result, run_dir = found(out, "disalign")
    assert result["status"] == "done" and result["parent"]["method"] == "erm"
    assert result["parent"]["stage"]["train"] == "disalign" and result["parent"]["stage"]["disalign_form"] == "code"
    parent, model = weights(out / result["parent"]["run_id"]), weights(run_dir)
    assert torch.equal(model["1.head.weight"], parent["1.weight"])
    assert torch.equal(model["1.head.bias"], parent["1.bias"])
    frozen = [k for k in parent if k.startswith("0.") and "running_" not in k and "num_batches" not in k]
    assert frozen and all(torch.equal(parent[k], model[k]) for k in frozen)
    assert any(not torch.equal(parent[k], model[k]) for k in parent if "running_mean" in k)  # stage.bn=update
    assert not torch.equal(model["1.scale"], torch.ones(1, 10)) and not torch.equal(model["1.bias"], torch.zeros(1, 10))
    assert not torch.equal(model["1.confidence.weight"], torch.full_like(model["1.confidence.weight"], 0.1))
    assert result["config"]["method"]["weights"] == "grw" and result["config"]["method"]["grw_rho"] == 1.2


@pytest.mark.parametrize("method, sets, message", [
    ("crt", ["stage.disalign_form=paper"], "stage.disalign_form would change nothing in crt"),
    ("disalign", ["stage.reinit=true"], "stage.reinit would change nothing in disalign"),
    ("disalign", ["stage.max_norm=0.5"], "stage.max_norm would change nothing in disalign"),
    ("disalign", ["stage.train=classifier"], "stage.train=classifier would make disalign (stage.train=disalign) "
                                             "another method under its name; use method crt"),
])
def test_keys_disalign_does_not_read_are_refused(tmp_path, capsys, method, sets, message):
    argv = ["run", "--methods", method, "--datasets", "cifar10_lt", "--dry-run", "--out", str(tmp_path / "r"),
            "--set", *sets]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_papers_form_is_a_setting_with_its_own_run_id(tmp_path, capsys):
    base = ["run", "--methods", "disalign", "--datasets", "cifar10_lt", "--dry-run", "--out", str(tmp_path / "r")]
    assert main(base) == 0
    code = capsys.readouterr().out
    assert main([*base, "--set", "stage.disalign_form=paper"]) == 0
    paper = capsys.readouterr().out
    ids = [{w for w in text.split() if "__disalign__" in w} for text in (code, paper)]
    assert ids[0] and ids[1] and not ids[0] & ids[1]


def test_a_killed_disalign_run_resumes_exactly(cifar_root, tmp_path):
    stage = ["stage.epochs=3", "stage.batch_size=64"]
    first, second = tmp_path / "reference", tmp_path / "killed"
    assert bench_process(args(cifar_root, first, "erm")).returncode == 0
    (parent_dir,) = first.iterdir()
    second.mkdir()
    shutil.copytree(parent_dir, second / parent_dir.name)  # the same parent result in both
    assert bench_process(args(cifar_root, first, "disalign", *stage)).returncode == 0
    killed = bench_process(args(cifar_root, second, "disalign", *stage), "mid-epoch:9")  # 7 batches an epoch
    assert killed.returncode != 0 and not (found_dir(second, "disalign") / "result.json").exists()
    resumed = bench_process(args(cifar_root, second, "disalign", *stage))
    assert resumed.returncode == 0 and "resuming" in resumed.stdout, resumed.stderr
    assert snapshot(found_dir(second, "disalign")) == snapshot(found_dir(first, "disalign"))
