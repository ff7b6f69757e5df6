"""Algorithm parts: how a method trains (bench/engine/algorithm.py has the protocol).

`method.algorithm` chooses one; its build() returns the Algorithm class (imported only when a run trains,
so the registries stay free of torch). Every method so far is `standard`: the step of its loss, weights,
sampler, schedule, head and mix parts.
"""

from __future__ import annotations

from bench.methods.parts import Part


def _standard():
    from bench.engine.algorithm import StandardAlgorithm

    return StandardAlgorithm


STANDARD = Part("algorithm", "standard", "one augmented view per image, the loss of the method's parts (mixed "
                "over two labels with a mix part), one optimizer step per batch", build=_standard)

PARTS = (STANDARD,)
