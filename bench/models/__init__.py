"""Models: a backbone from the registry plus a classifier head."""

from bench.models.registry import MODELS


def resolve_head(method_cfg):
    """`auto` takes the head the loss part asks for (normed cosine for LDAM, Linear otherwise, as the reference)."""
    head = method_cfg["head"]
    if head == "auto":
        from bench.methods.registry import PARTS

        return PARTS.get("loss", method_cfg["loss"]).head
    return head


def build_model(cfg, in_channels, num_classes):
    from torch import nn

    from bench.models.heads import build_head

    backbone = MODELS.get_or_fail(cfg["model"]["name"]).build(in_channels)
    if cfg["model"].get("pretrained"):
        load_pretrained(backbone, cfg["model"]["pretrained"])
    head = build_head(resolve_head(cfg["method"]), backbone.out_features, num_classes)
    return nn.Sequential(backbone, head)


def load_pretrained(backbone, path):
    """Backbone weights from a local file (never downloaded), loaded safely; classifier keys are ignored."""
    from pathlib import Path

    import torch

    from bench.errors import BenchError

    path = Path(path).expanduser()
    if not path.is_file():
        raise BenchError(f"pretrained weights {path} do not exist; set model.pretrained to a local weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BenchError(f"pretrained weights {path} cannot be read safely ({type(exc).__name__}); "
                         "save a plain state_dict with torch.save") from None
    state = state.get("state_dict", state.get("model", state)) if isinstance(state, dict) else state
    own = backbone.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise BenchError(f"pretrained weights {path} share no tensor with model {type(backbone).__name__}; "
                         "check model.name")
    backbone.load_state_dict(usable, strict=False)
    skipped = sorted(set(state) - set(usable))
    print(f"loaded {len(usable)} of {len(own)} backbone tensors from {path}"
          + (f"; ignored {len(skipped)} (e.g. {', '.join(skipped[:3])})" if skipped else ""))


__all__ = ["MODELS", "build_model", "resolve_head"]
