from bench.methods.spec import Method

# Zhou et al., ICCV 2023 (ImbSAM), and cool-xuan/Imbalanced_SAM @ c65f41e scripts/train.py with --opt imbsam and its
# other argparse defaults (the only recipe: CIFAR-100-LT, ratio 100; the released script needs its train_model call
# patched to run): CE with SAM on the tail classes' loss only (under 20 training images,
# times 2) and a plain gradient on the others' (imbsam.py, utils/trainval.py:110-145), rho 0.05, batch 64, lr 0.01,
# momentum 0.9, weight decay 1e-3, CosineAnnealingLR over 200 epochs stepped before each epoch. The transcription:
# bench/methods/transcripts/imbsam.yaml.
METHOD = Method(
    "imbsam", "ImbSAM (Zhou et al. 2023): SAM on the loss of the tail classes (under 20 images) only, plain "
    "gradient on the others'", "",
    dict(loss="ce", algorithm="imbsam", sam_rho=0.05),
    recipes={"cifar100_lt@100": {"train": dict(epochs=200, batch_size=64, lr=0.01, momentum=0.9, nesterov=False,
                                               weight_decay=1e-3, warmup_epochs=0, schedule="cosine",
                                               cosine_offset=1)}},
    recipe_source="cool-xuan/Imbalanced_SAM scripts/train.py (--opt imbsam, other argparse defaults), imbsam.py, "
                  "utils/trainval.py",
    deviations=("the official test averages the logits of each image and its horizontal flip (utils/eval_funcs.py); "
                "bench tests the image alone (no setting)",
                "the official long-tailed subset keeps the first n_c images of each class in CIFAR's order; bench "
                "draws them at random with dataset.data_seed (no setting)",
                "the official cosine steps before each epoch, epoch e at lr x 0.5 (1 + cos(pi (e + 1) / 200)); "
                "bench's train.cosine_offset=1, the nearest, at (e + 1) / 201 (no setting)",
                "the official SAM step divides by ||g|| + 1e-16; bench's (Saddle-LongTail's) by ||g|| + 1e-12 (no "
                "setting)",
                "no official recipe for the other datasets and ratios: they run the shared recipe with these "
                "settings"),
)
