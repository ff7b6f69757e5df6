from bench.methods.spec import Method

# Kang et al., ICLR 2020 (Decoupling), and facebookresearch/classifier-balancing config/*/cls_crt.yaml: a new linear
# classifier (models/DotProductClassifier.py: nn.Linear with its default initialisation) trained alone with
# class-aware sampling, plain CE, SGD momentum 0.9, cosine to 0. ImageNet-LT: 10 epochs, batch 512, lr 0.2, wd 5e-4;
# iNaturalist18: 30 epochs, wd 1e-4; Places-LT: batch 256, lr 0.1. The backbone's BN statistics stay frozen as the
# paper's fixed representation; the official code leaves the frozen backbone in train mode, so its statistics follow
# the class-balanced batches (stage.bn=update).
METHOD = Method(
    "crt", "classifier re-training on a finished erm run: new linear classifier, frozen backbone and BN, "
    "class-uniform sampling, 10 epochs (Kang et al. 2020)", "", dict(loss="ce", sampler="class_uniform"),
    parent="erm", stage=dict(train="classifier", reinit=True, reinit_init="pytorch", bn="frozen", epochs=10, lr=0.2,
                             weight_decay=5e-4, batch_size=512),
    recipes={"inat2018_resnet50": {"stage": dict(epochs=30, weight_decay=1e-4)},
             "inat2018_decoupling": {"stage": dict(epochs=30, weight_decay=1e-4)},
             "places_lt_resnet50": {"stage": dict(batch_size=256, lr=0.1)}},
    recipe_source="facebookresearch/classifier-balancing config/{ImageNet_LT,iNaturalist18,Places_LT}/cls_crt.yaml",
    deviations=("the frozen backbone's BN statistics stay fixed; the official code leaves it in train mode "
                "(stage.bn=update)", "stage 2 starts from the parent's last epoch; the official code from its "
                "best-on-val checkpoint (stage.start=best_val with eval.selection=best_val)",
                "class-uniform sampling draws images independently; the "
                "official ClassAwareSampler cycles classes, 4 images each (method.sampler=class_aware)"),
)
