from bench.methods.spec import Method

METHOD = Method(
    "drw", "cross-entropy + class-balanced weights (beta 0.9999) deferred to the first LR decay",
    "DRW (CE)", dict(loss="ce", weights="cb", schedule="deferred"))
