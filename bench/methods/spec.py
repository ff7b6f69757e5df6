"""A named method is a preset of independent parts (plain data, no torch).

loss      ce | focal | ldam
weights   none | cb (class-balanced, effective number) | inverse_frequency
sampler   instance | class_balanced (CB weight per sample) | class_uniform
schedule  start | deferred (weights and sampler switch on at the first LR decay)
head      auto (normed for ldam, linear otherwise) | linear | normed
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    paper_row: str  # the row of Cao et al. 2019 (Tables 2, 5) it reproduces, or ""
    parts: dict = field(default_factory=dict)  # keys of the config's `method` section
