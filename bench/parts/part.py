"""The parts a method is made of, and the hyper-parameters each part declares (plain data, no torch).

A method picks one part of every kind:

    loss      what is minimised per batch (ce, focal, ldam, logit_adjust, balanced_softmax, vs)
    weights   per-class loss weights (none, cb, inverse_frequency)
    sampler   which images an epoch visits (instance, class_balanced, class_uniform)
    schedule  when re-balancing (weights and sampler) is on (start, deferred)
    head      the classifier (auto, linear, normed)
    mix       batch mixing (none, mixup, cutmix)

Every part registers itself with the hyper-parameters it uses (a `Param`: default, type, range or
choices, one line of doc, and the paper or code its default comes from). The config's `method`
section, its choices and ranges are derived from these declarations, and a hyper-parameter that none
of a run's parts uses is refused. Torch is imported only inside `build`/`forward` functions, so
`bench list` and `--help` stay fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError
from bench.parts.search import Search
from bench.registry import Registry
from bench.runconfig import RunConfig

KINDS = ("loss", "weights", "sampler", "schedule", "head", "mix", "algorithm")
DEFAULT_PART = {"loss": "ce", "weights": "none", "sampler": "instance", "schedule": "start", "head": "auto",
                "mix": "none", "algorithm": "standard"}


@dataclass(frozen=True)
class Param:
    """One hyper-parameter: `method.<key>` in the config."""

    key: str
    default: Any
    doc: str
    source: str = ""  # where the default comes from (paper, table / repo path); "" for bench's own choice
    types: tuple = ()  # allowed Python types; () = from the default (a float accepts ints too)
    choices: tuple = ()
    check: Callable | None = None  # predicate on a value of the right type
    phrase: str = ""  # what `check` requires, for the error message ("positive", "in [0, 1)")
    # how `bench tune` draws it (bench/parts/search.py); None: not tuned (structure, implementation or a size)
    search: Search | None = None

    def allowed_types(self) -> tuple:
        if self.types:
            return self.types
        if isinstance(self.default, bool):
            return (bool,)
        if isinstance(self.default, float):
            return (float, int)
        return (type(self.default),)

    def range_ok(self, value: Any) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return self.check is None or value is None or self.check(value)


@dataclass(frozen=True)
class Traits:
    """What an algorithm part does besides the standard step (bench/algorithms/), read by the plan-time
    checks (bench/plan/config.py), the unused-key rules (bench/plan/usage.py), the cost and the evaluation."""

    own_loss: str | None = None  # trains with its own loss (what): method.loss and method.weights are not used
    reads_switch: bool = False  # acts on the re-balancing switch itself (method.schedule), besides weights, sampler
    no_mix: str | None = None  # cannot mix batches (why)
    no_fp16: str | None = None  # cannot run under fp16's gradient scaler (why)
    # builds its own classifier, of this kind (method.head is not used); a function of the method section where its
    # own hyper-parameters choose the kind (ProCo's scale: linear or normed)
    head: str | Callable[[Mapping[str, Any]], str] | None = None
    own_network: bool = False  # builds its own network and loads no pretrained weights (model.weights)
    step_cost: float = 1.0  # a step's time relative to the standard step's (the dry-run cost)
    experts: bool = False  # trains a multi-expert network (method.experts, its backbone must host experts)
    fixed_experts: int | None = None  # ... with exactly this many experts
    clip: bool = False  # adapts a CLIP model (the foundation-model track)
    per_image_loss: str | None = None  # needs the loss part's per-image losses (Part.per_image) (why)
    one_process: str | None = None  # cannot train in several processes (train.world_size > 1) (why)
    own_optimizer: str | None = None  # builds its own optimizer, not SGD (which): train.momentum, train.nesterov unused
    # in-memory data: trains on its own view (what), which reads augment.policy (only these values) and the RandAugment
    # keys but no padding crop, flip, rotation or Cutout
    own_view: tuple[str, tuple[str, ...]] | None = None
    # trains its own network in one stage, with the method's parent run as a frozen teacher (no stage computation)
    distils_parent: bool = False
    # the network it trains when it is not model.name's (DeiT-LT's student; model.name is its teacher's): (name,
    # assumed training images/s) from the method section, for the cost model's measured and assumed speeds
    network: Callable[[Mapping[str, Any]], tuple[str, float]] | None = None


@dataclass(frozen=True)
class Part:
    kind: str
    name: str
    doc: str
    params: tuple = ()
    build: Callable | None = None  # what the trainer calls; its signature depends on the kind
    source: str = ""
    # losses only
    forward: Callable | None = None  # forward(logits, target, weight, **constants) -> mean loss
    setup: Callable | None = None  # setup(class_counts, **hyper-parameters) -> {name: array or scalar}
    head: str = "linear"  # the head `head: auto` gives with this loss
    supports_weights: bool = True  # accepts per-class weights (else a plan-time error with weights)
    supports_mix: bool = True  # a per-label loss, so mixup/cutmix can combine it over two labels
    # losses, and algorithms with their own loss: the hyper-parameter that scales the model's outputs into the logits
    # the loss trains (LDAM: s on the cosines); probabilities for calibration metrics (ECE, NLL) are
    # softmax(scale * output); accuracy is unchanged
    probability_scale: str | None = None
    # a loss drawing random numbers at each call (GCL's noise): forward gets `generator`, a CPU torch.Generator
    # reseeded from the epoch's generator and saved in mid-epoch checkpoints (bench.algorithms.compose)
    draws: bool = False
    # a loss whose forward also takes reduction="none" and returns the per-image losses (class weights multiplying
    # them): what the algorithms that weight images by class need (bench.algorithms.split_sam)
    per_image: bool = False
    traits: Traits = Traits()  # algorithms only
    # bumped when what the part computes changes without a config key saying so: a run using it gets a new run id
    # (bench.plan.config.config_hash), so results of the old computation are never taken for the new one
    revision: int = 1


# the stage.* settings a computation may read
STAGE_KEYS = ("reinit", "reinit_init", "bn", "start", "epochs", "lr", "weight_decay", "batch_size",
              "classifier_lr_factor", "max_norm", "max_norm_at", "disalign_form")


@dataclass(frozen=True)
class Stage:
    """A stage computation: what `stage.<key>: <value>` (key posthoc or train) makes a two-stage method compute.
    Declared beside its Algorithm class in bench/algorithms/ (a module's STAGES tuple); build() returns the class.
    The stage section's choices are the declared values, and the plan's checks read what it declares here."""

    key: str  # "posthoc" (computed from the finished parent's files) or "train" (stage 2 on the parent's weights)
    value: str
    doc: str
    build: Callable
    reads: tuple = ()  # the STAGE_KEYS it reads: any other one set is refused (it would change only the run id)
    interchangeable: bool = False  # one of several stage-2 kinds a method that trains one may switch to
    train_section: tuple = ()  # (key, value) pairs its stage-2 train section always has (RIDE's router: Nesterov)
    reads_parent_logits: bool = False  # computed from the parent's saved test logits (eval.save_logits kept)
    needs_validation: str = ""  # why it needs eval.selection=best_val ("" : it does not)
    work: str = ""  # what computing it costs, for the dry run (post-hoc computations)
    # {dotted key: why} of the keys of a run's config it does not read (bench/plan/usage.py: refused where the user
    # set them, out of the run id where a preset or recipe did)
    unused: Callable[[RunConfig], dict[str, str]] | None = None

    def __post_init__(self) -> None:
        if self.key not in ("posthoc", "train"):
            raise ValueError(f"stage {self.value!r}: key {self.key!r} is not posthoc or train")
        if set(self.reads) - set(STAGE_KEYS):
            raise ValueError(f"stage {self.value!r} reads {sorted(set(self.reads) - set(STAGE_KEYS))}, which are not "
                             f"stage settings ({', '.join(STAGE_KEYS)})")


class Parts:
    """One registry per part kind, plus the union of their hyper-parameters."""

    def __init__(self) -> None:
        self.kinds = {kind: Registry(f"{kind} part") for kind in KINDS}
        self.params: dict[str, Param] = {}  # key -> Param (a key several parts share is declared identically)
        self.users: dict[str, list[tuple[str, str]]] = {}  # key -> [(kind, name)]

    def register(self, part: Part) -> Part:
        if part.kind not in self.kinds:
            raise ValueError(f"unknown part kind {part.kind!r}; kinds: {', '.join(KINDS)}")
        for param in part.params:
            known = self.params.get(param.key)
            if known is not None and known != param:
                raise ValueError(f"method.{param.key} is declared differently by {part.kind} {part.name} and "
                                 f"{self.users[param.key]}; share one Param object")
            if param.key in KINDS or param.key == "name":
                raise ValueError(f"hyper-parameter name {param.key!r} is taken by a part kind")
            self.params[param.key] = param
            self.users.setdefault(param.key, []).append((part.kind, part.name))
        self.kinds[part.kind].register(part.name, part)
        return part

    def get(self, kind: str, name: str) -> Part:
        return self.kinds[kind].get_or_fail(name)

    def build(self, kind: str, name: str, *args: Any) -> Any:
        """What a part's build() returns (class weights, a sampler, the switch epoch, a mixer, an algorithm class)."""
        part = self.get(kind, name)
        if part.build is None:
            raise ValueError(f"{kind} part {name} has no build(); it is not built directly")
        return part.build(*args)

    def config_defaults(self) -> dict[str, Any]:
        """The config's `method` section: name, one part per kind, then every hyper-parameter."""
        section: dict[str, Any] = {"name": None}
        section.update(DEFAULT_PART)
        section.update({key: param.default for key, param in self.params.items()})
        return section

    def chosen(self, method_cfg: Mapping[str, Any]) -> list[tuple[str, Part]]:
        """[(kind, Part)] of a method config (names assumed valid; a kind the config predates is left out)."""
        return [(kind, self.kinds[kind][method_cfg[kind]]) for kind in KINDS if kind in method_cfg]

    def probability_scale(self, method_cfg: Mapping[str, Any]) -> float:
        """Factor from a model's outputs to the logits its loss trains, for ECE and NLL: the loss part's (LDAM: s),
        or the algorithm's where it trains with its own loss (its Part's `probability_scale`)."""
        algorithm = self.kinds["algorithm"][method_cfg.get("algorithm", "standard")]
        if algorithm.traits.own_loss is not None:
            key = algorithm.probability_scale
        else:
            key = self.kinds["loss"][method_cfg["loss"]].probability_scale
        return float(method_cfg[key]) if key else 1.0

    def check(self, method_cfg: dict, defaults: dict, user_keys: Collection[str] | None = None) -> None:
        """Plan-time checks of a method config whose part names are valid: BenchError on a
        hyper-parameter that none of its parts uses (among `user_keys`, the ones the user set;
        None: all), or parts that do not go together."""
        chosen = self.chosen(method_cfg)
        used = {param.key for _, part in chosen for param in part.params}
        name = method_cfg.get("name")
        for key in self.params:
            if key in used or method_cfg.get(key) == defaults.get(key) or (user_keys is not None
                                                                           and key not in user_keys):
                continue
            users = " or ".join(f"{kind} {part}" for kind, part in self.users[key])
            parts = ", ".join(f"{kind} {part.name}" for kind, part in chosen if part.name != DEFAULT_PART[kind]
                              or kind == "loss")
            raise BenchError(f"method.{key} is used only by {users}, and method {name} ({parts}) has none of "
                             "them, so setting it would change nothing but the run id; remove it, or choose a "
                             "method or part that uses it (bench list parts)")
        loss = self.kinds["loss"][method_cfg["loss"]]
        if method_cfg["weights"] != "none" and not loss.supports_weights:
            raise BenchError(f"loss {loss.name} does not take class weights, so method.weights="
                             f"{method_cfg['weights']} would be ignored; use method.weights=none or another loss")
        if method_cfg["mix"] != "none" and not loss.supports_mix:
            raise BenchError(f"loss {loss.name} cannot be combined over two labels, so method.mix="
                             f"{method_cfg['mix']} is not possible with it; use method.mix=none or another loss")

    def describe(self, part: Part) -> str:
        """'key=default' of a part's hyper-parameters."""
        return ", ".join(f"{p.key}={p.default!r}" for p in part.params)
