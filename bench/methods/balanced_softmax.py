from bench.methods.spec import CIFAR10_POLICY, HEAD_INIT, Method

# Ren et al., NeurIPS 2020, and jiawei-ren/BalancedMetaSoftmax-Classification
# config/CIFAR{10,100}_LT/balanced_softmax_imba200.yaml (the only ratio released) with utils.CosineAnnealingLRWarmup
# and data/ImbalanceCIFAR.py: ResNet-32 trained end to end, SGD momentum 0.9, weight decay 5e-4, batch 512,
# 13,000 iterations (591 epochs on CIFAR-10-LT, 685 on CIFAR-100-LT), warm-up over 800 iterations: ceil(800 / steps an
# epoch) = 37 / 43 1-based epochs, the scheduler stepped before each, so 0-based epochs 0-35 / 0-41 warm up and the
# cosine (per epoch, from 0.1 to 0) peaks at 36 / 42 (run_networks.py:57, 320, 328; utils.py:44-54); crop, flip,
# AutoAugment's CIFAR-10 policy, Cutout 16.
# run_networks.py (lines 76-78, 336-339) runs int(N / 512) steps an epoch: the last partial batch is left out
_E2E = dict(lr=0.1, batch_size=512, weight_decay=5e-4, schedule="cosine", momentum=0.9, nesterov=False,
            drop_last=True)
_AUG = dict(policy="autoaugment_cifar", cutout=16)

METHOD = Method(
    "balanced_softmax", "Balanced Softmax CE(z + log n, y) (Ren et al. 2020); the same loss as logit_adjust",
    "", dict(loss="balanced_softmax"),
    recipes={"cifar10_lt@200": {"train": dict(_E2E, epochs=591, warmup_epochs=36), "augment": _AUG},
             "cifar100_lt@200": {"train": dict(_E2E, epochs=685, warmup_epochs=42), "augment": _AUG}},
    recipe_source="jiawei-ren/BalancedMetaSoftmax-Classification config/CIFAR{10,100}_LT/"
                  "balanced_softmax_imba200.yaml",
    deviations=("the official warm-up rises from 0.05 to 0.0986 (bench's from 0.1 / 36 to 0.1) (no setting)",
                "no official recipe for ratios other than 200: they run the dataset's shared recipe",
                "the official long-tailed subset is an unseeded draw, another each run; bench's is fixed by "
                "dataset.data_seed (no setting)", CIFAR10_POLICY, HEAD_INIT),
)
