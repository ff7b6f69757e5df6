"""Models: a backbone from the registry plus a classifier head."""

from bench.models.registry import MODELS


def resolve_head(method_cfg):
    """The classifier a method trains: its algorithm's own where it builds one (PaCo, BCL, the foundation track:
    bench/methods/algorithms.py `head`), else method.head, where `auto` takes the head the loss part asks for
    (normed cosine for LDAM, Linear otherwise, as the reference)."""
    from bench.methods.registry import PARTS

    own = PARTS.get("algorithm", method_cfg.get("algorithm", "standard")).extra.get("head")
    if own is not None:
        return own
    head = method_cfg["head"]
    return PARTS.get("loss", method_cfg["loss"]).head if head == "auto" else head


def build_model(cfg, in_channels, num_classes, weights_out=None):
    """The registered backbone with the method's head; `model.weights` loaded into the backbone (its record
    appended to `weights_out` when given: result.json's `weights`)."""
    from torch import nn

    from bench.models.heads import build_head

    backbone = MODELS.get_or_fail(cfg["model"]["name"]).build(in_channels)
    if cfg["model"].get("weights"):
        found = load_backbone_weights(backbone, cfg["model"]["weights"], cfg["model"]["name"])
        if weights_out is not None:
            weights_out.append(found)
    head = build_head(resolve_head(cfg["method"]), backbone.out_features, num_classes)
    return nn.Sequential(backbone, head)


def load_backbone_weights(backbone, spec, name):
    """Backbone weights from a local file (or timm's hub weights for timm:NAME), read safely; tensors the
    backbone does not have (a classifier) are ignored. Returns result.json's record of the file."""
    from bench.errors import BenchError
    from bench.models import weights

    if weights.is_hub(spec):
        path, source = weights.timm_hub_file(name, weights.hub_tag(spec)), spec
    else:
        path, source = weights.local_file(spec), "file"
    state = weights.read_state(path)
    own = backbone.state_dict()
    prefix = "net." if all(k.startswith("net.") for k in own) else ""  # timm backbones wrap the model as .net
    state = {prefix + k: v for k, v in state.items()}
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise BenchError(f"weights file {path} shares no tensor with model {name}; check model.name")
    backbone.load_state_dict(usable, strict=False)
    skipped = sorted(set(state) - set(usable))
    print(f"loaded {len(usable)} of {len(own)} backbone tensors from {path}"
          + (f"; ignored {len(skipped)} (e.g. {', '.join(skipped[:3])})" if skipped else ""))
    return weights.record(path, source)


__all__ = ["MODELS", "build_model", "resolve_head"]
