from bench.methods.erm_wd import DEVIATIONS
from bench.methods.spec import Method

# Alshammari et al., CVPR 2022 (weight balancing), and ShadeAlsha/LTR-weight-balancing
# demo2_second-stage-training.py + utils/regularizers.py + utils/class_balanced_loss.py: on the tuned-weight-decay
# stage 1 (erm_wd), the parent's classifier (weights and bias) is fine-tuned with the official class-balanced loss
# (CB_loss "softmax": binary cross-entropy on softmax outputs with class weights, beta 0.9999, mean over batch x
# classes: loss softmax_bce), weight decay 0.1 and MaxNorm (rows capped at min + 0.1 (max - min) of the parent's
# row norms, the bias uncapped), SGD lr 0.01, momentum 0.9, batch 64, 10 epochs, cosine to 0, instance sampling.
# The demo leaves the frozen backbone in train mode (BN statistics follow the batches: stage.bn=update) and projects
# once per epoch, after its training phase (utils/trainval.py:140-142: stage.max_norm_at=epoch). method.loss=ce gives
# the CB paper's weighted softmax cross-entropy instead, whose logit gradient is about 250-480x larger on
# CIFAR-100-LT counts (so the same weight decay is that much weaker beside it).
METHOD = Method(
    "wb", "weight balancing stage 2 on a finished erm_wd run: classifier fine-tuned with the official class-balanced "
    "loss (BCE on softmax), weight decay 0.1 and MaxNorm (Alshammari et al. 2022)", "",
    dict(loss="softmax_bce", weights="cb"), parent="erm_wd",
    stage=dict(train="classifier", bn="update", epochs=10, lr=0.01, weight_decay=0.1, batch_size=64, max_norm=0.1,
               max_norm_at="epoch"),
    recipe_source="ShadeAlsha/LTR-weight-balancing demo2_second-stage-training.py",
    deviations=("the cosine LR from epoch 0; the demo steps its scheduler first, so its last epoch runs at LR 0 "
                "(no setting)", *DEVIATIONS[:2]),
)
