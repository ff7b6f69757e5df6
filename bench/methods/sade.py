from bench.methods.spec import Method

# Vanint/SADE-AgnosticLT configs: CIFAR-100-LT (config_cifar100_ir100_sade.json; bench applies it to CIFAR-10-LT
# too), ImageNet-LT (config_imagenet_lt_resnext50_sade.json), iNaturalist (config_iNaturalist_resnet50_sade.json).
# All: 3 reduced experts, SGD Nesterov; CIFAR rotates training images by up to 15 degrees (augment.rotation).
# Not reproduced: Places-LT's ImageNet-pretrained ResNet-152 recipe. The test-time aggregation: `sade_tta`.
METHOD = Method(
    "sade", "SADE (Zhang et al. 2022): 3 experts on a shared trunk trained for long-tailed, uniform and inverse "
    "test priors (softmax, balanced softmax, inverse softmax); mean of the experts", "",
    dict(loss="ce", head="normed", algorithm="sade"),
    recipes={
        "cifar_lt": {"train": dict(nesterov=True, weight_decay=5e-4, lr_decay=0.1),  # x0.1 at 160 and 180
                     "augment": dict(rotation=15.0)},
        "imagenet_lt_resnext50": {"train": dict(epochs=180, batch_size=64, lr=0.025, weight_decay=5e-4,
                                                nesterov=True, warmup_epochs=0, schedule="cosine")},
        "inat2018_resnet50": {"train": dict(epochs=100, batch_size=512, lr=0.2, weight_decay=2e-4, nesterov=True,
                                            warmup_epochs=5, schedule="step", milestones=[60, 80],
                                            milestone_fractions=[], lr_decay=0.1),
                              "augment": dict(train_crop="random_resized"),  # data_loader: RandomResizedCrop(224)
                              "method": dict(sade_tau=1.0)},
    },
    recipe_source="Vanint/SADE-AgnosticLT configs/config_*_sade.json")
