"""The training engine's algorithm protocol, proven with a method bench does not know: tests/bench_test_plugin.py
(two views per image, its own step, its own checkpointed state), loaded through BENCH_PLUGINS."""

import json
from pathlib import Path

import pytest
from conftest import bench_process, write_imagenet_lt
from test_preempt import position, snapshot

from bench.store.checkpoint import decode

TWO_VIEWS = ["run", "--methods", "two_views_test", "--datasets", "cifar10_lt", "--epochs", "2", "--no-progress",
             "--set", "dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "train.batch_size=64",
             "eval.batch_size=100"]


def checkpoint_of(out):
    (ckpt,) = Path(out).glob("*/checkpoint.pt")
    return decode(ckpt.read_bytes(), "cpu")


def test_a_two_view_algorithm_trains_and_resumes_mid_epoch_exactly(cifar_root, tmp_path):
    plain, cut = tmp_path / "plain", tmp_path / "cut"
    done = bench_process([*TWO_VIEWS, "--data-root", str(cifar_root), "--out", str(plain)])
    assert done.returncode == 0, done.stdout + done.stderr
    reference = snapshot(plain)
    batches = -(-sum(json.loads(next(plain.glob("*/result.json")).read_text())["train_class_counts"]) // 64)
    assert checkpoint_of(plain)["algorithm"] == {"steps": 2 * batches}  # its own state, in every checkpoint
    argv = [*TWO_VIEWS, "--data-root", str(cifar_root), "--out", str(cut)]
    stop_at = batches + 2  # the 2nd step of epoch 1: the step count (ramping the loss) must come back too
    assert bench_process(argv, f"mid-epoch:{stop_at}:SIGUSR2").returncode == 128 + 12
    assert position(cut)["batches"] == 2 and checkpoint_of(cut)["algorithm"] == {"steps": stop_at}
    resumed = bench_process(argv)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming epoch 1 of 0-1 after batch 2" in resumed.stdout
    assert snapshot(cut) == reference
    assert reference["last"]["top1"] is not None and len(reference["metrics"]) == 2


def test_two_views_of_image_lists_come_from_the_workers_and_resume_exactly(tmp_path):
    from test_preempt import resumes_exactly

    root = write_imagenet_lt(tmp_path / "data")
    argv = ["run", "--methods", "two_views_test", "--datasets", "imagenet_lt", "--epochs", "2", "--no-progress",
            "--data-root", str(root), "--set", "model.name=small_cnn", "augment.image_size=32", "augment.resize=36",
            "train.batch_size=4", "eval.batch_size=8", "loader.workers=2", "train.drop_last=true"]
    reference = resumes_exactly(argv, tmp_path, 3)  # full batches only (drop_last) resume exactly too
    assert reference["last"]["top1"] is not None and reference["last"]["epoch"] == 1


def test_two_views_with_device_decoding_are_refused_before_anything_runs(tmp_path):
    write_imagenet_lt(tmp_path / "data")
    proc = bench_process(["run", "--methods", "two_views_test", "--datasets", "imagenet_lt", "--epochs", "1",
                          "--data-root", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--set",
                          "model.name=small_cnn", "augment.image_size=32", "augment.resize=36",
                          "loader.decode=device"])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "bench: error: method two_views_test trains on 2 augmented views of each image, which loader.decode=device "
        "does not draw; use loader.decode=workers"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("name", ["standard", "two_views_test"])
def test_algorithms_are_parts_a_method_names(name):
    from bench.methods.registry import METHODS, PARTS

    algorithm = PARTS.get("algorithm", name).build()
    assert algorithm.views == (2 if name == "two_views_test" else 1)
    assert METHODS["two_views_test"].parts["algorithm"] == "two_views_test"


def test_every_result_json_bench_wrote_round_trips_through_the_typed_result():
    from bench.metrics.runresult import RunResult

    golden = Path(__file__).parent / "data" / "golden"
    paths = sorted(golden.glob("*/result.json"))
    assert len(paths) >= 10
    for path in paths:  # old files (results of earlier versions) included: same keys, same order, same values
        raw = json.loads(path.read_text())
        assert list(RunResult.from_json(raw).to_json().items()) == list(raw.items()), path.parent.name


@pytest.mark.parametrize("damage, why", [
    (lambda r: r["last"].update(top1="72"), "last.top1 is not a number"),
    (lambda r: r["last"].update(per_class_acc=[1, True]), "last.per_class_acc"),
    (lambda r: r.update(train_class_counts="10"), "train_class_counts"),
    (lambda r: r.pop("config"), "config"),
])
def test_a_result_bench_did_not_write_is_refused_with_the_reason(damage, why):
    from bench.metrics.runresult import NotAResult, RunResult

    path = next((Path(__file__).parent / "data" / "golden").glob("*__erm__seed0__*/result.json"))
    raw = json.loads(path.read_text())
    damage(raw)
    with pytest.raises(NotAResult, match=why):
        RunResult.from_json(raw)


def test_a_failed_run_s_result_is_built_by_the_same_writer(tmp_path):
    from bench.metrics.runresult import failed, read
    from bench.plan.config import resolve

    cfg = resolve("erm", "cifar10_lt", 3)
    written = failed("x__erm__seed3__0", cfg, "data missing", "Traceback ...").write(tmp_path)
    assert written == {"run_id": "x__erm__seed3__0", "status": "failed", "method": "erm", "dataset": "cifar10_lt",
                       "seed": 3, "config": cfg, "error": "data missing", "traceback": "Traceback ..."}
    back = read(tmp_path)
    assert back.status == "failed" and back.error == "data missing" and back.last is None


def test_hooks_are_called_in_order_and_an_earlier_version_s_event_names_are_refused():
    from bench.engine.hooks import EVENTS, Hook, Hooks

    calls = []

    class Recorder(Hook):
        def before_train_epoch(self, t, epoch):
            calls.append(("before_train_epoch", epoch))

        def after_train_step(self, t):
            calls.append(("after_train_step",))

    class Other(Hook):
        def after_train_step(self, t):
            calls.append(("other",))

    hooks = Hooks([Recorder(), Other()])
    hooks.before_train_epoch(None, 3)
    hooks.after_train_step(None)
    hooks.after_epoch(None, {})  # handled by no hook: nothing happens
    assert calls == [("before_train_epoch", 3), ("after_train_step",), ("other",)]
    assert EVENTS[0] == "before_run" and EVENTS[-1] == "after_result"

    class Old(Hook):
        def after_step(self, t):
            pass

        def epoch_end(self, t, line):
            pass

    with pytest.raises(TypeError, match=r"defines after_step, epoch_end.*after_step -> after_train_step, "
                                        r"epoch_end -> after_epoch"):
        Hooks([Old()])
