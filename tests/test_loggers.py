"""Experiment trackers (issue 13): TensorBoard event files and W&B offline run files, read back."""

import json
import struct
from pathlib import Path

import pytest
from conftest import bench_process

from bench.cli import main

SETS = ["dataset.verify=false", "dataset.download=false", "model.name=small_cnn", "dataset.imbalance_ratio=10",
        "train.warmup_epochs=1"]


def args(root, out, *extra, loggers="tensorboard,wandb"):
    return ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "3", "--data-root", str(root),
            "--out", str(out), "--no-progress", "--logger", loggers, "--set", *SETS, *extra]


def tensorboard_scalars(folder):
    """{tag: [(step, value)]} as TensorBoard shows them (purged steps of an interrupted attempt dropped)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def wandb_records(path):
    """The records of a W&B offline run file (a LevelDB-style log of protobuf records)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B"
    pos, block, out, partial = 7, 32768, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a header is padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if length == 0 and kind == 0:
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 1:
            out.append(chunk)
        elif kind in (2, 3):
            partial = (partial if kind == 3 else b"") + chunk
        elif kind == 4:
            out.append(partial + chunk)
    records = []
    for raw in out:
        record = pb.Record()
        record.ParseFromString(raw)
        records.append(record)
    return records


def wandb_history(run_dir):
    """[(step, {key: value})] over every offline file of a run (a resumed run has one per attempt), and the
    W&B run ids they carry."""
    steps, ids = [], set()
    for path in sorted(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb")):
        for record in wandb_records(path):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                ids.add(record.run.run_id)
            elif kind == "history":
                items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
                steps.append((record.history.step.num, items))
    return steps, ids


def metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_scalars_and_steps_in_tensorboard_and_wandb(cifar_root, tmp_path):
    out = tmp_path / "out"
    assert main(args(cifar_root, out)) == 0
    (run_dir,) = [p.parent for p in out.glob("*/result.json")]
    lines = metrics(run_dir)
    tb = tensorboard_scalars(out / "tensorboard" / run_dir.name)  # one TensorBoard run named by the run id
    assert [s for s, _ in tb["train/loss"]] == [0, 1, 2]
    assert [v for _, v in tb["train/loss"]] == pytest.approx([h["train_loss"] for h in lines], rel=1e-6)
    assert [v for _, v in tb["test/top1"]] == pytest.approx([h["top1"] for h in lines], rel=1e-6)
    assert [v for _, v in tb["train/lr"]] == pytest.approx([h["lr"] for h in lines])
    assert {"test/top5", "test/medium", "test/few", "test/worst", "test/ece", "test/nll"} <= set(tb)
    assert "test/many" not in tb  # an empty shot group (no class above 100 images here) is not logged as 0
    per_class = sorted(t for t in tb if t.startswith("per_class/"))
    names = json.loads((run_dir / "result.json").read_text())["class_names"]
    assert per_class == [f"per_class/{c:04d}_{name}" for c, name in enumerate(names)]
    assert [v for _, v in tb[per_class[0]]] == pytest.approx([h["per_class_acc"][0] for h in lines], rel=1e-6)
    history, ids = wandb_history(run_dir)
    assert ids == {run_dir.name}  # the run id is the W&B run id
    assert [s for s, _ in history] == [0, 1, 2]
    assert [h["train/loss"] for _, h in history] == pytest.approx([h["train_loss"] for h in lines], rel=1e-12)
    assert [h["test/nll"] for _, h in history] == pytest.approx([h["nll"] for h in lines], rel=1e-12)
    result = json.loads((run_dir / "result.json").read_text())
    plain = tmp_path / "plain"  # loggers are runtime settings: the same run id and numbers without them
    assert main(args(cifar_root, plain, loggers="")) == 0
    (other,) = [p.parent for p in plain.glob("*/result.json")]
    assert other.name == run_dir.name and json.loads((other / "result.json").read_text())["last"] == result["last"]


def bench(root, out, fault=None):
    return bench_process(args(root, out), fault)


@pytest.mark.parametrize("fault", [
    "mid-epoch:9",  # killed in epoch 2 (4 batches an epoch)
    "checkpoint-tmp-written:2",  # killed after logging epoch 1, before its checkpoint: epoch 1 is repeated
    "mid-epoch:9:SIGTERM",  # stopped cleanly in epoch 2: the first attempt's offline file surely holds 0 and 1
])
def test_a_resumed_run_logs_every_step_once(cifar_root, tmp_path, fault):
    out = tmp_path / "out"
    killed = bench(cifar_root, out, fault)
    assert killed.returncode != 0
    resumed = bench(cifar_root, out)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming" in resumed.stdout
    (run_dir,) = [p.parent for p in out.glob("*/result.json")]
    lines = metrics(run_dir)
    tb = tensorboard_scalars(out / "tensorboard" / run_dir.name)
    assert [s for s, _ in tb["train/loss"]] == [0, 1, 2]  # purge_step dropped what the killed attempt logged
    assert [v for _, v in tb["train/loss"]] == pytest.approx([h["train_loss"] for h in lines], rel=1e-6)
    history, ids = wandb_history(run_dir)  # over both attempts' offline files
    # one W&B run id; the killed attempt's offline file, with or without history, gave way to the resumed one's
    assert ids == {run_dir.name} and len(list(run_dir.glob("wandb/offline-run-*"))) == 1
    assert [s for s, _ in history] == [0, 1, 2]
    assert [h["train/loss"] for _, h in history] == pytest.approx([h["train_loss"] for h in lines], rel=1e-12)


def test_a_failing_logger_never_fails_the_run(cifar_root, tmp_path, monkeypatch, capsys):
    from bench.engine import loggers

    class Broken:
        def __init__(self, cfg, run_dir, start_epoch):
            pass

        def log(self, epoch, tags):
            raise OSError("disk quota exceeded")

        def close(self):
            raise AssertionError("closing a dropped logger")

    monkeypatch.setitem(loggers.KINDS, "tensorboard", Broken)
    out = tmp_path / "out"
    assert main(args(cifar_root, out, loggers="tensorboard")) == 0
    text = capsys.readouterr().out
    assert text.count("warning: logger tensorboard failed (OSError: disk quota exceeded); the run goes on") == 1
    (result,) = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    assert result["status"] == "done"


def test_bad_logger_input_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    def refused(*extra, logger="tensorboard"):
        out = tmp_path / "o"
        code = main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(out), "--logger", logger,
                     "--dry-run", *extra])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and not out.exists()
        return err

    assert "unknown logger 'tensorbord' (did you mean 'tensorboard'?); choose from tensorboard, wandb" in \
        refused(logger="tensorbord")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert f"log folder {blocker / 'tb'} is not writable; set run.log_dir" in \
        refused("--set", f"run.log_dir={blocker / 'tb'}")
    from bench.engine import loggers

    real = loggers.importlib.util.find_spec
    monkeypatch.setattr(loggers.importlib.util, "find_spec", lambda name: None if name == "wandb" else real(name))
    assert "logger wandb is not installed; pip install -e '.[wandb]'" in refused(logger="wandb")


