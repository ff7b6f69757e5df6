"""ImageNet-LT, Places-LT and iNaturalist 2018 from generated files in their real formats."""

import json
from pathlib import Path

import pytest
from conftest import TRAIN_COUNTS, write_imagenet_lt, write_inat2018, write_places_lt

from bench.cli import main
from bench.datasets.registry import DATASETS
from bench.errors import BenchError
from bench.plan.config import resolve
from bench.plan.runs import run_name

TINY = ["model.name=small_cnn", "augment.image_size=32", "augment.resize=36", "loader.workers=0",
        "train.batch_size=8", "eval.batch_size=16", "eval.every=1"]


def load(dataset, root, *sets):
    cfg = resolve("erm", dataset, 0, flags={"dataset.root": str(root)}, sets=[*TINY, *sets])
    return DATASETS[dataset].load(cfg)


@pytest.fixture(scope="module")
def imagenet_root(tmp_path_factory):
    return write_imagenet_lt(tmp_path_factory.mktemp("imagenet"))


def run(root, dataset, tmp_path, *sets, methods="erm,ldam_drw"):
    out = tmp_path / "out"
    code = main(["run", "--methods", methods, "--datasets", dataset, "--epochs", "1", "--data-root", str(root),
                 "--out", str(out), "--no-progress", "--set", *TINY, *sets])
    return code, [json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))]


def check(results, dataset, eval_per_class):
    assert results and all(r["status"] == "done" for r in results)
    for r in results:
        assert r["dataset"] == dataset
        assert r["train_class_counts"] == TRAIN_COUNTS
        assert r["test_class_counts"] == [eval_per_class] * len(TRAIN_COUNTS)
        assert r["shot_rule"]["group_sizes"] == {"many": 0, "medium": 0, "few": 5}
        assert r["data"]["profile"] == "natural" and r["data"]["imbalance_ratio"] is None
        assert r["run_id"].startswith(f"{dataset}-natural__")


def test_imagenet_lt_end_to_end(imagenet_root, tmp_path):
    code, results = run(imagenet_root, "imagenet_lt", tmp_path, "loader.workers=2")
    assert code == 0
    check(results, "imagenet_lt", 2)
    assert {r["head"] for r in results} == {"linear", "normed"}


def test_places_lt_prefix_rewrite(tmp_path):
    root = write_places_lt(tmp_path / "data")
    with pytest.raises(BenchError, match=r"places365/data_256/a/abbey/train_00000000.jpg \(line 1 of"):
        load("places_lt", root)
    code, results = run(root, "places_lt", tmp_path, "dataset.path_rewrite=[data_256/a/=train/]", methods="erm")
    assert code == 0
    check(results, "places_lt", 2)


def test_inat2018_coco_json_end_to_end(tmp_path):
    root = write_inat2018(tmp_path / "data")
    code, results = run(root, "inat2018", tmp_path, methods="erm,ldam_drw")
    assert code == 0
    check(results, "inat2018", 3)
    assert results[0]["class_names"][:2] == ["Species 0", "Species 1"]
    assert results[0]["config"]["method"]["max_m"] == 0.3  # the LDAM paper's iNat recipe


def test_inat2018_list_files(tmp_path):
    root = write_inat2018(tmp_path / "data")
    folder = root / "inat2018"
    for split in ("train", "val"):
        data = json.loads((folder / f"{split}2018.json").read_text())
        files = {i["id"]: i["file_name"] for i in data["images"]}
        lines = [f"{files[a['image_id']]} {a['category_id']}" for a in data["annotations"]]
        (folder / f"iNaturalist18_{split}.txt").write_text("\n".join(lines) + "\n")
        (folder / f"{split}2018.json").unlink()
    data = load("inat2018", root)
    assert data.train_counts == TRAIN_COUNTS and data.test_counts == [3] * 5 and data.eval_split == "val"


def test_flat_val_layout(tmp_path):
    root = write_imagenet_lt(tmp_path / "flat", flat_val=True)
    data = load("imagenet_lt", root)
    assert all(Path(p).is_file() for p, _ in data.eval_items)
    assert any(Path(p).parent.name == "val" for p, _ in data.eval_items)


