from bench.methods.spec import Method

METHOD = Method(
    "la_posthoc", "post-hoc logit adjustment of a finished erm run: argmax z - tau log pi (Menon et al. 2021); "
    "tau chosen on the validation split (eval.selection=best_val), else the paper's tau = 1",
    "", parent="erm", stage=dict(posthoc="la"),
    deviations=("the published post-hoc numbers adjust an ERM model trained with logit_adjust's CIFAR recipe "
                "(1241 / 1419 epochs); the erm parent runs the dataset's shared recipe (pass logit_adjust's train.* "
                "settings from bench list recipes with --set: they reach the parent)",))
