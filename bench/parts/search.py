"""A hyper-parameter's search distribution for `bench tune` (plain data, no torch).

Every tunable hyper-parameter declares one beside its default (a method part's `Param`, a config `Key`):

    Search("log", 0.01, 0.8)                      log-uniform between the bounds
    Search("linear", 0.0, 3.0)                    uniform between the bounds
    Search("choice", choices=(0.9, 0.99, 0.999))  one of the values, equally likely
    Search("log", 1 / 3, 3.0, relative=True)      the bounds multiply the run's own value (its recipe's
                                                  learning rate, say), so one range serves every dataset

Draws are rounded to 4 significant digits: readable in `--set` items, labels and run ids.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

KINDS = ("log", "linear", "choice")


@dataclass(frozen=True)
class Search:
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()
    relative: bool = False  # low and high are factors of the run's own value

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"search kind {self.kind!r}; kinds: {', '.join(KINDS)}")
        if self.kind == "choice" and not self.choices:
            raise ValueError("a choice search needs choices")
        if self.kind != "choice" and not (self.low < self.high and (self.kind == "linear" or self.low > 0)):
            raise ValueError(f"search bounds {self.low}, {self.high}: low < high (and low > 0 for log)")

    def bounds(self, value: Any) -> tuple[float, float]:
        """The interval drawn from, for a run whose own value is `value`."""
        scale = float(value) if self.relative else 1.0
        return self.low * scale, self.high * scale

    def draw(self, rng: random.Random, value: Any) -> Any:
        """One value; `value` is the run's own (relative searches scale with it)."""
        if self.kind == "choice":
            return self.choices[rng.randrange(len(self.choices))]
        low, high = self.bounds(value)
        if self.kind == "log":
            drawn = math.exp(rng.uniform(math.log(low), math.log(high)))
        else:
            drawn = rng.uniform(low, high)
        return float(f"{drawn:.4g}")

    def usable(self, value: Any) -> bool:
        """A relative search needs a positive value to scale (a weight decay of 0 stays 0)."""
        return not self.relative or (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0)

    def describe(self, value: Any = None) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.relative and value is None:
            return f"{self.kind}-uniform, {self.low:.4g} to {self.high:.4g} x the recipe's value"
        low, high = self.bounds(value)
        return f"{self.kind}-uniform in [{low:.4g}, {high:.4g}]"
