"""`bench reproduce PAPER`: the runs behind a published table, on the authors' recipes, priced and run."""

import json

import pytest

from bench.cli import main
from bench.plan.runs import plan
from bench.report.reproduce import cells, plan_runs


def test_the_ldam_drw_cifar_table_is_every_row_with_a_bench_method_at_every_setting_and_seed(capsys):
    chosen, left = cells("ldam_drw", "cifar")
    assert not left and len({c.setting for c in chosen}) == 8  # Tables 2 and 5: exp and step, ratios 100 and 10
    assert {c.method for c in chosen} == {"erm", "focal", "ldam", "resample", "cb", "cb_focal", "ldam_drw", "drw",
                                          "drs"}
    assert len(chosen) == 8 * 9 and all(c.epochs == 200 and "model.name=resnet32" in c.sets for c in chosen)
    assert main(["reproduce", "ldam_drw", "--table", "cifar", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ldam_drw: 72 published numbers (9 methods, 8 settings) x 3 seeds = 216 runs, each on the "
                          "authors' recipe")
    assert "dry run: 216 to start, 0 skipped; ~" in out and " device-hours (inline executor)" in out
    # the same runs (ids) as bench run plans for those methods and settings
    run = plan(["ldam_drw"], ["cifar10_lt"], [1], "results", sets=["dataset.profile=step",
                                                                  "dataset.imbalance_ratio=10"])[-1]
    assert f"start  {run.run_dir.name}:" in out


def test_a_published_paper_plans_its_cells_with_the_published_model_and_its_needs(capsys):
    sam, _ = cells("sam", "imagenet")
    assert {(c.method, c.epochs) for c in sam} == {("ldam_drw_sam", 90), ("drw_sam", 90)}
    runs = plan_runs(sam, [0], "out", {}, [])
    assert {r.cfg["model"]["name"] for r in runs} == {"resnet50"}  # SAM's ImageNet-LT numbers: ResNet-50
    decoupling, _ = cells("decoupling")
    tau_norm = [r for r in plan_runs(decoupling, [0], "out", {}, []) if r.cfg["method"]["name"] == "tau_norm"]
    assert tau_norm and tau_norm[0].cfg["eval"]["selection"] == "best_val"  # its tau is chosen on validation
    mislas, left = cells("mislas")
    assert all(c.dataset != "places_lt" for c in mislas)
    assert left[0].startswith("left out: erm_mixup on places_lt, published with model resnet152")


def test_presets_and_config_files_reach_every_cell(tmp_path):
    sam, _ = cells("sam", "cifar")
    path = tmp_path / "lr.yaml"
    path.write_text("train:\n  lr: 0.05\n")
    runs = plan_runs(sam, [0], "out", {}, [], ["quick"], [str(path)])
    assert {(r.cfg["train"]["lr"], r.cfg["train"]["warmup_epochs"]) for r in runs} == {(0.05, 1)}  # quick: warm-up 1
    assert {r.cfg["model"]["name"] for r in runs} == {"resnet32"}  # the published model wins over the preset's


@pytest.mark.parametrize("argv, message", [
    (["reproduce", "nope"], "no published table of 'nope'; bench reproduces ldam_drw, sam, ride"),
    (["reproduce", "ride", "--table", "places"], "ride publishes no places number; its tables: cifar, imagenet, inat"),
    (["reproduce", "wb"], "none of wb's published numbers can be reproduced here: left out: erm_wd on cifar100_lt"),
    (["reproduce", "ride", "--methods", "erm"], "bench reproduce plans the paper's own methods and settings"),
])
def test_bad_input_is_one_line(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_reproduced_table_runs_and_the_paper_comparison_shows_its_cells(tmp_path, capsys):
    from conftest import write_cifar

    root, out = tmp_path / "data", tmp_path / "out"
    write_cifar(root, "cifar10", per_class_train=100, per_class_test=10)
    write_cifar(root, "cifar100", per_class_train=100, per_class_test=2, seed=1)  # ratio 100: 1 image in the tail
    argv = ["reproduce", "la", "--seeds", "0", "--epochs", "1", "--data-root", str(root), "--out", str(out),
            "--no-progress", "--set", "model.name=small_cnn", "dataset.verify=false", "train.batch_size=64",
            "eval.batch_size=200"]
    assert main(argv) == 0
    results = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    assert sorted((r["method"], r["dataset"]) for r in results) == [
        ("erm", "cifar100_lt"), ("erm", "cifar10_lt"), ("la_posthoc", "cifar100_lt"), ("la_posthoc", "cifar10_lt"),
        ("logit_adjust", "cifar100_lt"), ("logit_adjust", "cifar10_lt")]
    capsys.readouterr()
    assert main(["report", str(out), "--compare", "paper"]) == 0
    report = capsys.readouterr().out
    assert "logit_adjust = Logit adjustment loss" in report and "la_posthoc = Post-hoc logit adjustment" in report
