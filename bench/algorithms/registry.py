"""Every algorithm part and stage computation, registered: each module of bench/algorithms/ that declares a `PART`
adds it to the parts registry, and its `STAGES` to STAGES (bench.registry.discover), so that adding an algorithm is
adding one file. Import PARTS from here (or from bench.methods.registry) to see the algorithms as well as the other
part kinds."""

from bench.parts.part import DEFAULT_PART, Part, Stage
from bench.parts.registry import PARTS
from bench.registry import Registry, discover

for _part in sorted(discover("bench.algorithms", Part), key=lambda p: p.name != DEFAULT_PART[p.kind]):
    PARTS.register(_part)  # the default (standard) first, then in file-name order

STAGES = {"posthoc": Registry("stage.posthoc computation"), "train": Registry("stage.train computation")}
"""{stage key: {value: Stage}}: what a two-stage method's stage section makes it compute."""
for _stage in discover("bench.algorithms", Stage, attributes=("STAGES",)):
    STAGES[_stage.key].register(_stage.value, _stage)

__all__ = ["PARTS", "STAGES"]
