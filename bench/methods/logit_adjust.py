from bench.methods.spec import Method

# Menon et al., ICLR 2021, and google-research/google-research logit_adjustment/ (utils.py's CIFAR schedules,
# main.py): ResNet-32, SGD 0.1 with Nesterov momentum 0.9, batch 128, L2 1e-4 in the loss (= weight decay 2e-4),
# linear warm-up, then x0.1 at three epochs: CIFAR-10-LT 1241 epochs (warm-up 20, decays at 604, 926, 1128),
# CIFAR-100-LT 1419 epochs (warm-up 22, decays at 691, 1059, 1290). The released data are the ratio-100 sets.
_LONG = dict(lr=0.1, nesterov=True, weight_decay=2e-4, batch_size=128, lr_decay=0.1, schedule="step",
             drop_last=True)  # utils.py:181 drop_remainder, main.py:51 int(N / 128) steps an epoch


def _decays(epochs: int, *at: int) -> dict:
    """The decay epochs as fractions of the run (int(f * epochs) gives them back), so a shorter run (--epochs,
    --preset quick) still decays at the same points of its schedule."""
    return dict(epochs=epochs, milestones=None, milestone_fractions=[round((e + 0.5) / epochs, 6) for e in at])


METHOD = Method(
    "logit_adjust", "logit-adjusted cross-entropy CE(z + tau log pi, y), tau 1 (Menon et al. 2021)",
    "", dict(loss="logit_adjust"),
    recipes={"cifar10_lt@100": {"train": dict(_LONG, warmup_epochs=20, **_decays(1241, 604, 926, 1128))},
             "cifar100_lt@100": {"train": dict(_LONG, warmup_epochs=22, **_decays(1419, 691, 1059, 1290))}},
    recipe_source="google-research/google-research logit_adjustment/utils.py, main.py",
    deviations=("the official network is its own 'ResNet-32' (blocks of three convolutions, a final BN), bench's "
                "is Cao et al.'s (no setting)", "the official warm-up and decays are applied per step, bench's "
                "per epoch (no setting)", "the official L2 term leaves BN parameters out; bench decays every "
                "parameter (no setting)", "the official pixels are x / 255 - 0.5; bench normalises with the "
                "dataset's mean and std, and pads the crop with mid-grey, not black (no setting)", "the official "
                "classifier's weights start from N(0, 0.01); bench's linear head draws Kaiming-normal weights (no "
                "setting)", "the official data are the released long-tailed tfrecords; bench draws the subset with "
                "dataset.data_seed (no setting)"),
)
