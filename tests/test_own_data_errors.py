"""Bad data in a dataset YAML file is one line, exit 2, before any run (nothing written): each problem the files can
have, and the two opt-ins (bad_images: skip, allow_outside: true) that turn a refusal into a declared choice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from owndata import write_csv, write_folder, write_hub

from bench.cli import main


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path_factory.getbasetemp() / "bench-cache"))


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    write_hub(root / "hub")
    return {"folder": write_folder(root / "folder").parent, "csv": write_csv(root / "csv").parent,
            "hub": root / "hub"}


def copy(sources, kind, tmp_path) -> Path:
    target = tmp_path / kind
    shutil.copytree(sources[kind], target)
    return target


def refused(target: Path, capsys, *phrases: str) -> str:
    out = target.parent / "results"
    assert main(["run", "--methods", "erm", "--datasets", str(target), "--preset", "quick", "--epochs", "1",
                 "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("bench: error: "), err
    for phrase in phrases:
        assert phrase in err, err
    assert not out.exists()  # before any run: nothing written
    return err


def test_a_class_folder_without_images(sources, tmp_path, capsys):
    root = copy(sources, "folder", tmp_path)
    (root / "photos" / "train" / "owl").mkdir()
    (root / "photos" / "train" / "owl" / "notes.txt").write_text("no image here")
    refused(root / "pets.yaml", capsys, "class folder", "owl has no image")


def test_truncated_images_are_refused_or_skipped_as_declared(sources, tmp_path, capsys):
    root = copy(sources, "csv", tmp_path)
    for name in ("cat_0.jpg", "dog_1.jpg"):
        data = (root / "images" / name).read_bytes()
        (root / "images" / name).write_bytes(data[: len(data) // 2])
    err = refused(root / "bugs.yaml", capsys, "2 image(s) cannot be read whole", "cat_0.jpg (line 2 of",
                  "bad_images: skip")
    assert "dog_1.jpg" in err
    (root / "bugs.yaml").write_text((root / "bugs.yaml").read_text() + "bad_images: skip\n")
    assert main(["data", "describe", str(root / "bugs.yaml")]) == 0
    out = capsys.readouterr().out
    assert "2 image(s) left out (bad_images: skip):" in out and "cat_0.jpg" in out
    assert "images: 41 train, 9 test" in out  # 43 listed, 2 left out


def test_a_listed_image_that_does_not_exist(sources, tmp_path, capsys):
    root = copy(sources, "csv", tmp_path)
    (root / "images" / "fox_1.jpg").unlink()
    refused(root / "bugs.yaml", capsys, "fox_1.jpg", "the file does not exist")


def test_a_label_outside_the_class_list(sources, tmp_path, capsys):
    root = copy(sources, "csv", tmp_path)
    (root / "bugs.yaml").write_text((root / "bugs.yaml").read_text() + "classes: [cat, dog]\n")
    refused(root / "bugs.yaml", capsys, "label 'fox' is a label outside the class list", "line")


def test_a_test_class_absent_from_training(sources, tmp_path, capsys):
    root = copy(sources, "folder", tmp_path)
    shutil.copytree(root / "photos" / "test" / "fox", root / "photos" / "test" / "owl")
    refused(root / "pets.yaml", capsys, "label 'owl' is a test class absent from training")


def test_a_duplicate_entry(sources, tmp_path, capsys):
    root = copy(sources, "csv", tmp_path)
    lines = (root / "train.csv").read_text().splitlines()
    (root / "train.csv").write_text("\n".join(lines + [lines[3]]) + "\n")
    refused(root / "bugs.yaml", capsys, f"{lines[3].split(',')[0]} is listed again (first on line 4)")


def test_a_path_leaving_the_images_folder_needs_allow_outside(sources, tmp_path, capsys):
    root = copy(sources, "csv", tmp_path)
    shutil.copy(root / "images" / "cat_0.jpg", tmp_path / "outside.jpg")
    (root / "train.csv").write_text((root / "train.csv").read_text() + "../outside.jpg,cat\n")
    refused(root / "bugs.yaml", capsys, "../outside.jpg leaves", "allow_outside: true")
    (root / "bugs.yaml").write_text((root / "bugs.yaml").read_text() + "allow_outside: true\n")
    assert main(["data", "describe", str(root / "bugs.yaml")]) == 0
    assert "images: 44 train" in capsys.readouterr().out


def test_a_hub_dataset_without_the_named_columns(sources, tmp_path, capsys):
    root = copy(sources, "hub", tmp_path)
    (root / "birds.yaml").write_text("format: huggingface\ntrain: saved\n")  # default columns image, label
    refused(root / "birds.yaml", capsys, "has no column 'image' (its columns: picture, kind)", "image_column")


def test_an_offline_machine_asked_for_a_hub_dataset_it_has_not_cached(tmp_path, monkeypatch):
    """In a fresh process (the Hub library reads HF_HUB_OFFLINE when imported), with an empty Hugging Face cache."""
    from conftest import bench_process

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    (tmp_path / "hub.yaml").write_text("format: huggingface\ntrain: nobody-here/no-such-dataset\n")
    done = bench_process(["run", "--methods", "erm", "--datasets", str(tmp_path / "hub.yaml"), "--out",
                          str(tmp_path / "results")], timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "Hub dataset nobody-here/no-such-dataset is not in the local Hugging Face cache and the Hub cannot be " \
           "reached" in done.stderr and not (tmp_path / "results").exists()


@pytest.mark.parametrize("text, phrase", [
    ("format: imagefolder\ntrain: photos/train\ntset: photos/test\n", "unknown key 'tset' (did you mean 'test'?)"),
    ("format: folder\ntrain: photos/train\n", "format must be one of imagefolder, csv, list, huggingface"),
    ("format: imagefolder\ntrain: [photos\n", "not valid YAML at line 3"),
    ("format: imagefolder\ntrain: nowhere\n", "train nowhere does not exist"),
    ("format: imagefolder\ntrain: photos/train\nsplit: {test: 1.5}\n", "split.test is a fraction below 1"),
    ("format: imagefolder\ntrain: photos/train\nsplit: {test: 30}\n", "leaves it none"),
    ("format: imagefolder\ntrain: photos/train\nimage_column: x\n", "image_column applies to format: huggingface"),
])
def test_a_wrong_dataset_file_is_one_line(sources, tmp_path, capsys, text, phrase):
    root = copy(sources, "folder", tmp_path)
    (root / "x.yaml").write_text(text)
    refused(root / "x.yaml", capsys, phrase)


def test_a_dataset_file_may_not_take_a_built_in_name(sources, tmp_path, capsys):
    root = copy(sources, "folder", tmp_path)
    (root / "x.yaml").write_text("name: cifar10_lt\nformat: imagefolder\ntrain: photos/train\n")
    refused(root / "x.yaml", capsys, "is named cifar10_lt, a built-in dataset")


def test_a_dataset_with_a_loading_script_is_refused(tmp_path, capsys):
    """The datasets library itself finds the script (no mock); bench names the way out."""
    (tmp_path / "scripted").mkdir()
    (tmp_path / "scripted" / "scripted.py").write_text("raise SystemExit('a loading script bench must not run')\n")
    (tmp_path / "s.yaml").write_text("format: huggingface\ntrain: scripted\n")
    refused(tmp_path / "s.yaml", capsys, "needs its own loading script", "trust_remote_code: true",
            "refs/convert/parquet")


def test_hub_columns_given_the_wrong_way_round(sources, tmp_path, capsys):
    root = copy(sources, "hub", tmp_path)
    (root / "birds.yaml").write_text("format: huggingface\ntrain: saved\nimage_column: kind\nlabel_column: picture\n")
    err = refused(root / "birds.yaml", capsys, "column 'picture' holds PngImageFile values, not class labels")
    assert len(err) < 300


def test_a_file_that_is_no_image_and_labels_counted_from_one(sources, tmp_path, capsys):
    root = copy(sources, "csv", tmp_path)
    (root / "images" / "cat_2.jpg").write_text("not an image")
    refused(root / "bugs.yaml", capsys, "cat_2.jpg", "not an image file PIL can read")
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train.txt").write_text("".join(f"../csv/images/cat_{i}.jpg {1 + i % 2}\n" for i in range(3, 9)))
    (lists / "l.yaml").write_text("format: list\ntrain: train.txt\nallow_outside: true\n")
    refused(lists / "l.yaml", capsys, "class '0' has no training image", "labels written as numbers count from 0")


def test_a_split_name_for_a_single_hub_dataset(sources, tmp_path, capsys):
    import datasets

    root = copy(sources, "hub", tmp_path)
    datasets.load_from_disk(str(root / "saved"))["train"].save_to_disk(str(root / "one"))  # a Dataset, no splits
    (root / "one.yaml").write_text("format: huggingface\ntrain: one\nimage_column: picture\nlabel_column: kind\n"
                                   "test_split: test\n")
    refused(root / "one.yaml", capsys, "test_split names a split of a DatasetDict", "is one Dataset")
