"""Two-stage methods (issue 12): post-hoc children of a shared parent run, dependencies in the launch layer."""

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from bench.algorithms.posthoc import adjust, result_sha256
from bench.cli import main

SETS = ["dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "dataset.imbalance_ratio=10",
        "train.warmup_epochs=1"]


def run(cifar_root, out, methods, *extra, seeds="0", epochs=3):
    return main(["run", "--methods", methods, "--datasets", "cifar10_lt", "--epochs", str(epochs), "--seeds", seeds,
                 "--data-root", str(cifar_root), "--out", str(out), "--no-progress", "--set", *SETS,
                 *extra])


def results(out):
    found = {}
    for path in Path(out).glob("*/result.json"):
        r = json.loads(path.read_text())
        found.setdefault(r["method"], []).append((r, path.parent))
    return found


def test_post_hoc_rules_on_hand_computed_values():
    prior = np.array([0.75, 0.25])
    z = np.array([[1.0, 0.0]])
    la = adjust("la", z, 1.0, prior, None)  # z - tau ln pi = (1 - ln .75, -ln .25) = (1.2877, 1.3863)
    assert la == pytest.approx(np.array([[1 - math.log(0.75), -math.log(0.25)]]))
    assert la.argmax() == 1 and adjust("la", z, 0.0, prior, None).argmax() == 0
    weight, bias = np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([0.5, 0.0])  # row norms 2 and 1
    z = np.array([[2.5, 1.0]])  # f . w = z - b = (2, 1)
    assert adjust("tau_norm", z, 0.0, prior, (weight, bias)) == pytest.approx(np.array([[2.0, 1.0]]))  # bias dropped
    assert adjust("tau_norm", z, 1.0, prior, (weight, bias)) == pytest.approx(np.array([[1.0, 1.0]]))
    assert adjust("tau_norm", z, 0.5, prior, (weight, bias)) == pytest.approx(np.array([[2 / math.sqrt(2), 1.0]]))


def test_one_parent_shared_by_children_and_tau_chosen_on_val(cifar_root, tmp_path):
    out = tmp_path / "out"
    assert run(cifar_root, out, "la_posthoc,tau_norm", "eval.selection=best_val", seeds="0,1") == 0
    found = results(out)
    assert sorted(found) == ["erm", "la_posthoc", "tau_norm"]
    assert len(found["erm"]) == 2 and len(found["la_posthoc"]) == 2 and len(found["tau_norm"]) == 2
    parents = {d.name: d for _, d in found["erm"]}
    for method in ("la_posthoc", "tau_norm"):
        for result, _ in found[method]:
            parent_dir = parents[result["parent"]["run_id"]]
            assert result["parent"]["result_sha256"] == result_sha256(parent_dir)
            assert result["seed"] == json.loads((parent_dir / "result.json").read_text())["seed"]
            sel = result["selection"]
            assert sel["tau_chosen_on"] == "val" and sel["tau_grid"][int(np.argmax(sel["val_top1_per_tau"]))] == \
                sel["tau"]
            saved = np.load(parent_dir / "logits.npz")
            counts = np.asarray(result["train_class_counts"], dtype=np.float64)
            val_scores = []
            for tau in sel["tau_grid"]:  # recomputed here from the parent's files
                head = None
                if method == "tau_norm":
                    from bench.algorithms.posthoc import head_of

                    head = head_of(parent_dir)
                rule = "la" if method == "la_posthoc" else "tau_norm"
                adjusted = adjust(rule, saved["val_logits"].astype(np.float64), tau, counts / counts.sum(), head)
                val_scores.append(float((adjusted.argmax(1) == saved["val_labels"]).mean() * 100))
            assert val_scores == pytest.approx(sel["val_top1_per_tau"])
    for _, parent_dir in found["erm"]:  # trained once: one line per epoch
        lines = (parent_dir / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(x)["epoch"] for x in lines] == [0, 1, 2]


def test_forced_parent_makes_children_out_of_date(cifar_root, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(cifar_root, out, "la_posthoc") == 0
    (child, child_dir), = results(out)["la_posthoc"]
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "3", "--data-root",
                 str(cifar_root), "--out", str(out), "--no-progress", "--force", "--set", *SETS]) == 0
    capsys.readouterr()
    assert run(cifar_root, out, "la_posthoc") == 0
    text = capsys.readouterr().out
    assert f"done   {child_dir.name}" in text and "skip   " in text  # the parent is skipped, the child recomputed
    (again, _), = results(out)["la_posthoc"]
    assert again["parent"]["result_sha256"] != child["parent"]["result_sha256"]
    assert again["parent"]["result_sha256"] == result_sha256(Path(out) / child["parent"]["run_id"])


def test_failed_parent_fails_its_children_with_the_reason(cifar_root, tmp_path):
    out = tmp_path / "out"
    assert run(cifar_root, out, "la_posthoc", "train.lr=1e12", "train.warmup_epochs=0") == 1
    found = results(out)
    (parent, _), = found["erm"]
    (child, _), = found["la_posthoc"]
    assert parent["status"] == "failed" and child["status"] == "failed"
    assert child["error"].startswith(f"parent run {parent['run_id']} failed: training loss became")


