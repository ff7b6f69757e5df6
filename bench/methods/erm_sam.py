from bench.methods.spec import Method

# how the official ImageNet-LT / iNaturalist codes of SAM report the shot groups (imnet_train_sam.py:122-124,
# inat_train_sam.py:121-123)
SHOT_GROUPS = ("on ImageNet-LT and iNaturalist the official many / medium / few groups are fixed index ranges of the "
               "count-sorted classes (390 / 445 / 165 and 842 / 3701 / 3599 classes), not count thresholds (no "
               "setting; top-1 is the same)")

# val-iisc/Saddle-LongTail run.sh: CE+SAM, rho 0.1 on CIFAR-10-LT (line 7), 0.2 on CIFAR-100-LT (line 17)
METHOD = Method(
    "erm_sam", "cross-entropy with SAM (Rangwani et al. 2022), rho 0.1 (official CIFAR-10-LT; CIFAR-100-LT: 0.2)",
    "", dict(loss="ce", algorithm="sam", sam_rho=0.1),
    recipes={"cifar100_lt": {"method": dict(sam_rho=0.2)}},
    recipe_source="val-iisc/Saddle-LongTail run.sh")
