from bench.methods.spec import Method

# Zhong et al., CVPR 2021 (MiSLAS), and dvlab-research/MiSLAS train_stage2.py with config/*/*_stage2_mislas.yaml:
# on a mixup stage 1 (erm_mixup), the classifier (kept, LR x lr_factor) and one scale per class (LR x 1) are
# trained with label-aware smoothing (smooth_head -> smooth_tail) and class-aware sampling, 10 epochs, lr 0.1,
# cosine to 0. BN "shift learning" (statistics re-estimated on the stage-2 batches) is on in the CIFAR-100,
# ImageNet-LT, iNaturalist and Places-LT configs and off in CIFAR-10's (shift_bn: False). Per config:
#   cifar10_imb001/002/01:  smoothing 0.3/0.2/0.1 -> 0.0, lr_factor 0.5/0.2/0.2, wd 2e-4, batch 128, no shift
#   cifar100_imb001/002/01: smoothing 0.4 -> 0.1, 0.3 -> 0.0, 0.2 -> 0.0, lr_factor 0.2/0.1/0.1, wd 2e-4, batch 128
#   imagenet_resnet50 0.3 -> 0.0, ina2018_resnet50 0.3 -> 0.0, places_resnet152 0.4 -> 0.1: lr_factor 0.05,
#   batch 256, wd 5e-4 / 1e-4 / 5e-4
# (imb001 is ratio 100, imb002 ratio 50, imb01 ratio 10.) Other datasets and ratios keep the method's defaults
# below: CIFAR-10 ratio 100's stage 2 with BN shift on (the paper's choice).


def _stage2(head: float, tail: float, factor: float, **stage) -> dict:
    return {"method": dict(smooth_head=head, smooth_tail=tail), "stage": dict(classifier_lr_factor=factor, **stage)}


RECIPES = {
    "cifar10_lt": {"stage": dict(bn="frozen")},  # every CIFAR-10 config: shift_bn False
    "cifar10_lt@100": _stage2(0.3, 0.0, 0.5), "cifar10_lt@50": _stage2(0.2, 0.0, 0.2),
    "cifar10_lt@10": _stage2(0.1, 0.0, 0.2),
    "cifar100_lt@100": _stage2(0.4, 0.1, 0.2), "cifar100_lt@50": _stage2(0.3, 0.0, 0.1),
    "cifar100_lt@10": _stage2(0.2, 0.0, 0.1),
    # the network its erm_mixup parent trains there (the child loads it)
    "imagenet_lt": {**_stage2(0.3, 0.0, 0.05, batch_size=256, weight_decay=5e-4), "model": {"name": "resnet50"}},
    "inat2018": _stage2(0.3, 0.0, 0.05, batch_size=256, weight_decay=1e-4),
    "places_lt": _stage2(0.4, 0.1, 0.05, batch_size=256, weight_decay=5e-4),
}

METHOD = Method(
    "mislas", "MiSLAS stage 2 on a finished erm_mixup run: label-aware smoothing, classifier + per-class scales, "
    "BN statistics shifted, class-aware sampling (Zhong et al. 2021)", "",
    dict(loss="las", sampler="class_aware"), parent="erm_mixup",
    stage=dict(train="classifier_and_scales", bn="update", epochs=10, lr=0.1, weight_decay=2e-4,
               classifier_lr_factor=0.5),
    recipes=RECIPES,
    recipe_source="dvlab-research/MiSLAS config/{cifar10,cifar100,imagenet,ina2018,places}/*_stage2_mislas.yaml",
    deviations=("the official stage-2 loop stops after ceil(N / batch) + 1 batches an epoch (N the long-tailed "
                "training set: train_stage2.py:294-320); bench's epoch draws N images (no setting)",
                "Places-LT: the official shifted BN re-estimates only the new last block's statistics; bench's "
                "stage.bn=update re-estimates the whole backbone's (no setting)"),
)
