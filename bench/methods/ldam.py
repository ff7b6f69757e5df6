from bench.methods.spec import Method

METHOD = Method(
    "ldam", "LDAM loss (max_m 0.5, s 30) on a normed cosine head, no re-balancing",
    "LDAM", dict(loss="ldam", head="auto"))
