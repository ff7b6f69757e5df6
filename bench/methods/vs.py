from bench.methods.spec import Method

METHOD = Method(
    "vs", "VS loss (Kini et al. 2021), gamma 0.3, tau 1 (the official code's defaults)", "", dict(loss="vs"))
