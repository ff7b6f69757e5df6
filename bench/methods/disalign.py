from bench.methods.spec import Method

# Zhang et al., CVPR 2021 (DisAlign). The classification code is Megvii-BaseDetection/DisAlign @ a2fc3500
# classification/imagenetlt/resnext50/resx50.scratch.imagenet_lt.224size.90e.disalign.10e/{config,net}.py on
# Megvii-BaseDetection/cvpods @ 2deea5dc (cvpods/layers/wrappers.py DisAlignLinear, cvpods/modeling/losses/
# grw_loss.py). On the finished stage-1 model (model_final.pth, its last epoch), everything is frozen but the
# calibration (net.py: logit_scale, logit_bias, confidence_layer); the frozen backbone stays in train mode, so its BN
# statistics follow the stage-2 batches; generalised re-weighting CE with rho 1.2 (config.py GRW_SCALE), instance
# sampling, 10 epochs, SGD lr 0.1 momentum 0.9, weight decay 5e-4 on every trained parameter, batch 256, an epoch-wise
# cosine from the peak (cvpods/solver/lr_scheduler.py WarmupCosineLR with EPOCH_WISE, no warm-up). That is the only
# released recipe (ImageNet-LT, ResNeXt-50): the method's defaults below. The transcription:
# bench/methods/transcripts/disalign.yaml.
METHOD = Method(
    "disalign", "DisAlign stage 2 on a finished erm run: a gated magnitude and margin per class on the frozen "
    "classifier's logits, generalised re-weighting CE (rho 1.2), 10 epochs (Zhang et al. 2021)", "",
    dict(loss="ce", weights="grw", grw_rho=1.2),
    parent="erm", stage=dict(train="disalign", bn="update", epochs=10, lr=0.1, weight_decay=5e-4, batch_size=256),
    recipes={"imagenet_lt_resnext50": {}},
    recipe_source="Megvii-BaseDetection/DisAlign classification/imagenetlt/resnext50/"
                  "resx50.scratch.imagenet_lt.224size.90e.disalign.10e/config.py, net.py; Megvii-BaseDetection/"
                  "cvpods cvpods/layers/wrappers.py, cvpods/modeling/losses/grw_loss.py",
    deviations=("stage 1: the official network is cvpods' ResNeXt-50 32x4d (MSRA-filled convolutions, each block's "
                "last BN scale zeroed) with an N(0, 0.01) classifier; bench's is torchvision's with a Kaiming-normal "
                "classifier (no setting)",
                "the official loader draws batches from an endless shuffle, ceil(N / 256) full batches an epoch, the "
                "last one running into the next epoch's order; bench's last batch of an epoch is partial (no setting)",
                "the official runs spread each batch of 256 over 8 GPUs with per-GPU BN (32 images; stage 2's BN "
                "statistics follow those batches); bench normalises over the whole batch in one process (no setting)",
                "stage.disalign_form=code is the official classification layer, (1 + s scale) z + s bias; the "
                "paper's s (scale z + bias) + (1 - s) z is stage.disalign_form=paper",
                "no official recipe for CIFAR-LT, iNaturalist 2018 or Places-LT (the README lists them; their configs "
                "were never released): they run these ImageNet-LT values"),
)
