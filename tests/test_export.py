"""Results as data: `bench export` and `bench.load_results` give one tidy table that round-trips through CSV and
Parquet and holds exactly what each result.json says."""

import json
from pathlib import Path

import pandas as pd
import pytest

import bench
from bench.cli import main
from bench.metrics.priors import NAMES

GOLDEN = Path(__file__).parent / "data" / "golden"


@pytest.fixture(scope="module")
def frame():
    return bench.load_results(GOLDEN)


def test_every_run_metric_and_class_is_a_row_with_the_value_of_its_result(frame):
    results = {p.parent.name: json.loads(p.read_text()) for p in GOLDEN.glob("*/result.json")}
    run = "cifar10_lt-exp100-ds0__erm__seed1__c5d1689f"
    result = results[run]
    rows = frame[frame.run_id == run]
    last = rows[rows.block == "last"].set_index("metric")
    assert last.loc["top1", "value"] == result["last"]["top1"] and last.loc["top1", "epoch"] == result["last"]["epoch"]
    assert set(NAMES) <= set(last.index)  # the shifted-prior accuracies, derived from per-class accuracy
    classes = rows[(rows.block == "last") & (rows.metric == "class_acc")].sort_values("class")
    assert classes["value"].tolist() == result["last"]["per_class_acc"]
    assert classes["train_images"].tolist() == result["train_class_counts"]
    failed = frame[frame.method == "reweight"]
    assert len(failed) == 2 and set(failed.status) == {"failed"} and failed.error.str.contains("nan").all()
    assert set(frame[frame.status == "done"].block) == {"last", "best"}
    assert frame.groupby("run_id").size().min() == 1 and frame.run_id.nunique() == 17


def test_export_round_trips_through_parquet_and_csv(frame, tmp_path):
    assert main(["export", str(GOLDEN), "--format", "parquet", "--out", str(tmp_path / "r.parquet")]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), frame)
    assert main(["export", str(GOLDEN), "--out", str(tmp_path / "r.csv")]) == 0
    back = pd.read_csv(tmp_path / "r.csv")
    assert len(back) == len(frame) and back.columns.tolist() == frame.columns.tolist()
    assert back["value"].equals(frame["value"]) and (back["metric"].fillna("") == frame["metric"].fillna("")).all()


def test_export_refuses_a_missing_folder_or_a_folder_as_the_file(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", str(GOLDEN), "--out", str(tmp_path)]) == 2
    assert "must name a file" in capsys.readouterr().err and list(tmp_path.iterdir()) == []
