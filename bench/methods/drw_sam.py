from bench.methods.spec import BEST_TEST, Method

# val-iisc/Saddle-LongTail run.sh: CE+DRW+SAM, rho 0.5 on CIFAR-10-LT (line 8), 0.8 on CIFAR-100-LT (line 18)
METHOD = Method(
    "drw_sam", "cross-entropy + class-balanced weights deferred to the first LR decay, with SAM, rho 0.5 "
    "(official CIFAR-10-LT; CIFAR-100-LT: 0.8)", "", dict(loss="ce", weights="cb", schedule="deferred",
                                                         algorithm="sam", sam_rho=0.5),
    recipes={"cifar100_lt": {"method": dict(sam_rho=0.8)}},
    recipe_source="val-iisc/Saddle-LongTail run.sh",
    deviations=(BEST_TEST,))
