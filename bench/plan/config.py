"""Run configuration: defaults, YAML presets, `--set` overrides, validation.

A run's config is built in layers, later layers winning:

    DEFAULTS < the dataset's recipe preset < the method's parts
             < --preset NAME ... < --config FILE ... < flags (--epochs, ...) < --set KEY=VALUE

Everything is plain data (no torch), so `bench --help` and `bench list` stay fast.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
from pathlib import Path
from typing import cast

import yaml

from bench.algorithms.stage2 import run_train_section
from bench.errors import BenchError, closest
from bench.methods.registry import PARTS, STAGES  # torch-free declarations of every part, stage and key
from bench.parts.part import STAGE_KEYS, Stage, Traits
from bench.parts.schedules import milestones
from bench.plan import schema
from bench.plan.experiment import RUNTIME_KEYS, experiment_part  # noqa: F401 - part of config's interface
from bench.runconfig import RunConfig
from bench.store import yamltext
from bench.store.textfiles import read_text

PRESET_DIR = Path(__file__).resolve().parents[1] / "presets"

# Every key is declared once: the method section beside its parts (bench/parts/part.py), every other
# section in bench/plan/schema.py (default, types, choices, range, doc, source, runtime-only).
DEFAULTS = {"method": PARTS.config_defaults(), **schema.defaults()}
TYPES = {"method.name": (str,), **schema.types()}  # keys whose default (None, a list) says too little
CHOICES = schema.choices()
RANGES = schema.ranges()  # (predicate, phrase) checked after types

# The method section's choices, types and ranges come from the parts' own declarations.
CHOICES.update({f"method.{kind}": tuple(registry) for kind, registry in PARTS.kinds.items()})
# The stage section's computations come from their declarations beside their algorithms (bench/algorithms/).
CHOICES.update({f"stage.{key}": ("none", *registry) for key, registry in STAGES.items()})
for _key, _param in PARTS.params.items():
    if _param.types:
        TYPES[f"method.{_key}"] = _param.types
    if _param.choices:
        CHOICES[f"method.{_key}"] = _param.choices
    if _param.check is not None:
        RANGES[f"method.{_key}"] = (_param.range_ok, _param.phrase)


def flatten(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def default_keys():
    """{dotted key: default value} of DEFAULTS."""
    return flatten(DEFAULTS)


def _allowed_types(key):
    if key in TYPES:
        return TYPES[key]
    default = default_keys()[key]
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, float):
        return (float, int)
    return (type(default),)


def _type_ok(value, types):
    if isinstance(value, bool) and bool not in types:
        return False  # True is an int in Python, never a number here
    return isinstance(value, types)


def _type_name(types):
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
             list: "a list", type(None): "null"}
    return " or ".join(names[t] for t in types if not (t is int and float in types))


def _coerce(value, types):
    """A number where a number is expected: YAML 1.1 reads '1e-4' as a string, and 15 and 15.0 are one value (one
    run id) of a key whose values are real numbers."""
    if isinstance(value, str) and float in types:
        try:
            return float(value)
        except ValueError:
            return value
    if type(value) is int and float in types:
        return float(value)
    return value


NUMBER_LISTS = ("stage.taus", "train.milestone_fractions")  # lists of numbers: '[0, 1e-1, 1]' reads 1e-1 as text


def _coerce_list(value):
    return [_coerce(v, (float,)) for v in value] if isinstance(value, list) else value


RENAMED = {"model.pretrained": "model.weights"}  # old key -> its new name, for one clear error


def set_key(cfg, key, value, source):
    """Set dotted `key` in `cfg`, checking that the key exists."""
    valid = default_keys()
    if key in RENAMED:
        raise BenchError(f"config key {key!r} in {source} is now {RENAMED[key]!r} (the same setting); rename it")
    if key not in valid:
        raise BenchError(
            f"unknown config key {key!r} in {source}{closest(key, valid)}; "
            "run `bench list keys` to see every key"
        )
    node = cfg
    *parents, leaf = key.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value


def merge(cfg, tree, source, origin: dict[str, str] | None = None):
    """Merge a nested mapping (from YAML) into cfg, rejecting unknown keys; `origin` (when given) records `source`
    as where each key's value came from. A section written with nothing under it (`augment:`) sets nothing."""
    if not isinstance(tree, dict):
        raise BenchError(f"{source} must be a YAML mapping of config sections, not {type(tree).__name__}")
    tree = {k: v for k, v in tree.items() if not (v is None and isinstance(DEFAULTS.get(k), dict))}
    for key, value in flatten(tree).items():
        set_key(cfg, key, value, source)
        if origin is not None:
            origin[key] = source


