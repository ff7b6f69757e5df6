from bench.methods.spec import Method

METHOD = Method(
    "balanced_softmax", "Balanced Softmax CE(z + log n, y) (Ren et al. 2020); the same loss as logit_adjust",
    "", dict(loss="balanced_softmax"))
