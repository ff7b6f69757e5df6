from bench.methods.spec import Method

# mixup (Zhang et al., ICLR 2018): alpha 1.0 on CIFAR (BagofTricks-LT's CIFAR-LT setting, MiSLAS's CIFAR stage 1);
# alpha 0.2 on the ImageNet-scale datasets, as mixup's ImageNet experiments and dvlab-research/MiSLAS
# config/{imagenet,ina2018,places}/*_stage1_mixup.yaml (alpha: 0.2). On CIFAR, MiSLAS's stage 1
# (config/cifar{10,100}/*_stage1_mixup.yaml: lr 0.1, batch 128, wd 2e-4, 200 epochs, alpha 1.0; train_stage1.py
# adjust_learning_rate, lines 433-451: 5 warm-up epochs, x0.1 from epoch 160 and x0.01 from 180) is the CIFAR preset
# but for the decay factor: x0.1 per milestone, where LDAM-DRW's is x0.01.
LARGE = {"method": dict(mix_alpha=0.2)}
CIFAR = {"train": dict(lr_decay=0.1)}  # a schedule: per dataset, so run.recipe=shared keeps the preset's

METHOD = Method(
    "erm_mixup", "cross-entropy with input mixup (alpha 1.0 on CIFAR as BagofTricks-LT; 0.2 on ImageNet-LT, "
    "iNaturalist, Places-LT as MiSLAS's stage 1)",
    "", dict(loss="ce", mix="mixup"),
    recipes={"cifar10_lt": CIFAR, "cifar100_lt": CIFAR, "imagenet_lt": LARGE, "inat2018": LARGE, "places_lt": LARGE},
    recipe_source="dvlab-research/MiSLAS config/{cifar10,cifar100,imagenet,ina2018,places}/*_stage1_mixup.yaml, "
                  "train_stage1.py",
)
