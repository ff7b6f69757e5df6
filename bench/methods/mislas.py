from bench.methods.spec import Method

# Zhong et al., CVPR 2021 (MiSLAS), and dvlab-research/MiSLAS train_stage2.py with
# config/cifar10/cifar10_imb001_stage2_mislas.yaml: on a mixup stage 1 (erm_mixup, alpha 1.0 as
# cifar10_imb001_stage1_mixup.yaml), the classifier (kept, LR x 0.5) and one scale per class (LR x 1) are
# trained with label-aware smoothing (0.3 head -> 0.0 tail) and class-aware sampling, 10 epochs, lr 0.1,
# weight decay 2e-4, cosine to 0. BN "shift learning" (statistics re-estimated on the stage-2 batches) is
# the paper's and the CIFAR-100, ImageNet-LT, iNaturalist and Places-LT configs' choice; only the official
# CIFAR-10 configs turn it off (shift_bn: False): --set stage.bn=frozen.
METHOD = Method(
    "mislas", "MiSLAS stage 2 on a finished erm_mixup run: label-aware smoothing, classifier + per-class scales, "
    "BN statistics shifted, class-uniform sampling (Zhong et al. 2021)", "",
    dict(loss="las", sampler="class_uniform"), parent="erm_mixup",
    stage=dict(train="classifier_and_scales", bn="update", epochs=10, lr=0.1, weight_decay=2e-4,
               classifier_lr_factor=0.5),
    deviations=("one stage-2 setting for every dataset (CIFAR-10 ratio 100's); the official configs differ per "
                "dataset and ratio (method.smooth_head, method.smooth_tail, stage.classifier_lr_factor, "
                "stage.weight_decay), and CIFAR-10's turn BN shift off (stage.bn=frozen)",),
)
