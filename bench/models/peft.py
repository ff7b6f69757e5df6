"""Parameter-efficient fine-tuning of a CLIP image tower (open_clip VisionTransformer), as LIFT's ViT_Tuner
(shijxcs/LIFT models/peft_vit.py, models/peft_modules.py) builds it. Every block becomes a PeftBlock:

    h   = x + attn(ln_1(x))                       (LoRA: q += s_l x A_q B_q, v += s_l x A_v B_v, s_l = 1 / r)
    out = h + mlp(ln_2(h)) [+ AdaptFormer(h)]     AdaptFormer(h) = scale * up(relu(down(LN(h))))

AdaptFormer reads the residual stream before ln_2, has its own LayerNorm and a learnable scalar scale (init 1);
its up-projection and biases start at zero (the model starts as the pretrained CLIP), its down-projection is
kaiming_normal(a=sqrt(5)). LoRA's A is kaiming_uniform(a=sqrt(5)), B zero. VPT appends `length` prompt tokens
after the image tokens (shallow: before the first block; deep: every block drops the previous block's prompts and
appends its own), initialised uniform(-v, v), v = sqrt(6 / (3 patch^2 + width)). BitFit trains every bias inside
the blocks. The bottleneck / rank r = 2^floor(log2(C / (2 layers))) (at least 1) unless method.peft_dim sets it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

TUNINGS = ("zeroshot", "classifier", "full", "adaptformer", "lora", "vpt_shallow", "vpt_deep", "bitfit")


def auto_dim(num_classes: int, layers: int) -> int:
    """LIFT's adapter_dim rule: 2 ** max(0, int(log2(C / (2 * layers))))."""
    return 2 ** max(0, int(math.log2(num_classes / (2 * layers))))


class AdaptFormer(nn.Module):
    def __init__(self, width: int, dim: int):
        super().__init__()
        self.ln = nn.LayerNorm(width)
        self.down, self.up = nn.Linear(width, dim), nn.Linear(dim, width)
        self.scale = nn.Parameter(torch.ones(1))
        nn.init.kaiming_normal_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.up(F.relu(self.down(self.ln(h)))) * self.scale


class LoRA(nn.Module):
    def __init__(self, width: int, rank: int):
        super().__init__()
        self.a = nn.Parameter(torch.empty(width, rank))
        self.b = nn.Parameter(torch.zeros(rank, width))
        nn.init.kaiming_uniform_(self.a, a=math.sqrt(5))
        self.scaling = 1.0 / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.a.to(x.dtype)) @ self.b.to(x.dtype) * self.scaling


class PeftBlock(nn.Module):
    """An open_clip ResidualAttentionBlock (`block`, frozen or not) with LIFT's modules around it."""

    block: Any
    lora_q: Any
    lora_v: Any

    def __init__(self, block: nn.Module, tokens: int, adapter: AdaptFormer | None = None,
                 lora: tuple | None = None, prompt: torch.Tensor | None = None):
        super().__init__()
        self.block, self.tokens, self.adapter = block, tokens, adapter
        self.lora_q, self.lora_v = lora if lora is not None else (None, None)
        self.prompt = nn.Parameter(prompt) if prompt is not None else None

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        attn: Any = self.block.attn
        if self.lora_q is None:
            return attn(x, x, x, need_weights=False)[0]
        q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
        q, v = q + self.lora_q(x), v + self.lora_v(x)
        b, n, d = q.shape
        heads = attn.num_heads
        q, k, v = (t.view(b, n, heads, d // heads).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        return attn.out_proj(out)

    def forward(self, x: torch.Tensor, *args, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        block: Any = self.block
        if self.prompt is not None:
            x = torch.cat([x[:, :self.tokens], self.prompt.to(x.dtype).expand(len(x), -1, -1)], dim=1)
        h = x + block.ls_1(self.attend(block.ln_1(x)))
        out = h + block.ls_2(block.mlp(block.ln_2(h)))
        return out + self.adapter(h) if self.adapter is not None else out


def apply_tuning(visual: Any, tuning: str, dim: int, vpt_length: int) -> list[nn.Parameter]:
    """Freeze `visual` (batch-first open_clip VisionTransformer), wrap its blocks with the `tuning`'s modules, and
    return the parameters that train in it (the head's are added by the caller)."""
    for p in visual.parameters():
        p.requires_grad_(False)
    blocks = visual.transformer.resblocks
    width, tokens = visual.conv1.out_channels, 1 + int(visual.grid_size[0] * visual.grid_size[1])
    patch = visual.conv1.kernel_size[0]
    bound = math.sqrt(6.0 / (3 * patch * patch + width))
    for i, block in enumerate(blocks):
        adapter = AdaptFormer(width, dim) if tuning == "adaptformer" else None
        lora = (LoRA(width, dim), LoRA(width, dim)) if tuning == "lora" else None
        prompted = tuning == "vpt_deep" or (tuning == "vpt_shallow" and i == 0)
        prompt = torch.empty(1, vpt_length, width).uniform_(-bound, bound) if prompted else None
        blocks[i] = PeftBlock(block, tokens, adapter, lora, prompt)
    if tuning == "full":  # LIFT's full_tuning: every transformer block (not the stem, not ln_post)
        for block in blocks:
            block.block.requires_grad_(True)
    if tuning == "bitfit":  # every bias inside the blocks: attention in/out, MLP, ln_1, ln_2
        for name, p in blocks.named_parameters():
            if name.endswith("bias"):
                p.requires_grad_(True)
    return [p for p in visual.parameters() if p.requires_grad]
