from bench.methods.spec import BEST_TEST, HEAD_INIT, Method

# Zhou et al., CVPR 2023 (CC-SAM), stage 1: zzpustc/CC-SAM @ 651d3df train_cifar.py train() with configs/Cifar10.json,
# Cifar100.json (their only ratio, 200: cifar_imb_ratio 0.005) over configs/template.py: a CIFAR ResNet-32 trained with
# mixup (alpha 1) and CC-SAM's class-wise classifier perturbation (flat_ratio 0.3 / 0.5, noise_ratio 1e-6), SGD lr 0.1,
# momentum 0.9, wd 2e-4, batch 64 (drop_last), 200 epochs, WarmupMultiStepLR (5 warm-up epochs from 1/3, x0.1 at its
# epochs 160 and 180, stepped before each epoch: from 0-based epochs 159 and 179). The transcription:
# bench/methods/transcripts/ccsam.yaml.
_CIFAR = {"train": dict(epochs=200, batch_size=64, lr=0.1, momentum=0.9, nesterov=False, weight_decay=2e-4,
                        warmup_epochs=5, schedule="step", milestones=None, milestone_fractions=[0.7975, 0.8975],
                        lr_decay=0.1, drop_last=True)}

METHOD = Method(
    "ccsam_stage1", "CC-SAM (Zhou et al. 2023) stage 1: mixup CE plus, for each class of the batch, CE of its "
    "images at a classifier perturbed along that class's gradient (radius ~ (n_c - 1)^(-1/4))", "",
    dict(algorithm="ccsam", mix="mixup", mix_alpha=1.0),
    recipes={"cifar10_lt@200": {**_CIFAR, "method": dict(ccsam_flat_ratio=0.3)},
             "cifar100_lt@200": {**_CIFAR, "method": dict(ccsam_flat_ratio=0.5)}},
    recipe_source="zzpustc/CC-SAM train_cifar.py, configs/Cifar10.json, configs/Cifar100.json, configs/template.py",
    deviations=("the official network is BBN's ResNet-32 with its third stage one block short (ResNet-30, "
                "models/ResNet32Feature.py:84); bench's is Cao et al.'s ResNet-32 (no setting)",
                "the official warm-up rises from 0.467 to 0.867 of the rate over 0-based epochs 0-3 "
                "(WarmupMultiStepLR stepped before each epoch); bench's from 0.2 to 0.8 (no setting)",
                "the official subset is drawn with seed 42 (np.random.shuffle per class); bench draws one long-tailed "
                "subset for every method with dataset.data_seed (no setting)",
                "Cifar100.json stops with KeyError as shipped (its test_open block is not in the template, "
                "utils.py:72-80); bench runs its values",
                HEAD_INIT, BEST_TEST,
                "the configs give ratio 200 only, and there is no code for the large datasets: the other settings "
                "run the dataset's shared recipe with these parts"),
)
