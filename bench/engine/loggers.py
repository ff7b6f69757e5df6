"""Experiment trackers: TensorBoard and Weights & Biases (`--logger tensorboard,wandb`, run.loggers).

Optional: each is imported only when asked for (pip install -e '.[tensorboard]' / '.[wandb]'), and
asking for one that is not installed is refused before anything runs (check()). Loggers are runtime
settings (the `run` section): they never change a run id or a number.

Per epoch (step = the 0-based epoch): train loss / accuracy / LR, and at evaluations the metrics of
the schema (bench.metrics.evaluate.METRICS), val top-1 under best_val and per-class accuracy. The trainer logs
an epoch before writing its checkpoint and tells the loggers where a resumed run starts:
TensorBoard's purge_step drops anything an interrupted attempt logged from there on, so every step
is in the event files once. W&B resumes the run with the run id as its id (resume="allow"); its
core process buffers what it writes, so whether a killed attempt's offline file holds any history
depends on timing: a resumed run therefore removes the earlier attempts' offline files and sends the
epochs its checkpoint holds again (the evaluated ones, from metrics.jsonl's lines), so the offline file
holds each step once by construction; online, the W&B server keeps one copy of a step (steps must
increase; a repeated step carries the same numbers, as a resumed run repeats its epochs exactly).
Online mode is decided once per command before any run (decide_wandb_mode): no API key is an error,
a server that does not answer makes the command log offline, with one warning.

Where: TensorBoard under run.log_dir (default <results folder>/tensorboard), one run named by the
run id, so `tensorboard --logdir results/tensorboard` lists the runs; W&B under the run folder
(offline when no WANDB_API_KEY is set and WANDB_MODE does not say otherwise: `wandb sync` later).
A logger that fails is reported once and dropped; the run goes on.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.plan.schema import LOGGERS
from bench.runconfig import RunConfig


def check(runs, out):
    """Before anything starts: the packages of the asked-for loggers are installed and the log folder is
    writable. BenchError (exit 2) otherwise."""
    asked: dict[str, Any] = {}
    for run in runs:
        for name in run.cfg["run"]["loggers"]:
            asked.setdefault(name, run)
    for name in asked:
        if importlib.util.find_spec(LOGGERS[name]) is None:
            raise BenchError(f"logger {name} is not installed; pip install -e '.[{name}]' (or pip install "
                             f"{LOGGERS[name]}), or leave --logger {name} out")
    if "wandb" in asked:
        decide_wandb_mode()
    if "tensorboard" in asked:
        folder = tensorboard_dir(asked["tensorboard"].cfg, Path(out))
        probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), Path("."))
        if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
            raise BenchError(f"log folder {folder} is not writable; set run.log_dir to a folder you can write to")


def wandb_mode():
    """WANDB_MODE, else online with an API key (WANDB_API_KEY or `wandb login`'s netrc entry), else offline."""
    return os.environ.get("WANDB_MODE") or ("online" if wandb_key() else "offline")


def wandb_key():
    if os.environ.get("WANDB_API_KEY"):
        return True
    import netrc
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname or ""
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def decide_wandb_mode(timeout=5.0):
    """Once per command, before any run: online mode without a key is refused; online mode whose server does
    not answer becomes offline for every run of the command (one warning), instead of each run waiting ~90 s."""
    import socket
    from urllib.parse import urlparse

    mode = wandb_mode()
    if mode not in ("online", "run"):
        return mode
    if not wandb_key():
        raise BenchError("W&B is set to log online (WANDB_MODE) but has no API key; run `wandb login` or set "
                         "WANDB_API_KEY, or set WANDB_MODE=offline (then `wandb sync` later)")
    url = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
        return mode
    except OSError as exc:
        print(f"warning: the W&B server {url.hostname}:{port} does not answer ({exc.strerror or exc}); this command "
              "logs W&B offline (each run's wandb/ folder: `wandb sync` it later)", flush=True)
        os.environ["WANDB_MODE"] = "offline"  # the runs of this command, and its workers and jobs, inherit it
        return "offline"


def tensorboard_dir(cfg: RunConfig, out):
    return Path(cfg["run"]["log_dir"]).expanduser() if cfg["run"]["log_dir"] else Path(out) / "tensorboard"


def scalars(line, class_names=()):
    """{tag: value} of one metrics.jsonl line (and its per-class accuracy, at evaluations)."""
    from bench.metrics.evaluate import METRIC_NAMES

    tags = {"train/loss": line.get("train_loss"), "train/acc": line.get("train_acc"), "train/lr": line.get("lr")}
    tags.update({f"test/{m}": line.get(m) for m in METRIC_NAMES})
    tags["val/top1"] = line.get("val_top1")
    for c, acc in enumerate(line.get("per_class_acc") or []):
        name = class_names[c] if c < len(class_names) else str(c)
        tags[f"per_class/{c:04d}_{name}"] = acc
    return {k: float(v) for k, v in tags.items() if v is not None}


class TensorBoard:
    replays = False  # event files are flushed every epoch; purge_step drops a killed attempt's surplus

    def __init__(self, cfg: RunConfig, run_dir, start_epoch):
        from torch.utils.tensorboard import SummaryWriter

        folder = tensorboard_dir(cfg, Path(run_dir).parent) / Path(run_dir).name
        self.writer = SummaryWriter(log_dir=str(folder), purge_step=start_epoch)

    def log(self, epoch, tags):
        for tag, value in tags.items():
            self.writer.add_scalar(tag, value, global_step=epoch)
        self.writer.flush()

    def close(self):
        self.writer.close()


class WandB:
    # a resumed run sends the checkpointed epochs again: online, the server keeps one copy of a step; offline,
    # the killed attempts' files are removed first, so the run's offline file holds each step once
    replays = True

    def __init__(self, cfg: RunConfig, run_dir, start_epoch):
        import wandb

        from bench.plan.experiment import experiment_part

        mode = wandb_mode()
        run_id = Path(run_dir).name
        if mode == "offline":  # exact by construction: an earlier attempt's offline files (flushed or not, as
            for old in Path(run_dir).glob("wandb/offline-run-*"):  # timing had it) give way to the replay below
                shutil.rmtree(old, ignore_errors=True)
        self.run = wandb.init(project=cfg["run"]["wandb_project"], id=run_id, name=run_id, resume="allow",
                              dir=str(run_dir), config=experiment_part(cfg), mode=mode,
                              settings=wandb.Settings(silent=True, console="off"))

    def log(self, epoch, tags):
        self.run.log(tags, step=epoch)

    def close(self):
        import wandb

        self.run.finish()
        wandb.teardown()  # stops the wandb-core process this run started: nothing outlives the run


KINDS = {"tensorboard": TensorBoard, "wandb": WandB}


class Loggers:
    """The run's loggers; a failing one is reported once and dropped, never failing the run."""

    def __init__(self, cfg: RunConfig, run_dir, start_epoch, class_names=(), history=()):
        self.class_names = list(class_names)
        self.active: dict[str, Any] = {}
        for name in cfg["run"]["loggers"]:
            self._guard(name, lambda n=name: self.active.__setitem__(n, KINDS[n](cfg, run_dir, start_epoch)))
        for name, logger in list(self.active.items()):
            if getattr(logger, "replays", False):
                for line in history:  # the epochs before start_epoch that the checkpoint holds
                    self._guard(name, lambda lg=logger, ln=line: lg.log(ln["epoch"], scalars(ln, self.class_names)))

    def _guard(self, name, call):
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - a tracker's problem must not cost the run
            self.active.pop(name, None)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            print(f"warning: logger {name} failed ({type(exc).__name__}: {first}); the run goes on without it",
                  flush=True)

    def epoch(self, epoch, line):
        tags = scalars(line, self.class_names)
        for name, logger in list(self.active.items()):
            self._guard(name, lambda lg=logger: lg.log(epoch, tags))

    def close(self):
        for name, logger in list(self.active.items()):
            self._guard(name, logger.close)
        self.active = {}
