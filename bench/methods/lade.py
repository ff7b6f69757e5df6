from bench.methods.spec import HEAD_INIT, Method

# Hong et al., CVPR 2021, and hyperconnect/LADE (5db5d134): config/CIFAR100_LT/lade.yaml with README.md:30's command
# for ratio 100 (--cifar_imb_ratio 0.01 --remine_lambda 0.01 --alpha 0.1, --lr left at main.py:30's 0.2): a ResNet-32
# trained end to end with PriorCELoss + 0.1 LADELoss, SGD momentum 0.9, weight decay 5e-4, batch 256, 200 epochs,
# WarmupMultiStepLR (utils.py:367-409: 5 warm-up epochs from 1/3, x0.01 at its epochs 120 and 160), stepped before
# each 1-based epoch (run_networks.py:309-324), so the decays apply from 0-based epochs 119 and 159; int(N / 256)
# steps an epoch (run_networks.py:81, 341-344); the last epoch's model is tested (run_networks.py:461-465).
_CIFAR = {"train": dict(epochs=200, batch_size=256, lr=0.2, momentum=0.9, nesterov=False, weight_decay=5e-4,
                        warmup_epochs=5, schedule="step", lr_decay=0.01, milestones=None,
                        milestone_fractions=[0.5975, 0.7975], drop_last=True),
          "method": dict(lade_alpha=0.1, lade_lambda=0.01)}

# ImageNet-LT (config/ImageNet_LT/lade.yaml, README.md:52: --lr 0.05 --remine_lambda 0.5 --alpha 0.05) and iNaturalist
# (config/iNaturalist18/lade.yaml, README.md:60: --lr 0.1 --alpha 0.05, lambda 0.5 from the config): Decoupling's
# ResNeXt-50 / ResNet-50 from scratch, batch 256, cosine to 0 (CosineAnnealingLR stepped before each epoch), 180 / 200
# epochs, wd 5e-4 / 1e-4, int(N / 256) steps an epoch; the epoch best on the validation list is tested.
_LARGE = dict(batch_size=256, momentum=0.9, nesterov=False, warmup_epochs=0, schedule="cosine", cosine_offset=1,
              drop_last=True)
_IMAGENET = {"model": {"name": "resnext50_32x4d"},
             "train": dict(_LARGE, epochs=180, lr=0.05, weight_decay=5e-4),
             "augment": dict(train_crop="random_resized", color_jitter=0.4),
             "method": dict(lade_alpha=0.05, lade_lambda=0.5)}
_INAT = {"model": {"name": "resnet50"},
         "train": dict(_LARGE, epochs=200, lr=0.1, weight_decay=1e-4),
         "augment": dict(train_crop="random_resized", color_jitter=0.0),
         "method": dict(lade_alpha=0.05, lade_lambda=0.5)}

METHOD = Method(
    "lade", "LADE (Hong et al. 2021): CE(z + log prior, y) plus the LADE regulariser; predictions on plain z",
    "", dict(loss="lade"),
    recipes={"cifar100_lt@100": _CIFAR, "imagenet_lt": _IMAGENET, "inat2018": _INAT},
    recipe_source="hyperconnect/LADE config/CIFAR100_LT/lade.yaml, config/ImageNet_LT/lade.yaml, "
                  "config/iNaturalist18/lade.yaml and README.md",
    deviations=("the official network is BBN's ResNet-32 (two parallel last stages, 128-d features); bench's is Cao "
                "et al.'s (64-d) (no setting)",
                "the official warm-up rises from 0.467 to 0.867 of the rate over 0-based epochs 0-3 "
                "(WarmupMultiStepLR's factor 1/3, stepped before each epoch); bench's from 0.2 to 0.8 (no setting)",
                "ImageNet-LT and iNaturalist: their CosineAnnealingLR steps before each epoch, so epoch e of E trains "
                "at lr x 0.5 (1 + cos(pi (e + 1) / E)) and the last at 0; bench's nearest is cosine_offset 1, "
                "(e + 1) / (E + 1) (no setting)",
                "ImageNet-LT and iNaturalist: the official runs use DataParallel over 4 GPUs, with BN over each GPU's "
                "64 images; bench normalises over the whole batch (no setting)",
                "Places-LT: the official recipe fine-tunes OLTR's Caffe ResNet-152 (ImageNet weights) at a fixed "
                "backbone lr of 0.001, which bench has neither of: Places-LT runs the dataset's shared recipe",
                "the README gives CIFAR-100-LT ratio 100 only: other CIFAR ratios run the dataset's shared recipe",
                HEAD_INIT),
)
