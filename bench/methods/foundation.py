"""The foundation-model track's algorithm part and the recipe its methods share (shijxcs/LIFT).

`method.algorithm=foundation` adapts a CLIP model (model.name clip_vit_b16, clip_vit_l14 or the offline clip_tiny):
a frozen image tower, the `tuning` modules inside it (bench.models.peft), a cosine classifier initialised from
the text features of the class names, the method's loss (LIFT: logit-adjusted), optional test-time ensembling.
"""

from __future__ import annotations

from bench.methods.algorithms import late
from bench.methods.losses.ldam import S
from bench.methods.parts import Param, Part, Traits

TUNINGS = ("zeroshot", "classifier", "full", "adaptformer", "lora", "vpt_shallow", "vpt_deep", "bitfit")
_LIFT = "shijxcs/LIFT configs/model/clip_vit_b16.yaml, utils/config.py"

PARAMS = (
    Param("tuning", "adaptformer", "what trains: zeroshot (nothing: text classifier), classifier (the head), full "
          "(every transformer block), or the head plus a PEFT module: adaptformer, lora (q, v), vpt_shallow, "
          "vpt_deep, bitfit (biases)", source="shijxcs/LIFT models/peft_vit.py ViT_Tuner", choices=TUNINGS),
    Param("peft_dim", 0, "AdaptFormer bottleneck / LoRA rank; 0: 2^floor(log2(classes / (2 layers))) (ViT-B/16: "
          "CIFAR-100 4, ImageNet-LT 32, Places-LT 8, iNaturalist 256)", source="shijxcs/LIFT models/peft_vit.py",
          check=lambda v: 0 <= v <= 65536, phrase="from 0 (automatic) to 65536"),
    Param("vpt_length", 10, "VPT: prompt tokens per prompted block", source="shijxcs/LIFT models/peft_vit.py",
          check=lambda v: 1 <= v <= 4096, phrase="from 1 to 4096"),
    Param("head_init", "text", "the cosine classifier's start: text (features of the prompts through the image "
          "projection's transpose) or random", source=_LIFT + " (init_head text_feat)", choices=("text", "random")),
    Param("prompts", "single", "single ('a photo of a {}.') or ensemble (CLIP's 80 ImageNet templates, averaged)",
          source=_LIFT + " (prompt default)", choices=("single", "ensemble")),
    Param("tte", False, "test-time ensembling: the mean logits of FiveCrop(side) after Resize(side + tte_expand) "
          "(the test evaluations; not the validation ones)", source="shijxcs/LIFT trainer.py (tte, tte_mode fivecrop)"),
    Param("tte_expand", 0, "pixels added to the side before the five crops; 0: the model's (ViT-B/16 24, ViT-L/14 "
          "21)", source="shijxcs/LIFT configs/model/clip_vit_b16.yaml, clip_vit_l14.yaml (expand)",
          check=lambda v: 0 <= v <= 1024, phrase="from 0 (the model's) to 1024"),
    Param("micro_batch", 0, "gradient accumulation: micro-batches of this size per optimizer step (0: the whole "
          "batch at once)", source=_LIFT + " (micro_batch_size)", check=lambda v: 0 <= v <= 1 << 20,
          phrase="from 0 (no accumulation) to 1048576"),
)
FOUNDATION = Part("algorithm", "foundation", "a pretrained CLIP image tower, frozen except the `tuning` modules, "
                  "with a text-initialised cosine classifier (s cos) and the method's loss; zero-shot: the text "
                  "classifier itself", params=(*PARAMS, S),
                  source="Shi et al., ICML 2024 (LIFT); shijxcs/LIFT models/, trainer.py",
                  build=late("bench.engine.foundation", "FoundationAlgorithm"),
                  traits=Traits(no_mix="the foundation-model track trains on plain batches", clip=True,
                                head="normed"))  # a cosine classifier (CosineHead)

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
