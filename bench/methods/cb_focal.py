from bench.methods.spec import Method

METHOD = Method(
    "cb_focal",
    "focal loss (gamma 1) + class-balanced weights (beta 0.9999), in the reference code's form "
    "(weights inside p, plain batch mean); method.focal_form=standard gives Lin et al.'s alpha form",
    "CB Focal", dict(loss="focal", weights="cb", gamma=1.0))