def test_local_executor_starts_children_after_parents(cifar_root, tmp_path):
    out = tmp_path / "out"
    code = main(["run", "--methods", "la_posthoc", "--datasets", "cifar10_lt", "--epochs", "2", "--seeds", "0,1",
                 "--executor", "local", "--jobs", "2", "--data-root", str(cifar_root), "--out", str(out),
                 "--no-progress", "--set", *SETS])
    assert code == 0
    found = results(out)
    assert all(r["status"] == "done" for rs in found.values() for r, _ in rs) and len(found["la_posthoc"]) == 2
    for child, child_dir in found["la_posthoc"]:
        parent_dir = Path(out) / child["parent"]["run_id"]
        assert os.stat(child_dir / "result.json").st_mtime_ns >= os.stat(parent_dir / "result.json").st_mtime_ns
        assert child["selection"]["tau"] == 1.0 and child["selection"]["tau_chosen_on"].startswith("fixed")
        assert child["best"]["selected_on"] == "fixed"  # nothing was chosen, on the test images or elsewhere


def test_selection_phrase_of_a_fixed_post_hoc_rule():
    from types import SimpleNamespace

    from bench.report.tables import selection_phrase

    fixed, on_test = SimpleNamespace(selected_on={"fixed"}), SimpleNamespace(selected_on={"test"})
    assert selection_phrase("best", [fixed]) == "best epoch = last (nothing selected: a post-hoc rule with a fixed tau)"
    assert selection_phrase("best", [fixed, on_test]) == "best epoch, SELECTED ON THE TEST SET (optimistic)"


@pytest.mark.parametrize("sets, message", [
    (["stage.taus=[]", "eval.selection=best_val"], "stage.taus must be a non-empty list of non-negative numbers"),
    (["stage.taus=[0, -1]", "eval.selection=best_val"], "stage.taus must be a non-empty list"),
    (["stage.taus=[0, 1]"], "stage.taus=[0.0, 1.0] would change nothing in la_posthoc"),  # no validation logits: tau 1
    (["stage.parent=x"], "set stage.parent with --methods"),
])
def test_bad_stage_input_is_one_line(tmp_path, capsys, sets, message):
    code = main(["run", "--methods", "la_posthoc", "--datasets", "cifar10_lt", "--out", str(tmp_path / "o"),
                 "--dry-run", "--set", *sets])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_tau_norm_needs_a_validation_split_and_stage_keys_need_a_two_stage_method(tmp_path, capsys):
    assert main(["run", "--methods", "tau_norm", "--datasets", "cifar10_lt", "--out", str(tmp_path / "o"),
                 "--dry-run"]) == 2
    assert "tau_norm chooses tau on a validation split; add --set eval.selection=best_val" in capsys.readouterr().err
    assert main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(tmp_path / "o"), "--dry-run",
                 "--set", "stage.taus=[1]"]) == 2
    assert ("stage.taus apply to two-stage methods (la_posthoc, tau_norm, crt, lws, disalign, gcl, ccsam, mislas, "
            "wb, sade_tta, dirmixe_tta, ride_ea); erm is trained in one stage") in capsys.readouterr().err
    assert main(["run", "--methods", "tau_norm", "--datasets", "cifar10_lt", "--out", str(tmp_path / "o"),
                 "--dry-run", "--set", "eval.selection=best_val"]) == 0
    out = capsys.readouterr().out
    assert "in two levels (1 first, 1 after their parents)" in out and "level 2, after its parent" in out


def test_status_says_when_a_child_is_out_of_date(cifar_root, tmp_path, capsys):
    from bench.run.status import print_status

    out = tmp_path / "out"
    assert run(cifar_root, out, "la_posthoc") == 0
    (child, child_dir), = results(out)["la_posthoc"]
    parent_result = Path(out) / child["parent"]["run_id"] / "result.json"
    parent_result.write_text(parent_result.read_text().replace('"status": "done"', '"status":  "done"'))
    capsys.readouterr()
    print_status(out)
    text = capsys.readouterr().out
    assert f"out of date: parent {child['parent']['run_id']} changed since it was computed" in text


def test_every_two_stage_method_runs_on_its_parent(cifar_root, tmp_path):
    from bench.methods.registry import METHODS
    from bench.plan.config import two_stage_methods

    two_stage = two_stage_methods()  # deit_lt, distilled from its parent in one stage: tests/test_deit_lt.py
    assert two_stage and set(two_stage) | {"deit_lt"} == {m for m in METHODS if METHODS[m].parent}
    out = tmp_path / "out"
    assert run(cifar_root, out, ",".join(two_stage), "eval.selection=best_val", epochs=2) == 0
    found = results(out)
    for method in two_stage:
        (result, run_dir), = found[method]
        assert result["status"] == "done" and result["parent"]["method"] == METHODS[method].parent
        assert {p.name for p in run_dir.iterdir()} >= {"config.yaml", "result.json", "predictions.npz"}
        assert len(result["last"]["per_class_acc"]) == 10
