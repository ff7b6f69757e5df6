"""Config layering, --set parsing and validation, run names."""

import pytest

from bench.errors import BenchError
from bench.plan import config
from bench.plan.runs import run_name


def test_method_presets_compose_parts():
    cfg = config.resolve("ldam_drw", "cifar10_lt", 3)
    m = cfg["method"]
    assert (m["loss"], m["weights"], m["schedule"], m["sampler"]) == ("ldam", "cb", "deferred", "instance")
    assert (m["beta"], m["max_m"], m["s"]) == (0.9999, 0.5, 30.0)
    assert cfg["train"]["seed"] == 3 and cfg["dataset"]["name"] == "cifar10_lt"
    assert cfg["train"]["epochs"] == 200 and cfg["train"]["weight_decay"] == 2e-4


def test_set_overrides_and_types():
    cfg = config.resolve("cb", "cifar100_lt", 0, sets=[
        "method.beta=0.999", "dataset.imbalance_ratio=10", "dataset.profile=step", "train.lr=0.05",
        "train.milestones=[5, 8]", "dataset.verify=false"])
    assert cfg["method"]["beta"] == 0.999
    assert cfg["dataset"]["imbalance_ratio"] == 10.0 and isinstance(cfg["dataset"]["imbalance_ratio"], float)
    assert cfg["dataset"]["profile"] == "step"
    assert cfg["train"]["milestones"] == [5, 8]
    assert cfg["dataset"]["verify"] is False


def test_layer_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 7\n  lr: 0.2\n")
    cfg = config.resolve("erm", "fashion_mnist_lt", 0, presets=["quick"], config_files=[path],
                         flags={"train.epochs": 9}, sets=["train.lr=0.3"])
    assert cfg["model"]["name"] == "small_cnn"  # preset over the dataset recipe
    assert cfg["train"]["epochs"] == 9  # flag over config file over preset
    assert cfg["train"]["lr"] == 0.3  # --set over everything


@pytest.mark.parametrize("sets,match", [
    (["train.lr"], "KEY=VALUE"),
    (["train.lrr=0.1"], "did you mean 'train.lr'"),
    (["train.epochs=ten"], "train.epochs must be an integer"),
    (["train.epochs=0"], "train.epochs must be at least 1"),
    (["train.lr=-0.1"], "train.lr must be positive"),
    (["dataset.imbalance_ratio=0.5"], "at least 1"),
    (["dataset.profile=expo"], "did you mean 'exp'"),
    (["method.beta=1.0"], r"in \[0, 1\)"),
    (["dataset.verify=maybe"], "true/false"),
    (["train.seed=1"], "--seeds"),
    (["train.epochs=true"], "integer"),
])
def test_bad_set_values(sets, match):
    with pytest.raises(BenchError, match=match):
        config.resolve("erm", "cifar10_lt", 0, sets=sets)


@pytest.mark.parametrize("method,dataset,match", [
    ("ldam_dr", "cifar10_lt", "unknown method 'ldam_dr' \\(did you mean 'ldam_drw'\\?\\)"),
    ("erm", "cifar10", "unknown dataset 'cifar10' \\(did you mean 'cifar10_lt'\\?\\)"),
])
def test_unknown_names(method, dataset, match):
    with pytest.raises(BenchError, match=match):
        config.resolve(method, dataset, 0)


def test_unknown_preset_and_model():
    with pytest.raises(BenchError, match="did you mean 'quick'"):
        config.resolve("erm", "cifar10_lt", 0, presets=["quik"])


def test_bad_config_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(BenchError, match="not valid YAML"):
        config.resolve("erm", "cifar10_lt", 0, config_files=[bad])
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(BenchError, match="must be a YAML mapping"):
        config.resolve("erm", "cifar10_lt", 0, config_files=[lst])
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("train:\n  epocs: 3\n")
    with pytest.raises(BenchError, match="did you mean 'train.epochs'"):
        config.resolve("erm", "cifar10_lt", 0, config_files=[unknown])
    with pytest.raises(BenchError, match="does not exist"):
        config.resolve("erm", "cifar10_lt", 0, config_files=[tmp_path / "missing.yaml"])


def test_run_name_is_readable_and_hashes_the_experiment():
    a = config.resolve("ldam_drw", "cifar10_lt", 1)
    name = run_name(a)
    assert name.startswith("cifar10_lt-exp100-ds0__ldam_drw__seed1__") and len(name.split("__")[-1]) == 8
    b = config.resolve("ldam_drw", "cifar10_lt", 1, flags={"dataset.root": "/elsewhere", "run.device": "cpu"})
    assert run_name(b) == name  # where the data lives does not change the experiment
    c = config.resolve("ldam_drw", "cifar10_lt", 1, sets=["method.max_m=0.4"])
    assert run_name(c) != name
    d = config.resolve("ldam_drw", "cifar10_lt", 1, sets=["dataset.imbalance_ratio=10", "dataset.profile=step"])
    assert run_name(d).startswith("cifar10_lt-step10-ds0__")


def test_exponent_numbers_are_numbers(tmp_path):
    # YAML 1.1 reads 1e-3 as a string; bench accepts it wherever a number is expected
    cfg = config.resolve("erm", "cifar10_lt", 0, sets=["train.lr=1e-3", "train.weight_decay=5e-4"])
    assert cfg["train"]["lr"] == 0.001 and cfg["train"]["weight_decay"] == 0.0005
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  weight_decay: 1e-4\n")
    assert config.resolve("erm", "cifar10_lt", 0, config_files=[path])["train"]["weight_decay"] == 1e-4
    with pytest.raises(BenchError, match="train.lr must be a number, got 'fast'"):
        config.resolve("erm", "cifar10_lt", 0, sets=["train.lr=fast"])


def test_new_config_keys_with_defaults_keep_run_ids(monkeypatch):
    cfg = config.resolve("ldam_drw", "cifar10_lt", 1)
    name = run_name(cfg)
    monkeypatch.setitem(config.DEFAULTS["train"], "some_future_option", 3)
    later = config.resolve("ldam_drw", "cifar10_lt", 1)
    assert later["train"]["some_future_option"] == 3 and run_name(later) == name
    changed = config.resolve("ldam_drw", "cifar10_lt", 1, sets=["train.some_future_option=4"])
    assert run_name(changed) != name


def test_every_config_key_is_declared_once_with_a_doc():
    from bench.methods.registry import PARTS
    from bench.plan import schema
    from bench.plan.config import CHOICES, DEFAULTS, RANGES, TYPES, flatten
    from bench.plan.experiment import RUNTIME_KEYS

    flat = flatten(DEFAULTS)
    declared = {k.name for k in schema.KEYS} | {f"method.{k}" for k in PARTS.params} | \
        {f"method.{kind}" for kind in PARTS.kinds} | {"method.name"}
    assert set(flat) == declared and len(schema.KEYS) == len(schema.BY_NAME)  # nothing undeclared, nothing twice
    assert all(k.doc for k in schema.KEYS)
    assert TYPES["dataset.path_rewrite"] == (list,) and CHOICES["train.precision"] == ("fp32", "bf16", "fp16")
    check, phrase = RANGES["train.lr"]
    assert check(0.1) and not check(0.0) and phrase == "positive"
    assert "run" in RUNTIME_KEYS and "dataset.root" in RUNTIME_KEYS and "train.epochs" not in RUNTIME_KEYS
    assert not any(k.runtime for k in schema.KEYS if k.name.split(".")[0] in ("train", "model", "stage"))
