from bench.methods.spec import HEAD_INIT, Method

# Li et al., ICML 2025 (Focal-SAM), and scongl/Focal-SAM @ 86c13c6 (built on Rangwani et al.'s Saddle-LongTail code):
# the logit-adjusted loss (losses.py LALoss, tau 1) split per class between a plain part and a SAM part weighted
# lambda (1 - n_c / N)^gamma (train_step.py:55-113), SGD momentum 0.9, a cosine from the peak (--cos_lr, stepped after
# each epoch), no warm-up. scripts/cifar.sh: ResNet-32, batch 64, lr 0.1, 200 epochs; CIFAR-10-LT: rho 0.2, gamma
# 3.0, lambda 0.5, wd 2e-4; CIFAR-100-LT: rho 0.3, gamma 3.2, lambda 0.8, wd 1e-3 (the scripts' only ratio, 100).
# scripts/imagenet.sh (imagenet_train_sam.py) and scripts/inaturalist.sh (inat_train_sam.py): a torchvision ResNet-50
# from scratch, 200 epochs; ImageNet-LT: batch 256, lr 0.1, wd 5e-4, rho 0.1 then 0.2 from 0-based epoch 160 (0.8 of
# the epochs), gamma 0.8, lambda 0.8; iNaturalist: batch 512, lr 0.2, wd 2e-4, rho 0.2, gamma 2.0, lambda 1.1.
# The transcription: bench/methods/transcripts/focal_sam.yaml.
_CIFAR = dict(epochs=200, batch_size=64, lr=0.1, momentum=0.9, nesterov=False, warmup_epochs=0, schedule="cosine",
              cosine_offset=0)
_LARGE = dict(epochs=200, momentum=0.9, nesterov=False, warmup_epochs=0, schedule="cosine", cosine_offset=0,
              drop_last=False)

METHOD = Method(
    "focal_sam", "Focal-SAM (Li et al. 2025): logit-adjusted loss split per class between plain SGD and SAM, the "
    "SAM part weighted lambda (1 - n_c / N)^gamma", "",
    dict(loss="logit_adjust", algorithm="focal_sam"),
    recipes={"cifar10_lt@100": {"train": dict(_CIFAR, weight_decay=2e-4),
                            "method": dict(sam_rho=0.2, focal_sam_gamma=3.0, focal_sam_lambda=0.5)},
             "cifar100_lt@100": {"train": dict(_CIFAR, weight_decay=1e-3),
                             "method": dict(sam_rho=0.3, focal_sam_gamma=3.2, focal_sam_lambda=0.8)},
             "imagenet_lt": {"model": {"name": "resnet50"},
                             "train": dict(_LARGE, batch_size=256, lr=0.1, weight_decay=5e-4),
                             "augment": dict(train_crop="random_resized", color_jitter=0.4),
                             "method": dict(sam_rho_schedule=[[0, 0.1], [160, 0.2]], focal_sam_gamma=0.8,
                                            focal_sam_lambda=0.8)},
             "inat2018": {"model": {"name": "resnet50"},
                          "train": dict(_LARGE, batch_size=512, lr=0.2, weight_decay=2e-4),
                          "augment": dict(train_crop="random_resized", color_jitter=0.0),
                          "method": dict(sam_rho=0.2, focal_sam_gamma=2.0, focal_sam_lambda=1.1)}},
    recipe_source="scongl/Focal-SAM scripts/cifar.sh, imagenet.sh, inaturalist.sh, cifar_train_sam.py, "
                  "imagenet_train_sam.py, inat_train_sam.py, train_step.py, focal_sam.py, losses.py",
    deviations=("the scripts give CIFAR ratio 100 only: other ratios and the step profile run the shared CIFAR "
                "recipe with the argparse defaults (rho 0.2, gamma 1, lambda 0.5)",
                "the official ImageNet-LT and iNaturalist runs use DataParallel over 2 and 4 GPUs, with BN over each "
                "GPU's share of the batch (128 images); bench normalises over the whole batch (no setting)",
                f"ImageNet-LT and iNaturalist: {HEAD_INIT}",
                "no official code for Places-LT: it runs the dataset's shared recipe"),
)
