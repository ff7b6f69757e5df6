from bench.methods.spec import Method

METHOD = Method(
    "ldam_drw",
    "LDAM loss + class-balanced weights (beta 0.9999) deferred to the first LR decay (DRW), normed head",
    "LDAM-DRW", dict(loss="ldam", weights="cb", schedule="deferred", head="auto"))