def parse_set(item):
    """'train.lr=0.05' -> ('train.lr', 0.05); values are parsed as YAML scalars/lists."""
    if "=" not in item:
        raise BenchError(f"--set expects KEY=VALUE (e.g. --set train.lr=0.05), got {item!r}")
    key, raw = item.split("=", 1)
    key = key.strip()
    try:
        value = yamltext.load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, dict):
        value = raw  # 'a: b' style strings stay strings
    return key, value


def load_yaml(path, what="config file"):
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"{what} {str(path)!r} does not exist; check the path")
    try:
        data = yamltext.load(read_text(path, what))
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "parse error"
        raise BenchError(f"{what} {str(path)!r} is not valid YAML ({first}); fix the file") from None
    return {} if data is None else data


def preset_names():
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_description(name):
    text = (PRESET_DIR / f"{name}.yaml").read_text()
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def load_preset(name):
    return copy.deepcopy(_read_preset(name))


@functools.cache
def _read_preset(name):
    path = PRESET_DIR / f"{name}.yaml"
    if not isinstance(name, str) or "/" in name or not path.is_file():
        raise BenchError(
            f"unknown preset {name!r}{closest(name, preset_names())}; "
            f"valid presets: {', '.join(preset_names())}"
        )
    return load_yaml(path, "preset")


def check_algorithm(cfg):
    """What the method's algorithm part declares (Part.traits): a precision it cannot run under (no_fp16: why),
    no batch mixing (no_mix: why), a backbone that hosts experts (experts), a fixed number of them."""
    m = cfg["method"]
    part = PARTS.kinds["algorithm"].get(m.get("algorithm", "standard"))
    traits = part.traits if part is not None else Traits()
    if traits.no_fp16 and cfg["train"]["precision"] == "fp16":
        raise BenchError(f"method {m['name']} ({traits.no_fp16}) does not run under train.precision=fp16's "
                         "gradient scaler; use --precision bf16 or fp32")
    if traits.no_mix and m["mix"] != "none":
        raise BenchError(f"method {m['name']} cannot mix batches ({traits.no_mix}); use method.mix=none")
    if traits.one_process and cfg["train"].get("world_size", 1) > 1:
        raise BenchError(f"method {m['name']} trains in one process only ({traits.one_process}); launch it without "
                         "torchrun or a multi-task SLURM profile")
    if traits.per_image_loss and not PARTS.get("loss", m["loss"]).per_image:
        able = [name for name, p in PARTS.kinds["loss"].items() if p.per_image]
        raise BenchError(f"method {m['name']} needs each image's loss ({traits.per_image_loss}), which loss "
                         f"{m['loss']} does not give; use method.loss={' or '.join(able)}")
    if traits.experts:
        check_experts(cfg, traits.fixed_experts)
    from bench.plan.usage import image_list

    if traits.own_view is not None and cfg["augment"]["policy"] not in traits.own_view[1] and not image_list(cfg):
        raise BenchError(f"method {m['name']} trains on its own view of in-memory images ({traits.own_view[0]}), "
                         f"which takes augment.policy={' or '.join(traits.own_view[1])}, not "
                         f"{cfg['augment']['policy']}")
    check_clip(cfg)


def check_clip(cfg):
    """CLIP models are built by the foundation-model methods (their text tower initialises the classifier), and
    those methods adapt only CLIP models."""
    from bench.models.registry import MODELS

    m, name = cfg["method"], cfg["model"]["name"]
    part = PARTS.kinds["algorithm"].get(m.get("algorithm", "standard"))
    foundation = bool(part is not None and part.traits.clip)
    info = MODELS.get(name) if isinstance(name, str) and not name.startswith("timm:") else None
    is_clip = bool(info is not None and info.clip)
    if foundation and not is_clip:
        clips = [n for n, i in MODELS.items() if i.clip]
        raise BenchError(f"method {m['name']} adapts a CLIP model (its text tower initialises the classifier), not "
                         f"{name}; use model.name={' or '.join(clips)}")
    if foundation and m.get("tte") and cfg["loader"]["decode"] == "device":
        raise BenchError(f"method {m['name']} ensembles five crops of each test image (method.tte), which "
                         "loader.decode=device does not draw; use loader.decode=workers or method.tte=false")
    if info is not None and not info.hub_weights and str(cfg["model"]["weights"]).startswith("hub"):
        raise BenchError(f"model {name} is a random-initialised test model with no published weights; set "
                         "model.weights=null")
    if is_clip and not foundation:
        raise BenchError(f"model {name} is the foundation-model track's CLIP; train it with clip_zeroshot, "
                         "linear_probe, full_finetune or lift, or use another model.name")


