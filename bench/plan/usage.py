"""Which config keys a run does not use: one table of rules, read by everything that decides what a run is.

A key a run does not use cannot change its numbers, so it must not change its id either. bench.plan.config refuses such
a key where the user set it (--set, --grid, a --config file: one error saying why it changes nothing), and leaves it
out of the run id where a preset, a flag or a recipe set it (config_hash); the report leaves it out of a run's
variant and shown config. Each rule names the keys, when they are unused and why; tests/test_usage.py walks every
key x method family against these rules and trains both values of each rule's keys to show the run is the same.

Keys not in the table are used by every run whose checks accept them, but for the method hyper-parameters none of the
run's parts declares (bench/parts/part.py: a user's are refused by PARTS.check; a preset's leave the run id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError
from bench.images.keys import IMAGE_LIST_ONLY, IN_MEMORY_ONLY, LIST_FILES, LONG_TAIL_DRAW, RANDAUGMENT, TRAIN_AUGMENT
from bench.parts.part import STAGE_KEYS, Stage, Traits
from bench.plan.schema import KEYS
from bench.runconfig import RunConfig

TRAINING = ("train.epochs", "train.batch_size", "train.lr", "train.momentum", "train.nesterov", "train.weight_decay",
            "train.warmup_epochs", "train.milestones", "train.milestone_fractions", "train.lr_decay",
            "train.schedule", "train.cosine_offset", "train.drop_last", "eval.every")


@dataclass(frozen=True)
class Rule:
    keys: tuple
    when: Callable[[RunConfig], bool]  # on the resolved config
    why: Callable[[RunConfig], str]  # what the error and the docs say


def image_list(cfg: RunConfig) -> bool:
    """The run's images are files decoded per batch (ImageNet-LT's path), not tensors in memory (CIFAR's). A
    dataset YAML file says which (bench/datasets/custom/declare.py); the built-in ones with a published split are
    the image-list ones."""
    if cfg["dataset"].get("file"):
        from bench.datasets.registry import find

        info = find(cfg)
        if info is not None:
            return not info.in_memory
    return cfg["dataset"]["profile"] == "natural"


def _algorithm(cfg: RunConfig) -> str:
    return cfg["method"].get("algorithm", "standard")


def _zeroshot(cfg: RunConfig) -> bool:
    return _tuning(cfg) == "zeroshot"


def _traits(cfg: RunConfig) -> Traits:
    """What the run's algorithm part says it does besides the standard step (its Traits, bench/algorithms/); none of
    it for an algorithm this bench does not know (a result of a plugin not loaded: read as written)."""
    from bench.methods.registry import PARTS

    part = PARTS.kinds["algorithm"].get(_algorithm(cfg))
    return part.traits if part is not None else Traits()


def _own_view(cfg: RunConfig) -> str:
    view = _traits(cfg).own_view
    return view[0] if view else ""


def _tuning(cfg: RunConfig) -> str | None:
    """The foundation track's method.tuning (None: another algorithm)."""
    return cfg["method"].get("tuning") if _algorithm(cfg) == "foundation" else None


def _own_loss(cfg: RunConfig) -> str | None:
    """Why the run's training does not use the loss and weights parts (None: it does)."""
    if _zeroshot(cfg):
        return f"{cfg['method']['name']} trains nothing (zero-shot)"
    own = _traits(cfg).own_loss
    return f"{cfg['method']['name']} trains with {own}" if own else None


def _rebalances(cfg: RunConfig) -> bool:
    """Something in the run acts on the re-balancing switch (method.schedule): class weights in the loss it trains
    with, a sampler other than `instance`, or the algorithm itself (RIDE's temperature)."""
    m = cfg["method"]
    if _zeroshot(cfg):
        return False
    return (m["weights"] != "none" and _own_loss(cfg) is None) or m["sampler"] != "instance" \
        or _traits(cfg).reads_switch


def _stage(cfg: RunConfig) -> Stage | None:
    """The run's stage computation (bench/algorithms/: stage.posthoc, else stage.train), None for none or one this
    bench does not know (a result of a plugin not loaded)."""
    from bench.methods.registry import STAGES

    s = cfg["stage"]
    if s["posthoc"] != "none":
        return STAGES["posthoc"].get(s["posthoc"])
    return STAGES["train"].get(s["train"])


def _decays(cfg: RunConfig) -> bool:
    """The LR steps down at milestones: the step schedule, and a warm-up that ends before the last epoch."""
    t = cfg["train"]
    return t["schedule"] == "step" and t["warmup_epochs"] < t["epochs"]


def _switch_reads_milestones(cfg: RunConfig) -> bool:
    """Deferred re-balancing without a defer epoch switches on at the first LR milestone (bench/parts/schedules.py),
    whatever the LR does there."""
    m = cfg["method"]
    return m["schedule"] == "deferred" and m["defer_epoch"] is None and _rebalances(cfg)


def _warms_up_throughout(cfg: RunConfig) -> str:
    t = cfg["train"]
    return f"the LR warms up through all {t['epochs']} epochs (train.warmup_epochs {t['warmup_epochs']}), so it " \
           "never decays"


def _no_decay(cfg: RunConfig) -> str:
    if cfg["train"]["schedule"] == "cosine":
        return "train.schedule=cosine decays the LR to 0 without milestones"
    return _warms_up_throughout(cfg)


# a two-stage run's settings: every key of the stage section but which computation it is (and its parent's id)
STAGE_SETTINGS = tuple(key.name for key in KEYS if key.name.startswith("stage.")
                       and key.name not in ("stage.posthoc", "stage.train", "stage.parent"))


def _one_stage(cfg: RunConfig) -> bool:
    return cfg["stage"]["posthoc"] == "none" and cfg["stage"]["train"] == "none"


RULES = (
    Rule(STAGE_SETTINGS, _one_stage,
         lambda c: f"{c['method']['name']} is one-stage: no stage computation reads the stage section"),
    Rule(("stage.reinit_init",), lambda c: not c["stage"]["reinit"],
         lambda c: "stage.reinit=false: stage 2 keeps the parent's classifier, nothing is drawn"),
    Rule(("stage.max_norm_at",), lambda c: c["stage"]["max_norm"] is None,
         lambda c: "stage.max_norm=null: no MaxNorm projection"),
    Rule(IMAGE_LIST_ONLY, lambda c: not image_list(c),
         lambda c: f"{c['dataset']['name']} is held in memory: no image file is decoded, cropped or resized"),
    Rule(IN_MEMORY_ONLY, image_list,
         lambda c: f"{c['dataset']['name']} is a split of image files: no padding crop or rotation"),
    Rule(LIST_FILES, lambda c: bool(c["dataset"].get("file")),
         lambda c: f"{c['dataset']['name']} is a dataset file, which names its own images and splits"),
    Rule(LONG_TAIL_DRAW, lambda c: c["dataset"]["profile"] == "natural",
         lambda c: f"{c['dataset']['name']} keeps its own class counts (dataset.profile=natural): no long-tail draw"),
    Rule(TRAIN_AUGMENT, lambda c: _zeroshot(c), lambda c: f"{c['method']['name']} trains nothing (zero-shot)"),
    Rule(TRAINING, lambda c: _zeroshot(c), lambda c: f"{c['method']['name']} trains nothing (zero-shot)"),
    Rule(TRAIN_AUGMENT, lambda c: _algorithm(c) == "foundation" and not image_list(c),
         lambda c: f"{c['method']['name']} trains on its own view of in-memory images (a random resized crop and "
                   "flip at the model's side, LIFT's)"),
    Rule(("augment.crop_padding", "augment.flip", "augment.rotation", "augment.cutout"),
         lambda c: _traits(c).own_view is not None and not image_list(c),
         lambda c: f"{c['method']['name']} trains on its own view of in-memory images ({_own_view(c)})"),
    Rule(("augment.randaugment_ops", "augment.randaugment_magnitude"),
         lambda c: c["augment"]["policy"] not in RANDAUGMENT,
         lambda c: f"only RandAugment reads them, and augment.policy is {c['augment']['policy']}"),
    Rule(("train.schedule", "train.cosine_offset"), lambda c: c["train"]["warmup_epochs"] >= c["train"]["epochs"],
         _warms_up_throughout),
    Rule(("train.cosine_offset",), lambda c: c["train"]["schedule"] != "cosine",
         lambda c: f"only the cosine schedule reads it, and train.schedule is {c['train']['schedule']}"),
    Rule(("train.lr_decay",), lambda c: not _decays(c), _no_decay),
    Rule(("train.milestones", "train.milestone_fractions"),
         lambda c: not _decays(c) and not _switch_reads_milestones(c),
         lambda c: f"{_no_decay(c)} (and no deferred re-balancing switches on at the first)"),
    Rule(("train.milestone_fractions",), lambda c: c["train"]["milestones"] is not None,
         lambda c: "train.milestones gives the epochs of the LR decays"),
    Rule(("model.weights",), lambda c: _traits(c).own_network,
         lambda c: f"{c['method']['name']} builds its own network and loads no weights into it"),
    Rule(("method.head",), lambda c: _traits(c).head is not None,
         lambda c: f"{c['method']['name']} has its own classifier"),
    Rule(("method.loss", "method.weights"), lambda c: _own_loss(c) is not None, lambda c: str(_own_loss(c))),
    Rule(("train.momentum", "train.nesterov"), lambda c: _traits(c).own_optimizer is not None,
         lambda c: f"{c['method']['name']} trains with {_traits(c).own_optimizer}"),
    Rule(("method.sampler", "method.s", "method.head_init", "method.micro_batch"), _zeroshot,
         lambda c: f"{c['method']['name']} trains nothing (zero-shot: the text classifier at CLIP's own scale)"),
    Rule(("method.peft_dim",), lambda c: _tuning(c) not in (None, "adaptformer", "lora"),
         lambda c: f"method.tuning={_tuning(c)} has no AdaptFormer bottleneck or LoRA rank"),
    Rule(("method.vpt_length",), lambda c: _tuning(c) not in (None, "vpt_shallow", "vpt_deep"),
         lambda c: f"method.tuning={_tuning(c)} has no prompt tokens"),
    Rule(("method.prompts",), lambda c: _tuning(c) not in (None, "zeroshot") and c["method"]["head_init"] == "random",
         lambda c: "method.head_init=random starts the classifier without the prompts"),
    Rule(("method.tte_expand",), lambda c: _tuning(c) is not None and not c["method"]["tte"],
         lambda c: "method.tte=false: no five-crop test-time ensemble"),
    Rule(("method.schedule", "method.defer_epoch"), lambda c: not _rebalances(c),
         lambda c: f"{c['method']['name']} has no class weights in the loss it trains with and the instance "
                   "sampler: nothing acts on the re-balancing switch"),
    Rule(("method.defer_epoch",), lambda c: c["method"]["schedule"] != "deferred",
         lambda c: f"method.defer_epoch is used only by schedule deferred, and {c['method']['name']}'s schedule is "
                   f"{c['method']['schedule']}"),
    Rule(("method.sam_rho",), lambda c: bool(c["method"].get("sam_rho_schedule")),
         lambda c: "method.sam_rho_schedule gives rho per epoch"),
)


def unused_keys(cfg: RunConfig) -> dict[str, str]:
    """{dotted key: why the run does not use it} of a resolved config (RULES)."""
    out: dict[str, str] = {}
    for rule in RULES:
        if rule.when(cfg):
            reason = rule.why(cfg)
            for key in rule.keys:
                out.setdefault(key, reason)
    stage = _stage(cfg)
    if stage is not None:  # the stage keys its computation does not read (Stage.reads: setting one is refused)
        for leaf in STAGE_KEYS:
            if leaf not in stage.reads:
                out.setdefault(f"stage.{leaf}", f"{NOT_READ_BY_STAGE} (stage.{stage.key}={stage.value})")
    if stage is not None and stage.unused is not None:  # what the stage computation declares it does not read
        for key, reason in stage.unused(cfg).items():
            out.setdefault(key, reason)
    for key in _undeclared_params(cfg):
        out.setdefault(f"method.{key}", UNDECLARED)
    return out


# a user's setting of these is refused by PARTS.check (which names the parts that read it) and check_stage
UNDECLARED = "no part of the method reads it"
NOT_READ_BY_STAGE = "the run's stage computation does not read it"


def _undeclared_params(cfg: RunConfig) -> list[str]:
    """The method hyper-parameters (a preset sets them for every method: the iNat preset's max_m) that none of the
    run's parts declares; none where a part is one this bench does not know (a plugin not loaded: read as written).
    A part the run does not use still counts: its parameters may shape the network (a normed head's scale s)."""
    from bench.methods.registry import PARTS

    try:
        chosen = PARTS.chosen(cfg["method"])
    except (KeyError, BenchError):
        return []
    used = {param.key for _, part in chosen for param in part.params}
    return [key for key in PARTS.params if key not in used and key in cfg["method"]]


# Values that make the same run as another value of the key: the run id, the report's variants and its shown
# config take the canonical one (bench.plan.experiment.experiment_part), so both are one run.
def _every(cfg: RunConfig) -> int:
    from bench.algorithms.stage2 import run_train_section

    return min(cfg["eval"]["every"], run_train_section(cfg)["epochs"])  # every >= epochs: the last epoch only


def _head(cfg: RunConfig) -> str:
    """auto where the written head is what auto resolves to; where the loss is not used (and so leaves the id),
    the head auto resolves to, written out."""
    from bench.methods.registry import PARTS

    head, loss = cfg["method"]["head"], PARTS.kinds["loss"].get(cfg["method"]["loss"])
    if loss is None:  # a loss this bench does not know: as written
        return head
    if _own_loss(cfg) is not None:
        return loss.head if head == "auto" else head
    return "auto" if head == loss.head else head


def _weights(cfg: RunConfig) -> object:
    from bench.models.registry import MODELS

    info, spec = MODELS.get(cfg["model"]["name"]), cfg["model"]["weights"]
    return "hub:openai" if spec == "hub" and info is not None and info.clip else spec  # open_clip's default tag


def _eval_split(cfg: RunConfig) -> object:
    from bench.datasets.registry import find

    info, split = find(cfg), cfg["dataset"]["eval_split"]
    return None if info is not None and split == (info.eval_split or "test") else split


ALIASES: dict[str, Callable[[RunConfig], object]] = {
    "eval.every": _every,
    "augment.cutout": lambda c: c["augment"]["cutout"] if c["augment"]["cutout"] < 2
    else c["augment"]["cutout"] // 2 * 2,  # the hole spans 2 * (side // 2) pixels (1: no hole, but its draws)
    "method.head": _head,
    "stage.batch_size": lambda c: None if c["stage"]["batch_size"] == c["train"]["batch_size"]
    else c["stage"]["batch_size"],  # null: train.batch_size
    "model.weights": _weights,
    "dataset.eval_split": _eval_split,
}


def canonical(cfg: RunConfig) -> dict[str, object]:
    """{dotted key: canonical value} of the keys whose value in `cfg` makes the same run as another (ALIASES)."""
    out = {}
    sections: Mapping[str, Any] = cfg
    for key, rule in ALIASES.items():
        section, leaf = key.split(".")
        value = rule(cfg)
        if value != sections[section][leaf]:
            out[key] = value
    return out

