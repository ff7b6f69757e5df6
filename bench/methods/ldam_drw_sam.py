from bench.methods.erm_sam import SHOT_GROUPS
from bench.methods.spec import Method

_STEPS = [[0, 0.05], [5, 0.1], [60, 0.5]]  # --rho_steps 0.05 0.1 0.5 0.5: rho from each 0-based epoch on

# val-iisc/Saddle-LongTail run.sh: LDAM+DRW+SAM, rho 0.8 on CIFAR-10-LT and CIFAR-100-LT (lines 9, 19); ImageNet-LT
# (line 35): ResNet-50, batch 256, wd 2e-4, max_m 0.3, DRW from epoch 60, rho 0.05 / 0.1 from epoch 5 / 0.5 from 60;
# iNaturalist (line 27): cosine to 0 without warm-up, RandomResizedCrop + ColorJitter 0.4, wd 1e-4, the same rho steps.
# The transcription: bench/methods/transcripts/sam.yaml.
METHOD = Method(
    "ldam_drw_sam", "LDAM-DRW with SAM (Rangwani et al. 2022), rho 0.8 (official CIFAR-10/100-LT)", "",
    dict(loss="ldam", weights="cb", schedule="deferred", head="auto", algorithm="sam", sam_rho=0.8),
    recipes={"imagenet_lt": {"model": {"name": "resnet50"}, "train": dict(batch_size=256, weight_decay=2e-4),
                             "method": dict(max_m=0.3, defer_epoch=60, sam_rho_schedule=_STEPS)},
             "inat2018": {"train": dict(schedule="cosine", warmup_epochs=0),
                          "augment": dict(train_crop="random_resized", color_jitter=0.4),
                          "method": dict(sam_rho_schedule=_STEPS)}},
    recipe_source="val-iisc/Saddle-LongTail run.sh, imnet_train_sam.py, inat_train_sam.py", deviations=(SHOT_GROUPS,))
