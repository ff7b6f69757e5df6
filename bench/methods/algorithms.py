"""Algorithm parts: how a method trains (bench/engine/algorithm.py has the protocol).

`method.algorithm` chooses one; its build() returns the Algorithm class (imported only when a run trains,
so the registries stay free of torch). Every method so far is `standard`: the step of its loss, weights,
sampler, schedule, head and mix parts.
"""

from __future__ import annotations

from bench.methods.parts import Part


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

PARTS = (STANDARD,)
