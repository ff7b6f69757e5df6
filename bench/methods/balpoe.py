from bench.methods.spec import Method

# Sanchez Aimar et al., CVPR 2023 (BalPoE), and emasa/BalPoE-CalibratedLT @ ca607ae (code as released in 11f38d1)
# configs/mixup/standard_training/: 3 full-width experts (reduce_dimension false) with cosine heads x 30,
# logit-adjusted CE per expert (model/loss.py BSExpertLoss), mixup on every batch, SGD Nesterov, the last epoch
# reported (README). CIFAR-10/100-LT (every ratio, config_cifar{10,100}_ir{10,50,100}_bs-experts.json): taus
# [0, 1, 2], mixup alpha 0.8 / 0.4, batch 128, lr 0.1, wd 5e-4, warm-up 5, x0.1 at 160 and 180 (CustomLR, utils/
# util.py), RandomRotation(15) after the flip (data_loader/cifar_data_loaders.py). ImageNet-LT
# (config_imagenet_lt_resnext50_bs-experts.json): taus [0, 1.25, 2.5], alpha 0.3, 180 epochs, batch 64, lr 0.025,
# cosine. iNaturalist (config_iNaturalist_resnet50_bs-experts.json): taus [-1, 1, 3], alpha 0.2, 100 epochs, batch
# 512, lr 0.2, wd 2e-4, cosine, RandomResizedCrop. The 400-epoch "long training" configs (AutoAugment / RandAugment)
# are not the defaults. The transcription: bench/methods/transcripts/balpoe.yaml.
_CIFAR_TRAIN = dict(epochs=200, batch_size=128, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4,
                    warmup_epochs=5, schedule="step", milestones=[160, 180], lr_decay=0.1)

METHOD = Method(
    "balpoe", "BalPoE (Sanchez Aimar et al. 2023): 3 full-width experts trained with logit-adjusted CE for the test "
    "priors pi^(1 - tau_k), mixup on every batch; mean of the experts' logits", "",
    dict(loss="ce", head="normed", algorithm="balpoe", reduce_experts=False, mix="mixup", mix_alpha=0.4),
    recipes={
        "cifar_lt": {"train": _CIFAR_TRAIN, "augment": dict(rotation=15.0)},
        "cifar10_lt": {"method": dict(mix_alpha=0.8)},
        "imagenet_lt_resnext50": {"train": dict(epochs=180, batch_size=64, lr=0.025, momentum=0.9, nesterov=True,
                                                weight_decay=5e-4, warmup_epochs=0, schedule="cosine"),
                                  "method": dict(balpoe_taus=[0.0, 1.25, 2.5], mix_alpha=0.3)},
        "inat2018_resnet50": {"train": dict(epochs=100, batch_size=512, lr=0.2, momentum=0.9, nesterov=True,
                                            weight_decay=2e-4, warmup_epochs=0, schedule="cosine"),
                              "augment": dict(train_crop="random_resized"),
                              "method": dict(balpoe_taus=[-1.0, 1.0, 3.0], mix_alpha=0.2)},
    },
    recipe_source="emasa/BalPoE-CalibratedLT configs/mixup/standard_training/config_*_bs-experts.json",
    deviations=("the official ImageNet-LT and iNaturalist runs use DataParallel over 2 and 4 GPUs, with per-GPU BN "
                "(32 and 128 images); bench normalises over the whole batch in one process (no setting)",
                "no official recipe for Places-LT (no config or data loader): it runs the dataset's shared recipe",),
)
