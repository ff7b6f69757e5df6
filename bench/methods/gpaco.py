from bench.methods.spec import Method

# Cui et al., TPAMI 2023 (GPaCo), and dvlab-research/Parametric-Contrastive-Learning @ fe56535, GPaCo/LT/paco_lt.py
# with GPaCo/LT/sh/LT/ImageNetLT_train_X50.sh and Inat_train_R50.sh: 400 epochs, batch 128 (the argparse default,
# split over the GPUs), SGD lr 0.06 / 0.04, wd 5e-4 / 1e-4, 10 warm-up epochs then the official cosine, alpha 0.05,
# T 0.2, a 128-d projection, a queue of 8,192 keys; view 1 RandomResizedCrop + flip + ColorJitter(0.4, 0.4, 0.4) +
# timm's RandAugment (n3 / n2, m10), view 2 'randclsstack' (ImageNet-LT) or 'sim' (iNaturalist: bench's moco_sim).
# There is no GPaCo CIFAR-LT script, and the Places-LT script cannot run as released. The transcription:
# bench/methods/transcripts/gpaco.yaml.
_LARGE = dict(epochs=400, batch_size=128, momentum=0.9, nesterov=False, warmup_epochs=10, schedule="cosine",
              cosine_offset=1, drop_last=True)  # paco_lt.py:595-601, 396-398
_VIEWS = dict(policy="timm_randaugment", randaugment_magnitude=10, color_jitter=0.4, train_crop="random_resized")
_METHOD = dict(paco_dim=128, paco_queue=8192, paco_alpha=0.05, paco_temperature=0.2, paco_key_view="moco_sim")
METHOD = Method(
    "gpaco", "GPaCo (Cui et al. 2023): PaCo without the momentum encoder, both views through the network and both "
    "anchors; classifier weights as class centres, a queue, logit-adjusted centres", "",
    dict(loss="ce", algorithm="gpaco"),
    recipes={"imagenet_lt_resnext50": {"train": dict(_LARGE, lr=0.06, weight_decay=5e-4),
                                       "augment": dict(_VIEWS, randaugment_ops=3), "method": _METHOD},
             "inat2018_resnet50": {"train": dict(_LARGE, lr=0.04, weight_decay=1e-4),
                                   "augment": dict(_VIEWS, randaugment_ops=2), "method": _METHOD}},
    recipe_source="dvlab-research/Parametric-Contrastive-Learning GPaCo/LT/sh/LT/ImageNetLT_train_X50.sh, "
                  "Inat_train_R50.sh, paco_lt.py",
    deviations=(
        "the official ImageNet-LT key view is 'randclsstack' (crop, flip, jitter, grayscale 0.2, blur 0.5, then "
        "RandAugment n3 m10); bench has no such view and draws moco_sim, the iNaturalist script's (no setting)",
        "the official runs split the batch of 128 over 4 (ImageNet-LT) or 8 (iNaturalist) GPUs: each GPU's anchors "
        "contrast with its own batch and the queue, BN per GPU; bench trains the whole batch in one process (no "
        "setting; a launch on 4 or 8 processes has their per-process batches, and every process's keys enter the "
        "queue, as theirs)",
        "no GPaCo recipe for CIFAR-LT (no script) or Places-LT (GPaCo/LT/paco_fp16_places.py passes 9 arguments to "
        "the 8 of GPaCo's builder): both run the dataset's shared recipe with PaCo's CIFAR defaults"),
)
