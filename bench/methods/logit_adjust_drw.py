from bench.methods.spec import Method

METHOD = Method(
    "logit_adjust_drw", "logit-adjusted CE + class-balanced weights (beta 0.9999) from the first LR decay",
    "", dict(loss="logit_adjust", weights="cb", schedule="deferred"))
