"""The run config's types, generated from the declarations (do not edit: `python -m
bench.plan.runconfig_source` writes it). A resolved run config (bench.plan.config.resolve) is a plain dict of these
sections, every key present. Code that reads a config annotates it `RunConfig`, so mypy checks each
`cfg["section"]["key"]` against the schema (bench/plan/schema.py) and the built-in parts' Params."""

from __future__ import annotations

from typing import Any, TypedDict


class MethodSection(TypedDict):
    name: str
    loss: str
    weights: str
    sampler: str
    schedule: str
    head: str
    mix: str
    algorithm: str
    gamma: float
    focal_form: str
    gcl_noise_mul: float
    gcl_margin: float
    gcl_gamma: float
    s: float
    lade_alpha: float
    lade_lambda: float
    smooth_head: float
    smooth_tail: float
    max_m: float
    la_tau: float
    vs_gamma: float
    vs_tau: float
    beta: float
    grw_rho: float
    class_aware_per_visit: int
    defer_epoch: int | None
    mix_alpha: float
    cutmix_prob: float
    experts: int
    reduce_experts: bool
    balpoe_taus: list[Any]
    bcl_alpha: float
    bcl_beta: float
    bcl_temperature: float
    bcl_hidden: int
    bcl_dim: int
    ccsam_flat_ratio: float
    ccsam_noise_ratio: float
    ccsam_div: float
    ccsam_up_limit: float
    ccsam_adver_reg: float
    deit_student: str
    deit_alpha: float
    deit_drop_path: float
    deit_beta: float
    deit_mixup_alpha: float
    deit_cutmix_alpha: float
    deit_switch_prob: float
    deit_smoothing: float
    deit_erasing: float
    deit_micro_batch: int
    deit_mix_deferred: bool
    dirmixe_lambda: float
    dirmixe_power: float
    dirmixe_trials: int
    dirmixe_concentration: float
    tuning: str
    peft_dim: int
    vpt_length: int
    head_init: str
    prompts: str
    tte: bool
    tte_expand: int
    micro_batch: int
    paco_alpha: float
    paco_beta: float
    paco_gamma: float
    paco_temperature: float
    paco_dim: int
    paco_queue: int
    paco_key_view: str
    paco_momentum: float
    proco_alpha: float
    proco_temperature: float
    proco_dim: int
    proco_hidden: int
    proco_scale: float
    ride_diversity: float
    ride_reweight_factor: float
    ride_router_top_k: int
    ride_router_pos_weight: float
    sade_tau: float
    sam_rho: float
    sam_rho_schedule: list[Any] | None
    imbsam_eta: int
    imbsam_tail_weight: float
    focal_sam_gamma: float
    focal_sam_lambda: float


class DatasetSection(TypedDict):
    name: str
    file: str | None
    fingerprint: str | None
    root: str | None
    imbalance_ratio: float | None
    profile: str
    data_seed: int
    verify: bool
    download: bool
    image_root: str | None
    split_dir: str | None
    eval_split: str | None
    path_rewrite: list[Any]
    check_split: bool


class AugmentSection(TypedDict):
    crop_padding: int
    flip: bool
    image_size: int
    resize: int
    color_jitter: float
    train_crop: str
    rotation: float
    policy: str
    randaugment_ops: int
    randaugment_magnitude: int
    cutout: int
    normalize: str


class LoaderSection(TypedDict):
    workers: int | str
    pin_memory: bool
    decode: str
    reduced_decode: bool


class ModelSection(TypedDict):
    name: str
    weights: str | None


class TrainSection(TypedDict):
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    warmup_epochs: int
    milestones: list[Any] | None
    milestone_fractions: list[Any]
    lr_decay: float
    schedule: str
    drop_last: bool
    cosine_offset: int
    precision: str
    seed: int
    world_size: int


class EvalSection(TypedDict):
    every: int
    batch_size: int
    many_above: int
    few_below: int
    selection: str
    save_logits: str


class StageSection(TypedDict):
    parent: str | None
    posthoc: str
    taus: list[Any] | None
    train: str
    reinit: bool
    reinit_init: str
    bn: str
    start: str
    epochs: int
    lr: float
    weight_decay: float
    batch_size: int | None
    classifier_lr_factor: float
    max_norm: float | None
    max_norm_at: str
    disalign_form: str


class RunSection(TypedDict):
    device: str
    progress: bool
    channels_last: bool
    compile: bool
    threads: int
    loggers: list[Any]
    log_dir: str | None
    wandb_project: str
    recipe: str
    checkpoint_minutes: float


class RunConfig(TypedDict):
    method: MethodSection
    dataset: DatasetSection
    augment: AugmentSection
    loader: LoaderSection
    model: ModelSection
    train: TrainSection
    eval: EvalSection
    stage: StageSection
    run: RunSection
