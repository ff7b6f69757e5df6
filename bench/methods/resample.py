from bench.methods.spec import Method

METHOD = Method(
    "resample",
    "cross-entropy + class-balanced re-sampling (per-sample CB weight, beta 0.9999, with replacement); "
    "the sampler is really used, unlike the reference code (its 'Resample' trains like ERM)",
    "CB RS", dict(loss="ce", sampler="class_balanced"))
