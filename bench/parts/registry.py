"""The registry of parts, one per kind (bench.parts.part.Parts): losses (one file each in bench/parts/losses/,
found by bench.registry.discover), class weights, samplers, schedules, heads and mixes (one catalogue file each).

Algorithm parts register into the same registry from bench/algorithms/ (bench.algorithms.registry, which is what
the layers above import); what plugins named in BENCH_PLUGINS declare is registered by bench.methods.registry.
"""

from bench.parts import heads, mix, samplers, schedules, weights
from bench.parts.part import Part, Parts
from bench.registry import discover

PARTS = Parts()
for _part in (*discover("bench.parts.losses", Part), *weights.PARTS, *samplers.PARTS, *schedules.PARTS, *heads.PARTS,
              *mix.PARTS):
    PARTS.register(_part)
