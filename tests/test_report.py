"""`bench report` on a checked-in miniature sweep (tests/data/golden, made by tests/data/make_golden.py)."""

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.cli import main
from bench.report.aggregate import aggregate
from bench.report.build import report
from bench.report.collect import collect

DATA = Path(__file__).parent / "data"
EXPECTED = DATA / "golden_expected"
EXP100 = ("cifar10_lt", "exp", 100.0, 0, "test")
STEP10 = ("cifar10_lt", "step", 10.0, 0, "test")


@pytest.fixture
def golden(tmp_path, monkeypatch):
    shutil.copytree(DATA / "golden", tmp_path / "golden")
    monkeypatch.chdir(tmp_path)
    return Path("golden")


def results_of(folder, method, setting):
    out = []
    for path in sorted(Path(folder).glob("*/result.json")):
        r = json.loads(path.read_text())
        d = r["config"]["dataset"]
        if r["method"] != method:
            continue
        if (d["name"], d["profile"], float(d["imbalance_ratio"]), d["data_seed"]) == setting[:4]:
            out.append(r)
    return out


def test_golden_markdown_and_latex(golden, capsys):
    report([golden], out="out", latex=True, compare="paper")
    produced = sorted(p.name for p in Path("out").iterdir())
    assert produced == ["main.tex", "overall.tex", "paper.tex", "shots_cifar10_lt_exp100_ds0.tex",
                        "shots_cifar10_lt_step10_ds0.tex", "tables.md"]
    if os.environ.get("BENCH_REGENERATE_GOLDEN"):
        EXPECTED.mkdir(exist_ok=True)
        for name in produced:
            shutil.copy(Path("out") / name, EXPECTED / name)
    for name in produced:
        assert (Path("out") / name).read_text() == (EXPECTED / name).read_text(), name
    assert capsys.readouterr().out.startswith((EXPECTED / "tables.md").read_text())


def test_missing_cell_reasons(golden):
    md = (report([golden])[0])
    rows = {label: [e.text for e in entries] for label, entries in md.rows}
    assert rows["reweight"] == ["failed [1]", "not run"]
    assert rows["cb"][0] == f"{rows['cb'][0].split(' (')[0]} (2 of 3 seeds) [2]"
    assert rows["drw"] == ["incomplete [3]", "not run"]
    assert rows["ldam_drw"][1] == "not run"
    notes = [text for text, _ in md.notes]
    assert re.fullmatch(r"reweight on cifar10_lt exp-100 ds0: 2 run\(s\) failed: training loss became (nan|inf|-inf) "
                        r"in epoch \d+", notes[0])  # how lr 1e12 diverges depends on the CPU that recorded it
    assert notes[1] == "cb on cifar10_lt exp-100 ds0: 2 of 3 seeds done (1 not run)"
    assert notes[2].startswith("drw on cifar10_lt exp-100 ds0: 1 run(s) have no result yet")
    assert [Path(d).name for d in md.notes[2][1]] == [p.name for p in golden.glob("*__drw__*")]


def test_empty_shot_group_is_na_and_sizes_in_header(golden):
    tables = report([golden])
    step = next(t for t in tables if t.name == "shots_cifar10_lt_step10_ds0")
    assert step.columns == ["method", "overall", "many (5)", "medium (0)", "few (5)"]
    assert all(entries[2].text == "n/a" for _, entries in step.rows)


def test_mean_std_and_t_interval(golden):
    cells = aggregate(collect([golden]))
    erm = results_of(golden, "erm", EXP100)
    values = [r["last"]["top1"] for r in erm]
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    stat = cells[(EXP100, "erm")].stats["top1"]
    assert (stat.mean, stat.n) == (pytest.approx(mean), 3)
    assert stat.std == pytest.approx(std)
    assert stat.ci95 == pytest.approx(4.302652729749464 * std / math.sqrt(3))  # t(0.975, df=2)


def test_ci_closed_form(tmp_path):
    template = json.loads(next((DATA / "golden").glob("*__erm__seed0__*/result.json")).read_text())
    for seed, top1 in enumerate((10.0, 20.0, 30.0)):
        run = tmp_path / f"run{seed}"
        run.mkdir()
        result = json.loads(json.dumps(template))
        result["config"]["train"]["seed"] = result["seed"] = seed
        result["last"]["top1"] = top1
        (run / "result.json").write_text(json.dumps(result))
    stat = aggregate(collect([tmp_path]))[(EXP100, "erm")].stats["top1"]
    assert (stat.mean, stat.std, stat.n) == (20.0, 10.0, 3)
    assert stat.ci95 == pytest.approx(24.8413, abs=1e-4)
    error = aggregate(collect([tmp_path]), as_error=True)[(EXP100, "erm")].stats["top1"]
    assert (error.mean, error.std) == (80.0, 10.0)


