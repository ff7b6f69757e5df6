"""Memory of one training step of the foundation-model methods' image tower, measured on the CPU.

Builds CLIP ViT-B/16 (or --model) without weights, wraps it for each --tuning as the methods do, and counts the
activations a forward pass of --batch 224 px images keeps for the backward pass (fp32, the tensors autograd saves;
eager attention keeps the attention matrices, which a GPU's fused attention does not: an upper bound there; bf16
halves it), plus the trained parameters with their gradients and momentum:

    python benchmarks/foundation_memory.py --batch 8 --tuning adaptformer
"""

import argparse

import torch

from bench.models import clip, peft


def measure(model: str, tuning: str, batch: int, classes: int) -> tuple[float, float]:
    """(MB of activations a forward pass keeps for the backward pass, MB of the trained parameters with their
    gradients and SGD momentum), counted from the tensors autograd saves (each storage once)."""
    torch.manual_seed(0)
    built, _ = clip.build_clip(model, None)
    visual = built.visual
    visual.proj = None
    layers = len(visual.transformer.resblocks)
    trained = peft.apply_tuning(visual, tuning, peft.auto_dim(classes, layers), 10)
    head = clip.CosineHead(torch.randn(classes, visual.conv1.out_channels), 25.0)
    trained += list(head.parameters())
    saved: dict = {}

    def pack(t):
        saved[(t.untyped_storage().data_ptr(), t.device)] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        head(visual(torch.randn(batch, 3, 224, 224))).logsumexp(1).mean().backward()
    # the weights a layer saves for its backward pass are not activations
    weights = {p.untyped_storage().data_ptr() for p in [*visual.parameters(), *head.parameters()]}
    activations = sum(v for (ptr, _), v in saved.items() if ptr not in weights)
    return activations / 2**20, 3 * sum(p.numel() * 4 for p in trained) / 2**20


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="clip_vit_b16", choices=sorted(clip.ARCHS))
    parser.add_argument("--tuning", default="adaptformer", choices=[t for t in peft.TUNINGS if t != "zeroshot"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--classes", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    act, state = measure(args.model, args.tuning, args.batch, args.classes)
    print(f"{args.model} {args.tuning}: activations {act / args.batch:.1f} MB per image (a batch of 128: "
          f"{act / args.batch * 128 / 1024:.1f} GB fp32), trained parameters + gradients + momentum {state:.0f} MB")
