from bench.methods.spec import Method

# FlamieZhu/Balanced-Contrastive-Learning has no CIFAR code; the CIFAR recipe is the one the paper's CIFAR-LT
# numbers are cited with and re-implementations use (sumyeongahn/CUDA_LTR, YuMJie/ConCutMix; issue 7): ResNet-32,
# head 64 -> 512 -> 128, 200 epochs, batch 256, SGD lr 0.15 (the least certain value), wd 5e-4, 5 warm-up epochs,
# x0.1 at 160 and 180, T 0.1, alpha 2, beta 0.6; the classification view with AutoAugment and Cutout, two SimAugment
# views. ImageNet-LT / iNaturalist (90 / 100 epochs, cosine, RandAugment views) need three views of image lists,
# which bench does not draw yet.
METHOD = Method(
    "bcl", "BCL (Zhu et al. 2022): balanced contrastive learning, class-averaged and class-complemented, prototypes "
    "from the classifier, logit-adjusted CE", "",
    dict(loss="ce", head="normed", algorithm="bcl"),
    recipes={"cifar_lt": {"train": dict(batch_size=256, lr=0.15, nesterov=False, weight_decay=5e-4, warmup_epochs=5,
                                        milestone_fractions=[0.8, 0.9], lr_decay=0.1),
                          "augment": dict(policy="autoaugment_cifar", cutout=16)}},
    recipe_source="CUDA_LTR / ConCutMix BCL CIFAR scripts (the official repository has none)")
