from bench.methods.spec import CIFAR10_POLICY, Method

# Du et al., TPAMI 2024 (ProCo), and LeapLabTHU/ProCo @ af9e78e. CIFAR-10/100-LT (ProCo_cifar/main.py with the
# README's command: only dataset, ratio and epochs given): ResNet-32, nn.Linear classifier, head 64 -> 512 -> 128,
# T 0.1, alpha 1, 200 epochs, batch 256, SGD lr 0.3, wd 2e-4, 5 warm-up epochs, x0.1 at 160 and 180, drop_last;
# the classification view with AutoAugment's CIFAR policy and Cutout 16, two SimAugment views. ImageNet-LT /
# iNaturalist (sh/ProCo_ImageNetLT_X50_90epochs.sh, sh/ProCo_inat_R50_90epochs.sh, ProCo/main.py): 90 epochs,
# batch 32 on each of 8 GPUs, lr 0.1 / 0.2, wd 5e-4 / 1e-4, cosine without warm-up, use_norm (s = 30), head 2048 ->
# 2048 -> 1024, T 0.07; the classification view with ColorJitter(0.4, 0.4, 0.4) and timm's RandAugment n2 m10
# mstd0.5, two 'sim' views (bench: simclr). The transcription: bench/methods/transcripts/proco.yaml.
_LARGE = dict(epochs=90, batch_size=256, momentum=0.9, nesterov=False, warmup_epochs=0, schedule="cosine",
              cosine_offset=1, drop_last=True)  # main.py adjust_lr: cos(pi (epoch - W + 1) / (epochs - W + 1))
_VIEWS = dict(policy="timm_randaugment", randaugment_ops=2, randaugment_magnitude=10, color_jitter=0.4,
              train_crop="random_resized")
_METHOD = dict(proco_temperature=0.07, proco_dim=1024, proco_hidden=2048, proco_scale=30.0)
METHOD = Method(
    "proco", "ProCo (Du et al. 2024): probabilistic contrastive learning, a von Mises-Fisher distribution per class "
    "and the closed-form expected contrastive loss, logit-adjusted CE", "",
    dict(loss="ce", algorithm="proco"),
    recipes={"cifar_lt": {"train": dict(epochs=200, batch_size=256, lr=0.3, momentum=0.9, nesterov=False,
                                        weight_decay=2e-4, warmup_epochs=5, schedule="step",
                                        milestone_fractions=[0.8, 0.9], lr_decay=0.1, drop_last=True),
                          "augment": dict(policy="autoaugment_cifar", cutout=16)},
             "imagenet_lt_resnext50": {"train": dict(_LARGE, lr=0.1, weight_decay=5e-4), "augment": _VIEWS,
                                       "method": _METHOD},
             "inat2018_resnet50": {"train": dict(_LARGE, lr=0.2, weight_decay=1e-4), "augment": _VIEWS,
                                   "method": _METHOD}},
    recipe_source="LeapLabTHU/ProCo ProCo_cifar/main.py, README.md; ProCo/main.py, "
                  "sh/ProCo_ImageNetLT_X50_90epochs.sh, sh/ProCo_inat_R50_90epochs.sh",
    deviations=(CIFAR10_POLICY,
                "the official ImageNet-LT and iNaturalist runs train on 8 GPUs with 32 images each, with BN over each "
                "GPU's 96 images (3 views); bench normalises over the whole batch in one process (no setting; a launch "
                "on 8 processes has their per-process batches)",
                "bench computes ||kappa mu + z / T|| in float64 from its expansion (an (N, C) matrix); the official "
                "code takes the float32 norm of an (N, C, P) tensor, which differs by its rounding (no setting)",
                "no official recipe for Places-LT (no script or data loader): it runs the dataset's shared recipe"),
)
