from bench.methods.spec import Method

# frank-xwang/RIDE-LongTailRecognition configs: CIFAR-100-LT (config_imbalance_cifar100_ride.json; no CIFAR-10
# config: bench applies it to CIFAR-10-LT too), ImageNet-LT (config_imagenet_lt_resnext50_ride.json), iNaturalist
# (config_iNaturalist_resnet50_ride.json). All: 3 reduced experts, SGD Nesterov, 5 warm-up epochs, DRW and the
# diversity temperature from the first decay (CIFAR) or the second (ImageNet-LT, iNaturalist: reweight_epoch 80).
# CIFAR also rotates training images by up to 15 degrees (augment.rotation). The expert-assignment router
# (stage 2) is the child method `ride_ea`.
_LARGE = dict(epochs=100, lr=0.1, batch_size=256, weight_decay=2e-4, nesterov=True, warmup_epochs=5, schedule="step",
              milestones=[60, 80], milestone_fractions=[], lr_decay=0.1)
METHOD = Method(
    "ride", "RIDE (Wang et al. 2021): 3 experts on a shared trunk, LDAM-DRW plus a distribution-aware diversity "
    "loss; mean of the experts (the router: ride_ea)", "",
    dict(loss="ldam", weights="cb", schedule="deferred", head="normed", algorithm="ride"),
    recipes={
        "cifar_lt": {"train": dict(nesterov=True, weight_decay=5e-4),  # lr 0.1, 200 epochs, x0.01 at 160, 180
                     "augment": dict(rotation=15.0)},
        "imagenet_lt_resnext50": {"train": _LARGE, "method": dict(defer_epoch=80, ride_diversity=-0.2,
                                                                  ride_reweight_factor=0.02)},
        "inat2018_resnet50": {"train": {**_LARGE, "lr": 0.2, "batch_size": 512},
                              "augment": dict(train_crop="random_resized"),  # data_loader: RandomResizedCrop(224)
                              # RIDELoss's own max_m 0.5 (model/loss.py:125), not the iNat preset's 0.3
                              "method": dict(defer_epoch=80, ride_diversity=-0.2, ride_reweight_factor=0.015,
                                             max_m=0.5)},
    },
    recipe_source="frank-xwang/RIDE-LongTailRecognition configs/*_ride.json")
