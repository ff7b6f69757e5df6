"""Pretrained weights (`model.weights`): a local file, or `hub[:TAG]` downloaded on the user's machine.

Every file is read without unpickling code (safetensors, or torch.load(weights_only=True)) and its sha256 is
recorded in result.json (`weights`), so a published number names the exact weights it came from. Nothing here
runs in the tests' offline world except the local-file path: the hub path is open_clip's and timm's own
download code, unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from bench.errors import BenchError

HUB = "hub"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_hub(spec: str | None) -> bool:
    return isinstance(spec, str) and (spec == HUB or spec.startswith(HUB + ":"))


def hub_tag(spec: str) -> str:
    return spec.split(":", 1)[1] if ":" in spec else ""


def local_file(spec: str) -> Path:
    path = Path(spec).expanduser()
    if not path.is_file():
        raise BenchError(f"weights file {path} does not exist; set model.weights to a downloaded weights file "
                         "(or hub:TAG to download on a machine with internet access)")
    return path


def read_state(path: Path) -> dict:
    """A state_dict from `path`: safetensors, or a pickle of tensors only (weights_only); a clear error for
    anything else (a TorchScript archive, a truncated or corrupt file)."""
    import warnings

    import torch

    if is_torchscript(path):
        raise BenchError(f"weights file {path} is a TorchScript archive (OpenAI's original release), which bench "
                         "does not execute; use model.weights=hub:openai or open_clip's converted file "
                         "(open_clip_pytorch_model.bin of timm/vit_base_patch16_clip_224.openai)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path), device="cpu")
        else:
            with warnings.catch_warnings():  # torch warns on some refused files; the error below says it all
                warnings.simplefilter("ignore")
                state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BenchError(f"weights file {path} cannot be read safely ({type(exc).__name__}): it is corrupt, "
                         "truncated or not a plain state_dict; download it again (a .safetensors file or a "
                         "state_dict saved with torch.save)") from None
    if isinstance(state, dict):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
    if not isinstance(state, dict) or not state or not all(hasattr(v, "shape") for v in state.values()):
        raise BenchError(f"weights file {path} holds no state_dict of tensors; save the model's state_dict")
    return {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}


def is_torchscript(path: Path) -> bool:
    """A TorchScript archive: a zip with compiled code (code/ and constants.pkl) besides the tensors."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.endswith("/constants.pkl") or "/code/" in n for n in archive.namelist())


def record(path: Path, source: str) -> dict:
    """What result.json keeps of the weights: where they came from, the file and its sha256."""
    return {"source": source, "file": str(path), "sha256": sha256_file(path)}


def load_matching(module: Any, state: dict, path: Path, what: str, ignore: tuple = ()) -> None:
    """Load the tensors of `state` that `module` has with the same shape; refuse a file that is for another
    architecture (a tensor `module` needs is missing or has another shape), naming one of them."""
    own = module.state_dict()
    wanted = [k for k in own if not any(k.startswith(p) for p in ignore)]
    wrong = [k for k in wanted if k not in state or tuple(state[k].shape) != tuple(own[k].shape)]
    if wrong:
        k = wrong[0]
        found = tuple(state[k].shape) if k in state else "missing"
        raise BenchError(f"weights file {path} does not fit {what}: {len(wrong)} of its {len(wanted)} tensors "
                         f"are missing or shaped otherwise (e.g. {k}: {found}, the model has "
                         f"{tuple(own[k].shape)}); check model.name against the file")
    module.load_state_dict({k: state[k] for k in wanted}, strict=False)


def timm_hub_file(name: str, tag: str) -> Path:
    """timm's published weights of timm:NAME[.TAG], downloaded through the Hugging Face hub (user machines)."""
    if not str(name).startswith("timm:"):
        raise BenchError(f"model.weights=hub downloads timm's weights for timm:NAME models, not {name}; set "
                         "model.weights to a local file")
    import timm
    from huggingface_hub import hf_hub_download

    full = name[5:] + (f".{tag}" if tag else "")
    pretrained = timm.models.get_pretrained_cfg(full)
    hub_id = pretrained.hf_hub_id if pretrained else None
    if not hub_id:
        raise BenchError(f"timm has no hub weights for {full}; set model.weights to a local file")
    try:
        return Path(hf_hub_download(hub_id, "model.safetensors"))
    except Exception as exc:  # no network, no hub access, an interrupted download
        cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise BenchError(f"could not download timm's weights {hub_id} ({type(exc).__name__}: {cause}); fetch "
                         f"model.safetensors of huggingface.co/{hub_id} elsewhere and set model.weights=FILE") from None
