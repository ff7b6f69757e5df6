from bench.methods import clip_recipes as foundation
from bench.methods.spec import Method

# shijxcs/LIFT scripts/run_tab1to4_main_results.sh: `adaptformer True` on configs/model/clip_vit_b16.yaml (10 epochs,
# iNaturalist 20), then the checkpoint re-tested with `tte True` (the published numbers): both in one run here.
METHOD = Method(
    "lift", "LIFT (Shi et al., ICML 2024): frozen CLIP ViT-B/16 with AdaptFormer in every block, a text-initialised "
    "cosine classifier (s 25), logit-adjusted loss, test-time ensembling of five crops", "",
    dict(loss="logit_adjust", algorithm="foundation", tuning="adaptformer", s=25.0, tte=True),
    recipes=foundation.recipes(), recipe_source=foundation.SOURCE)
