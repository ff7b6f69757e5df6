from bench.methods.spec import CIFAR10_POLICY, Method

# FlamieZhu/Balanced-Contrastive-Learning has no CIFAR code; the CIFAR recipe is the one the paper's CIFAR-LT
# numbers are cited with and re-implementations use (sumyeongahn/CUDA_LTR, YuMJie/ConCutMix; issue 7): ResNet-32,
# head 64 -> 512 -> 128, 200 epochs, batch 256, SGD lr 0.15 (the least certain value), wd 5e-4, 5 warm-up epochs,
# x0.1 at 160 and 180, T 0.1, alpha 2, beta 0.6; the classification view with AutoAugment and Cutout, two SimAugment
# views. ImageNet-LT / iNaturalist (FlamieZhu/Balanced-Contrastive-Learning README commands, main.py, --cl_views
# sim-sim): batch 256, cosine, no warm-up, lr 0.1 / 0.2, 90 / 100 epochs, wd 5e-4 / 1e-4, T 0.07, alpha 1, beta
# 0.35, heads 2048 -> 2048 -> 1024; the classification view with ColorJitter(0.4, 0.4, 0.4) and timm's RandAugment
# n2 m10 mstd0.5, two 'sim' views (bench: simclr).
_LARGE = dict(batch_size=256, momentum=0.9, nesterov=False, warmup_epochs=0, schedule="cosine",
              cosine_offset=1)  # main.py adjust_learning_rate: cos(pi (epoch - W + 1) / (epochs - W + 1))
_VIEWS = dict(policy="timm_randaugment", randaugment_ops=2, randaugment_magnitude=10, color_jitter=0.4,
              train_crop="random_resized")
_METHOD = dict(bcl_temperature=0.07, bcl_alpha=1.0, bcl_beta=0.35, bcl_hidden=2048, bcl_dim=1024)
METHOD = Method(
    "bcl", "BCL (Zhu et al. 2022): balanced contrastive learning, class-averaged and class-complemented, prototypes "
    "from the classifier, logit-adjusted CE", "",
    dict(loss="ce", head="normed", algorithm="bcl"),
    recipes={"cifar_lt": {"train": dict(batch_size=256, lr=0.15, nesterov=False, weight_decay=5e-4, warmup_epochs=5,
                                        milestone_fractions=[0.8, 0.9], lr_decay=0.1),
                          "augment": dict(policy="autoaugment_cifar", cutout=16)},
             "imagenet_lt_resnext50": {"train": dict(_LARGE, epochs=90, lr=0.1, weight_decay=5e-4), "augment": _VIEWS,
                                       "method": _METHOD},
             "inat2018_resnet50": {"train": dict(_LARGE, epochs=100, lr=0.2, weight_decay=1e-4), "augment": _VIEWS,
                                   "method": _METHOD}},
    recipe_source="CIFAR: CUDA_LTR / ConCutMix BCL scripts (the official repository has none); ImageNet-LT, "
                  "iNaturalist: FlamieZhu/Balanced-Contrastive-Learning README.md, main.py",
    deviations=("the CIFAR recipe is not the authors': their repository has no CIFAR code (no setting)",
                CIFAR10_POLICY))
