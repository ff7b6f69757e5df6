"""Every config key outside the `method` section, declared once: default, types, choices or range, one line of
doc, where the default comes from, and whether it is runtime-only (how a run executes, not what it computes:
outside the run id). bench.plan.config derives DEFAULTS, TYPES, CHOICES and RANGES from here, bench.plan.experiment the
runtime keys, `bench list keys` the listing. The `method` section is declared beside its parts
(bench/parts/part.py). Rules between keys stay named checks in bench.plan.config.validate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError, closest
from bench.parts.search import Search

NONE = type(None)


@dataclass(frozen=True)
class Key:
    name: str  # "section.key"
    default: Any
    doc: str
    types: tuple = ()  # () = from the default (a float accepts ints); spell out for None / list defaults
    choices: tuple = ()
    check: Callable | None = None  # predicate on a value of the right type
    phrase: str = ""  # what `check` requires, for the error message
    source: str = ""  # where the default comes from (paper, config file), "" for bench's own choice
    runtime: bool = False  # how the run executes, not what it computes: outside the run id
    search: Search | None = None  # how `bench tune` draws it (bench/parts/search.py); None: not tuned


def _positive(v):
    return v > 0


def _non_negative(v):
    return v >= 0


def _between(low, high):
    return lambda v: low <= v <= high


EPOCHS = (_between(1, 10**6), "at least 1 (and at most 1000000)")
BATCH = (_between(1, 2**20), "at least 1 (and at most 1048576)")
SIZE = (_between(1, 4096), "at least 1 (and at most 4096)")
# `bench tune` searches the optimiser around the recipe's values (bench's choice; DomainBed searches the learning
# rate over a factor of 30 and the weight decay over 10^4 for every algorithm alike)
LR_SEARCH = Search("log", 1 / 3, 3.0, relative=True)
WD_SEARCH = Search("log", 0.1, 10.0, relative=True)

KEYS = (
    # ------------------------------------------------------------------ dataset
    Key("dataset.name", None, "the dataset (bench list datasets)", types=(str,)),
    Key("dataset.file", None, "a dataset declared in a YAML file: the file (set by --datasets FILE or a name recorded "
        "by bench data add)", types=(str, NONE), runtime=True),
    Key("dataset.fingerprint", None, "a dataset declared in a YAML file: the sha256 of its images, labels and splits "
        "(set from the data; a run refuses other data)", types=(str, NONE)),
    Key("dataset.root", None, "the data root; null: $BENCH_DATA, else ./data", types=(str, NONE), runtime=True),
    Key("dataset.imbalance_ratio", 100.0, "n_max / n_min of the long-tailed subset (null for natural splits)",
        types=(float, int, NONE), check=lambda v: v is None or v >= 1, phrase="at least 1",
        source="Cao et al. 2019, Sec. 4.1 (CIFAR-LT ratios 100 and 10)"),
    Key("dataset.profile", "exp", "exp or step subset profile; natural for published splits",
        choices=("exp", "step", "natural"), source="Cao et al. 2019, Sec. 4.1"),
    Key("dataset.data_seed", 0, "seed of the long-tailed subset (the same for every training seed)",
        check=_between(0, 2**32 - 1), phrase="between 0 and 2**32-1"),
    Key("dataset.verify", True, "check the published md5 before unpickling CIFAR files", runtime=True),
    Key("dataset.download", True, "download CIFAR / Fashion-MNIST through torchvision when absent", runtime=True),
    Key("dataset.image_root", None, "image-list datasets: the folder list paths start from; null: the default",
        types=(str, NONE)),
    Key("dataset.split_dir", None, "image-list datasets: the split lists' folder; null: the default",
        types=(str, NONE)),
    Key("dataset.eval_split", None, "test or val; null: the dataset's default (val for iNaturalist)",
        types=(str, NONE), choices=(None, "test", "val")),
    Key("dataset.path_rewrite", [], "list path prefixes rewritten, 'old=new', first match wins", types=(list,)),
    Key("dataset.check_split", True, "compare the lists with the published line counts and hashes",
        runtime=True),
    # ------------------------------------------------------------------ augment
    Key("augment.crop_padding", 4, "in-memory datasets: RandomCrop padding", check=_between(0, 64),
        phrase="non-negative (and at most 64)", source="Cao et al. 2019 code (RandomCrop(32, padding=4))"),
    Key("augment.flip", True, "random horizontal flip", source="Cao et al. 2019 code"),
    Key("augment.image_size", 224, "image-list datasets: the training crop and test crop size", check=SIZE[0],
        phrase=SIZE[1]),
    Key("augment.resize", 256, "image-list datasets: the shorter side before the test centre crop",
        check=SIZE[0], phrase=SIZE[1]),
    Key("augment.color_jitter", 0.0, "ColorJitter brightness/contrast/saturation strength (0: none)",
        check=_non_negative, phrase="non-negative"),
    Key("augment.train_crop", "random_resized", "random_resized: RandomResizedCrop (Decoupling); resize_random: "
        "Resize + RandomCrop (LDAM-DRW paper, App. B)", choices=("random_resized", "resize_random")),
    Key("augment.rotation", 0.0, "in-memory datasets: RandomRotation degrees after the flip (0: none)",
        check=_between(0, 180), phrase="from 0 to 180",
        source="RIDE / SADE CIFAR recipes use 15 (RandomRotation(15))"),
    Key("augment.policy", "none", "per-image policy after crop and flip: AutoAugment (CIFAR-10 or ImageNet "
        "policy) or RandAugment, torchvision's operations and distributions; timm_randaugment: timm's "
        "rand-n{ops}-m{magnitude}-mstd0.5 (PaCo's and BCL's large-dataset recipes); timm_randaugment_inc: its "
        "-inc1 variant with bicubic interpolation (DeiT's rand-m9-mstd0.5-inc1)",
        choices=("none", "autoaugment_cifar", "autoaugment_imagenet", "randaugment", "timm_randaugment",
                 "timm_randaugment_inc")),
    Key("augment.randaugment_ops", 2, "RandAugment: operations per image", check=_between(1, 14),
        phrase="from 1 to 14", source="torchvision RandAugment (num_ops=2)"),
    Key("augment.randaugment_magnitude", 9, "RandAugment: magnitude bin of every operation", check=_between(0, 30),
        phrase="from 0 to 30", source="torchvision RandAugment (magnitude=9)"),
    Key("augment.cutout", 0, "Cutout: side of one square hole per image, set to black before normalisation (0: "
        "none)", check=_between(0, 1024), phrase="from 0 to 1024",
        source="DeVries & Taylor 2017 (16 on CIFAR; uoguelph-mlrg/Cutout)"),
    Key("augment.normalize", "auto", "normalisation statistics: the dataset's (auto), imagenet or inat2018",
        choices=("auto", "imagenet", "inat2018")),
    # ------------------------------------------------------------------ loader (image lists)
    Key("loader.workers", "auto", "decoding worker processes; auto: the CPUs this process may use",
        types=(int, str), check=lambda v: v == "auto" if isinstance(v, str) else 0 <= v <= 256,
        phrase="auto or a number of processes from 0 to 256", runtime=True),
    Key("loader.pin_memory", True, "pinned host memory for batches (CUDA)", runtime=True),
    Key("loader.decode", "workers", "workers: libjpeg-turbo in the workers; device: decode on the run's device",
        choices=("workers", "device")),
    Key("loader.reduced_decode", True, "decode JPEGs at 1/2, 1/4, 1/8 size where the crop keeps enough pixels"),
    # ------------------------------------------------------------------ model
    Key("model.name", "resnet32", "the backbone (bench list models)", source="Cao et al. 2019 (CIFAR ResNet-32)"),
    Key("model.weights", None, "pretrained weights: null (random initialisation), a local file (.safetensors or "
        "a state_dict, read without unpickling code; sha256 in result.json) or hub[:TAG] (open_clip's pretrained "
        "tag, e.g. hub:openai; timm's default weights with hub), downloaded on a machine with internet access",
        types=(str, NONE)),
    # ------------------------------------------------------------------ train
    Key("train.epochs", 200, "epochs", check=EPOCHS[0], phrase=EPOCHS[1], source="Cao et al. 2019, App. B"),
    Key("train.batch_size", 128, "training batch (global, split over DDP processes)", check=BATCH[0],
        phrase=BATCH[1], source="Cao et al. 2019, App. B"),
    Key("train.lr", 0.1, "base learning rate", check=_positive, phrase="positive", source="Cao et al. 2019, App. B",
        search=LR_SEARCH),
    Key("train.momentum", 0.9, "SGD momentum", check=_non_negative, phrase="non-negative",
        source="Cao et al. 2019, App. B"),
    Key("train.nesterov", False, "Nesterov momentum"),
    Key("train.weight_decay", 2e-4, "weight decay", check=_non_negative, phrase="non-negative", search=WD_SEARCH,
        source="Cao et al. 2019, App. B"),
    Key("train.warmup_epochs", 5, "linear warm-up epochs", check=_between(0, 10**6),
        phrase="non-negative (and at most 1000000)", source="Cao et al. 2019, App. B (Goyal et al. warm-up)"),
    Key("train.milestones", None, "epochs (0-based) of the LR decays; null: milestone_fractions x epochs",
        types=(list, NONE)),
    Key("train.milestone_fractions", [0.8, 0.9], "LR decays at these fractions of the epochs", types=(list,),
        source="Cao et al. 2019, App. B (epochs 160 and 180 of 200)"),
    Key("train.lr_decay", 0.01, "LR factor at every milestone", check=_positive, phrase="positive",
        source="Cao et al. 2019 code (0.1 -> 1e-3 -> 1e-5)"),
    Key("train.schedule", "step", "step (milestones) or cosine (after warm-up, per epoch, to 0)",
        choices=("step", "cosine")),
    Key("train.drop_last", False, "train on full batches only: an epoch leaves out the images past the last full "
        "batch of its order (a DataLoader's drop_last; Balanced Softmax's and PaCo's CIFAR loops)"),
    Key("train.cosine_offset", 0, "the cosine schedule's offset k: epoch e (0-based) past W warm-up epochs of E "
        "trains at lr x 0.5 (1 + cos(pi (e - W + k) / (E - W + k))); 0 starts at the peak and ends near 0, 1 is "
        "PaCo's and BCL's (one step on: never the peak, never 0)", choices=(0, 1),
        source="dvlab-research/Parametric-Contrastive-Learning PaCo/LT/paco_lt.py adjust_learning_rate; "
               "FlamieZhu/Balanced-Contrastive-Learning main.py adjust_learning_rate"),
    Key("train.precision", "fp32", "fp32, bf16 (autocast) or fp16 (autocast + gradient scaler, CUDA)",
        choices=("fp32", "bf16", "fp16")),
    Key("train.seed", 0, "training seed", check=_between(0, 2**63 - 1), phrase="a non-negative integer"),
    Key("train.world_size", 1, "processes one run trains on; set from how the run is launched, never by hand",
        check=_between(1, 65536), phrase="at least 1"),
    # ------------------------------------------------------------------ eval
    Key("eval.every", 1, "evaluate every N epochs (and at the last)", check=lambda v: v >= 1, phrase="at least 1"),
    Key("eval.batch_size", 1000, "evaluation batch", check=BATCH[0], phrase=BATCH[1]),
    Key("eval.many_above", 100, "many-shot: more training images than this", check=_non_negative,
        phrase="non-negative", source="Liu et al. 2019 (OLTR) shot groups"),
    Key("eval.few_below", 20, "few-shot: fewer training images than this", check=_non_negative,
        phrase="non-negative", source="Liu et al. 2019 (OLTR) shot groups"),
    Key("eval.selection", "last", "which epoch a run reports: last, best_test (optimistic, labelled) or best_val",
        choices=("last", "best_test", "best_val")),
    Key("eval.save_logits", "auto", "final logits in logits.npz: auto (up to 64M numbers), always, never",
        choices=("auto", "always", "never"), runtime=True),
    # ------------------------------------------------------------------ stage (two-stage methods)
    Key("stage.parent", None, "a two-stage run's parent run id (set by the planner)", types=(str, NONE)),
    Key("stage.posthoc", "none", "computed from the finished parent without training it: none, la, tau_norm (rules on "
        "its logits), sade_aggregation (SADE's expert weights on the unlabelled test images); the choices are the "
        "stage computations bench/algorithms/ declares (STAGES)"),
    Key("stage.taus", None, "the tau grid; null: the rule's declared grid", types=(list, NONE)),
    Key("stage.train", "none", "what stage 2 trains: none, classifier, scales, classifier_and_scales, router (RIDE); "
        "the choices are the stage computations bench/algorithms/ declares (STAGES)"),
    Key("stage.reinit", False, "re-initialise the classifier before stage 2 (cRT)"),
    Key("stage.reinit_init", "kaiming", "the re-initialised classifier's draw: kaiming (Kaiming-normal weights, "
        "bench's linear head) or pytorch (nn.Linear's own default, as classifier-balancing's "
        "DotProductClassifier)", choices=("kaiming", "pytorch")),
    Key("stage.bn", "frozen", "the frozen backbone's BN statistics: frozen (eval mode) or update",
        choices=("frozen", "update")),
    Key("stage.start", "last", "the parent's weights stage 2 starts from: last (its final epoch) or best_val (its "
        "epoch best on the validation split, kept in best.pt; needs eval.selection=best_val)",
        choices=("last", "best_val"), source="classifier-balancing run_networks.py (loads the best model)"),
    Key("stage.epochs", 10, "stage-2 epochs", check=EPOCHS[0], phrase=EPOCHS[1],
        source="classifier-balancing config/ImageNet_LT/cls_crt.yaml"),
    Key("stage.lr", 0.2, "stage-2 LR (cosine to 0, no warm-up)", check=_positive, phrase="positive", search=LR_SEARCH,
        source="classifier-balancing config/ImageNet_LT/cls_crt.yaml"),
    Key("stage.weight_decay", 5e-4, "stage-2 weight decay", check=_non_negative, phrase="non-negative",
        search=WD_SEARCH,
        source="classifier-balancing config/ImageNet_LT/cls_crt.yaml"),
    Key("stage.batch_size", None, "stage-2 batch; null: train.batch_size", types=(int, NONE),
        check=lambda v: v is None or 1 <= v <= 2**20, phrase=BATCH[1]),
    Key("stage.classifier_lr_factor", 1.0, "the classifier's LR factor when scales train too",
        check=_positive, phrase="positive"),
    Key("stage.max_norm", None, "MaxNorm cap between the smallest (0) and largest (1) parent row norm",
        types=(float, int, NONE), check=lambda v: v is None or 0 <= v <= 1,
        phrase="in [0, 1] (the cap between the smallest and the largest row norm of the parent's classifier)"),
    Key("stage.max_norm_at", "step", "project MaxNorm after every step or every epoch", choices=("step", "epoch")),
    Key("stage.disalign_form", "code", "DisAlign's calibration of the frozen head's logits z with the gate s = "
        "sigmoid(v.x + c): code, (1 + s scale) z + s bias, the official classification layer (scale from 1, v from "
        "0.1); paper, s (scale z + bias) + (1 - s) z, the paper's and the detection head's (scale from 1, v ~ N(0, "
        "0.01), c 0)",
        choices=("code", "paper"),
        source="Megvii-BaseDetection/cvpods cvpods/layers/wrappers.py DisAlignLinear; "
               "cvpods/modeling/roi_heads/disalign_fast_rcnn.py"),
    # ------------------------------------------------------------------ run (how it executes)
    Key("run.device", "auto", "auto, cpu, cuda or cuda:N", runtime=True),
    Key("run.progress", True, "progress bars and lines", runtime=True),
    Key("run.channels_last", True, "NHWC convolutions (faster on CPUs and tensor cores)", runtime=True),
    Key("run.compile", False, "torch.compile the model", runtime=True),
    Key("run.threads", 0, "CPU threads; 0: the executor's share of the cores (fixed at the run's first start)",
        check=_between(0, 4096), phrase="between 0 (automatic) and 4096", runtime=True),
    Key("run.loggers", [], "experiment trackers: tensorboard, wandb", types=(list,), runtime=True),
    Key("run.log_dir", None, "TensorBoard's folder; null: <results folder>/tensorboard", types=(str, NONE),
        runtime=True),
    Key("run.wandb_project", "bench", "the W&B project", runtime=True),
    Key("run.recipe", "authors", "authors: the method's published recipe for the dataset where it has one "
        "(bench list recipes); shared: the dataset's shared recipe preset for every method (apples to apples). "
        "Like a preset, outside the run id: the settings it picks are in it", choices=("authors", "shared"),
        runtime=True),
    Key("run.checkpoint_minutes", 30.0, "a checkpoint inside an epoch every N minutes (0: only on signals)",
        check=_non_negative, phrase="non-negative (0: no timed checkpoints inside an epoch)", runtime=True),
)
BY_NAME = {key.name: key for key in KEYS}


def defaults() -> dict:
    """{section: {key: default}} in declaration order (fresh lists: callers may change them)."""
    out: dict = {}
    for key in KEYS:
        section, leaf = key.name.split(".")
        out.setdefault(section, {})[leaf] = list(key.default) if isinstance(key.default, list) else key.default
    return out


def types() -> dict:
    """Keys whose types are spelled out (a None or list default says too little)."""
    return {key.name: key.types for key in KEYS if key.types}


def choices() -> dict:
    return {key.name: key.choices for key in KEYS if key.choices}


def ranges() -> dict:
    return {key.name: (key.check, key.phrase) for key in KEYS if key.check is not None}


def runtime_keys() -> tuple:
    """Runtime-only keys; a section whose keys are all runtime-only is named whole ("run")."""
    sections: dict = {}
    for key in KEYS:
        sections.setdefault(key.name.split(".")[0], []).append(key)
    out = []
    for section, keys in sections.items():
        if all(k.runtime for k in keys):
            out.append(section)
        else:
            out.extend(k.name for k in keys if k.runtime)
    return tuple(out)


LOGGERS = {"tensorboard": "tensorboard", "wandb": "wandb"}  # name -> the package it needs


def check_logger_names(names):
    """Config-time: known logger names, each once."""
    for name in names:
        if name not in LOGGERS:
            raise BenchError(f"unknown logger {name!r}{closest(name, LOGGERS)}; choose from "
                             f"{', '.join(LOGGERS)}")
    if len(set(names)) != len(names):
        raise BenchError(f"run.loggers names a logger twice: {', '.join(names)}")
