from bench.methods.crt import STAGE2_COSINE
from bench.methods.spec import HEAD_INIT, Method

# Kang et al., ICLR 2020 (Decoupling), and facebookresearch/classifier-balancing config/*/cls_lws.yaml +
# models/TauNormClassifier.py: the parent's classifier kept and frozen, one learnable scale per class on its logits
# (z_c * s_c, initialised to 1), class-aware sampling, plain CE, 5 epochs, SGD momentum 0.9, cosine to 0; the frozen
# backbone in train mode (its BN statistics follow the batches), as cRT.
# ImageNet-LT: batch 512, lr 0.2, wd 5e-4; iNaturalist18: wd 1e-4; Places-LT: batch 256, lr 0.1.
METHOD = Method(
    "lws", "learnable weight scaling on a finished erm run: one scale per class on the frozen classifier, "
    "class-aware sampling, 5 epochs (Kang et al. 2020)", "", dict(loss="ce", sampler="class_aware"),
    parent="erm", stage=dict(train="scales", bn="update", epochs=5, lr=0.2, weight_decay=5e-4, batch_size=512),
    recipes={"inat2018_resnet50": {"stage": dict(weight_decay=1e-4)},
             "places_lt_resnet50": {"stage": dict(batch_size=256, lr=0.1)}},
    recipe_source="facebookresearch/classifier-balancing config/{ImageNet_LT,iNaturalist18,Places_LT}/cls_lws.yaml",
    deviations=(STAGE2_COSINE, f"stage 1: {HEAD_INIT}"),
)
