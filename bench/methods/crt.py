from bench.methods.spec import Method

# Kang et al., ICLR 2020 (Decoupling), and facebookresearch/classifier-balancing
# config/ImageNet_LT/cls_crt.yaml: a new linear classifier trained alone with class-aware sampling, plain CE,
# 10 epochs, SGD lr 0.2 (batch 512), momentum 0.9, weight decay 5e-4, cosine to 0. The backbone's BN
# statistics stay frozen as the paper's fixed representation; the official code leaves the frozen backbone
# in train mode, so its statistics follow the class-balanced batches (stage.bn=update).
METHOD = Method(
    "crt", "classifier re-training on a finished erm run: new linear classifier, frozen backbone and BN, "
    "class-uniform sampling, 10 epochs (Kang et al. 2020)", "", dict(loss="ce", sampler="class_uniform"),
    parent="erm", stage=dict(train="classifier", reinit=True, bn="frozen", epochs=10, lr=0.2, weight_decay=5e-4,
                             batch_size=512))
