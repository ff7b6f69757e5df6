from bench.methods.erm_sam import SHOT_GROUPS
from bench.methods.spec import HEAD_INIT, Method

# val-iisc/Saddle-LongTail run.sh: CE+DRW+SAM, rho 0.5 on CIFAR-10-LT (line 8), 0.8 on CIFAR-100-LT (line 18);
# ImageNet-LT (line 34, imnet_train_sam.py): ResNet-50, batch 256, wd 2e-4 (its default), DRW from epoch 60, rho 0.05 /
# 0.1 from epoch 5 / 0.5 from 60; iNaturalist (line 26, inat_train_sam.py, datasets/ina2018.py): cosine to 0 without
# warm-up, RandomResizedCrop + ColorJitter 0.4, wd 2e-4, rho 0.05 / 0.1 from 5 / 0.2 from 75 (0-based epochs).
# The transcription: bench/methods/transcripts/sam.yaml.
METHOD = Method(
    "drw_sam", "cross-entropy + class-balanced weights deferred to the first LR decay, with SAM, rho 0.5 "
    "(official CIFAR-10-LT; CIFAR-100-LT: 0.8)", "", dict(loss="ce", weights="cb", schedule="deferred",
                                                         algorithm="sam", sam_rho=0.5),
    recipes={"cifar100_lt": {"method": dict(sam_rho=0.8)},
             "imagenet_lt": {"model": {"name": "resnet50"}, "train": dict(batch_size=256, weight_decay=2e-4),
                             "method": dict(defer_epoch=60, sam_rho_schedule=[[0, 0.05], [5, 0.1], [60, 0.5]])},
             "inat2018": {"train": dict(schedule="cosine", warmup_epochs=0, weight_decay=2e-4),
                          "augment": dict(train_crop="random_resized", color_jitter=0.4),
                          "method": dict(sam_rho_schedule=[[0, 0.05], [5, 0.1], [75, 0.2]])}},
    recipe_source="val-iisc/Saddle-LongTail run.sh, imnet_train_sam.py, inat_train_sam.py",
    deviations=(SHOT_GROUPS, f"ImageNet-LT and iNaturalist: {HEAD_INIT}"))
