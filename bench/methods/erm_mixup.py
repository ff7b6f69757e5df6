from bench.methods.spec import Method

# mixup (Zhang et al., ICLR 2018): alpha 1.0 on CIFAR (BagofTricks-LT's CIFAR-LT setting, MiSLAS's CIFAR stage 1);
# alpha 0.2 on the ImageNet-scale datasets, as mixup's ImageNet experiments and dvlab-research/MiSLAS
# config/{imagenet,ina2018,places}/*_stage1_mixup.yaml (alpha: 0.2).
LARGE = {"method": dict(mix_alpha=0.2)}

METHOD = Method(
    "erm_mixup", "cross-entropy with input mixup (alpha 1.0 on CIFAR as BagofTricks-LT; 0.2 on ImageNet-LT, "
    "iNaturalist, Places-LT as MiSLAS's stage 1)",
    "", dict(loss="ce", mix="mixup"),
    recipes={"imagenet_lt": LARGE, "inat2018": LARGE, "places_lt": LARGE},
    recipe_source="dvlab-research/MiSLAS config/{imagenet,ina2018,places}/*_stage1_mixup.yaml",
)