def test_local_sweep_shows_one_bar_over_its_runs(cifar_root, tmp_path, capfd, monkeypatch):
    from bench.engine import progress

    monkeypatch.setattr(progress, "interactive", lambda: True)  # as on a terminal (a log file gets no bar)
    out = tmp_path / "out"
    code = main(["run", "--methods", "erm", "--datasets", "cifar10_lt", "--epochs", "2", "--data-root",
                 str(cifar_root), "--out", str(out), "--executor", "local", "--jobs", "2",
                 "--grid", "train.lr=0.1,1e12", "--set", *SETS, "train.warmup_epochs=0"])
    assert code == 1  # the second run's loss diverges
    captured = capfd.readouterr()
    final = captured.err.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("sweep: 100%") and "2/2" in final and "1 done, 0 running, 1 failed" in final
    assert "done   " in captured.out and "FAILED " in captured.out  # each run's line, above the bar


def test_wandb_online_without_a_key_is_refused_before_anything_runs(cifar_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(args(cifar_root, tmp_path / "out", loggers="wandb")) == 2
    err = capsys.readouterr().err
    assert "W&B is set to log online (WANDB_MODE) but has no API key; run `wandb login`" in err
    assert not (tmp_path / "out").exists()


def test_wandb_with_a_key_and_no_server_logs_offline_once_per_command(cifar_root, tmp_path, capsys, monkeypatch):
    import socket

    with socket.socket() as probe:  # a local port nobody listens on: the connection is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("WANDB_MODE", "")  # unset for bench, and put back after the command set it to offline
    out = tmp_path / "out"
    assert main(["run", "--methods", "erm,focal", "--datasets", "cifar10_lt", "--epochs", "1", "--data-root",
                 str(cifar_root), "--out", str(out), "--no-progress", "--logger", "wandb", "--set", *SETS]) == 0
    printed = capsys.readouterr().out
    assert printed.count("does not answer") == 1 and "logs W&B offline" in printed
    assert len(list(out.glob("*/wandb/offline-run-*"))) == 2