def test_best_vs_last(golden):
    last = aggregate(collect([golden]), "last")[(EXP100, "ldam_drw")].stats["top1"].mean
    best = aggregate(collect([golden]), "best")[(EXP100, "ldam_drw")].stats["top1"].mean
    runs = results_of(golden, "ldam_drw", EXP100)
    assert last == pytest.approx(sum(r["last"]["top1"] for r in runs) / 3)
    assert best == pytest.approx(sum(r["best"]["top1"] for r in runs) / 3)
    # recorded runs: a mean best above the mean last only where some run peaked before its last epoch
    assert (best > last) == any(r["best"]["top1"] > r["last"]["top1"] for r in runs) and best >= last
    tables = report([golden], select="best")
    assert all("SELECTED ON THE TEST SET" in t.title for t in tables)
    assert all("last epoch" in t.title for t in report([golden]))


def test_paper_comparison(golden):
    tables = report([golden], compare="paper", metric="error")
    paper = tables[-1]
    assert paper.columns == ["method = paper row", "cifar10_lt exp-100 ds0 (C10 LT-100)",
                             "cifar10_lt step-10 ds0 (C10 step-10)"]
    rows = {label: [e.text for e in entries] for label, entries in paper.rows}
    errors = [100 - r["last"]["top1"] for r in results_of(golden, "erm", EXP100)]
    ours = sum(errors) / 3
    sd = (sum((e - ours) ** 2 for e in errors) / 2) ** 0.5
    assert rows["erm = ERM"][0] == f"{ours:.2f} ± {sd:.2f} / 29.64 ({ours - 29.64:+.2f})"
    assert rows["ldam_drw = LDAM-DRW"][1] == "not run / 12.19"
    assert "reweight" not in " ".join(rows)  # the paper has no RW row
    notes = [text for text, _ in paper.notes]
    assert any("small_cnn for 8 epochs" in n and "not comparable" in n for n in notes)
    assert any("selected on the test set by the reference code" in n for n in notes)
    main_table = tables[0]
    assert main_table.title.startswith("Top-1 error (%)")
    erm_error = [e for label, entries in main_table.rows if label == "erm" for e in entries][0]
    assert erm_error.mean == pytest.approx(ours)


def test_newer_methods_are_compared_with_their_authors_numbers(golden):
    from bench.methods.registry import METHODS

    for path in sorted(golden.glob("*/result.json")):  # the erm runs on exp-100, relabelled as drw_sam runs
        r = json.loads(path.read_text())
        if r["method"] != "erm" or r["config"]["dataset"]["profile"] != "exp":
            continue
        r["method"] = r["config"]["method"]["name"] = "drw_sam"
        r["config"]["method"].update(METHODS["drw_sam"].parts)
        folder = golden / path.parent.name.replace("__erm__", "__drw_sam__")
        shutil.copytree(path.parent, folder)
        (folder / "result.json").write_text(json.dumps(r))
    paper = report([golden], compare="paper", metric="error")[-1]
    rows = {label: [e.text for e in entries] for label, entries in paper.rows}
    errors = [100 - r["last"]["top1"] for r in results_of(golden, "erm", EXP100)]
    ours = sum(errors) / 3
    sd = (sum((e - ours) ** 2 for e in errors) / 2) ** 0.5
    # val-iisc/Saddle-LongTail README: CE+DRW+SAM 80.6 top-1 on CIFAR-10-LT exp-100 (19.40 error); none on step-10
    assert rows["drw_sam = CE+DRW+SAM"] == [f"{ours:.2f} ± {sd:.2f} / 19.40 ({ours - 19.40:+.2f})",
                                            "not run / paper n/a"]
    assert rows["erm = ERM"][0].endswith(f"/ 29.64 ({ours - 29.64:+.2f})")  # the LDAM-DRW paper's rows stay
    notes = [text for text, _ in paper.notes]
    assert any(n.startswith("drw_sam on cifar10_lt exp-100 ds0: our runs use small_cnn for 8 epochs; the published "
                            "number trains resnet32 for 200 epochs") for n in notes)
    assert any(n.startswith("Rangwani et al., NeurIPS 2022; val-iisc/Saddle-LongTail README.md") for n in notes)


def test_csv_is_tidy(golden):
    import pandas as pd

    report([golden], out="out", csv=True)
    frame = pd.read_csv("out/results.csv")
    erm = frame[(frame.method == "erm") & (frame.profile == "exp")].set_index("metric")
    from bench.metrics.priors import NAMES

    # the schema, then the shifted-prior accuracies the report derives from per-class accuracy
    assert list(erm.index) == ["top1", "top5", "many", "medium", "few", "worst", "ece", "nll", *NAMES]
    assert erm.loc["backward50", "n"] == 3 and pd.isna(erm.loc["backward50", "note"])  # derived for every run
    assert erm.loc["ece", "note"] == "not recorded: 3 run(s) written by a bench version without ece"
    assert erm.loc["top1", "n"] == 3 and erm.loc["few", "group_size"] == 6
    failed = frame[frame.method == "reweight"].iloc[0]
    assert failed["n_failed"] == 2 and failed["note"].startswith("failed: training loss became ")
    medium = frame[(frame.method == "erm") & (frame.profile == "step") & (frame.metric == "medium")].iloc[0]
    assert medium["note"] == "empty group" and pd.isna(medium["mean"])


