from bench.methods.sade import METHOD as SADE
from bench.methods.spec import Method

_VIEWS = ("on image lists the views are ImageNet-LT's and Places-LT's (simclr_blur), also for iNaturalist, whose "
          "code crops with scale (0.08, 1) and adds an entropy term of weight 0.01 (no setting)")

# Vanint/SADE-AgnosticLT test_training_*.py with configs/test_time_*_sade.json: SGD (Nesterov, momentum 0.9) on
# the three aggregation weights, batch 128, 5 epochs, constant LR; lr / weight decay per dataset below.
METHOD = Method(
    "sade_tta", "SADE's test-time self-supervised aggregation of a finished sade run: 3 expert weights trained on "
    "the UNLABELLED test images (prediction stability of two views), experts frozen; transductive (result says so)",
    "", parts=dict(SADE.parts), parent="sade",
    stage=dict(posthoc="sade_aggregation", epochs=5, lr=0.1, weight_decay=5e-4, batch_size=128),
    recipes={"cifar_lt": {"stage": dict(lr=0.1, weight_decay=5e-4)},
             "imagenet_lt_resnext50": {"stage": dict(lr=0.025, weight_decay=5e-4)},
             "inat2018_resnet50": {"stage": dict(lr=0.2, weight_decay=2e-4)}},  # Places-LT: no sade recipe
    recipe_source="Vanint/SADE-AgnosticLT configs/test_time_*_sade.json, test_training_*.py",
    deviations=("bench adapts once, on the reported test split; the official scripts adapt separately on each of "
                "several re-sampled test distributions (no setting)", _VIEWS))
