"""`bench config`: the resolved config as YAML with each value's layer, a config file that plans the same run."""

import pytest
from conftest import cli_without_torch

from bench.methods.registry import METHODS, STAGES
from bench.plan.runs import plan
from bench.plan.show import show_config


def _sets(method):
    """What a method needs to plan at all on this machine: a validation split (tau_norm), the offline CLIP."""
    stage = STAGES["posthoc"].get(METHODS[method].stage.get("posthoc", "none"))
    sets = ["eval.selection=best_val"] if stage and stage.needs_validation else []
    if METHODS[method].parts.get("algorithm") == "foundation":
        sets += ["model.name=clip_tiny", "model.weights=null"]
    return sets


def _lines(text):
    """{dotted key: its line} of bench config's output (commented-out keys too; the parent's block left out)."""
    out, section = {}, None
    for line in text.split("\n\n")[0].splitlines():
        if line and not line.startswith((" ", "#")):
            section = line.split(":")[0]
        elif section and line.startswith("  "):
            out[f"{section}.{line.strip().lstrip('# ').split(':')[0]}"] = line
    return out


def _ids(method, dataset, config_files=(), flags=None, sets=()):
    return [run.run_dir.name for run in plan([method], [dataset], [0], "out", [], list(config_files), flags or {},
                                              list(sets))]


@pytest.mark.parametrize("dataset", ["cifar10_lt", "imagenet_lt", "inat2018"])
def test_every_methods_config_fed_back_with_config_plans_the_same_runs(tmp_path, dataset):
    """The printed YAML is a config file: the method's run and its parent's keep their ids. Keys a config file must
    not set (identity, unread, a two-stage child's values its parent does not share) are commented out."""
    for method in METHODS:
        sets = _sets(method)
        path = tmp_path / f"{method}.yaml"
        path.write_text(show_config(method, dataset, 0, [], [], {}, sets))
        assert _ids(method, dataset, [path]) == _ids(method, dataset, sets=sets), method


def test_user_layers_round_trip_and_each_value_names_its_layer(tmp_path):
    flags = {"train.epochs": 20}
    sets = ["train.lr=0.05", "dataset.imbalance_ratio=10"]
    text = show_config("ldam_drw", "cifar10_lt", 0, ["quick"], [], flags, sets)
    lines = _lines(text)
    assert lines["train.lr"].endswith("# --set train.lr=0.05")
    assert lines["dataset.imbalance_ratio"].endswith("# --set dataset.imbalance_ratio=10")
    assert lines["train.epochs"].endswith("# --epochs")
    assert lines["model.name"].split() == ["name:", "small_cnn", "#", "preset", "'quick'"]
    assert lines["method.name"].strip().startswith("# name: ldam_drw") and lines["method.name"].endswith("# --method")
    assert lines["augment.image_size"].strip().startswith("# image_size: 224")
    assert "not read: cifar10_lt is held in memory" in lines["augment.image_size"]
    assert lines["method.loss"].endswith("# method 'ldam_drw'") and lines["method.sampler"].endswith("# default")
    assert lines["augment.crop_padding"].endswith("# dataset preset 'cifar_lt'")
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert _ids("ldam_drw", "cifar10_lt", [path]) == [
        run.run_dir.name for run in plan(["ldam_drw"], ["cifar10_lt"], [0], "out", ["quick"], [], flags, sets)]


def test_a_recipe_a_rescaled_schedule_and_a_two_stage_parent_are_named():
    text = show_config("crt", "imagenet_lt", 0, [], [], {"train.epochs": 9}, [])
    assert "# its parent: erm on imagenet_lt, seed 0: run imagenet_lt-natural__erm__seed0__" in text
    assert "#   epochs: 9" in text  # the parent's, commented out: it is planned from the same layers
    ride = _lines(show_config("ride", "imagenet_lt", 0, [], [], {}, []))
    assert ride["train.milestones"].split("#")[0].split() == ["milestones:", "[60,", "80]"]
    assert ride["train.milestones"].endswith("# the authors' recipe of ride for imagenet_lt_resnext50")
    rescaled = _lines(show_config("ldam_drw", "inat2018", 0, [], [], {"train.epochs": 45}, []))
    assert rescaled["train.milestones"].split("#")[0].split() == ["milestones:", "[15,", "30]"]
    assert rescaled["train.milestones"].endswith("# --epochs 45 (rescaled from 90 epochs)")
    assert rescaled["method.defer_epoch"].endswith("# --epochs 45 (rescaled from 90 epochs)")


def test_bench_config_prints_without_torch_and_refuses_bad_input_in_one_line():
    torch_loaded, lines = cli_without_torch(["config", "--method", "erm", "--dataset", "cifar10_lt"])
    assert not torch_loaded and lines[0].startswith("# bench config: erm on cifar10_lt, seed 0: run cifar10_lt-")
    from bench.cli import main

    assert main(["config", "--method", "nope", "--dataset", "cifar10_lt"]) == 2
    assert main(["config", "--method", "erm,ldam_drw", "--dataset", "cifar10_lt"]) == 2
