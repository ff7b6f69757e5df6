from bench.methods.spec import HEAD_INIT, Method

# mixup (Zhang et al., ICLR 2018): alpha 1.0 on CIFAR (BagofTricks-LT's CIFAR-LT setting, MiSLAS's CIFAR stage 1);
# alpha 0.2 on the ImageNet-scale datasets, as mixup's ImageNet experiments and dvlab-research/MiSLAS
# config/{imagenet,ina2018,places}/*_stage1_mixup.yaml (alpha: 0.2). On CIFAR, MiSLAS's stage 1
# (config/cifar{10,100}/*_stage1_mixup.yaml: lr 0.1, batch 128, wd 2e-4, 200 epochs, alpha 1.0; train_stage1.py
# adjust_learning_rate, lines 433-451: 5 warm-up epochs, x0.1 from epoch 160 and x0.01 from 180) is the CIFAR preset
# but for the decay factor: x0.1 per milestone, where LDAM-DRW's is x0.01.
# The large datasets' stage 1 (train_stage1.py, config/*/..._stage1_mixup.yaml): ImageNet-LT ResNet-50, batch 256, lr
# 0.1, 180 epochs, cosine (lines 13, 39-44); iNaturalist 200 epochs, cosine, RandomResizedCrop + ColorJitter 0.4
# (datasets/ina2018.py:94-96); Places-LT 90 epochs on an ImageNet ResNet-152 (not built here). The transcription:
# bench/methods/transcripts/mislas.yaml.
IMAGENET = {"method": dict(mix_alpha=0.2), "model": {"name": "resnet50"},
            "train": dict(batch_size=256, lr=0.1, epochs=180)}
INAT = {"method": dict(mix_alpha=0.2), "train": dict(epochs=200, schedule="cosine", warmup_epochs=0),
        "augment": dict(train_crop="random_resized", color_jitter=0.4)}
PLACES = {"method": dict(mix_alpha=0.2), "train": dict(epochs=90)}
CIFAR = {"train": dict(lr_decay=0.1)}  # a schedule: per dataset, so run.recipe=shared keeps the preset's

METHOD = Method(
    "erm_mixup", "cross-entropy with input mixup (alpha 1.0 on CIFAR as BagofTricks-LT; 0.2 on ImageNet-LT, "
    "iNaturalist, Places-LT as MiSLAS's stage 1)",
    "", dict(loss="ce", mix="mixup"),
    recipes={"cifar10_lt": CIFAR, "cifar100_lt": CIFAR, "imagenet_lt": IMAGENET, "inat2018": INAT, "places_lt": PLACES},
    recipe_source="dvlab-research/MiSLAS config/{cifar10,cifar100,imagenet,ina2018,places}/*_stage1_mixup.yaml, "
                  "train_stage1.py",
    deviations=(f"ImageNet-LT, iNaturalist, Places-LT: {HEAD_INIT}",),
)
