from bench.methods.spec import Method

METHOD = Method(
    "reweight",
    "cross-entropy + inverse class-frequency weights from the start (the paper's text); "
    "the reference code's 'Reweight' is `cb`",
    "RW", dict(loss="ce", weights="inverse_frequency"))
