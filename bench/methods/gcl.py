from bench.methods.spec import Method

# Li, Cheung and Lu, CVPR 2022 (GCL), stage 2: Keke921/GCLLoss @ c2a62338 cifar_train_classifier.py with its
# argparse defaults, on a finished gcl_stage1 run: the backbone frozen in eval mode (:248-249, :312), the stage-1
# cosine classifier kept and re-trained (:239-244), GCLLoss(m=0.1, s=20, noise_mul=0.5, train_cls=True, gamma=1)
# (:221-222), class-balanced re-sampling with replacement (BalancedRS, sampler.py:6-42: every class 1/C), mixup
# alpha 1 before the frozen backbone (:324-336), batch 64, wd 2e-4, 30 epochs; the LR of its only parameter group
# is 0.1 x 0.1 x lr (1 + cos(pi e / E)) with lr 0.1 (:466-476): a cosine from 0.002. The transcription:
# bench/methods/transcripts/gcl.yaml.
METHOD = Method(
    "gcl", "GCL (Li et al. 2022) stage 2 on a finished gcl_stage1 run: the cosine classifier re-trained with the "
    "clouded logits, a margin and focal weighting, class-balanced re-sampling, mixup, 30 epochs", "",
    dict(loss="gcl", sampler="class_uniform", mix="mixup", mix_alpha=1.0, gcl_margin=0.1, gcl_gamma=1.0, s=20.0),
    parent="gcl_stage1",
    stage=dict(train="classifier", bn="frozen", epochs=30, lr=0.002, weight_decay=2e-4, batch_size=64),
    recipe_source="Keke921/GCLLoss cifar_train_classifier.py (argparse defaults), losses.py, sampler.py",
    recipes={"cifar_lt": {}},
    deviations=("the official stage 2 also reports its epoch best on the test set (bench: its last epoch)",
                "the official cosine's pi is 3.1415926535 (no setting; the LRs differ by under 1e-10)",
                "no official stage-2 recipe besides CIFAR-LT's and Places-LT's (bench does not build the latter's "
                "network): the other datasets run these values"),
)
