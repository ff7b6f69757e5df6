from bench.methods.spec import HEAD_INIT, Method

# Alshammari et al., CVPR 2022, and ShadeAlsha/LTR-weight-balancing demo1_first-stage-training.py: CE, SGD
# lr 0.01, momentum 0.9, weight decay 5e-3 (found by grid search on CIFAR-100-LT), cosine to 0. The demo, on
# CIFAR-100-LT at ratio 100 (its recipe here): 320 epochs, batch 64 (lines 86, 223), a ResNet-34-like network; elsewhere
# epochs and batch size follow the dataset's recipe. The transcription: bench/methods/transcripts/la_bs_wb.yaml.
DEVIATIONS = ("the demo keeps the first n_c images of each class (no draw); bench draws the subset with "
              "dataset.data_seed (no setting)", "the demo reports the logits averaged over the image and its "
              "horizontal flip (no setting)", HEAD_INIT)
METHOD = Method(
    "erm_wd", "cross-entropy with the weight-balancing paper's tuned weight decay 5e-3 (lr 0.01, cosine): stage 1 "
    "of wb", "", dict(loss="ce"), train=dict(weight_decay=5e-3, lr=0.01, schedule="cosine", warmup_epochs=0),
    recipes={"cifar100_lt@100": {"train": dict(epochs=320, batch_size=64)}},
    recipe_source="ShadeAlsha/LTR-weight-balancing demo1_first-stage-training.py", deviations=DEVIATIONS)
