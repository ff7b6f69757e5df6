from bench.methods.spec import Method

# Li, Cheung and Lu, CVPR 2022 (GCL), stage 1: Keke921/GCLLoss @ c2a62338 cifar_train_backbone.py, run with its
# argparse defaults (the README's commands name flags the script does not define): a ResNet-32 with LDAM's cosine
# head (NormedLinear, :116-118) trained with GCLLoss(m=0, s=30, noise_mul=0.5) (:238), mixup alpha 1 on every batch
# (:39 type=bool, so --mixup False is still on; utils.py mixup_data), batch 64, lr 0.1, momentum 0.9, wd 2e-4,
# warm-up lr (e+1)/5, x0.1 from 0-based epoch 160 and x0.01 from 180 (:406-416), 200 epochs. The same for every
# CIFAR dataset and ratio. The transcription: bench/methods/transcripts/gcl.yaml.
_CIFAR = {"train": dict(epochs=200, batch_size=64, lr=0.1, momentum=0.9, nesterov=False, weight_decay=2e-4,
                        warmup_epochs=5, schedule="step", milestones=[160, 180], lr_decay=0.1)}

METHOD = Method(
    "gcl_stage1", "GCL stage 1 (Li et al. 2022): the Gaussian clouded logit loss on a cosine head, mixup; "
    "the parent of gcl", "",
    dict(loss="gcl", mix="mixup", mix_alpha=1.0),
    recipes={"cifar_lt": _CIFAR},
    recipe_source="Keke921/GCLLoss cifar_train_backbone.py (argparse defaults), losses.py",
    deviations=("no official recipe for ImageNet-LT or iNaturalist 2018 (no training script) or Places-LT (a frozen "
                "ImageNet ResNet-152 trunk with one new block, which bench does not build): they run the dataset's "
                "shared recipe",),
)