def check_experts(cfg, fixed):
    from bench.models.registry import MODELS

    m, name = cfg["method"], cfg["model"]["name"]
    if fixed is not None and m["experts"] != fixed:
        raise BenchError(f"method {m['name']} has exactly {fixed} experts, one per loss; remove method.experts")
    hosts = [n for n, info in MODELS.items() if info.experts]
    if name not in hosts:
        raise BenchError(f"method {m['name']} splits its backbone into a shared trunk and {m['experts']} expert "
                         f"branches, which model {name} cannot host; use model.name={' or '.join(hosts)}")
    if cfg["model"].get("weights"):
        raise BenchError(f"method {m['name']} builds its own multi-expert network, into which model.weights "
                         "is not loaded; remove model.weights")


def validate(cfg, user_keys=None):
    """Types, choices, ranges and combinations. `user_keys`: the method keys the user set (config files,
    --set); None: all of them. Presets are recipes: a hyper-parameter they set (the iNat recipe's max_m
    0.3) applies to the methods whose parts use it and is left alone for the others."""
    check_values(cfg)
    check_lists(cfg)
    schema.check_logger_names(cfg["run"]["loggers"])
    check_algorithm(cfg)
    check_combinations(cfg, user_keys)
    return cfg


def check_values(cfg):
    """Every key's value converted to its declared type ('1e-4' typed as text, 100 as a ratio: 100.0) and checked
    against its type, choices and range, in place: run before anything reads a value (the recipe lookup reads the
    imbalance ratio, the shape check the profile)."""
    for key, value in flatten(cfg).items():
        types = _allowed_types(key)
        raw, value = value, _coerce_list(value) if key in NUMBER_LISTS else _coerce(value, types)
        if value is not raw:
            section, leaf = key.split(".")
            cfg[section][leaf] = value
        if not _type_ok(value, types):
            raise BenchError(f"config key {key} must be {_type_name(types)}, got {value!r}")
        if key in CHOICES and value not in CHOICES[key]:
            raise BenchError(
                f"config key {key} must be one of {', '.join(CHOICES[key])}, "
                f"got {value!r}{closest(value, CHOICES[key])}"
            )
        if key in RANGES:
            ok, phrase = RANGES[key]
            if isinstance(value, float) and not math.isfinite(value) or not ok(value):
                raise BenchError(f"config key {key} must be {phrase}, got {value!r}")


def check_lists(cfg):
    """The list-valued keys' elements."""
    ms = cfg["train"]["milestones"]
    if ms is not None and not all(isinstance(m, int) and not isinstance(m, bool) and m >= 0 for m in ms):
        raise BenchError(f"config key train.milestones must be a list of epoch numbers, got {ms!r}")
    fr = cfg["train"]["milestone_fractions"]
    if not all(isinstance(f, (int, float)) and not isinstance(f, bool) and 0 <= f <= 1 for f in fr):
        raise BenchError(f"config key train.milestone_fractions must be numbers in [0, 1], got {fr!r}")
    taus = cfg["stage"]["taus"]
    if taus is not None and (not taus or not all(isinstance(t, (int, float)) and not isinstance(t, bool)
                                                 and math.isfinite(t) and t >= 0 for t in taus)):
        raise BenchError(f"config key stage.taus must be a non-empty list of non-negative numbers (the tau grid), got "
                         f"{taus!r}; e.g. --set 'stage.taus=[0, 0.5, 1]'")
    rewrites = cfg["dataset"]["path_rewrite"]
    if not all(isinstance(r, str) and "=" in r for r in rewrites):
        raise BenchError(f"config key dataset.path_rewrite must be a list of 'old=new' prefixes, got {rewrites!r}")


