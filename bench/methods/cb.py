from bench.methods.spec import Method

METHOD = Method(
    "cb",
    "cross-entropy + class-balanced weights (beta 0.9999) from the start; "
    "what the reference code's 'Reweight' does",
    "CB RW", dict(loss="ce", weights="cb"))
