"""Models: backbones from the registry, classifier heads, and weights files loaded into a backbone (the network a
method trains is put together by bench.algorithms.network)."""

from bench.models.registry import MODELS


def load_backbone_weights(backbone, spec, name):
    """Backbone weights from a local file (or timm's hub weights for timm:NAME), read safely; tensors the
    backbone does not have (a classifier) are ignored. Returns result.json's record of the file."""
    from bench.errors import BenchError
    from bench.models import pretrained

    if pretrained.is_hub(spec):
        path, source = pretrained.timm_hub_file(name, pretrained.hub_tag(spec)), spec
    else:
        path, source = pretrained.local_file(spec), "file"
    state = pretrained.read_state(path)
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
    return pretrained.record(path, source)


__all__ = ["MODELS", "load_backbone_weights"]
