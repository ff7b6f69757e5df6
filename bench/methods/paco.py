from bench.methods.spec import CIFAR10_POLICY, Method

# dvlab-research/Parametric-Contrastive-Learning PaCo/LT/sh/CIFAR100_train_imb0.01.sh (the CIFAR-100-LT scripts;
# bench applies them to CIFAR-10-LT too, which the repository has no script for): 400 epochs, batch 128, SGD lr
# 0.05, momentum 0.9, no Nesterov, wd 5e-4, 10 warm-up epochs, x0.1 after epochs 320 and 360 (paco_cifar.py
# adjust_learning_rate, lines 586-597: `epoch > 320`, `epoch > 360` on 0-based epochs, so the decays start at epochs
# 321 and 361); the query view with AutoAugment's CIFAR policy and a 16 px Cutout. ImageNet-LT / iNaturalist
# (PaCo/LT/sh/ImageNetLT_train_X50.sh, Inat_train_R50.sh, paco_lt.py): 400 epochs, batch 128, lr 0.02, wd 5e-4
# (iNat 1e-4), 10 warm-up epochs then cosine, moco-dim 128, K 8192, alpha 0.05, T 0.07 (ResNeXt-50; ResNet-50
# 0.2); the query view RandomResizedCrop + flip + ColorJitter(0.4, 0.4, 0.4) + timm's RandAugment n2 m10 mstd0.5,
# the key view 'sim' (bench: moco_sim).
# What is not reproduced is declared in `deviations` below.
_LARGE = dict(epochs=400, batch_size=128, lr=0.02, momentum=0.9, nesterov=False, weight_decay=5e-4, warmup_epochs=10,
              schedule="cosine", cosine_offset=1,  # paco_lt.py: cos(pi (epoch - W + 1) / (epochs - W + 1))
              drop_last=True)  # paco_lt.py:420-422 DataLoader(drop_last=True)
_VIEWS = dict(policy="timm_randaugment", randaugment_ops=2, randaugment_magnitude=10, color_jitter=0.4,
              train_crop="random_resized")
_METHOD = dict(paco_dim=128, paco_queue=8192, paco_alpha=0.05, paco_key_view="moco_sim")
METHOD = Method(
    "paco", "PaCo (Cui et al. 2021): parametric contrastive learning, classifier weights as class centres, momentum "
    "encoder and queue, logit-adjusted centres", "",
    dict(loss="ce", algorithm="paco"),
    recipes={"cifar_lt": {"train": dict(epochs=400, lr=0.05, nesterov=False, weight_decay=5e-4, warmup_epochs=10,
                                        milestones=[321, 361], lr_decay=0.1, drop_last=True),
                          "augment": dict(policy="autoaugment_cifar", cutout=16)},
             "imagenet_lt_resnext50": {"train": _LARGE, "augment": _VIEWS,
                                       "method": dict(_METHOD, paco_temperature=0.07)},
             "inat2018_resnet50": {"train": dict(_LARGE, weight_decay=1e-4), "augment": _VIEWS,
                                   "method": dict(_METHOD, paco_temperature=0.2)}},
    recipe_source="dvlab-research/Parametric-Contrastive-Learning PaCo/LT/sh/CIFAR100_train_imb0.01.sh, "
                  "ImageNetLT_train_X50.sh, Inat_train_R50.sh, paco_cifar.py, paco_lt.py",
    deviations=("the official CIFAR warm-up runs 11 epochs (`epoch <= 10`), epoch 10 at 1.1x the peak learning rate; "
                "bench's reaches the peak at epoch 9 (no setting)",
                CIFAR10_POLICY,
                "the official ResNeXt-50 ImageNet-LT script adds grayscale and blur before RandAugment on the query "
                "view (randclsstack) (no setting)",
                "the official CIFAR key view blurs with PIL's GaussianBlur, no kernel cut-off; bench's simclr_blur "
                "truncates it to a 3-pixel kernel at 32 px (no setting)"))
