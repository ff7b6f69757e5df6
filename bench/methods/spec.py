"""A named method is a composition of parts (plain data, no torch): see bench/parts/part.py.

`parts` sets keys of the config's `method` section: one part per kind (loss, weights, sampler,
schedule, head, mix; the rest keep their defaults) and any hyper-parameter the method pins.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    paper_row: str  # the row of Cao et al. 2019 (Tables 2, 5) it reproduces, or ""
    parts: dict = field(default_factory=dict)  # keys of the config's `method` section
    parent: str = ""  # a two-stage method: the stage-1 method whose finished run it starts from
    stage: dict = field(default_factory=dict)  # keys of the config's `stage` section (e.g. posthoc="la")
    train: dict = field(default_factory=dict)  # keys of the `train` section its recipe fixes (over the dataset's)
    # the authors' recipe per dataset recipe (a dataset's preset name, e.g. cifar_lt): config sections applied
    # over the dataset's preset and `train`, before the user's presets, config files and flags
    recipes: dict = field(default_factory=dict)
    recipe_source: str = ""  # where the recipes come from (repository and config files)
    # deliberate differences from the official code, each with the setting that restores the official behaviour
    # (or "no setting"): `bench list recipes` shows them
    deviations: tuple = ()

    def recipe_keys(self, preset: str, dataset: str) -> list[str]:
        """The keys of `recipes` that apply to a dataset in general, most general first: its recipe preset's name,
        then its own (once: Fashion-MNIST-LT's preset has the dataset's name); a ratio's key comes after them."""
        return [key for key in dict.fromkeys((preset, dataset)) if key in self.recipes]


# the official codes that report the epoch best on the test set
BEST_TEST = ("the official code reports the epoch best on the test set (eval.selection=best_test, labelled "
             "optimistic)")
# the official codes whose linear classifier is nn.Linear's default draw (bench/methods/transcripts/: the
# method.head entries)
HEAD_INIT = ("the official linear classifier keeps PyTorch's default initialisation (uniform, a = sqrt(5)); bench's "
             "linear head draws Kaiming-normal weights (no setting)")
# DeepVoltaire/AutoAugment autoaugment.py CIFAR10Policy, which the official CIFAR codes of Balanced Softmax, PaCo and
# BCL use in place of torchvision's AutoAugment (docs/data.md)
CIFAR10_POLICY = ("augment.policy=autoaugment_cifar is torchvision's AutoAugment; the official code's CIFAR10Policy "
                  "(DeepVoltaire) fills with grey (128) instead of black, shears bicubically, always rotates "
                  "counter-clockwise and solarizes from 256 (no setting)")