def check_combinations(cfg, user_keys=None):
    """Options that are each valid but fail (or silently do nothing) together."""
    t, m, a = cfg["train"], cfg["method"], cfg["augment"]
    # a hyper-parameter the user set that no chosen part uses; parts that do not go together
    PARTS.check(m, DEFAULTS["method"], user_keys)
    if t["nesterov"] and t["momentum"] == 0:
        raise BenchError("train.nesterov=true needs train.momentum > 0 (Nesterov momentum without momentum); "
                         "set train.momentum or train.nesterov=false")
    run = run_train_section(cfg)  # a stage-2 child's: the switch and its optimizer follow it
    if run["nesterov"] and run["momentum"] == 0:
        raise BenchError(f"method {m['name']} trains stage 2 with Nesterov momentum, which needs train.momentum > 0 "
                         "(its parent's); remove train.momentum=0")
    if a["image_size"] > a["resize"]:
        raise BenchError(f"augment.image_size {a['image_size']} is larger than augment.resize {a['resize']}: the "
                         "test centre crop would be padded; make image_size at most resize")
    epochs = t["epochs"]
    if t["schedule"] == "step" and t["milestones"] is not None:
        late = [e for e in t["milestones"] if e >= epochs]
        if late:
            raise BenchError(f"train.milestones {t['milestones']} include epoch(s) {late} at or past the last of "
                             f"{epochs} epochs, so that LR decay never happens; set train.milestones below it (or "
                             "give the length with --epochs, which scales a recipe's milestones)")
    if m["schedule"] == "deferred":
        switch = m["defer_epoch"] if m["defer_epoch"] is not None else next(iter(milestones(run)), None)
        if switch is not None and switch >= run["epochs"]:
            raise BenchError(f"method {m['name']} switches re-balancing on at epoch {switch}, at or past the last "
                             f"of {run['epochs']} epochs, so it would train without it; set method.defer_epoch below "
                             "it (or give the length with --epochs, which scales the recipe's schedule)")
    if m["schedule"] == "deferred" and m["defer_epoch"] is None and not milestones(run):
        raise BenchError(f"method {m['name']} switches re-balancing on at the first LR milestone, and train.milestones "
                         "is empty; set train.milestones or method.defer_epoch")
    try:  # the largest rates of the schedule: the base rate and every decayed one
        rates = [t["lr"] * t["lr_decay"] ** k for k in range(len(milestones(t)) + 1)]
    except OverflowError:
        rates = [math.inf]
    if not all(math.isfinite(r) and r > 0 for r in rates):
        raise BenchError(f"train.lr {t['lr']:g} with train.lr_decay {t['lr_decay']:g} gives a learning rate that "
                         "overflows or underflows to 0; use a decay factor in (0, 1]")


def resolve(method, dataset, seed, presets=(), config_files=(), flags=None, sets=(),
            origin: dict[str, str] | None = None) -> RunConfig:
    """Build and validate the full config of one run (every key present and checked: a RunConfig). Raises BenchError
    on bad input. `origin` (when given) is filled with {dotted key: the layer its value came from} for every key a
    layer set (the others are the defaults; bench config prints them)."""
    from bench.datasets.registry import lookup
    from bench.methods.registry import METHODS
    from bench.models.registry import MODELS

    m = METHODS.get_or_fail(method)
    d = lookup(dataset)
    layers = (seed, presets, config_files, flags, sets)
    found: dict[str, str] = {}
    cfg, user_keys, scaled, given = layered(m, d, [], *layers, origin=found)
    try:
        check_values(cfg)  # nothing reads a value before it has its type (a ratio typed "100" is the ratio 100)
        if m.recipes:  # they depend on the ratio the user's layers give
            recipes = recipe_layers(m, d, cfg["dataset"], shared=cfg["run"]["recipe"] == "shared")
            found.clear()
            cfg, user_keys, scaled, given = layered(m, d, recipes, *layers, origin=found)
            check_values(cfg)
        layered_values = copy.deepcopy(flatten(cfg))  # what the layers gave: the checks below may settle a value
        check_dataset_shape(cfg, d)
        check_used(cfg, given)  # before the combination checks: the reason a key changes nothing comes first
        validate(cfg, user_keys)
    except BenchError as exc:
        if not scaled:
            raise
        raise BenchError(f"{exc} ({'; '.join(scaled)})") from None  # say what the user wrote, not only its scaling
    check_selection(cfg, d)
    check_stage(cfg, m, user_keys)
    MODELS.get_or_fail(cfg["model"]["name"])
    if origin is not None:
        origin.update(found)
        origin.update({key: "bench's checks (the dataset's split, the selection rule)" for key, value in
                       flatten(cfg).items() if key in layered_values and value != layered_values[key]})
    return cast(RunConfig, cfg)


def check_used(cfg, given):
    """A key the user set that the run does not use (bench/plan/usage.py) would change its id and nothing else: refused,
    saying why. A two-stage child's keys outside its method and stage sections also reach its parent, which may use
    them (the child's id follows the parent's): they are left to the parent's check."""
    from bench.plan.usage import NOT_READ_BY_STAGE, UNDECLARED, unused_keys

    defaults = default_keys()
    for key, why in unused_keys(cfg).items():
        section, leaf = key.split(".")
        if key not in given or cfg[section][leaf] == defaults[key]:
            continue
        if stage_kind(cfg) is not None and section not in CHILD_SECTIONS:
            continue
        if stage_kind(cfg) is None and section == "stage" or why == UNDECLARED or why.startswith(NOT_READ_BY_STAGE):
            continue  # check_stage names the methods that read them, PARTS.check the parts
        raise BenchError(f"{key}={cfg[section][leaf]} would change nothing in {cfg['method']['name']} on "
                         f"{cfg['dataset']['name']} ({why}) but the run id; remove it")


