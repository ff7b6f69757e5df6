"""Part and method registries.

Adding a method: one small file with METHOD = Method(...), one line in METHOD_MODULES.
Adding a loss: one file in bench/methods/losses/ with PART = Part("loss", ...), one line in LOSSES.
Adding an algorithm (its own model, step, views): a Part of kind "algorithm" in a file like
bench/methods/algorithms.py, one line in the PARTS loop below.
Outside the package: modules named in BENCH_PLUGINS (comma-separated) are imported after the built-in
entries and may register more (METHODS.register, PARTS.register).
"""

from bench.methods import (
    algorithms,
    balanced_softmax,
    bcl,
    cb,
    cb_focal,
    clip_zeroshot,
    crt,
    drs,
    drw,
    drw_sam,
    erm,
    erm_mixup,
    erm_sam,
    erm_wd,
    focal,
    foundation,
    full_finetune,
    heads,
    la_posthoc,
    ldam,
    ldam_drw,
    ldam_drw_mixup,
    ldam_drw_sam,
    lift,
    linear_probe,
    logit_adjust,
    logit_adjust_drw,
    lws,
    mislas,
    mix,
    paco,
    resample,
    reweight,
    ride,
    ride_ea,
    sade,
    sade_tta,
    samplers,
    schedules,
    tau_norm,
    vs,
    vs_drw,
    vs_sam,
    wb,
    weights,
)
from bench.methods.losses import ce as ce_loss
from bench.methods.losses import focal as focal_loss
from bench.methods.losses import las as las_loss
from bench.methods.losses import ldam as ldam_loss
from bench.methods.losses import logit_adjust as la_loss
from bench.methods.losses import softmax_bce
from bench.methods.losses import vs as vs_loss
from bench.methods.parts import Parts
from bench.registry import Registry

LOSSES = (ce_loss.PART, focal_loss.PART, ldam_loss.PART, la_loss.PART, la_loss.BALANCED_SOFTMAX, vs_loss.PART,
          las_loss.PART, softmax_bce.PART)

PARTS = Parts()
for _part in (*LOSSES, *weights.PARTS, *samplers.PARTS, *schedules.PARTS, *heads.PARTS, *mix.PARTS,
              *algorithms.PARTS, foundation.FOUNDATION):
    PARTS.register(_part)

METHOD_MODULES = (erm, resample, reweight, cb, focal, cb_focal, ldam, ldam_drw, drw, drs,
                  logit_adjust, balanced_softmax, vs, logit_adjust_drw, vs_drw, erm_mixup, ldam_drw_mixup, erm_wd,
                  # sharpness-aware minimisation (algorithm sam)
                  erm_sam, drw_sam, ldam_drw_sam, vs_sam,
                  # multi-expert (algorithms ride, sade)
                  ride, sade,
                  # contrastive (algorithm paco: two views, momentum encoder, queue)
                  paco, bcl,
                  # foundation-model track (algorithm foundation: a CLIP model, frozen except what the method tunes)
                  clip_zeroshot, linear_probe, full_finetune, lift,
                  # two-stage: computed from (post-hoc) or trained on (stage 2) a finished parent run (Method.parent)
                  la_posthoc, tau_norm, crt, lws, mislas, wb, sade_tta, ride_ea)
METHODS = Registry("method")
for _module in METHOD_MODULES:
    METHODS.register(_module.METHOD.name, _module.METHOD)


def _load_plugins():
    """Import the modules named in BENCH_PLUGINS; each registers its parts and methods when imported."""
    import importlib
    import os

    from bench.errors import BenchError

    for name in filter(None, (n.strip() for n in os.environ.get("BENCH_PLUGINS", "").split(","))):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise BenchError(f"BENCH_PLUGINS names {name!r}, which cannot be imported ({exc}); put it on "
                             "PYTHONPATH or remove it from BENCH_PLUGINS") from None


_load_plugins()
