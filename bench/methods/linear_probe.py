from bench.methods import clip_recipes as foundation
from bench.methods.spec import Method

# LIFT's classifier-only baseline (README "-m clip_vit_b16" without a PEFT flag; lr 0.02 in
# scripts/run_fig2_zsclip.sh): the frozen CLIP image tower, the cosine classifier initialised from the text features,
# the logit-adjusted loss.
METHOD = Method(
    "linear_probe", "classifier-only fine-tuning of a frozen CLIP: a cosine classifier (s cos, s 25) initialised from "
    "the text features, logit-adjusted loss (LIFT's baseline)", "",
    dict(loss="logit_adjust", algorithm="foundation", tuning="classifier", s=25.0),
    recipes=foundation.recipes({p: 0.02 for p in foundation.PRESETS}),
    recipe_source=foundation.SOURCE + ", scripts/run_fig2_zsclip.sh (lr 0.02)")