def test_eval_split_is_configurable(imagenet_root):
    test = load("imagenet_lt", imagenet_root)
    val = load("imagenet_lt", imagenet_root, "dataset.eval_split=val")
    assert test.eval_split == "test" and val.eval_split == "val"
    assert {p for p, _ in test.eval_items}.isdisjoint({p for p, _ in val.eval_items})
    with pytest.raises(BenchError, match="has no test split; use dataset.eval_split=val"):
        load("inat2018", write_inat2018(imagenet_root.parent / "inat"), "dataset.eval_split=test")


def test_non_standard_split_warns(imagenet_root, capsys):
    load("imagenet_lt", imagenet_root)
    out = capsys.readouterr().out
    assert "warning:" in out and "is not the standard ImageNet-LT train split: 19 entries, the standard split " \
                                  "has 115,846; 5 classes, the standard split has 1000" in out
    load("imagenet_lt", imagenet_root, "dataset.check_split=false")
    assert "warning" not in capsys.readouterr().out


def test_missing_image_fails_with_its_path(tmp_path):
    root = write_imagenet_lt(tmp_path / "data")
    victim = root / "imagenet" / "train" / "n01440766" / "n01440766_1.JPEG"
    victim.unlink()
    with pytest.raises(BenchError, match=f"image {victim} \\(line 15 of .*ImageNet_LT_train.txt\\) does not exist"):
        load("imagenet_lt", root)


def test_malformed_and_missing_lists(tmp_path):
    root = write_imagenet_lt(tmp_path / "data")
    lst = root / "ImageNet_LT" / "ImageNet_LT_test.txt"
    lst.write_text(lst.read_text() + "val/n01440764/broken.JPEG seven\n")
    with pytest.raises(BenchError, match=r"ImageNet_LT_test.txt:11: expected '<relative path> <integer label>'"):
        load("imagenet_lt", root)
    with pytest.raises(BenchError, match="split list .*ImageNet_LT_train.txt does not exist; set dataset.split_dir"):
        load("imagenet_lt", tmp_path / "nothing")


def test_natural_datasets_reject_synthetic_options():
    with pytest.raises(BenchError, match="fixed long-tailed split"):
        resolve("erm", "imagenet_lt", 0, sets=["dataset.imbalance_ratio=10"])
    cfg = resolve("erm", "imagenet_lt", 0)
    assert run_name(cfg).startswith("imagenet_lt-natural__erm__seed0__")
    assert cfg["model"]["name"] == "resnext50_32x4d" and cfg["train"]["schedule"] == "cosine"


def test_models_and_pretrained_weights(tmp_path):
    import torch

    from bench.algorithms.network import build_model

    cfg = resolve("ldam", "imagenet_lt", 0, sets=["model.name=resnet10"])
    model = build_model(cfg, 3, 7)
    assert type(model[1]).__name__ == "NormedLinear" and model(torch.zeros(2, 3, 32, 32)).shape == (2, 7)
    backbone = model[0]  # torchvision ResNet(BasicBlock, [1,1,1,1]): 5,418,792 parameters with a 1000-way fc
    assert sum(p.numel() for p in backbone.parameters()) == 5_418_792 - (512 * 1000 + 1000)
    assert backbone.conv1.kernel_size == (7, 7) and [len(getattr(backbone, f"layer{i}")) for i in (1, 2, 3, 4)] == [
        1, 1, 1, 1]
    weights = tmp_path / "w.pt"
    donor = build_model(cfg, 3, 1000)[0]
    torch.save({**donor.state_dict(), "fc.weight": torch.zeros(1000, 512)}, weights)
    cfg = resolve("erm", "imagenet_lt", 0, sets=["model.name=resnet10", f"model.weights={weights}"])
    loaded = build_model(cfg, 3, 7)[0]
    assert torch.equal(loaded.conv1.weight, donor.conv1.weight)
    timm_cfg = resolve("erm", "imagenet_lt", 0, sets=["model.name=timm:resnet18"])
    assert build_model(timm_cfg, 3, 7)(torch.zeros(2, 3, 64, 64)).shape == (2, 7)
    with pytest.raises(BenchError, match="unknown timm model 'resnet181'"):
        resolve("erm", "imagenet_lt", 0, sets=["model.name=timm:resnet181"])


