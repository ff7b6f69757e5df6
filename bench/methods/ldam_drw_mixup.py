from bench.methods.spec import Method

METHOD = Method(
    "ldam_drw_mixup", "LDAM-DRW with input mixup (alpha 1.0), BagofTricks-LT's combination; the loss is "
    "lam LDAM(y_a) + (1 - lam) LDAM(y_b)", "", dict(loss="ldam", weights="cb", schedule="deferred", mix="mixup"))