def recipe_layers(m, d, dataset_section, shared=False) -> list:
    """The method's authors' recipes that apply to dataset `d`, most general first: [(source, tree)] for its
    recipe preset's key (e.g. cifar_lt), the dataset's name (cifar100_lt) and, on the exp profile, the
    dataset at its imbalance ratio (cifar100_lt@100, the ratio read from `dataset_section`). `shared`
    (run.recipe=shared): the preset's key only, what a method needs to run at all there (its network, views,
    stage-2 settings), without the per-dataset and per-ratio schedules."""
    keys = m.recipe_keys(d.recipe, d.recipe if shared else d.recipe_name)
    ratio = dataset_section["imbalance_ratio"]
    if not shared and dataset_section["profile"] == "exp" and isinstance(ratio, (int, float)) \
            and not isinstance(ratio, bool):
        keys.append(f"{d.recipe_name}@{ratio:g}")
    return [(f"the authors' recipe of {m.name} for {key.replace('@', ' at ratio ')}", m.recipes[key]) for key in keys
            if key in m.recipes]


def layered(m, d, recipes, seed, presets, config_files, flags, sets, origin: dict[str, str] | None = None):
    """The config's layers merged in order (module docstring), the method's recipes after its parts: (cfg, the
    method keys the user set in config files and --set, what --epochs rescaled: scale_schedule, every dotted key
    the user set there). `origin`: filled with the layer each key's value came from (merge)."""
    cfg = copy.deepcopy(DEFAULTS)
    merge(cfg, load_preset(d.recipe), f"dataset preset {d.recipe!r}", origin)
    if d.file:  # a dataset YAML file: its own values, and where it is (bench/datasets/custom/declare.py)
        merge(cfg, d.layer, f"dataset file {d.file} ({d.why})", origin)
        cfg["dataset"]["file"], cfg["dataset"]["fingerprint"] = d.file, d.fingerprint
        if origin is not None:
            origin["dataset.file"] = origin["dataset.fingerprint"] = "--datasets (the dataset file and its data)"
    merge(cfg, {"method": dict(m.parts), "stage": dict(m.stage), "train": dict(m.train)}, f"method {m.name!r}",
          origin)
    for source, tree in recipes:
        merge(cfg, tree, source, origin)
    cfg["method"]["name"] = m.name
    cfg["dataset"]["name"] = d.name
    cfg["train"]["seed"] = seed
    for name in presets:
        merge(cfg, load_preset(name), f"preset {name!r}", origin)
    user_keys: set[str] = set()  # method keys of config files and --set: refused where no part of the method uses them
    given: set[str] = set()  # every dotted key of config files and --set: refused where the run does not use it
    for source, tree in read_config_files(config_files):
        merge(cfg, tree, source, origin)
        given.update(flatten(tree) if isinstance(tree, dict) else ())
        user_keys.update(k.split(".", 1)[1] for k in flatten(tree)
                         if isinstance(tree, dict) and k.startswith("method."))
        if isinstance(tree, dict) and isinstance(tree.get("dataset"), dict) and \
                {"file", "fingerprint"} & set(tree["dataset"]):
            raise BenchError(f"dataset.file and dataset.fingerprint in {source} are set by --datasets (a dataset "
                             "YAML file, or a name bench data add recorded); remove them")
        if isinstance(tree, dict) and "world_size" in (tree.get("train") or {}):
            raise BenchError(f"train.world_size in {source} is set by how a run is launched (torchrun, a SLURM "
                             "profile's tasks_per_job), not by a config file; remove it")
    scaled = apply_flags(cfg, flags, origin)
    for item in sets:
        key, value = parse_set(item)
        if key in ("method.name", "dataset.name", "train.seed", "stage.parent", "train.world_size", "dataset.file",
                   "dataset.fingerprint"):
            raise BenchError(f"set {key} with --methods / --datasets / --seeds, not --set (a two-stage method's parent "
                             "run is planned for you; the world size is how the run is launched: torchrun, a SLURM "
                             "profile's tasks_per_job)")
        set_key(cfg, key, value, f"--set {item}")
        if origin is not None:
            origin[key] = f"--set {item}"
        given.add(key)
        if key.startswith("method."):
            user_keys.add(key.split(".", 1)[1])
    return cfg, user_keys, scaled, given


FLAG_NAMES = {"train.epochs": "--epochs", "dataset.root": "--data-root", "run.device": "--device",
              "train.precision": "--precision", "run.compile": "--compile", "run.progress": "--no-progress",
              "run.loggers": "--logger", "train.world_size": "how the run is launched"}


