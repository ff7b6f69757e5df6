"""Algorithm parts: how a method trains (bench/engine/algorithm.py has the protocol).

`method.algorithm` chooses one; its build() returns the Algorithm class (imported only when a run trains,
so the registries stay free of torch). Every method so far is `standard`: the step of its loss, weights,
sampler, schedule, head and mix parts.
"""

from __future__ import annotations

from bench.methods.parts import Param, Part


def late(module, name):
    """build() for an algorithm part: its class, imported when a run trains (late binding, as entry points do:
    the registries stay free of torch and of the engine, which itself uses the registries)."""

    def build():
        import importlib

        return getattr(importlib.import_module(module), name)

    return build


STANDARD = Part("algorithm", "standard", "one augmented view per image, the loss of the method's parts (mixed "
                "over two labels with a mix part), one optimizer step per batch",
                build=late("bench.engine.algorithm", "StandardAlgorithm"))

def _schedule_ok(value):
    """[[epoch, rho], ...]: the first at epoch 0, epochs increasing integers, rho positive."""
    if not value or not all(isinstance(step, list) and len(step) == 2 for step in value):
        return False
    epochs, rhos = [s[0] for s in value], [s[1] for s in value]
    return (all(type(e) is int for e in epochs) and epochs[0] == 0 and epochs == sorted(set(epochs))
            and all(type(r) in (int, float) and 0 < r <= 10 for r in rhos))


SAM_RHO = Param("sam_rho", 0.05, "SAM's radius: the weights move by rho g / ||g|| before the second pass",
                source="val-iisc/Saddle-LongTail sam.py (rho=0.05, davda54/sam's default); the methods set the "
                       "official run.sh values", check=lambda v: 0 < v <= 10, phrase="positive (and at most 10)")
SAM_RHO_SCHEDULE = Param("sam_rho_schedule", None, "rho per epoch, [[0-based epoch, rho], ...] from each epoch "
                         "on (scales with --epochs); null: sam_rho throughout",
                         source="val-iisc/Saddle-LongTail imnet_train_sam.py / inat_train_sam.py adjust_rho (step)",
                         types=(list, type(None)), check=_schedule_ok,
                         phrase="a list of [epoch, rho] pairs, the first at epoch 0, epochs increasing, "
                                "each rho in (0, 10]")
SAM = Part("algorithm", "sam", "sharpness-aware minimisation: the loss's gradient at w + rho g/||g|| (same batch, "
           "both passes in train mode) steps the weights at w", params=(SAM_RHO, SAM_RHO_SCHEDULE),
           source="Rangwani et al., NeurIPS 2022; val-iisc/Saddle-LongTail sam.py, cifar_train_sam.py",
           build=late("bench.engine.sam", "SAMAlgorithm"),
           extra={"step_cost": 2.0, "no_fp16": "SAM: two backward passes a step"})

PARTS = (STANDARD, SAM)
