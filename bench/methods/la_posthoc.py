from bench.methods.spec import Method

METHOD = Method(
    "la_posthoc", "post-hoc logit adjustment of a finished erm run: argmax z - tau log pi (Menon et al. 2021); "
    "tau chosen on the validation split (eval.selection=best_val), else the paper's tau = 1",
    "", parent="erm", stage=dict(posthoc="la"))