def apply_flags(cfg, flags, origin: dict[str, str] | None = None) -> list:
    """Command-line flags (--epochs, ...); --epochs scales the recipe's schedule to the new length. Returns what
    the scaling changed (scale_schedule)."""
    epochs_before = cfg["train"]["epochs"]
    for key, value in (flags or {}).items():
        if value is not None:
            set_key(cfg, key, value, "command-line flags")
            if origin is not None:
                origin[key] = FLAG_NAMES.get(key, "command-line flags")
    if (flags or {}).get("train.epochs") is None:
        return []
    before = copy.deepcopy(flatten(cfg))
    scaled = scale_schedule(cfg, epochs_before)
    if origin is not None:
        origin.update({key: f"--epochs {cfg['train']['epochs']} (rescaled from {epochs_before} epochs)"
                       for key, value in flatten(cfg).items() if value != before[key]})
    return scaled


def check_dataset_shape(cfg, d):
    """A natural split takes no synthetic long-tail options; a synthetic one needs them."""
    dataset = d.name
    if d.either and cfg["dataset"]["profile"] == "natural":  # a dataset file's own counts
        if cfg["dataset"]["imbalance_ratio"] == d.layer["dataset"]["imbalance_ratio"]:  # the file's long_tail:
            cfg["dataset"]["imbalance_ratio"] = None  # ratio, which its own counts do not read
        if cfg["dataset"]["imbalance_ratio"] is not None:
            raise BenchError(f"{dataset} keeps its own class counts (dataset.profile=natural), so "
                             "dataset.imbalance_ratio does not apply; set dataset.profile=exp or step with it")
    elif d.either:
        if cfg["dataset"]["imbalance_ratio"] is None:
            raise BenchError(f"a long-tail draw from {dataset} (dataset.profile={cfg['dataset']['profile']}) needs "
                             "dataset.imbalance_ratio")
    elif d.natural:  # a fixed published split: the synthetic long-tail options do not apply (their defaults, or the
        # values this check settles, as a resolved config holds them: bench config's output, a run's config.yaml)
        ratio = cfg["dataset"]["imbalance_ratio"]
        if cfg["dataset"]["profile"] not in ("exp", "natural") or ratio not in (100.0, None):
            raise BenchError(f"{dataset} has a fixed long-tailed split; dataset.profile and "
                             "dataset.imbalance_ratio do not apply to it")
        cfg["dataset"]["profile"], cfg["dataset"]["imbalance_ratio"] = "natural", None
    elif cfg["dataset"]["profile"] == "natural" or cfg["dataset"]["imbalance_ratio"] is None:
        raise BenchError(f"{dataset} is made long-tailed by bench: dataset.profile must be exp or step and "
                         "dataset.imbalance_ratio a number")
    elif cfg["dataset"]["eval_split"] not in (None, "test"):
        raise BenchError(f"{dataset} is evaluated on its test set; dataset.eval_split applies to imagenet_lt, "
                         "places_lt and inat2018")


def read_config_files(config_files):
    """[(source, tree)] of --config files; an entry may already be a (source, tree) pair (a parent's
    config files without the child's method and stage sections: bench.run.runner)."""
    out = []
    for entry in config_files:
        if isinstance(entry, tuple):
            out.append(entry)
        else:
            out.append((f"config file {str(entry)!r}", load_yaml(entry)))
    return out


CHILD_SECTIONS = ("method", "stage")  # a two-stage method's own settings: never its parent's


def parent_config_files(config_files):
    """The config files as a two-stage method's parent reads them: without the child's method and stage
    sections (as --set method.* / stage.* items are not passed to a parent)."""
    out = []
    for source, tree in read_config_files(config_files):
        if isinstance(tree, dict):
            tree = {k: v for k, v in tree.items() if k not in CHILD_SECTIONS}
        out.append((f"{source} (its method and stage keys left to the child)", tree))
    return out


def stage_kind(cfg):
    """What a run's stage section makes it: "posthoc" (computed from its parent's files), "train" (stage 2
    trained on its parent's weights) or None (a one-stage run)."""
    s = cfg["stage"]
    return "posthoc" if s["posthoc"] != "none" else "train" if s["train"] != "none" else None


def distils_parent(name: str) -> bool:
    """Method `name` trains in one stage with its parent run as a frozen teacher (DeiT-LT), rather than a stage-2
    computation on the parent's weights or files."""
    from bench.methods.registry import METHODS

    part = PARTS.kinds["algorithm"].get(METHODS[name].parts.get("algorithm", "standard"))
    return bool(METHODS[name].parent) and part is not None and part.traits.distils_parent


