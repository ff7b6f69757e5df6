from bench.methods.spec import Method

METHOD = Method(
    "focal", "softmax focal loss, gamma 1 (hard-coded in the reference code; the paper does not state it)",
    "Focal", dict(loss="focal", gamma=1.0))
