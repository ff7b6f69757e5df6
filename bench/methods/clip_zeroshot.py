from bench.methods import clip_recipes as foundation
from bench.methods.spec import Method

# shijxcs/LIFT configs/model/zsclip_vit_b16.yaml, models/models.py ZeroShotCLIP: the full CLIP (with the image
# projection), one template "a photo of a {}.", logits exp(logit_scale) cos = 100 cos; nothing trains.
METHOD = Method(
    "clip_zeroshot", "zero-shot CLIP: the text features of 'a photo of a {class}.' are the classifier (100 cos of the "
    "projected image and text features); no training", "",
    dict(loss="ce", algorithm="foundation", tuning="zeroshot"),
    recipes=foundation.recipes(), recipe_source="shijxcs/LIFT configs/model/zsclip_vit_b16.yaml")
