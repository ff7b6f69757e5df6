"""The recipe the foundation-model methods share (shijxcs/LIFT); their algorithm is bench/algorithms/foundation.py."""

from __future__ import annotations

# LIFT's recipe (configs/model/clip_vit_b16.yaml; the same for every dataset, iNaturalist 20 epochs on the command
# line of scripts/run_tab1to4_main_results.sh): SGD lr 0.01, momentum 0.9, wd 5e-4, batch 128, 10 epochs, cosine per
# epoch without warm-up, CLIP ViT-B/16 with OpenAI's weights (model.weights=hub:openai or the downloaded file).
TRAIN = dict(epochs=10, batch_size=128, lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=False, warmup_epochs=0,
             schedule="cosine")
PRESETS = ("cifar_lt", "fashion_mnist_lt", "imagenet_lt_resnext50", "places_lt_resnet50", "inat2018_resnet50")
SOURCE = "shijxcs/LIFT configs/model/clip_vit_b16.yaml, scripts/run_tab1to4_main_results.sh"


def recipes(lr: dict | None = None) -> dict:
    """{dataset preset: sections} for a foundation method: CLIP ViT-B/16 with OpenAI's weights, LIFT's schedule, one
    evaluation after training (as LIFT tests), the image lists' test transform Resize(256) + CenterCrop(224); `lr`:
    the learning rate per preset where it differs."""
    out = {}
    for preset in PRESETS:
        train = dict(TRAIN, **({"lr": lr[preset]} if lr and preset in lr else {}))
        if preset == "inat2018_resnet50":
            train["epochs"] = 20
        out[preset] = {"model": {"name": "clip_vit_b16", "weights": "hub:openai"}, "train": train,
                       "eval": {"every": train["epochs"]},  # LIFT tests once, after training
                       "augment": {"train_crop": "random_resized", "image_size": 224, "resize": 256,
                                   "color_jitter": 0.0, "policy": "none"}}
    return out
