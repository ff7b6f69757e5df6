from bench.methods.spec import Method

# dvlab-research/Parametric-Contrastive-Learning PaCo/LT/sh/CIFAR100_train_imb0.01.sh (the CIFAR-100-LT scripts;
# bench applies them to CIFAR-10-LT too, which the repository has no script for): 400 epochs, batch 128, SGD lr
# 0.05, momentum 0.9, no Nesterov, wd 5e-4, 10 warm-up epochs, x0.1 at epochs 320 and 360; the query view with
# AutoAugment's CIFAR policy and a 16 px Cutout. ImageNet-LT / iNaturalist (RandAugment views, 400 epochs) need two
# views of image lists, which bench does not draw yet.
METHOD = Method(
    "paco", "PaCo (Cui et al. 2021): parametric contrastive learning, classifier weights as class centres, momentum "
    "encoder and queue, logit-adjusted centres", "",
    dict(loss="ce", algorithm="paco"),
    recipes={"cifar_lt": {"train": dict(epochs=400, lr=0.05, nesterov=False, weight_decay=5e-4, warmup_epochs=10,
                                        milestone_fractions=[0.8, 0.9], lr_decay=0.1),
                          "augment": dict(policy="autoaugment_cifar", cutout=16)}},
    recipe_source="dvlab-research/Parametric-Contrastive-Learning PaCo/LT/sh/CIFAR100_train_imb0.01.sh")
