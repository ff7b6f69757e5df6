from bench.methods import clip_recipes as foundation
from bench.methods.spec import Method

# LIFT's full fine-tuning baseline (full_tuning True: every transformer block and the classifier; the logit-adjusted
# loss and text-initialised cosine classifier as LIFT): lr 0.0005 on ImageNet-LT, 0.001 on Places-LT
# (scripts/run_tab6_peft_methods.sh), 0.005 on iNaturalist (scripts/run_tab8_training_acc.sh); no published CIFAR
# value: ImageNet-LT's.
METHOD = Method(
    "full_finetune", "full fine-tuning of CLIP's image tower (every transformer block) with a text-initialised cosine "
    "classifier and the logit-adjusted loss (LIFT's baseline: 'heavy fine-tuning hurts' the tail)", "",
    dict(loss="logit_adjust", algorithm="foundation", tuning="full", s=25.0),
    recipes=foundation.recipes({"imagenet_lt_resnext50": 5e-4, "places_lt_resnet50": 1e-3, "inat2018_resnet50": 5e-3,
                                "cifar_lt": 5e-4, "fashion_mnist_lt": 5e-4}),
    recipe_source=foundation.SOURCE + ", scripts/run_tab6_peft_methods.sh, run_tab8_training_acc.sh")
