"""Data-parallel training (DDP) on CPU: 2 processes with the gloo backend, launched by torchrun."""

import json
import os
import subprocess
import sys

import pytest
import torch

from bench.engine import distributed


def test_shards_are_equal_disjoint_and_cover_the_epoch(monkeypatch):
    order = torch.randperm(11, generator=torch.Generator().manual_seed(0))
    monkeypatch.setenv("WORLD_SIZE", "2")
    shares = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        part, batch = distributed.shard(order, 8)
        assert batch == 4
        shares.append(part.tolist())
    assert len(shares[0]) == len(shares[1]) == 6
    assert sorted(shares[0] + shares[1]) == sorted(order.tolist() + order[:1].tolist())  # padded by one


@pytest.fixture
def busy_cpus():
    """Two processes spinning on the CPU while the test runs: teardown must not depend on timing."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield
    for proc in burners:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("attempt", range(3))
def test_two_process_gloo_run(cifar_root, tmp_path, busy_cpus, attempt):
    """Three times under CPU load: every process exits 0 (no abort in gloo's teardown)."""
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", "-m", "bench",
         "run", "--methods", "ldam_drw", "--datasets", "cifar10_lt", "--epochs", "2", "--data-root",
         str(cifar_root), "--out", str(out), "--no-progress", "--logger", "tensorboard", "--set",
         "dataset.verify=false", "dataset.download=false", "model.name=small_cnn"],
        capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "terminate called" not in proc.stderr and "exitcode" not in proc.stderr, proc.stderr
    assert proc.stdout.count("done   cifar10_lt") == 1  # rank 0 reports, once
    (run_dir,) = [p for p in out.iterdir() if p.name.startswith("cifar10_lt")]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "done" and result["env"]["world_size"] == 2
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1]
    events = list((out / "tensorboard").rglob("events.out.tfevents.*"))  # rank 0 logs, once
    assert len(events) == 1 and events[0].parent.name == run_dir.name
    n = sum(result["train_class_counts"])
    # both processes together saw the whole epoch (padded to a multiple of 2)
    assert result["timing"]["train_images_per_second"] * result["timing"]["train_seconds"] == \
        __import__("pytest").approx(2 * (n + n % 2))
    assert {p.name for p in run_dir.iterdir()} == {"checkpoint.pt", "checkpoint.prev.pt", "config.yaml",
                                                   "metrics.jsonl", "predictions.npz", "logits.npz", "result.json",
                                                   "run.lock"}


GATHER = """
import json, sys, torch, torch.distributed as dist
from bench.algorithms.protocol import gathered
from bench.models.paconet import GPaCoNet
dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)  # the same start on both processes, as DDP's first broadcast
backbone = torch.nn.Flatten()
backbone.out_features = 4
net = GPaCoNet(backbone, 3, 2, 8)
keys = torch.full((2, 2), float(rank + 1))
net.enqueue(gathered(keys), gathered(torch.tensor([rank, rank])))
out = {"gathered": gathered(torch.tensor([rank * 10, rank * 10 + 1])).tolist(), "queue": net.queue[:4].tolist(),
       "labels": net.queue_labels[:4].tolist(), "ptr": int(net.queue_ptr)}
open(sys.argv[1] + f"/rank{rank}.json", "w").write(json.dumps(out))
dist.barrier()
dist.destroy_process_group()
"""


def test_every_process_gathers_the_same_tensors_and_queues_every_process_s_keys(tmp_path):
    """bench.algorithms.protocol.gathered over 2 gloo processes: both hold [rank 0's; rank 1's] (ProCo's statistics,
    PaCo's and GPaCo's queue, as the official all_gather)."""
    script = tmp_path / "gather.py"
    script.write_text(GATHER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
                           str(script), str(tmp_path)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]
    assert ranks[0]["gathered"] == [0, 1, 10, 11] and ranks[0]["labels"] == [0, 0, 1, 1] and ranks[0]["ptr"] == 4
    assert ranks[0]["queue"] == [[1.0, 1.0], [1.0, 1.0], [2.0, 2.0], [2.0, 2.0]]
