from bench.methods.spec import BEST_TEST, Method

# Zhou et al., CVPR 2023 (CC-SAM), stage 2: zzpustc/CC-SAM @ 651d3df train_cifar.py train_sample() and main (:355-365)
# on a finished ccsam_stage1 run: the backbone frozen (requires_grad off, still in train mode: its BN statistics
# follow the batches), the classifier re-trained by SGD (lr_reset: lr_neck 0.1, momentum 0.9, wd 2e-4; then
# adjust_learning_rate: a constant 0.1 x 0.1 on CIFAR) for 30 epochs (230 - 200) on class-aware batches of 64 (one
# image per class visit, Samplers.py ClassAwareSampler), with the class-weighted adversarial feature term (div 2,
# adver_reg 1, up_limit 1.0 / 0.3 on CIFAR-10 / 100). The transcription: bench/methods/transcripts/ccsam.yaml.
METHOD = Method(
    "ccsam", "CC-SAM (Zhou et al. 2023) stage 2 on a finished ccsam_stage1 run: the classifier re-trained on "
    "class-aware batches with CE plus class-weighted CE at adversarially moved features", "",
    dict(algorithm="ccsam_stage2", sampler="class_aware", class_aware_per_visit=1, schedule="start"),
    parent="ccsam_stage1",
    stage=dict(train="ccsam", bn="update", epochs=30, lr=0.01, weight_decay=2e-4, batch_size=64),
    recipes={"cifar10_lt@200": {"method": dict(ccsam_up_limit=1.0)},
             "cifar100_lt@200": {"method": dict(ccsam_up_limit=0.3)}},
    recipe_source="zzpustc/CC-SAM train_cifar.py, utils/utils.py, utils/lr_scheduler.py, datasets/Samplers.py, "
                  "configs/Cifar10.json, configs/Cifar100.json",
    deviations=("stage 2 starts from the parent's last epoch; the official code reloads its stage-1 epoch best on "
                "the test set (no setting)", BEST_TEST,
                "the configs give ratio 200 only: the other settings run these values"),
)
