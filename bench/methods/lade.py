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

METHOD = Method(
    "lade", "LADE (Hong et al. 2021): CE(z + log prior, y) plus the LADE regulariser; predictions on plain z",
    "", dict(loss="lade"),
    recipes={"cifar100_lt@100": _CIFAR},
    recipe_source="hyperconnect/LADE config/CIFAR100_LT/lade.yaml and README.md (ratio 100)",
    deviations=("the official network is BBN's ResNet-32 (two parallel last stages, 128-d features); bench's is Cao "
                "et al.'s (64-d) (no setting)",
                "the official warm-up rises from 0.467 to 0.867 of the rate over 0-based epochs 0-3 "
                "(WarmupMultiStepLR's factor 1/3, stepped before each epoch); bench's from 0.2 to 0.8 (no setting)",
                "no official recipe for ImageNet-LT, iNaturalist 2018, Places-LT or other CIFAR ratios is "
                "transcribed yet: they run the dataset's shared recipe", HEAD_INIT),
)