def two_stage_methods():
    from bench.methods.registry import METHODS

    return [name for name in METHODS if METHODS[name].parent and not distils_parent(name)]


def check_stage(cfg, method, user_keys=frozenset()):
    """A two-stage method either computes a post-hoc rule or trains something in stage 2, sensibly."""
    s = cfg["stage"]
    part = PARTS.kinds["algorithm"].get(cfg["method"].get("algorithm", "standard"))
    if not method.parent or (part is not None and part.traits.distils_parent):
        changed = sorted(f"stage.{k}" for k, v in s.items() if v != DEFAULTS["stage"][k] and k != "parent")
        if changed:
            raise BenchError(f"{', '.join(changed)} apply to two-stage methods ({', '.join(two_stage_methods())}); "
                             f"{method.name} is trained in one stage, so they would change nothing but the run id: "
                             "remove them")
        return
    if s["posthoc"] != "none" and s["train"] != "none":
        raise BenchError(f"{method.name}: stage.posthoc={s['posthoc']} computes its result without training, so "
                         f"stage.train={s['train']} cannot apply; set one of them to none")
    if s["posthoc"] == "none" and s["train"] == "none":
        raise BenchError(f"{method.name}: stage.train=none freezes everything, so stage 2 would learn nothing; use "
                         "stage.train=classifier, scales or classifier_and_scales (or a post-hoc method)")
    check_stage_identity(cfg, method)
    if s["posthoc"] == "none" and s["taus"] is not None:
        raise BenchError(f"stage.taus is the tau grid of post-hoc methods (la_posthoc, tau_norm); {method.name} "
                         "trains in stage 2: remove it")
    if s["reinit"] and s["train"] == "scales":
        raise BenchError(f"{method.name}: stage.reinit=true with stage.train=scales would leave a random, frozen "
                         "classifier; train the classifier (stage.train=classifier) or keep the parent's "
                         "(stage.reinit=false)")
    if s["max_norm"] is not None and s["train"] == "scales":
        raise BenchError(f"{method.name}: stage.max_norm caps the rows of the classifier, which stage.train=scales "
                         "does not train; remove stage.max_norm or train the classifier")
    check_stage_keys_used(cfg, method, user_keys)
    stage = stage_of(cfg)
    if stage.reads_parent_logits and cfg["eval"]["save_logits"] == "never":
        raise BenchError(f"{method.name} is computed from its parent's saved logits, and eval.save_logits=never "
                         "keeps none; remove eval.save_logits (auto keeps them for a post-hoc child)")
    if s["start"] == "best_val" and cfg["eval"]["selection"] != "best_val":
        raise BenchError("stage.start=best_val starts stage 2 from the parent's epoch best on the validation split; "
                         "add --set eval.selection=best_val (the parent run is then trained with that split)")
    if stage.needs_validation and cfg["eval"]["selection"] != "best_val":
        raise BenchError(f"{stage.needs_validation}; add --set eval.selection=best_val (the parent run is then trained "
                         "with the same split)")


def check_stage_identity(cfg, method):
    """stage.posthoc and a router's stage.train say what a two-stage method is (tau_norm computing LA's rule would
    be la_posthoc under another name, with another run id): only the method's own value; the trained stage-2 kinds
    (classifier, scales, both) stay settings of the methods that train one."""
    from bench.methods.registry import METHODS

    s, name = cfg["stage"], method.name
    own = {k: method.stage.get(k, DEFAULTS["stage"][k]) for k in ("posthoc", "train")}

    def interchangeable(key: str, value: str) -> bool:
        return value in STAGES[key] and STAGES[key][value].interchangeable

    for key in ("posthoc", "train"):
        if s[key] == own[key] or (interchangeable(key, s[key]) and interchangeable(key, own[key])):
            continue
        others = [m for m in two_stage_methods() if METHODS[m].stage.get(key) == s[key]]
        instead = f"use method {others[0]} (--methods {others[0]})" if others else f"remove stage.{key}"
        raise BenchError(f"stage.{key}={s[key]} would make {name} (stage.{key}={own[key]}) another method under its "
                         f"name; {instead}")


def stage_of(cfg: dict) -> Stage:
    """The stage computation a two-stage run's stage section names (bench/algorithms/: its declared Stage)."""
    s = cfg["stage"]
    key = "posthoc" if s["posthoc"] != "none" else "train"
    return STAGES[key][s[key]]


