from bench.methods import clip_recipes as foundation
from bench.methods.spec import Method

# LIFT's classifier-only baseline (README "-m clip_vit_b16" without a PEFT flag): the frozen CLIP image tower, the
# cosine classifier initialised from the text features, the logit-adjusted loss. lr 0.02 on ImageNet-LT and Places-LT
# (scripts/run_fig2_zsclip.sh:4,7), 0.01 on iNaturalist (scripts/run_tab8_training_acc.sh:15, "best lr for classifier
# fine-tuning") and where no script runs it (the shared configs/model/clip_vit_b16.yaml:16).
METHOD = Method(
    "linear_probe", "classifier-only fine-tuning of a frozen CLIP: a cosine classifier (s cos, s 25) initialised from "
    "the text features, logit-adjusted loss (LIFT's baseline)", "",
    dict(loss="logit_adjust", algorithm="foundation", tuning="classifier", s=25.0),
    recipes=foundation.recipes({"imagenet_lt_resnext50": 0.02, "places_lt_resnet50": 0.02}),
    recipe_source=foundation.SOURCE + ", scripts/run_fig2_zsclip.sh, run_tab8_training_acc.sh")
