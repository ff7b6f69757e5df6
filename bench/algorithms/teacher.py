"""A finished parent run's network as a frozen teacher (DeiT-LT's CNN teacher, val-iisc/DeiT-LT main.py:259-322):
its final epoch's weights, eval mode (BN statistics fixed), no gradients. It reads a batch at the side it trained at
(the student's batch is resized bicubically, without antialiasing, as the official tensor Resize(teacher_size,
interpolation=3) does: engine.py:146-161), normalised as it trained: in-memory data share the dataset's statistics;
for image lists the batch is moved from the child's augment.normalize statistics to the parent's (iNaturalist's
ldam_drw_sam trains with iNaturalist's, DeiT-LT's recipe normalises with ImageNet's)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import BenchError
from bench.runconfig import RunConfig

if TYPE_CHECKING:
    import torch


class Teacher:
    def __init__(self, cfg: RunConfig, data: Any, device: torch.device, run_dir: Path) -> None:
        import torch

        from bench.algorithms.network import build_model
        from bench.algorithms.posthoc import finished_parent, result_sha256
        from bench.store import checkpoint, rundir

        parent_dir = rundir.parent_dir(run_dir, cfg)
        if parent_dir is None:
            raise BenchError(f"{cfg['method']['name']} distils from a finished parent run, and this run names none; "
                             "plan it with bench run")
        self.parent_dir, self.parent = Path(parent_dir), finished_parent(parent_dir)
        self.parent_sha256 = result_sha256(parent_dir)
        parent_cfg = rundir.load_yaml(self.parent_dir / rundir.CONFIG)
        model = build_model(parent_cfg, data.in_channels, data.num_classes)
        epoch = (self.parent.get("last") or {}).get("epoch")
        ckpt = checkpoint.load_final(self.parent_dir, epoch, torch.device("cpu"), self.parent.get("method") or "")
        model.load_state_dict(ckpt["model"])
        self.model = model.to(device).eval().requires_grad_(False)
        self.side = int(data.train_x.shape[-1]) if data.in_memory else int(parent_cfg["augment"]["image_size"])
        self.shift: tuple | None = None  # (scale, offset) per channel from the child's normalisation to the parent's
        found = None if data.in_memory else statistics(parent_cfg)
        if found is not None:
            mean, std = found
            child_mean, child_std = (torch.tensor(v, dtype=torch.float32).view(1, -1, 1, 1) for v in (data.mean,
                                                                                                     data.std))
            scale, offset = child_std / std, (child_mean - mean) / std
            if not (torch.allclose(scale, torch.ones_like(scale)) and torch.allclose(offset, torch.zeros_like(offset))):
                self.shift = (scale.to(device), offset.to(device))

    def labels(self, x: torch.Tensor, autocast: Any) -> torch.Tensor:
        """argmax of the teacher's logits on the batch (resized to the teacher's side when it is not)."""
        import torch
        import torch.nn.functional as F

        if self.shift is not None:
            x = x * self.shift[0] + self.shift[1]
        if x.shape[-1] != self.side or x.shape[-2] != self.side:
            x = F.interpolate(x, size=(self.side, self.side), mode="bicubic", align_corners=False)
        with torch.no_grad(), autocast():
            return self.model(x).argmax(1)

    def record(self) -> dict:
        """What result.json and every checkpoint keep of the teacher run."""
        return {"run_id": self.parent_dir.name, "method": self.parent.get("method"),
                "result_sha256": self.parent_sha256}

    def resumable(self, saved_state: dict, run_dir: Path) -> bool:
        """A checkpoint trained with an older result of the teacher run starts over (the teacher was re-run)."""
        if (saved_state.get("parent") or {}).get("result_sha256") == self.parent_sha256:
            return True
        print(f"starting {Path(run_dir).name} over: its checkpoint was trained with an older result of teacher run "
              f"{self.parent_dir.name}", flush=True)
        return False


def statistics(cfg: RunConfig) -> tuple | None:
    """(mean, std) as (1, 3, 1, 1) tensors a built-in image-list run of `cfg` normalises with
    (bench.datasets.imagelist); None for a dataset file's own statistics (the child's and the parent's are the same
    there unless one of them names augment.normalize)."""
    import torch

    from bench.datasets.imagelist import IMAGENET_MEAN, IMAGENET_STD, INAT_MEAN, INAT_STD, SPECS

    norm = cfg["augment"]["normalize"]
    if norm == "auto":
        if cfg["dataset"]["name"] not in SPECS:
            return None
        norm = SPECS[cfg["dataset"]["name"]].normalize
    mean, std = (INAT_MEAN, INAT_STD) if norm == "inat2018" else (IMAGENET_MEAN, IMAGENET_STD)
    return tuple(torch.tensor(v, dtype=torch.float32).view(1, 3, 1, 1) for v in (mean, std))
