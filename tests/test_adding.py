"""docs/adding.md is true: its plugin files (a loss, an algorithm, a dataset and a model, one file each) are written
as they stand into a temporary package, loaded through BENCH_PLUGINS in a fresh bench process, and trained
together."""

import json
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding.md"


def doc_files():
    """{relative path: code} of the blocks docs/adding.md marks with `<!-- file: path -->`."""
    found = re.findall(r"<!-- file: (\S+) -->\n```python\n(.*?)```", DOC.read_text(), flags=re.S)
    return dict(found)


def doc_command():
    """(environment, argv after `bench`) of the command docs/adding.md marks with `<!-- command: toyplug -->`."""
    (text,) = re.findall(r"<!-- command: toyplug -->\n```bash\n(.*?)```", DOC.read_text(), flags=re.S)
    words = shlex.split(text.replace("\\\n", " "))
    env = dict(w.split("=", 1) for w in words[:words.index("bench")])
    return env, words[words.index("bench") + 1:]


def test_the_documented_plugin_files_train(tmp_path):
    files = doc_files()
    assert sorted(files) == ["toyplug/toy_algorithm.py", "toyplug/toy_dataset.py", "toyplug/toy_loss.py",
                            "toyplug/toy_model.py"]
    for rel, code in files.items():
        path = tmp_path / "plugins" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    (tmp_path / "plugins" / "toyplug" / "__init__.py").write_text("")
    doc_env, argv = doc_command()
    assert doc_env == {"BENCH_PLUGINS": "toyplug"}
    env = dict(os.environ, BENCH_PLUGINS="bench_test_plugin,toyplug",  # the suite's own plugin stays loaded
               PYTHONPATH=os.pathsep.join([str(tmp_path / "plugins"), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "bench", *argv, "--out", str(out), "--no-progress"]
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
    # the model: the toy MLP (64 x 32 weights and 32 biases) under the 4-class head (32 x 4 and 4)
    assert result["config"]["model"]["name"] == "toy_mlp"
    shapes = {k: list(v.shape) for k, v in _final_weights(run_dir).items()}
    assert shapes == {"0.1.weight": [32, 64], "0.1.bias": [32], "1.weight": [4, 32], "1.bias": [4]}, shapes


def _final_weights(run_dir):
    from bench.store.checkpoint import decode

    return decode((run_dir / "checkpoint.pt").read_bytes(), "cpu")["model"]


def _import_registry(tmp_path, plugins, files):
    """Write a plugin package, import bench's registry with it in a fresh process: (return code, output)."""
    for rel, code in files.items():
        path = tmp_path / "plugins" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    env = dict(os.environ, BENCH_PLUGINS=plugins,
               PYTHONPATH=os.pathsep.join([str(tmp_path / "plugins"), os.environ.get("PYTHONPATH", "")]))
    code = ("from bench.methods.registry import METHODS, PARTS; "
            "print(sorted(m for m in METHODS if m.startswith('p_')), sorted(PARTS.kinds['loss']))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


METHOD_FILE = ("from bench.methods.spec import Method\n"
               "METHOD = Method('p_one', 'a plugin method', '', dict(loss='ce'))\n")


def test_an_entry_met_twice_is_registered_once_and_a_taken_name_is_refused(tmp_path):
    # the package re-exports its module's METHOD, is named twice, and an old-style module registers its loss itself
    old_style = ("from bench.methods.registry import PARTS\nfrom bench.parts.part import Part\n"
                 "def forward(logits, target, weight):\n    return logits.sum()\n"
                 "PART = PARTS.register(Part('loss', 'p_loss', 'a plugin loss', forward=forward))\n")
    files = {"pp/__init__.py": "from pp.one import METHOD\n", "pp/one.py": METHOD_FILE, "pp/old.py": old_style}
    code, out = _import_registry(tmp_path, "pp,pp.one,pp", files)
    assert code == 0, out
    assert "['p_one']" in out and "'p_loss'" in out
    clash = "from bench.methods.spec import Method\nMETHOD = Method('erm', 'another erm', '', dict(loss='ce'))\n"
    code, out = _import_registry(tmp_path, "clash", {"clash.py": clash})
    assert code != 0 and "plugin module clash declares method 'erm', which is already registered; rename it" in out
    listed = METHOD_FILE.replace("METHOD = Method(", "METHOD = [Method(").rstrip() + "]\n"
    code, out = _import_registry(tmp_path, "listed", {"listed.py": listed})
    assert code != 0 and "listed.METHOD must be a tuple of Method (or one)" in out


EXECUTOR_FILE = """
from bench.run.executors.base import ExecutorInfo
from bench.run.executors.inline import InlineExecutor


class LoudExecutor(InlineExecutor):
    name = "p_loud"

    def start(self, runs, force, out, preloaded):
        print(f"p_loud starts {len(runs)} run(s)")
        return super().start(runs, force, out, preloaded)


EXECUTOR = ExecutorInfo("p_loud", "the inline executor, saying so", lambda options: LoudExecutor(options.progress))
"""


def test_a_plugin_executor_is_one_file_listed_and_used_and_a_taken_name_is_refused(tmp_path, cifar_root):
    path = tmp_path / "plugins" / "pexec.py"
    path.parent.mkdir(parents=True)
    path.write_text(EXECUTOR_FILE)
    env = dict(os.environ, BENCH_PLUGINS="pexec",
               PYTHONPATH=os.pathsep.join([str(tmp_path / "plugins"), os.environ.get("PYTHONPATH", "")]))
    bench = [sys.executable, "-m", "bench"]
    proc = subprocess.run([*bench, "run", "--help"], env=env, capture_output=True, text=True, timeout=120)
    assert "p_loud: the inline executor, saying so" in " ".join(proc.stdout.split()), proc.stdout + proc.stderr
    argv = ["run", "--methods", "erm", "--datasets", "cifar10_lt", "--executor", "p_loud", "--epochs", "1",
            "--set", "model.name=small_cnn", "dataset.imbalance_ratio=10", "train.batch_size=64",
            "dataset.verify=false",
            "--data-root", str(cifar_root), "--out", str(tmp_path / "out"), "--no-progress"]
    proc = subprocess.run([*bench, *argv], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "p_loud starts 1 run(s)" in proc.stdout, proc.stdout + proc.stderr
    path.write_text(EXECUTOR_FILE.replace('ExecutorInfo("p_loud"', 'ExecutorInfo("inline"'))
    proc = subprocess.run([*bench, "run", "--help"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "plugin module pexec declares executor 'inline', which is already registered; rename it" in proc.stderr
