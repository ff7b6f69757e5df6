from bench.methods.spec import Method

METHOD = Method(
    "erm_mixup", "cross-entropy with input mixup (alpha 1.0, BagofTricks-LT's CIFAR-LT setting)",
    "", dict(loss="ce", mix="mixup"))
