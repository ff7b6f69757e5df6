"""CLIP through open_clip: the architectures, their weights, text features of prompts, and the image model the
foundation-model methods train (bench/algorithms/foundation.py).

`clip_vit_b16` is OpenAI's CLIP ViT-B/16 architecture (open_clip "ViT-B-16"; weights with model.weights=hub:openai
or a downloaded file); `clip_tiny` is the same architecture family at toy size (2 layers, width 64), random
initialised, so the whole track runs offline in tests. As in LIFT (shijxcs/LIFT models/models.py, trainer.py):

    zero-shot     100 cos(proj f(x), t_c), t_c the text feature of "a photo of a {class}."  (logit_scale.exp())
    trained head  s cos(f(x), w_c), f(x) the class token after ln_post (768-d for ViT-B/16, no projection),
                  w_c initialised to normalize(normalize(t_c) proj^T), s = method.s (25)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import BenchError
from bench.models import pretrained as weights_io

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # open_clip.constants.OPENAI_DATASET_MEAN
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
ARCHS = {"clip_vit_b16": "ViT-B-16", "clip_vit_l14": "ViT-L-14", "clip_tiny": "tiny"}
TINY = {"embed_dim": 32,
        "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32, "head_width": 32},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}}
PROMPT = "a photo of a {}."  # LIFT's default prompt (utils/config.py prompt "default")
EXPAND = {"clip_vit_b16": 24, "clip_vit_l14": 21, "clip_tiny": 24}  # LIFT's TTE expand (configs/model/clip_*.yaml)


def is_clip(name: str) -> bool:
    return name in ARCHS


def build_clip(name: str, spec: str | None) -> tuple[Any, dict | None]:
    """The open_clip CLIP model of `name` (bench's model name) with model.weights `spec` loaded; the weights'
    record (result.json `weights`) or None for a random initialisation."""
    import open_clip

    arch = ARCHS[name]
    config = dict(TINY if arch == "tiny" else open_clip.get_model_config(arch))
    tag = (weights_io.hub_tag(spec) or "openai") if isinstance(spec, str) and weights_io.is_hub(spec) else "openai"
    config["quick_gelu"] = quick_gelu(arch, tag)
    model = open_clip.CLIP(**config)
    if not spec:
        return model, None
    if weights_io.is_hub(spec):
        path, source = hub_file(arch, tag), spec
    else:
        path, source = weights_io.local_file(spec), "file"
    state = weights_io.read_state(path)
    if "logit_scale" in state and state["logit_scale"].ndim != model.logit_scale.ndim:
        state["logit_scale"] = state["logit_scale"].reshape(model.logit_scale.shape)
    weights_io.load_matching(model, state, path, f"model {name} (open_clip {arch})")
    return model, weights_io.record(path, source)


def quick_gelu(arch: str, tag: str) -> bool:
    """OpenAI's CLIPs were trained with QuickGELU (x sigmoid(1.702 x)), as LIFT's clip/model.py builds them; other
    pretrained tags (LAION's) with GELU, as their open_clip entry says. A local file: OpenAI's (the recipes')."""
    if arch == "tiny" or tag == "openai":
        return True
    import open_clip

    return bool((open_clip.get_pretrained_cfg(arch, tag) or {}).get("quick_gelu", False))


def hub_file(arch: str, tag: str) -> Path:
    """open_clip's published weights of `arch` with pretrained tag `tag`, downloaded (a user's machine)."""
    import open_clip

    if arch == "tiny" or not open_clip.is_pretrained_cfg(arch, tag):
        tags = open_clip.list_pretrained_tags_by_model(arch) if arch != "tiny" else []
        raise BenchError(f"open_clip has no weights {arch!r} with tag {tag!r}; use one of "
                         f"{', '.join(tags) or 'none (a random-initialised test model)'}, or a local file")
    try:
        path = open_clip.download_pretrained(open_clip.get_pretrained_cfg(arch, tag))
    except Exception as exc:  # no network, no hub access, an interrupted download
        cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        where = open_clip.get_pretrained_cfg(arch, tag).get("hf_hub") or open_clip.get_pretrained_url(arch, tag)
        raise BenchError(f"open_clip could not download {arch} {tag} ({type(exc).__name__}: {cause}); fetch "
                         f"{where} on a machine with internet access and set model.weights=FILE") from None
    if not path:
        raise BenchError(f"open_clip could not download {arch} {tag}; download it and set model.weights=FILE")
    return Path(path)


@torch.no_grad()
def text_features(clip: Any, names: list[str], templates: tuple) -> torch.Tensor:
    """(C, embed) text features: each template's normalised feature of every class name, averaged over the
    templates (one template: the normalised feature itself)."""
    import open_clip

    clip.eval()
    device = next(clip.parameters()).device  # the token ids meet the embedding table where it lives
    total = None
    for template in templates:
        tokens = open_clip.tokenize([template.format(n) if isinstance(template, str) else template(n)
                                     for n in names]).to(device)
        feats = torch.cat([clip.encode_text(chunk, normalize=True) for chunk in tokens.split(1000)])
        total = feats if total is None else total + feats
    assert total is not None
    return total / len(templates)


def head_from_text(text: torch.Tensor, proj: torch.Tensor | None) -> torch.Tensor:
    """LIFT's init_head_text_feat: normalize(normalize(t) proj^T) in the image tower's pre-projection space."""
    text = F.normalize(text, dim=-1)
    return F.normalize(text @ proj.t(), dim=-1) if proj is not None else text


class CosineHead(nn.Module):
    """logits = scale cos(x, w_c), no bias (LIFT models/classifiers.py CosineClassifier)."""

    def __init__(self, weight: torch.Tensor, scale: float):
        super().__init__()
        self.weight = nn.Parameter(weight.clone())
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):  # in fp32: bf16 would round 100 cos to ~0.2 logits
            return self.scale * F.normalize(x.float(), dim=-1) @ F.normalize(self.weight.float(), dim=-1).t()


def random_head(num_classes: int, dim: int) -> torch.Tensor:
    """The cosine classifier's own initialisation: uniform(-1, 1), rows renormalised to unit norm."""
    return torch.empty(num_classes, dim).uniform_(-1, 1).renorm_(2, 0, 1e-5).mul_(1e5)


class ClipInput(nn.Module):
    """The pipeline's batch (normalised with the dataset's statistics, 1 or 3 channels, any side) as CLIP reads
    it: back to [0, 1], grey replicated to RGB, Resize(side * 8 // 7) + CenterCrop(side) when it is not at the
    model's side yet (LIFT's test transform; training views arrive at the model's side), CLIP's normalisation.
    All on the batch's device. Another model's input (bench.models.deit.DeiTInput) passes its own output statistics
    and a bicubic resize."""

    in_mean: torch.Tensor
    in_std: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: tuple, std: tuple, side: int, out_mean: tuple = CLIP_MEAN, out_std: tuple = CLIP_STD,
                 bicubic: bool = False):
        super().__init__()
        c = len(mean)
        self.register_buffer("in_mean", torch.tensor(mean).view(1, c, 1, 1), persistent=False)
        self.register_buffer("in_std", torch.tensor(std).view(1, c, 1, 1), persistent=False)
        self.register_buffer("mean", torch.tensor(out_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(out_std).view(1, 3, 1, 1), persistent=False)
        self.side, self.bicubic = side, bicubic

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.in_std + self.in_mean
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != self.side or x.shape[-2] != self.side:
            from torchvision.transforms.v2.functional import InterpolationMode, center_crop, resize

            mode = InterpolationMode.BICUBIC if self.bicubic else InterpolationMode.BILINEAR
            x = center_crop(resize(x, [self.side * 8 // 7], interpolation=mode, antialias=True), [self.side, self.side])
        return (x - self.mean) / self.std


class ClipImageModel(nn.Module):
    """input adapter -> CLIP image tower (PEFT modules inside, bench.models.peft) -> head."""

    def __init__(self, front: ClipInput, visual: nn.Module, head: nn.Module):
        super().__init__()
        self.front, self.visual, self.head = front, visual, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.visual(self.front(x)))
