"""docs/adding.md is true: its plugin files (a loss, an algorithm and a dataset, one file each) are written as they
stand into a temporary package, loaded through BENCH_PLUGINS in a fresh bench process, and trained together."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding.md"


def doc_files():
    """{relative path: code} of the blocks docs/adding.md marks with `<!-- file: path -->`."""
    found = re.findall(r"<!-- file: (\S+) -->\n```python\n(.*?)```", DOC.read_text(), flags=re.S)
    return dict(found)


def test_the_documented_plugin_files_train(tmp_path):
    files = doc_files()
    assert sorted(files) == ["toyplug/toy_algorithm.py", "toyplug/toy_dataset.py", "toyplug/toy_loss.py"]
    for rel, code in files.items():
        path = tmp_path / "plugins" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    (tmp_path / "plugins" / "toyplug" / "__init__.py").write_text("")
    env = dict(os.environ, BENCH_PLUGINS="bench_test_plugin,toyplug",
               PYTHONPATH=os.pathsep.join([str(tmp_path / "plugins"), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "bench", "run", "--methods", "erm", "--datasets", "toy_lt", "--set",
           "method.loss=toy_margin", "--set", "method.algorithm=toy_clipped", "--set", "method.toy_max_norm=1e-6",
           "--set", "model.name=small_cnn", "--set", "dataset.imbalance_ratio=10", "--set", "train.batch_size=16",
           "--epochs", "2", "--out", str(out), "--no-progress"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    result = json.loads((run_dir / "result.json").read_text())
    # the dataset: 40 images in the head class, ratio 10 (exp profile), as CIFAR-LT is made
    assert result["train_class_counts"] == [40, 18, 8, 4]
    # the algorithm: every step's gradient is above 1e-6, so every step of both epochs was clipped (and counted)
    assert result["toy_clipped_steps"] == 2 * math.ceil(70 / 16)
    # the loss: a margin of 5 on 3 non-target logits of a barely trained net is about log(1 + 3 e^5) = 6.1, far
    # above plain cross-entropy's log 4 = 1.4
    first = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    assert first["train_loss"] > 4.0