def test_plots_written(golden):
    run = next(golden.glob("*__ldam_drw__seed0__*"))
    report([golden], out="out", plots=True, confusion=[run])
    stems = ["plot_per_class_cifar10_lt_exp100_ds0", "plot_shots_cifar10_lt_exp100_ds0",
             "plot_curves_cifar10_lt_exp100_ds0", "plot_per_class_cifar10_lt_step10_ds0",
             "plot_shots_cifar10_lt_step10_ds0", "plot_curves_cifar10_lt_step10_ds0", f"confusion_{run.name}"]
    for stem in stems:
        for ext in ("png", "pdf"):
            path = Path("out") / f"{stem}.{ext}"
            assert path.stat().st_size > 5000, path


def test_merging_folders_and_variants(golden, tmp_path):
    other = Path("other")
    for method in ("erm", "cb"):
        shutil.copytree(next(golden.glob(f"*__{method}__seed0__*")), other / f"{method}_copy")
        result = json.loads((other / f"{method}_copy" / "result.json").read_text())
        result["config"]["method"]["beta"] = 0.99  # a non-default hyper-parameter is visible in the label...
        result["config"]["train"]["epochs"] = 9
        (other / f"{method}_copy" / "result.json").write_text(json.dumps(result))
    labels = [label for label, _ in report([golden, other])[0].rows]
    # the epochs differ between rows of the table, so every row says its epochs (issue 21)
    assert "cb (beta=0.99) [train.epochs=9]" in labels and "cb [train.epochs=8]" in labels
    # ...where the method uses it: erm has no part that reads beta, so only the epochs tell the copy apart
    assert "erm [train.epochs=9]" in labels and "erm [train.epochs=8]" in labels
    assert not any("beta" in label for label in labels if label.startswith("erm"))


def test_latex_compiles(golden):
    if shutil.which("pdflatex") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install pdflatex (texlive-latex-base, texlive-latex-recommended)")
        pytest.skip("pdflatex is not installed")
    report([golden], out="out", latex=True, compare="paper")
    inputs = "".join(f"\\input{{{p.name}}}\n" for p in sorted(Path("out").glob("*.tex")))
    Path("out/doc.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n"
                                   f"\\begin{{document}}\n{inputs}\\end{{document}}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd="out",
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert Path("out/doc.pdf").stat().st_size > 10000
    assert "Overfull" not in Path("out/doc.log").read_text()


@pytest.mark.parametrize("args,message", [
    (["report", "nowhere"], "does not exist"),
    (["report", "empty"], "no runs found"),
    (["report", "golden", "--latex"], "pass --out DIR"),
])
def test_report_errors(golden, capsys, args, message):
    Path("empty").mkdir()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_torn_result_is_reported_as_failed(golden):
    run = next(golden.glob("*__ldam_drw__seed2__*"))
    (run / "result.json").write_text('{"run_id": "trunc')
    cell = aggregate(collect([golden]))[(EXP100, "ldam_drw")]
    assert cell.n_done == 2 and cell.failed == [(run, "result.json is unreadable")]


def test_metrics_a_result_lacks_are_recomputed_from_its_logits(cifar_root, tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--methods", "ldam_drw", "--datasets", "cifar10_lt", "--epochs", "2", "--data-root",
                 str(cifar_root), "--out", str(out), "--no-progress", "--set", "dataset.verify=false",
                 "dataset.download=false", "model.name=small_cnn", "dataset.imbalance_ratio=10",
                 "train.warmup_epochs=1", "method.defer_epoch=1"]) == 0
    (path,) = out.glob("*/result.json")
    original = json.loads(path.read_text())
    old = json.loads(path.read_text())
    for block in ("last", "best"):  # as a bench version without these metrics wrote it
        for metric in ("ece", "nll", "worst"):
            del old[block][metric]
    path.write_text(json.dumps(old))
    (run,) = collect([out])
    for metric in ("ece", "nll", "worst"):  # LDAM's ECE / NLL on s * cos, as training computes them
        assert run.result["last"][metric] == pytest.approx(original["last"][metric], rel=1e-5)
    assert run.result["recomputed"] == ["worst", "ece", "nll"]
    assert (run.result["best"].get("ece") is not None) == (original["best"]["epoch"] == original["last"]["epoch"])
    (path.parent / "logits.npz").unlink()  # without the logits the cells stay "not recorded"
    (run,) = collect([out])
    assert run.result["last"].get("ece") is None and "recomputed" not in run.result
