from bench.methods.spec import Method

METHOD = Method(
    "drs",
    "cross-entropy + class-balanced re-sampling deferred to the first LR decay "
    "(in the paper, not in the released code)",
    "DRS (CE)", dict(loss="ce", sampler="class_balanced", schedule="deferred"))
