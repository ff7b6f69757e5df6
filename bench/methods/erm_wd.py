from bench.methods.spec import Method

# Alshammari et al., CVPR 2022, and ShadeAlsha/LTR-weight-balancing demo1_first-stage-training.py: CE, SGD
# lr 0.01, momentum 0.9, weight decay 5e-3 (found by grid search on CIFAR-100-LT), cosine to 0. Epochs and
# batch size follow the dataset's recipe (the demo: 320 epochs, batch 64, a ResNet-34-like network).
METHOD = Method(
    "erm_wd", "cross-entropy with the weight-balancing paper's tuned weight decay 5e-3 (lr 0.01, cosine): stage 1 "
    "of wb", "", dict(loss="ce"), train=dict(weight_decay=5e-3, lr=0.01, schedule="cosine", warmup_epochs=0))
