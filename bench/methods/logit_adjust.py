from bench.methods.spec import Method

METHOD = Method(
    "logit_adjust", "logit-adjusted cross-entropy CE(z + tau log pi, y), tau 1 (Menon et al. 2021)",
    "", dict(loss="logit_adjust"))