def test_read_coco_keeps_what_it_needs_and_names_a_broken_file(tmp_path):
    from bench.datasets.imagelist import read_coco

    path = tmp_path / "train2018.json"
    images = [{"license": 3, "file_name": f"train_val2018/Aves/{c}/{i}.jpg", "rights_holder": "x", "height": 600,
               "width": 800, "id": 10 * c + i} for c in range(2) for i in range(2)]
    annotations = [{"id": 7 + k, "image_id": image["id"], "category_id": image["id"] // 10}
                   for k, image in enumerate(reversed(images))]  # annotations in another order than images
    path.write_text(json.dumps({"info": {"year": 2018}, "images": images, "annotations": annotations,
                                "categories": [{"id": 0, "name": "Aves a"}, {"id": 1, "name": "Aves b"}]}))
    items, names = read_coco(path)
    assert items == [(f"train_val2018/Aves/{c}/{i}.jpg", c) for c in (1, 0) for i in (1, 0)]
    assert names == {0: "Aves a", 1: "Aves b"}
    del images[1]["file_name"]
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    with pytest.raises(BenchError, match="is not a COCO-style annotation file"):
        read_coco(path)


def _epochs_of_batches(data, cfg, epochs=2):
    """Every normalised batch of `epochs` training passes and one evaluation pass, copied as they come."""
    import torch

    from bench.engine.runtime import epoch_generator
    from bench.images.pipelines import ImagePipeline

    pipe = ImagePipeline(data, cfg, torch.device("cpu"))
    out = []
    for epoch in range(epochs):
        order = torch.randperm(len(data.train_items), generator=torch.Generator().manual_seed(epoch))
        out += [(x.clone(), y.clone()) for x, y in pipe.train_batches(order, 2, epoch_generator(0, epoch))]
        out += [(x.clone(), None) for x in pipe.test_batches(3)]
    return out


def test_worker_ring_gives_the_batches_of_the_training_process(imagenet_root):
    """Two workers stacking into their rings of shared buffers (2 images a batch: each worker's 4 slots are
    reused several times per pass, between training and evaluation passes of other sizes) give exactly the
    batches the training process makes itself, with colour jitter."""
    import torch

    sets = ["augment.color_jitter=0.4", "augment.train_crop=random_resized"]
    data = load("imagenet_lt", imagenet_root, *sets)
    cfg = resolve("erm", "imagenet_lt", 0, flags={"dataset.root": str(imagenet_root)}, sets=[*TINY, *sets])
    alone = _epochs_of_batches(data, cfg)
    cfg["loader"]["workers"] = 2
    pooled = _epochs_of_batches(data, cfg)
    assert len(alone) == len(pooled) == 2 * (10 + 4)
    for (a, la), (b, lb) in zip(alone, pooled):
        assert torch.equal(a, b) and (la is None or torch.equal(la, lb))


def test_collate_ring_reuses_its_slots_in_turn(monkeypatch):
    import torch

    from bench.images import imagefiles

    samples = [(torch.full((3, 4, 4), i, dtype=torch.uint8), i) for i in range(5)]
    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: object())  # as if in a worker
    ring = imagefiles.Collate(3)
    batches = [ring(samples[:n]) for n in (5, 4, 5, 3)]
    ptrs = [images.data_ptr() for images, _ in batches]
    assert len(set(ptrs[:3])) == 3 and ptrs[3] == ptrs[0]  # the fourth batch reuses the first slot
    assert batches[0][0].is_shared() and torch.equal(batches[3][0], torch.stack([s[0] for s in samples[:3]]))
    assert batches[1][1].tolist() == [0, 1, 2, 3]
    bigger = ring([(torch.zeros(3, 8, 8, dtype=torch.uint8), 0)] * 5)[0]  # a larger batch: the slot grows
    assert bigger.shape == (5, 3, 8, 8) and not bigger.any()
