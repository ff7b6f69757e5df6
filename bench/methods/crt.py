from bench.methods.spec import HEAD_INIT, Method

# run_networks.py:157-160, 247, 255: the scheduler steps before each epoch
STAGE2_COSINE = ("the official stage-2 cosine steps before each epoch: epoch e of E trains at lr x 0.5 (1 + cos(pi "
                 "(e + 1) / E)), the last at 0 (no setting; bench's starts at the peak)")

# Kang et al., ICLR 2020 (Decoupling), and facebookresearch/classifier-balancing config/*/cls_crt.yaml: a new linear
# classifier (models/DotProductClassifier.py: nn.Linear with its default initialisation) trained alone with
# class-aware sampling, plain CE, SGD momentum 0.9, cosine to 0. ImageNet-LT: 10 epochs, batch 512, lr 0.2, wd 5e-4;
# iNaturalist18: 30 epochs, wd 1e-4; Places-LT: batch 256, lr 0.1. The official code leaves the frozen backbone in
# train mode (run_networks.py:248-249), so its BN statistics follow the class-balanced batches (stage.bn=update), and
# samples with data/ClassAwareSampler.py, 4 images a class per visit (method.sampler=class_aware). The transcription:
# bench/methods/transcripts/decoupling.yaml.
METHOD = Method(
    "crt", "classifier re-training on a finished erm run: new linear classifier, frozen backbone and BN, "
    "class-aware sampling, 10 epochs (Kang et al. 2020)", "", dict(loss="ce", sampler="class_aware"),
    parent="erm", stage=dict(train="classifier", reinit=True, reinit_init="pytorch", bn="update", epochs=10, lr=0.2,
                             weight_decay=5e-4, batch_size=512),
    recipes={"inat2018_resnet50": {"stage": dict(epochs=30, weight_decay=1e-4)},
             "places_lt_resnet50": {"stage": dict(batch_size=256, lr=0.1)}},
    recipe_source="facebookresearch/classifier-balancing config/{ImageNet_LT,iNaturalist18,Places_LT}/cls_crt.yaml",
    deviations=(STAGE2_COSINE, f"stage 1: {HEAD_INIT}"),
)
