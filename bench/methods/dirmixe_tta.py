from bench.methods.dirmixe import METHOD as DIRMIXE
from bench.methods.spec import Method

# scongl/DirMixE test_training_{cifar,imagenet}_dirmixe.py with configs/test/test_*.json: SADE's test-time
# aggregation, unchanged (SGD Nesterov, momentum 0.9, on the three aggregation weights, 5 epochs, constant LR);
# CIFAR lr 0.1, wd 5e-4, batch 128; ImageNet-LT lr 0.025, wd 5e-4, batch 64.
METHOD = Method(
    "dirmixe_tta", "DirMixE's test-time step: SADE's self-supervised aggregation of a finished dirmixe run (3 expert "
    "weights trained on the UNLABELLED test images, experts frozen); transductive (result says so)",
    "", parts=dict(DIRMIXE.parts), parent="dirmixe",
    stage=dict(posthoc="sade_aggregation", epochs=5, lr=0.1, weight_decay=5e-4, batch_size=128),
    recipes={"cifar_lt": {"stage": dict(lr=0.1, weight_decay=5e-4, batch_size=128)},
             "imagenet_lt_resnext50": {"stage": dict(lr=0.025, weight_decay=5e-4, batch_size=64)}},
    recipe_source="scongl/DirMixE configs/test/test_cifar10.json, test_cifar100.json, test_imagenet.json, "
                  "test_training_*_dirmixe.py",
    deviations=("bench adapts once, on the reported test split; the official scripts adapt separately on each of "
                "9 Dirichlet re-sampled test sets (3 each of uniform, forward and backward long-tailed) and score "
                "on another draw of each (no setting)",),
)
