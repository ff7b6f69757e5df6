from bench.methods.spec import Method

METHOD = Method(
    "vs_drw", "VS loss + class-balanced weights (beta 0.9999) from the first LR decay (as orparask/VS-Loss "
    "--train_rule DRW)", "", dict(loss="vs", weights="cb", schedule="deferred"))