def check_stage_keys_used(cfg, method, user_keys):
    """Settings a two-stage method never reads are refused, as for one-stage methods: a post-hoc child trains
    nothing (no method part, no stage-2 recipe); stage 2 on the scales alone has no classifier LR; a MaxNorm
    step without a cap does nothing. Each would only change the run id and the report's label."""
    s, name = cfg["stage"], method.name
    if s["posthoc"] != "none" and user_keys:
        keys = ", ".join(f"method.{k}" for k in sorted(user_keys))
        raise BenchError(f"{name} is computed from its {method.parent} parent's logits without training, so "
                         f"{keys} would change nothing but the run id; remove it (the parent is always "
                         f"{method.parent} as its recipe has it)")
    reads = set(stage_of(cfg).reads)
    if s["max_norm"] is None:  # no cap: nothing to apply at any time
        reads.discard("max_norm_at")
    if not s["reinit"]:  # the parent's classifier kept: no draw
        reads.discard("reinit_init")
    unused = [k for k in STAGE_KEYS if k not in reads and s[k] != DEFAULTS["stage"][k]]
    if unused:
        keys = ", ".join(f"stage.{k}" for k in unused)
        raise BenchError(f"{keys} would change nothing in {name} (stage.posthoc={s['posthoc']}, stage.train="
                         f"{s['train']}, stage.max_norm={s['max_norm']}) but the run id; remove it")


def check_selection(cfg, info):
    """eval.selection=best_val needs a validation protocol that leaves the reported images alone."""
    if cfg["eval"]["selection"] != "best_val":
        return
    if not info.selection:
        raise BenchError(f"{info.name} has no validation protocol, so eval.selection=best_val cannot choose on "
                         "images it does not report; use eval.selection=last (or best_test, labelled as such)")
    if info.selection == "official" and (cfg["dataset"]["eval_split"] or info.eval_split) == "val":
        raise BenchError(f"eval.selection=best_val selects on {info.name}'s val list, so it cannot also be the "
                         "reported split; use dataset.eval_split=test")


def scale_schedule(cfg, epochs_before) -> list:
    """--epochs E: explicit milestones and defer epoch of a recipe scale from its epochs to E
    (int(m * E / epochs), as fractions do), so a shorter run still decays and still defers. Returns what changed,
    as phrases naming the value written ("--epochs 100 rescaled train.milestones [250], written for 200 epochs,
    to [125]"), for an error about them to say."""
    t, m = cfg["train"], cfg["method"]
    new = t["epochs"]
    if not isinstance(new, int) or isinstance(new, bool) or new < 1 or not isinstance(epochs_before, int) \
            or epochs_before == new or epochs_before < 1:
        return []  # validate() reports a bad value
    written = {"train.milestones": t["milestones"], "method.defer_epoch": m["defer_epoch"],
               "method.sam_rho_schedule": m.get("sam_rho_schedule")}
    if isinstance(t["milestones"], list) and all(isinstance(e, int) for e in t["milestones"]):
        t["milestones"] = [int(e * new / epochs_before) for e in t["milestones"]]
    if isinstance(m["defer_epoch"], int) and not isinstance(m["defer_epoch"], bool):
        m["defer_epoch"] = int(m["defer_epoch"] * new / epochs_before)
    rho = m.get("sam_rho_schedule")
    if isinstance(rho, list) and all(isinstance(step, list) and len(step) == 2 and type(step[0]) is int
                                     for step in rho):  # SAM's rho steps move with the LR's milestones
        m["sam_rho_schedule"] = [[int(e * new / epochs_before), r] for e, r in rho]
    now = {"train.milestones": t["milestones"], "method.defer_epoch": m["defer_epoch"],
           "method.sam_rho_schedule": m.get("sam_rho_schedule")}
    return [f"--epochs {new} rescaled {k} {written[k]}, written for {epochs_before} epochs, to {now[k]}"
            for k in written if now[k] != written[k]]


def config_hash(cfg):
    """Short hash of the experiment: the keys whose values differ from DEFAULTS (plus method and dataset).

    Hashing only the differences keeps run ids stable when a later version adds a config key
    with a default; changing an existing default is therefore a breaking change.
    """
    from bench.plan.usage import unused_keys

    defaults = default_keys()
    exp = flatten(experiment_part(cfg))
    try:
        unused = unused_keys(cfg)  # keys a preset, flag or recipe set that change nothing: not in the id
    except (KeyError, TypeError, BenchError):  # not a whole config, or a part of a plugin not loaded
        unused = {}
    diff = {k: v for k, v in exp.items() if (k not in defaults or defaults[k] != v) and k not in unused
            or k in ("method.name", "dataset.name", "train.seed")}
    for kind, registry in PARTS.kinds.items():  # a part whose computation changed since its first version
        part = registry.get(str(cfg.get("method", {}).get(kind)))
        if part is not None and part.revision > 1:
            diff[f"revision.{kind}"] = part.revision
    text = json.dumps(diff, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


