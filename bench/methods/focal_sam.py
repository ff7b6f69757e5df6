from bench.methods.spec import Method

# Li et al., ICML 2025 (Focal-SAM), and scongl/Focal-SAM @ 86c13c6 scripts/cifar.sh (built on Rangwani et al.'s
# Saddle-LongTail code): the logit-adjusted loss (losses.py LALoss, tau 1) split per class between a plain part and
# a SAM part weighted lambda (1 - n_c / N)^gamma (train_step.py:55-113), a ResNet-32, batch 64, lr 0.1, momentum 0.9,
# a cosine over 200 epochs from the peak (--cos_lr, stepped after each epoch), no warm-up. CIFAR-10-LT: rho 0.2,
# gamma 3.0, lambda 0.5, wd 2e-4; CIFAR-100-LT: rho 0.3, gamma 3.2, lambda 0.8, wd 1e-3 (the scripts' only ratio,
# 100). The transcription: bench/methods/transcripts/focal_sam.yaml.
_CIFAR = dict(epochs=200, batch_size=64, lr=0.1, momentum=0.9, nesterov=False, warmup_epochs=0, schedule="cosine",
              cosine_offset=0)

METHOD = Method(
    "focal_sam", "Focal-SAM (Li et al. 2025): logit-adjusted loss split per class between plain SGD and SAM, the "
    "SAM part weighted lambda (1 - n_c / N)^gamma", "",
    dict(loss="logit_adjust", algorithm="focal_sam"),
    recipes={"cifar10_lt@100": {"train": dict(_CIFAR, weight_decay=2e-4),
                            "method": dict(sam_rho=0.2, focal_sam_gamma=3.0, focal_sam_lambda=0.5)},
             "cifar100_lt@100": {"train": dict(_CIFAR, weight_decay=1e-3),
                             "method": dict(sam_rho=0.3, focal_sam_gamma=3.2, focal_sam_lambda=0.8)}},
    recipe_source="scongl/Focal-SAM scripts/cifar.sh, cifar_train_sam.py, train_step.py, focal_sam.py, losses.py",
    deviations=("the scripts give ratio 100 only: other ratios and the step profile run the shared CIFAR recipe with "
                "the argparse defaults (rho 0.2, gamma 1, lambda 0.5)",
                "the ImageNet-LT and iNaturalist recipes (scripts/imagenet.sh, inaturalist.sh: 200 / 100 epochs, a rho "
                "step on ImageNet-LT) are not transcribed yet: those datasets run the shared recipe",),
)
